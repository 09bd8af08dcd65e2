"""The venue profiles against the venues' published funding rules and their worked numbers.

The rule (``cascadesim.engine.pricing.funding_rate``): ``F = P + clamp(I - P, +-clamp)`` on the
figures of the premium period (8 h at all five venues), paid at each settlement as
``F x interval / period`` and capped per paid interval.

Sources (as cited in ``cascadesim/model/venues.py``): Binance "Introduction to Binance Futures
Funding Rates" (F = P + clamp(I - P, +-0.05 %), I = 0.01 % per 8 h, so F equals I whenever
the premium index lies within [-0.04 %, +0.06 %]; a 20,000 USD position at 0.01 % pays
2 USD per settlement); the capped rate is clamp(F, +-0.75 x the first bracket's MMR).
Hyperliquid docs "Funding" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding,
read 2026-12-02): the 8-hour formula with I = 0.01 % and a +-0.05 % clamp, one eighth of it
paid every hour, capped at 4 % per hour; its worked example: a 1 % premium gives an 8-hour
rate of 0.95 %. dYdX v4 docs "Funding" (https://docs.dydx.xyz/concepts/trading/funding, read
2026-12-02): premium / 8 + an interest component of 0 for cross markets, paid hourly; the
8-hour rate capped at 600 % x (IMF - MMF), 12 % for BTC-USD (IMF 5 %, MMF 3 %). OKX help
360053909272: no interest term and no dampener, the premium clamped to +-0.375 % for BTC,
+-0.75 % for ETH, +-1.5 % for others.

Vectors marked "derived from the published formula" have no worked example on the venue's
page: they are the page's formula evaluated by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim.engine.layout import MARK_BINANCE
from cascadesim.engine.pricing import (
    funding_rate,
    mark_price,
    period_funding_rate,
    premium_for_rate,
)
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.model.venues import VENUES, dydx_funding_cap
from cascadesim.sim.driver import simulate
from tests.reference import engine_reference


def venue_rate(venue: str, premium: float, asset: str = "BTC") -> float:
    """The rate (fraction) paid at one settlement of ``venue`` for an average premium."""
    profile = VENUES[venue]
    return funding_rate(
        premium,
        profile.funding_interest_rate,
        profile.funding_clamp,
        profile.funding_cap_for(asset),
        profile.funding_interval_s,
        profile.funding_premium_period_s,
    )


@pytest.mark.parametrize("premium", [-0.0004, -0.0001, 0.0, 0.0003, 0.0006])
def test_binance_rate_is_the_interest_rate_inside_the_dampener_band(premium):
    assert venue_rate("binance", premium) == pytest.approx(0.0001, abs=1e-15)


@pytest.mark.parametrize(
    "premium, expected",
    [
        (0.0010, 0.0005),  # P - 0.05 %
        (-0.0020, -0.0015),  # P + 0.05 %
        (0.0100, 0.0030),  # capped at 0.75 x 0.4 % for BTC
        (-0.0100, -0.0030),
    ],
)
def test_binance_rate_outside_the_band_and_at_the_cap(premium, expected):
    assert venue_rate("binance", premium) == pytest.approx(expected, abs=1e-15)


def test_binance_altcoin_cap_is_three_quarters_of_the_first_bracket():
    assert venue_rate("binance", 0.05, asset="DOGE") == pytest.approx(0.75 * 0.015)


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_eight_hour_venues_pay_the_period_rate_whole(venue):
    """Interval == period: the scale factor is exactly 1.0, so results are bit-identical."""
    profile = VENUES[venue]
    assert profile.funding_interval_s == profile.funding_premium_period_s == 28_800.0
    for premium in (-0.02, -0.0011, -0.0004, 0.0, 0.00013, 0.0007, 0.004, 0.05):
        whole = period_funding_rate(premium, profile.funding_interest_rate, profile.funding_clamp)
        cap = profile.funding_cap_for("BTC")
        assert venue_rate(venue, premium) == min(max(whole, -cap), cap)


def test_hyperliquid_states_interval_and_premium_period_apart():
    profile = VENUES["hyperliquid"]
    assert profile.funding_interval_s == 3_600.0  # paid every hour
    assert profile.funding_premium_period_s == 28_800.0  # P, I and the clamp: 8-hour figures
    assert profile.funding_interest_rate == 0.0001
    assert profile.funding_clamp == 0.0005
    assert profile.funding_cap_for("BTC") == profile.funding_cap_for("DOGE") == 0.04


@pytest.mark.parametrize(
    "premium, hourly",
    [
        # Derived from the published formula: (-0.5 % + 0.05 %) / 8 = -0.05625 % per hour
        # (the engine paid -0.49375 % before the premium was scaled to the hour).
        (-0.005, -0.0005625),
        # Derived from the published formula: inside the dampener band F = I = 0.01 % per 8 h,
        # 0.00125 % per hour (the page's hourly figure for the interest component).
        (0.0001, 0.0000125),
        (-0.0004, 0.0000125),
        (0.0006, 0.0000125),
        # Derived from the published formula: (0.08 % - 0.05 %) / 8.
        (0.0008, 0.0003 / 8.0),
    ],
)
def test_hyperliquid_pays_an_eighth_of_the_eight_hour_rate_every_hour(premium, hourly):
    assert venue_rate("hyperliquid", premium) == pytest.approx(hourly, rel=1e-12)


def test_hyperliquid_worked_example_of_the_docs():
    """Published example: premium 1 %, clamp(0.01 % - 1 %) = -0.05 %, 8-hour rate 0.95 %;
    one eighth of it, 0.11875 %, is paid for the hour (derived from the published formula)."""
    profile = VENUES["hyperliquid"]
    eight_hour = period_funding_rate(0.01, profile.funding_interest_rate, profile.funding_clamp)
    assert eight_hour == pytest.approx(0.0095, rel=1e-12)
    assert venue_rate("hyperliquid", 0.01) == pytest.approx(0.0095 / 8.0, rel=1e-12)


def test_hyperliquid_cap_is_four_percent_per_paid_hour():
    """Derived from the published formula: the hourly rate (P - 0.05 %) / 8 reaches 4 % at a
    premium of 32.05 %; anything beyond pays 4 % per hour, either way."""
    assert venue_rate("hyperliquid", 0.32) == pytest.approx((0.32 - 0.0005) / 8.0, rel=1e-12)
    assert venue_rate("hyperliquid", 0.3205) == pytest.approx(0.04, rel=1e-12)
    assert venue_rate("hyperliquid", 0.5) == 0.04
    assert venue_rate("hyperliquid", -0.5) == -0.04


def test_dydx_rate_is_the_premium_over_eight_without_a_clamp():
    """Derived from the published formula: hourly rate = premium / 8 + 0 (cross markets); no
    dampener, so a premium inside Binance's band still pays its own eighth."""
    profile = VENUES["dydx"]
    assert profile.funding_interval_s == 3_600.0
    assert profile.funding_premium_period_s == 28_800.0
    assert profile.funding_interest_rate == 0.0 and profile.funding_clamp == 0.0
    for premium in (-0.02, -0.002, -0.0001, 0.0, 0.0003, 0.004, 0.04):  # inside the 4.8 % cap
        assert venue_rate("dydx", premium) == pytest.approx(premium / 8.0, rel=1e-12, abs=0.0)


