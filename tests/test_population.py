"""Population synthesis: counts, open interest, skew, healthy starts, leverage caps, heavy tail."""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.model.population import (
    EntryModel,
    MarketPopulation,
    SizeDistribution,
    long_share_from_funding,
    synthesize,
)
from cascadesim.model.venues import VENUES
from cascadesim.scenario.models import Scenario

PRICE = 100_000.0


def market(
    open_interest_usd=5e9,
    long_share=0.7,
    leveraged_share=0.5,
    venue="binance",
    asset="BTC",
    accounts=None,
    entries=None,
    values=(2, 5, 10, 20, 50, 100, 125),
    weights=(0.1, 0.15, 0.25, 0.2, 0.15, 0.1, 0.05),
    cushion=0.1,
):
    tiers = VENUES[venue].tiers(asset)
    return MarketPopulation(
        price=PRICE,
        open_interest_usd=open_interest_usd,
        long_share=long_share,
        leveraged_share=leveraged_share,
        leverage_values=np.asarray(values, dtype=float),
        leverage_weights=np.asarray(weights, dtype=float),
        sizes=SizeDistribution(),
        entries=entries or EntryModel(),
        tier_floor_usd=tiers.floors,
        tier_mmr=tiers.mmr,
        tier_maintenance_amount=tiers.maintenance_amount,
        tier_max_leverage=tiers.max_leverage,
        start_margin_cushion=cushion,
        accounts=accounts,
    )


@pytest.fixture(scope="module")
def big():
    spec = market()
    return spec, synthesize([spec], seed=11, max_accounts=10**8)


def notional(population, price=PRICE):
    return population.positions.quantity * price


def test_account_count_is_open_interest_over_mean_size(big):
    spec, population = big
    expected = round(2 * 0.5 * 5e9 / SizeDistribution().mean_usd())
    assert population.n_accounts == len(population.positions) == expected
    assert 500_000 < expected < 700_000
    assert np.array_equal(population.positions.account, np.arange(expected))


def test_leveraged_open_interest_and_long_share_match_the_targets(big):
    _, population = big
    positions = population.positions
    long_usd = notional(population)[positions.side > 0].sum()
    short_usd = notional(population)[positions.side < 0].sum()
    assert long_usd + short_usd == pytest.approx(2 * 0.5 * 5e9, rel=0.01)
    assert long_usd / (long_usd + short_usd) == pytest.approx(0.7, rel=0.01)


def test_size_distribution_mean_is_exact():
    sizes = SizeDistribution()
    draws = sizes.draw(np.random.default_rng(5), 2_000_000)
    assert draws.mean() == pytest.approx(sizes.mean_usd(), rel=0.03)
    assert np.median(draws) == pytest.approx(sizes.median_usd, rel=0.01)
    assert draws.max() <= sizes.max_usd
    assert np.mean(draws > sizes.tail_start_usd) == pytest.approx(sizes.tail_share, rel=0.02)


