"""Multi-asset collateral and hedge mode: rules, kernels, hand-derived cases, scenario files.

Published examples reproduce the venues' own figures; the hand-made engine cases have their
expected figures derived in their docstrings from the setup, not copied from a run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim._util.errors import CascadesimInputError
from cascadesim.engine import layout
from cascadesim.engine.collateral import basket_value
from cascadesim.model.collateral import CollateralHoldings, basket_units, counted_values
from cascadesim.model.collateral_tables import collateral_rule
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate

PRICE = 1000.0


# --- haircuts ------------------------------------------------------------------------------
def python_counted(floors, ratios, units):
    """Reference: walk the tiers one by one (the venues' marginal bands)."""
    total = 0.0
    for k, ratio in enumerate(ratios):
        high = floors[k + 1] if k + 1 < len(floors) else float("inf")
        if units > floors[k]:
            total += (min(units, high) - floors[k]) * ratio
    return total


@given(
    st.lists(st.floats(0.01, 100.0), min_size=0, max_size=4),
    st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5),
    st.floats(0.0, 500.0),
)
@settings(max_examples=200)
def test_basket_value_kernel_matches_the_reference(gaps, ratios, units):
    floors = np.concatenate(([0.0], np.cumsum(gaps)))
    ratios = np.asarray(ratios[: floors.size])
    # Feed 1 of a table padded to 8 tiers (feed 0, another coin's, is held too), at 2 USD.
    padded_floors = np.zeros((2, 8))
    padded_ratios = np.full((2, 8), 0.5)
    padded_floors[1, : floors.size] = floors
    padded_ratios[1, : floors.size] = ratios
    expected = python_counted(list(floors), list(ratios), units)
    kernel = basket_value(
        np.asarray([3.0, 2.0]),
        padded_floors,
        padded_ratios,
        np.asarray([1, floors.size]),
        np.asarray([0, 2]),
        np.asarray([0, 1], dtype=np.int32),
        np.asarray([10.0, units]),
        0,
    )
    assert kernel == pytest.approx(3.0 * 5.0 + 2.0 * expected, rel=1e-12, abs=1e-12)
    assert counted_values(floors, ratios, np.asarray([units]))[0] == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )


def test_binance_counts_bnb_worth_1000_usd_as_950():
    """Binance FAQ 'What Is Multi-Assets Mode': "BNB valued at $1,000 will be considered
    as $950"."""
    floors, ratios = collateral_rule("binance", "BNB").haircut
    price = 600.0
    assert price * counted_values(floors, ratios, np.asarray([1000.0 / price]))[0] == (
        pytest.approx(950.0, abs=1e-9)
    )


def test_binance_asset_index_bid_rate_of_ada():
    """GET /fapi/v1/assetIndex example: ADAUSD index 1.92957370, bidBuffer 0.1, bidRate
    1.73661633: one ADA counts its index times (1 - bidBuffer), the 90 % of the FAQ table."""
    floors, ratios = collateral_rule("binance", "ADA").haircut
    counted = 1.92957370 * counted_values(floors, ratios, np.asarray([1.0]))[0]
    assert round(counted, 8) == 1.73661633


def test_bybit_tiers_are_marginal_bands_of_the_amount_held():
    """Derived from Bybit's illustrative table (0-10 BTC 0.98, 10-20 0.95, 20-30 0.9, ...,
    above 50 nothing): 25 BTC count 10 x 0.98 + 10 x 0.95 + 5 x 0.9 = 23.8 BTC; 60 BTC
    count 9.8 + 9.5 + 9 + 8.5 + 8 = 44.8 BTC, the last 10 nothing."""
    floors, ratios = collateral_rule("bybit", "BTC").haircut
    counted = counted_values(floors, ratios, np.asarray([25.0, 60.0]))
    assert counted == pytest.approx([23.8, 44.8], rel=1e-12)


def test_basket_units_carry_the_margin_at_the_shares_given():
    shares = np.asarray([0.6, 0.3, 0.1])
    prices = np.asarray([1.0, 100_000.0, 0.98])
    haircuts = [((0.0,), (0.9999,)), ((0.0, 10.0), (0.95, 0.5)), ((0.0,), (0.9,))]
    counted = np.asarray([1e3, 2e6, 5e7])
    units = basket_units(shares, prices, haircuts, counted, "here")
    value = units * prices
    assert np.allclose(value / value.sum(axis=1, keepdims=True), shares, rtol=1e-12)
    got = sum(prices[k] * counted_values(*haircuts[k], units[:, k]) for k in range(len(shares)))
    assert (got <= counted).all() and np.allclose(got, counted, rtol=1e-10)