@pytest.mark.parametrize(
    "asset, eight_hour_cap",
    [
        # The page's example, 600 % x (5 % - 3 %) = 12 % per 8 h, at today's large-cap tier
        # (IMF 2 %, MMF 1.2 %, the published genesis): derived from the published formula.
        ("BTC", 6.0 * (0.02 - 0.012)),
        ("ETH", 6.0 * (0.02 - 0.012)),
        ("SOL", 6.0 * (0.05 - 0.03)),  # mid cap (an estimated assignment): 12 % per 8 h
        ("DOGE", 6.0 * (0.10 - 0.05)),  # small cap (an estimated assignment): 30 % per 8 h
    ],
)
def test_dydx_cap_is_six_times_imf_minus_mmf_per_eight_hours(asset, eight_hour_cap):
    profile = VENUES["dydx"]
    hourly_cap = eight_hour_cap / 8.0
    assert profile.funding_cap_for(asset) == pytest.approx(hourly_cap, rel=1e-12)
    assert venue_rate("dydx", 8.0 * hourly_cap * 0.99, asset) == pytest.approx(
        hourly_cap * 0.99, rel=1e-12
    )
    assert venue_rate("dydx", 1.0, asset) == pytest.approx(hourly_cap, rel=1e-12)
    assert venue_rate("dydx", -1.0, asset) == pytest.approx(-hourly_cap, rel=1e-12)
    table = profile.tiers(asset)
    assert dydx_funding_cap(table, interval_s=28_800.0) == pytest.approx(eight_hour_cap)