def test_heavy_tail_puts_tens_of_millions_in_single_accounts(big):
    _, population = big
    sizes = np.sort(notional(population))
    # In shared/events the largest single liquidation was 19.69 M USD among 570,876 accounts:
    # with billions of open interest the largest positions must be in the tens of millions,
    # thousands of times the median account, and the top 1 % must hold a large share.
    assert sizes[-1] > 10e6
    assert sizes[-1] > 2_000 * np.median(sizes)
    top = sizes[-len(sizes) // 100 :].sum() / sizes.sum()
    assert top > 0.2


def test_every_position_starts_healthy_with_the_cushion(big):
    spec, population = big
    positions = population.positions
    gain = positions.side * positions.quantity * (PRICE - positions.entry_price)
    equity = positions.margin + gain
    maintenance = spec.maintenance_margin(positions.quantity, positions.entry_price)
    assert np.all(equity > 1.1 * maintenance * (1 - 1e-12))
    assert np.all(positions.margin > 0) and np.all(positions.entry_price > 0)


def test_leverage_never_exceeds_the_tier_maximum(big):
    spec, population = big
    positions = population.positions
    entry_notional = positions.quantity * positions.entry_price
    leverage = entry_notional / positions.margin
    cap = spec.max_leverage(np.maximum(entry_notional, notional(population)))
    assert np.all(leverage <= cap * (1 + 1e-9))
    large = notional(population) > 12e6  # Binance BTC: 25x from 12 M USD
    assert large.any() and np.all(leverage[large] <= 25 * (1 + 1e-9))


def test_engine_accepts_the_population():
    from cascadesim.model.market import market_params
    from cascadesim.sim.state import check_start_margins

    scenario = Scenario.from_toml_text(LIQUIDITY_VACUUM_LIKE)
    setup = scenario.build()
    check_start_margins(setup, market_params(setup.markets, setup.assets))  # raises if not


LIQUIDITY_VACUUM_LIKE = """
name = "crowded"
duration_s = 10
[assets.ETH]
[markets.ETH-binance]
asset = "ETH"
venue = "binance"
price_usd = 3500
open_interest_usd = 2e8
depth_1pct_usd = 1e6
[population]
long_share = 0.9
leveraged_share_of_open_interest = 0.5
[population.leverage]
values = [50, 100, 125]
weights = [0.3, 0.4, 0.3]
[population.entry]
spread_fraction = 0.05
[shock]
kind = "index_jump"
drop_fraction = 0.01
at_s = 1
"""


def test_same_seed_same_population_and_another_seed_differs():
    spec = market(open_interest_usd=2e8)
    first = synthesize([spec], seed=3, max_accounts=10**7).positions
    again = synthesize([spec], seed=3, max_accounts=10**7).positions
    other = synthesize([spec], seed=4, max_accounts=10**7).positions
    for name in ("market", "account", "side", "quantity", "entry_price", "margin"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.quantity, other.quantity)


def test_adding_a_market_leaves_the_first_unchanged():
    alone = synthesize([market(open_interest_usd=1e8)], seed=9, max_accounts=10**7).positions
    pair = synthesize(
        [market(open_interest_usd=1e8), market(open_interest_usd=3e7)], seed=9, max_accounts=10**7
    ).positions
    n = len(alone)
    assert np.array_equal(pair.quantity[:n], alone.quantity)
    assert np.all(pair.market[n:] == 1) and pair.account[n] == n


@pytest.mark.parametrize(
    ("funding", "interval", "share"),
    [
        (0.0001, 28_800, 0.5),
        (0.0003, 28_800, 0.7),
        (0.0005, 28_800, 0.85),
        (0.01, 28_800, 0.85),
        (-0.0001, 28_800, 0.3),
        (-0.001, 28_800, 0.15),
        (0.0003 / 8, 3_600, 0.7),  # hourly funding is put on an 8-hour basis
    ],
)
def test_long_share_follows_funding(funding, interval, share):
    assert long_share_from_funding(funding, interval) == pytest.approx(share)


def scenario_text(funding=0.0003, extra=""):
    return f"""
name = "skew"
duration_s = 10
[assets.BTC]
[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100000
open_interest_usd = 5e7
funding_rate = {funding}
depth_1pct_usd = 1e7
[population]
{extra}
[shock]
kind = "index_jump"
drop_fraction = 0.01
at_s = 1
"""


def long_fraction(setup):
    positions = setup.positions
    value = positions.quantity
    return value[positions.side > 0].sum() / value.sum()


def test_scenario_long_share_from_funding_and_override():
    hot = Scenario.from_toml_text(scenario_text(0.0003)).build()
    assert long_fraction(hot) == pytest.approx(0.7, rel=0.01)
    cold = Scenario.from_toml_text(scenario_text(-0.0001)).build()
    assert long_fraction(cold) == pytest.approx(0.3, rel=0.01)
    fixed = Scenario.from_toml_text(scenario_text(0.0003, "long_share = 0.55")).build()
    assert long_fraction(fixed) == pytest.approx(0.55, rel=0.01)


def test_fixed_account_count_keeps_the_open_interest():
    setup = Scenario.from_toml_text(scenario_text(extra="accounts = 1000")).build()
    assert setup.n_accounts == 1000
    total = setup.positions.quantity.sum() * 100_000
    assert total == pytest.approx(2 * 0.5 * 5e7, rel=0.01)


def test_entries_follow_the_history():
    history = np.array([[3 * 86400, 80_000.0], [86400, 90_000.0], [0, 100_000.0]])
    spec = market(
        open_interest_usd=2e8, entries=EntryModel(0.0, history), values=(1, 2), weights=(0.5, 0.5)
    )
    entries = synthesize([spec], seed=1, max_accounts=10**7).positions.entry_price
    assert entries.min() >= 80_000 and entries.max() <= 100_000 * (1 + 1e-12)
    # OI built uniformly in time: two thirds of it during the first, slower segment.
    assert np.mean(entries < 90_000) == pytest.approx(2 / 3, abs=0.02)


def test_max_accounts_guard():
    with pytest.raises(CascadesimInputError, match=r"population\.max_accounts = 1000: "):
        synthesize([market(open_interest_usd=1e8)], seed=1, max_accounts=1000)


def test_scenario_max_accounts_names_the_file(tmp_path):
    path = tmp_path / "many.toml"
    path.write_text(scenario_text(extra="max_accounts = 10"))
    with pytest.raises(CascadesimInputError, match=rf"^{path}: population\.max_accounts = 10"):
        Scenario.from_toml(path).build()


def test_cross_accounts_hold_one_position_per_market_of_one_venue():
    """Half of each market's positions go cross; accounts never mix venues or repeat a
    market, and the isolated positions are exactly those of an all-isolated draw."""
    import dataclasses

    specs = [
        dataclasses.replace(market(open_interest_usd=2e8), venue=venue, isolated_share=0.5)
        for venue in ("binance", "binance", "binance", "okx")
    ]
    mixed = synthesize(specs, seed=5, max_accounts=10**8)
    isolated = synthesize(
        [dataclasses.replace(s, isolated_share=1.0) for s in specs], seed=5, max_accounts=10**8
    )
    positions = mixed.positions
    for name in ("market", "side", "quantity", "entry_price", "margin"):
        assert np.array_equal(getattr(positions, name), getattr(isolated.positions, name))
    cross = positions.cross
    assert 0.45 < cross.mean() < 0.55
    account = positions.account
    assert np.unique(account[~cross]).size == (~cross).sum()  # one per isolated position
    assert not np.isin(account[cross], account[~cross]).any()
    pairs = account[cross] * 8 + positions.market[cross]
    assert np.unique(pairs).size == pairs.size  # at most one position per market
    venue = np.asarray([0, 0, 0, 1])[positions.market[cross]]
    per_account_venues = {}
    for a, v in zip(account[cross], venue, strict=True):
        per_account_venues.setdefault(int(a), set()).add(int(v))
    assert all(len(v) == 1 for v in per_account_venues.values())
    sizes = np.bincount(account[cross] - account[cross].min())
    sizes = sizes[sizes > 0]
    assert sizes.max() <= 3 and 1.5 < sizes.mean() <= 2.0  # binance accounts span markets
    assert mixed.n_accounts == int(account.max()) + 1 < isolated.n_accounts