def test_a_basket_that_counts_for_nothing_is_refused_in_one_line():
    with pytest.raises(CascadesimInputError, match="^here = .*count for too little"):
        basket_units(np.asarray([1.0]), np.asarray([1.0]), [((0.0,), (0.0,))], np.ones(1), "here")


# --- the engine: hand-derived cases ----------------------------------------------------------
def market(**changes) -> MarketSpec:
    values = dict(
        name="M",
        asset="A",
        price=PRICE,
        tick_size=0.5,
        depth_1pct_usd=5e8,
        arbitrage_capacity_usd_per_s=0.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
        partial_mode="none",
        mark_rule="index",
        tier_floor_usd=(0.0,),
        tier_mmr=(0.01,),
        tier_max_leverage=(100.0,),
        open_interest_usd=50e6,
        funding_interval_s=28_800.0,
        time_to_first_funding_s=14_400.0,
    )
    values.update(changes)
    return MarketSpec(**values)


def cross_setup(positions, path, collateral=None, **changes) -> EngineSetup:
    """One market; positions (account, side, quantity, entry, margin), all cross."""
    account, side, quantity, entry, margin = (np.asarray(c) for c in zip(*positions, strict=True))
    return EngineSetup(
        markets=[market(**changes)],
        assets=[AssetSpec(name="A")],
        positions=PositionArrays(
            market=np.zeros(len(positions), np.int32),
            account=account.astype(np.int64),
            side=side.astype(np.int8),
            quantity=quantity.astype(np.float64),
            entry_price=entry.astype(np.float64),
            margin=margin.astype(np.float64),
            cross=np.ones(len(positions), dtype=np.bool_),
        ),
        index_path=np.asarray(path, dtype=np.float64)[:, None],
        collateral=collateral,
    )


def usde(factor: np.ndarray, units: float, account: int = 0) -> CollateralHoldings:
    return CollateralHoldings(
        feeds=("venue:USDE",),
        factor=factor[:, None],
        feed_asset=(-1,),
        feed_price=(1.0,),
        haircuts=(((0.0,), (1.0,)),),
        account=np.asarray([account]),
        feed=np.asarray([0]),
        units=np.asarray([units]),
    )


def test_a_depeg_liquidates_an_account_with_no_losing_position_when_derived():
    """A 50x long (100 units at 1,000, margin 2,000 all in USDe) and a 50x short margined in
    USDT; the index never moves. MM = 1 % x 100,000 = 1,000, so the long's account reaches
    maintenance when 2,000 x f = 1,000: USDe at f = 0.5. USDe falls as f(t) = 1 - 0.6 t / 55,
    below 0.5 first at t = 46 s (45.83 s exactly). The short is never liquidated."""
    n_steps = 80
    t = np.arange(n_steps + 1, dtype=np.float64)
    factor = np.maximum(1.0 - 0.6 * t / 55.0, 0.4)
    setup = cross_setup(
        [(0, 1, 100.0, PRICE, 2000.0), (1, -1, 100.0, PRICE, 2000.0)],
        np.full(n_steps + 1, PRICE),
        collateral=usde(factor, 2000.0),
    )
    result = simulate(setup, counterfactual=False)
    events = result.liquidations
    assert set(events["account"]) == {0}
    assert events["time"].min() == 46.0
    assert events["side"].unique().tolist() == ["long"]
    summary = result.summary["collateral"]
    assert summary["accounts"] == 1 and summary["accounts_liquidated"] == 1
    assert summary["accounts_liquidated_without_loss"] == 1
    ledger_start, ledger_end = result.ledger(False), result.ledger(True)
    assert ledger_end["total"] == pytest.approx(ledger_start["total"], rel=1e-12)
    # At its liquidation USDe counted 2,000 x f(46) less than at the start.
    assert ledger_end["collateral_repricing"] == pytest.approx(2000.0 * 0.6 * 46.0 / 55.0)