@pytest.mark.parametrize("venue", ["binance", "hyperliquid", "dydx", "okx"])
@pytest.mark.parametrize(
    "period_rate", [-0.02, -0.0045, 0.0, 0.00005, 0.0001, 0.0003, 0.0024, 0.016]
)
def test_premium_for_rate_inverts_the_rate_per_interval(venue, period_rate):
    """The initial premium the engine starts from settles at the scenario's rate per interval,
    up to the cap, inside the dampener band around the interest rate too (0.03 % is not 0.01 %).
    """
    profile = VENUES[venue]
    interest, clamp = profile.funding_interest_rate, profile.funding_clamp
    rate = period_rate * profile.funding_interval_s / profile.funding_premium_period_s
    args = (interest, clamp, profile.funding_interval_s, profile.funding_premium_period_s)
    premium = premium_for_rate(rate, *args)
    assert period_funding_rate(premium, interest, clamp) == pytest.approx(period_rate, abs=1e-15)
    if abs(rate) <= profile.funding_cap_for("BTC"):
        assert venue_rate(venue, premium) == pytest.approx(rate, rel=1e-12, abs=1e-18)
    assert engine_reference.premium_for_rate(rate, *args) == premium


@pytest.mark.parametrize("venue", ["binance", "hyperliquid", "dydx"])
def test_kernel_and_reference_rates_agree_bit_for_bit(venue):
    profile = VENUES[venue]
    for premium in np.linspace(-0.6, 0.6, 97):
        args = (
            float(premium),
            profile.funding_interest_rate,
            profile.funding_clamp,
            profile.funding_cap_for("BTC"),
            profile.funding_interval_s,
            profile.funding_premium_period_s,
        )
        assert funding_rate(*args) == engine_reference.funding_rate(*args)


def test_binance_mark_takes_the_rate_per_interval():
    """Binance's funding basis ``index x (1 + F x time to funding / interval)``: 0.01 % due in
    half an 8-hour interval lifts it by 0.005 %; a 4-hour market quoting its own interval
    (interval = period) does the same with half of its 4 hours left."""
    index = 100_000.0
    for interval in (28_800.0, 14_400.0):
        mark = mark_price(
            MARK_BINANCE, index, 10.0, index + 20.0, index, index, 0.0001, interval / 2, interval
        )
        # median(100,005, 100,010, 100,020) = 100,010: the basis price wins; the funding basis:
        basis = index * (1.0 + 0.0001 * (interval / 2) / interval)
        assert basis == pytest.approx(100_005.0)
        assert mark == pytest.approx(100_010.0)
        low = mark_price(
            MARK_BINANCE, index, 0.0, index + 20.0, index, index, 0.0001, interval / 2, interval
        )
        assert low == pytest.approx(basis)  # median(100,005, 100,000, 100,020)