def test_without_a_depeg_the_same_account_is_safe():
    n_steps = 80
    setup = cross_setup(
        [(0, 1, 100.0, PRICE, 2000.0), (1, -1, 100.0, PRICE, 2000.0)],
        np.full(n_steps + 1, PRICE),
        collateral=usde(np.ones(n_steps + 1), 2000.0),
    )
    result = simulate(setup, counterfactual=False)
    assert len(result.liquidations) == 0
    assert result.summary["collateral"]["repriced_usd"] == 0.0


def hedged_account(rule: str) -> EngineSetup:
    """Account 0 in hedge mode: long 200 and short 100 units at 1,000, margins 2,900 and
    1,100; a safe isolated-like counterparty account 1 holds nothing else. The net long of
    100 loses 100 x (1,000 - P); MM is 1 % of both legs, 3 x P; so the account breaches at
    4,000 - 100 (1,000 - P) = 3 P, P = 96,000 / 97 = 989.69. The index falls 2 % over
    20 steps. No liquidation fee, so that a closed leg's equity stays in the account."""
    n_steps = 40
    t = np.arange(n_steps + 1)
    path = PRICE * (1.0 - 0.02 * np.clip((t - 5) / 20.0, 0.0, 1.0))
    return cross_setup(
        [
            (0, 1, 200.0, PRICE, 2900.0),
            (0, -1, 100.0, PRICE, 1100.0),
            (1, -1, 100.0, PRICE, 50_000.0),
        ],
        path,
        hedge_liquidation=rule,
        liquidation_fee_rate=0.0,
    )


def test_bybit_nets_the_hedged_overlap_and_leaves_the_net_long_safe():
    """Bybit: "only the net long or net short position may be liquidated". At the breach
    (about 989.7) the 100 hedged units are closed against each other at the mark; the net
    long of 100 then needs 1 % x 100 x 989.7 = 990 USD with 4,000 - 1,031 = 2,969 of
    equity: safe, nothing goes to the book."""
    result = simulate(hedged_account("net_first"), counterfactual=False)
    events = result.engine_outcome.events
    assert (events["kind"] == layout.KIND_NETTED).sum() == 2
    assert np.isin(events["kind"], layout.LIQUIDATION_KINDS).sum() == 0
    netted = events[events["kind"] == layout.KIND_NETTED]
    assert netted["quantity"] == pytest.approx([100.0, 100.0])
    assert netted["mark_price"][0] <= 96_000 / 97 + 1e-6
    assert netted["mark_price"][0] > 96_000 / 97 - PRICE * 0.001  # the step's 0.1 % move
    final = result.engine_outcome.positions
    mine = final.account == 0
    assert sorted(np.round(final.quantity[mine], 9)) == [0.0, 100.0]
    assert final.side[mine & (final.quantity > 0)].tolist() == [1]
    ledger_start, ledger_end = result.ledger(False), result.ledger(True)
    assert ledger_end["total"] == pytest.approx(ledger_start["total"], rel=1e-12)


def test_binance_closes_each_leg_as_a_position_of_its_own():
    """Binance: both legs' maintenance margins count, and the largest (the long's, 2 x P)
    is closed first, in the book; what is left (the short and 2,969 of equity against 990 of
    maintenance) is safe, so the short stays open."""
    result = simulate(hedged_account("each_side"), counterfactual=False)
    events = result.engine_outcome.events
    assert (events["kind"] == layout.KIND_NETTED).sum() == 0
    liquidated = events[np.isin(events["kind"], layout.LIQUIDATION_KINDS)]
    assert liquidated["side"].tolist() == [1]
    assert liquidated["quantity"].sum() == pytest.approx(200.0)


# --- scenario files --------------------------------------------------------------------------
DEPEG = resolve_scenario("stablecoin_depeg").read_text()


def edited(old: str, new: str) -> str:
    assert old in DEPEG
    return DEPEG.replace(old, new, 1)