def hyperliquid_flat_market(n_steps: int):
    """A perp resting 0.5 % below a flat 100,000 USD index (no arbitrage, no pull of the quotes
    back to it), on Hyperliquid's funding rule, one 0.2 BTC long and short; 1-minute steps."""
    profile = VENUES["hyperliquid"]
    index, perp = 100_000.0, 99_500.0
    spec = MarketSpec(
        name="BTC-hyperliquid",
        asset="BTC",
        price=perp,
        tick_size=10.0,
        funding_interval_s=profile.funding_interval_s,
        funding_premium_period_s=profile.funding_premium_period_s,
        funding_interest_rate=profile.funding_interest_rate,
        funding_clamp=profile.funding_clamp,
        funding_cap=profile.funding_cap_for("BTC"),
        funding_rate_initial=0.0,
        time_to_first_funding_s=profile.funding_interval_s,
        mark_rule="index",  # funding converts at the oracle price (docs "Funding")
        quote_anchor_half_life_s=0.0,
        arbitrage_capacity_usd_per_s=0.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
    )
    positions = PositionArrays(
        market=np.zeros(2, np.int32),
        account=np.arange(2),
        side=np.array([1, -1], np.int8),
        quantity=np.full(2, 0.2),
        entry_price=np.full(2, perp),
        margin=np.full(2, 2_000.0),
    )
    return EngineSetup(
        markets=[spec],
        assets=[AssetSpec(name="BTC")],
        positions=positions,
        index_path=np.full((n_steps + 1, 1), index),
        step_seconds=60.0,
    )


def test_hyperliquid_margin_moves_by_rate_times_notional_once_per_hour():
    """Premium -0.5 % all hour: the rate is (-0.5 % + 0.05 %) / 8 = -0.05625 % per hour (derived
    from the published formula), so the long receives 0.05625 % x 20,000 USD = 11.25 USD at each
    full hour and nothing in between (before the fix: -0.49375 %, 98.75 USD)."""
    hourly = -0.0005625
    notional = 0.2 * 100_000.0
    for minutes, settlements in ((59, 0), (60, 1), (119, 1), (120, 2)):
        result = simulate(hyperliquid_flat_market(minutes), counterfactual=False)
        per_unit = float(result.outcome.state.funding_per_unit[0])
        assert per_unit == pytest.approx(settlements * hourly * 100_000.0, rel=1e-9, abs=1e-9)
        positions = result.outcome.positions
        moved = -positions.side * positions.quantity * per_unit  # margin after funding - before
        assert moved.tolist() == pytest.approx(
            [-settlements * hourly * notional, settlements * hourly * notional], abs=1e-6
        )
        if settlements:
            rate = float(result.timeline["funding_rate"].iloc[-1])
            assert rate == pytest.approx(hourly, rel=1e-9)
    assert -hourly * notional == pytest.approx(11.25)


@pytest.mark.parametrize("asset, cap", [("BTC", 0.00375), ("ETH", 0.0075), ("SOL", 0.015)])
def test_okx_rate_is_the_premium_clamped_per_asset(asset, cap):
    assert venue_rate("okx", 0.001, asset) == pytest.approx(0.001)
    assert venue_rate("okx", 0.5, asset) == pytest.approx(cap)
    assert venue_rate("okx", -0.5, asset) == pytest.approx(-cap)


def test_a_20000_usd_long_pays_2_usd_at_a_binance_settlement():
    """The engine's settlement on a flat market at the neutral rate: 20,000 USD x 0.01 %."""
    price = 100_000.0
    spec = MarketSpec(
        name="BTC",
        asset="BTC",
        price=price,
        tick_size=10.0,
        funding_interval_s=10.0,
        time_to_first_funding_s=10.0,
        funding_rate_initial=0.0001,
        mark_rule="index",
        arbitrage_capacity_usd_per_s=0.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
    )
    positions = PositionArrays(
        market=np.zeros(2, np.int32),
        account=np.arange(2),
        side=np.array([1, -1], np.int8),
        quantity=np.full(2, 0.2),
        entry_price=np.full(2, price),
        margin=np.full(2, 2_000.0),
    )
    setup = EngineSetup(
        markets=[spec],
        assets=[AssetSpec(name="BTC")],
        positions=positions,
        index_path=np.full((11, 1), price),
    )
    result = simulate(setup, counterfactual=False)
    state = result.outcome.state
    rate = float(result.timeline["funding_rate"].iloc[-1])
    assert rate == pytest.approx(0.0001, rel=1e-6)
    assert 0.2 * float(state.funding_per_unit[0]) == pytest.approx(2.0, rel=1e-6)