@pytest.mark.parametrize(
    "text, fragments",
    [
        (
            edited("USDE = 0.7, USDT = 0.3", "USDE = 0.7, USDT = 0.4"),
            ["population.collateral", "sum to 1.1"],
        ),
        (
            edited("USDE = 0.7, USDT = 0.3", "USDE = 0.7, PEPE = 0.3"),
            ["population.collateral.PEPE", "price_usd"],
        ),
        (
            edited("isolated_share = 0.2", "isolated_share = 1.0"),
            ["population.isolated_share", "cross margin only"],
        ),
        (
            edited('venue = "bybit"\nprice_usd', 'venue = "hyperliquid"\nprice_usd'),
            ["population.collateral", "USDC only"],
        ),
        (
            edited('coin = "USDE"\nvenue = "bybit"', 'coin = "USDT"\nvenue = "okx"'),
            ["shock.collateral[1].venue", "'all' or a venue"],
        ),
        (
            edited('coin = "USDE"\nvenue = "bybit"', 'coin = "BNB"\nvenue = "bybit"'),
            ["shock.collateral[1].coin", "held in a population"],
        ),
        (
            edited('coin = "USDE"\nvenue = "bybit"', 'coin = "USDE"\nvenue = "binance"'),
            ["shock.collateral[1].venue", "one move per coin"],
        ),
        (
            edited("collateral_accounts_share = 0.5", "collateral_accounts_share = 1.5"),
            ["population.collateral_accounts_share", "1.5"],
        ),
        (
            edited(
                "collateral_accounts_share = 0.5",
                "collateral_accounts_share = 0.5\nhedged_pair_share = 0.3",
            ).replace('venue = "bybit"\nprice_usd', 'venue = "bitmex"\nprice_usd'),
            ["hedged_pair_share", "one-way"],
        ),
    ],
)
def test_bad_collateral_fields_are_one_line(text, fragments):
    with pytest.raises(CascadesimInputError) as error:
        Scenario.from_toml_text(text, "depeg.toml").build()
    message = str(error.value)
    assert "\n" not in message and message.startswith("depeg.toml: ")
    for fragment in fragments:
        assert fragment in message, message


def test_scenarios_without_the_new_keys_keep_their_hash():
    """The collateral and hedge keys at their defaults dump as before they existed."""
    scenario = Scenario.from_toml(resolve_scenario("default"))
    dumped = scenario.model_dump(mode="json")
    assert "collateral" not in dumped and "collateral" not in dumped["shock"]
    assert not {"collateral", "collateral_accounts_share", "hedged_pair_share"} & set(
        dumped["population"]
    )


def test_hedged_pairs_share_accounts_in_one_market():
    text = edited(
        "collateral_accounts_share = 0.5",
        "collateral_accounts_share = 0.5\nhedged_pair_share = 0.4",
    )
    setup = Scenario.from_toml_text(text).build()
    positions = setup.positions
    cross = positions.cross
    for m in range(2):
        rows = cross & (positions.market == m)
        longs = set(positions.account[rows & (positions.side > 0)])
        shorts = set(positions.account[rows & (positions.side < 0)])
        smaller = min(len(longs), (rows & (positions.side < 0)).sum())
        assert len(longs & shorts) == pytest.approx(0.4 * smaller, abs=1)
    assert np.unique(positions.account).size == setup.n_accounts


# --- the teaching scenario -------------------------------------------------------------------
def test_a_depeg_on_one_venue_liquidates_its_holders_only():
    """stablecoin_depeg: the index never moves; Binance's own USDe price goes to 0.65, Bybit's
    to 0.92. Holders on Binance are liquidated through their collateral, Bybit's barely, and
    accounts without the basket not at all."""
    result = simulate(
        Scenario.from_toml(resolve_scenario("stablecoin_depeg")), counterfactual=False
    )
    summary = result.summary
    collateral = summary["collateral"]
    binance, bybit = summary["markets"]
    assert binance["accounts_liquidated"] > 4 * bybit["accounts_liquidated"]
    assert collateral["accounts_liquidated"] == summary["accounts_liquidated"]
    assert collateral["accounts_liquidated_without_loss"] == collateral["accounts_liquidated"]
    assert collateral["feeds"]["binance:USDE"]["price_min_usd"] == pytest.approx(0.65)
    assert collateral["feeds"]["bybit:USDE"]["price_min_usd"] == pytest.approx(0.92)
    ledger_start, ledger_end = result.ledger(False), result.ledger(True)
    assert ledger_end["total"] == pytest.approx(ledger_start["total"], rel=1e-12)
    assert any("binance:USDE" in note for note in summary["estimates"])
