"""The ledger, step by step, and one definition of open interest.

At every step of a random multi-venue run (hypothesis): traders + insurance funds + backstop
vaults (fees are inside the funds) + market makers + the hedged counterparty + the taker +
the uncovered loss hold the same value as at the start, to 1e-9 of the money in play; no
fund or vault is below zero; bad debt never shrinks; long open interest equals short open
interest and the hedged pool's gross book agrees with the makers' and basis traders' net
position. Open interest falls by exactly the contracts a liquidation closes against a
counterparty that reduces (hand-made cases whose figures are derived from the setup).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from cascadesim.engine.orders import hedged_pool_trade
from cascadesim.model.market import (
    AssetSpec,
    EngineSetup,
    MarketSpec,
    PositionArrays,
    market_params,
)
from cascadesim.sim.driver import run_path, simulate
from cascadesim.sim.flow_state import insert_flow_rows
from cascadesim.sim.result import ledger_value
from cascadesim.sim.state import cross_accounts, sort_population, validate_setup
from tests.collateral_strategies import collateral_setups
from tests.engine_strategies import engine_setups
from tests.reference.engine_reference import Market

RELATIVE = 1e-9
HOLDERS = ("maker", "passive", "taker", "fund", "backstop")


def audited_run(setup: EngineSetup):
    """Run the liquidation path one step per chunk; returns per-step ledger snapshots."""
    n_accounts = validate_setup(setup)
    params = market_params(setup.markets, setup.assets)
    positions, groups, original_row = sort_population(setup.positions, params)
    positions, groups, _, flow, n_accounts = insert_flow_rows(
        positions,
        groups,
        original_row,
        setup.flow,
        len(setup.markets),
        n_accounts,
        setup.step_seconds,
    )
    snapshots = []

    def observe(step, state, live_positions, wallet, collateral, live_flow):
        ledger = ledger_value(
            live_positions, state, float(wallet.sum()), state.mark_price, state.funding_per_unit
        )
        # What collateral prices added, and the margin new positions brought, came from
        # outside the market.
        ledger["total"] -= float(collateral.repriced_usd[0]) + float(live_flow.deposited_usd[0])
        snapshots.append(
            {
                "step": step,
                "ledger": ledger,
                "fund": pooled(params.fund_pool, state.fund_cash, state.fund_quantity, state),
                "backstop": pooled(
                    params.backstop_pool, state.backstop_cash, state.backstop_quantity, state
                ),
                "bad_debt": state.bad_debt_usd.copy(),
                "pool_net": state.hedged_long_quantity - state.hedged_short_quantity,
                "maker_passive": state.maker_quantity + state.passive_quantity,
                "pool_long": state.hedged_long_quantity.copy(),
                "pool_short": state.hedged_short_quantity.copy(),
            }
        )

    outcome = run_path(
        setup,
        params,
        positions,
        groups,
        n_accounts,
        True,
        chunk_steps=1,
        crosses=cross_accounts(positions, n_accounts, setup.markets),
        observe=observe,
        flow=flow,
    )
    return outcome, snapshots


def pooled(pool, cash, quantity, state) -> np.ndarray:
    """USD in each shared fund (or vault): its cash and every member market's inventory."""
    value = cash + quantity * state.mark_price
    return np.bincount(pool, weights=value, minlength=len(cash))


def money_in_play(setup: EngineSetup) -> float:
    price = np.asarray([spec.price for spec in setup.markets])[setup.positions.market]
    positions = setup.positions
    flow = 0.0 if setup.flow is None else float(setup.flow.notional_usd.sum())
    return float(
        np.sum(positions.quantity * price)
        + np.sum(positions.margin)
        + flow
        + sum(spec.insurance_fund_usd + spec.backstop_usd for spec in setup.markets)
    )


@given(engine_setups())
@settings(max_examples=25)
def test_the_ledger_balances_at_every_step(setup):
    assert_ledger_balances(setup)


@given(collateral_setups())
@settings(max_examples=15)
def test_the_ledger_balances_with_hedge_pairs_and_collateral(setup):
    """Money is conserved with collateral that reprices (counted as an outside source) and
    hedge pairs netted against each other, at every step; the engine's own ledger says so."""
    assert_ledger_balances(setup)
    result = simulate(setup, counterfactual=False)
    before, after = result.ledger(False), result.ledger()
    assert after["collateral_repricing"] == -result.outcome.collateral_repriced_usd
    assert abs(after["total"] - before["total"]) <= RELATIVE * (
        money_in_play(setup) + abs(before["total"])
    )


def assert_ledger_balances(setup):
    result = simulate(setup, counterfactual=False)
    start = result.ledger(False)["total"]
    outcome, snapshots = audited_run(setup)
    scale = money_in_play(setup) + abs(start)
    quantity_scale = float(setup.positions.quantity.sum())
    bad_debt_before = np.zeros(len(setup.markets))
    for snap in snapshots:
        where = f"step {snap['step']}"
        assert abs(snap["ledger"]["total"] - start) <= RELATIVE * scale, (where, snap["ledger"])
        assert (snap["fund"] >= -RELATIVE * scale).all(), where
        assert (snap["backstop"] >= -RELATIVE * scale).all(), where
        assert (snap["bad_debt"] >= bad_debt_before - RELATIVE * scale).all(), where
        bad_debt_before = snap["bad_debt"]
        assert (snap["pool_long"] >= 0.0).all() and (snap["pool_short"] >= 0.0).all(), where
        gap = np.abs(snap["pool_net"] - snap["maker_passive"])
        assert gap.max() <= RELATIVE * max(quantity_scale, snap["pool_long"].sum()), where
    timeline = outcome.timeline
    oi_scale = float(timeline["long_open_interest"].max()) + quantity_scale
    gap = np.abs(timeline["long_open_interest"] - timeline["short_open_interest"])
    assert gap.max() <= RELATIVE * oi_scale
    # The same run in one chunk: observing step by step changes nothing.
    assert np.array_equal(timeline, result.outcome.timeline)


# --- the hedged pool -------------------------------------------------------------------------


def pool_state(long: float, short: float) -> np.recarray:
    state = np.zeros(1, dtype=[("hedged_long_quantity", "f8"), ("hedged_short_quantity", "f8")])
    state = state.view(np.recarray)
    state.hedged_long_quantity[0] = long
    state.hedged_short_quantity[0] = short
    return state


def test_the_pool_closes_its_other_side_first():
    """Derived: a pool long 2 and short 5 buys 3 (closes 3 shorts), then buys 4 (closes the
    last 2 shorts and opens 2 longs), then sells 10 (closes 4 longs, opens 6 shorts)."""
    state = pool_state(2.0, 5.0)
    hedged_pool_trade(state, 0, 3.0)
    assert (state.hedged_long_quantity[0], state.hedged_short_quantity[0]) == (2.0, 2.0)
    hedged_pool_trade(state, 0, 4.0)
    assert (state.hedged_long_quantity[0], state.hedged_short_quantity[0]) == (4.0, 0.0)
    hedged_pool_trade(state, 0, -10.0)
    assert (state.hedged_long_quantity[0], state.hedged_short_quantity[0]) == (0.0, 6.0)


def test_the_pool_kernel_agrees_with_the_reference():
    rng = np.random.default_rng(7)
    state = pool_state(3.0, 1.0)
    reference = Market.__new__(Market)
    reference.hedged = {"long": 3.0, "short": 1.0}
    for delta in rng.normal(0.0, 2.0, 200):
        hedged_pool_trade(state, 0, float(delta))
        Market.pool_trade(reference, float(delta))
        assert state.hedged_long_quantity[0] == pytest.approx(reference.hedged["long"], abs=1e-12)
        assert state.hedged_short_quantity[0] == pytest.approx(reference.hedged["short"], abs=1e-12)


# --- open interest falls by the contracts closed ----------------------------------------------

PRICE = 1000.0


def one_market(positions, path, **market) -> EngineSetup:
    defaults = dict(
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
    )
    defaults.update(market)
    columns = [np.asarray(column) for column in zip(*positions, strict=True)]
    return EngineSetup(
        markets=[MarketSpec(name="M0", asset="A0", **defaults)],
        assets=[AssetSpec(name="A0")],
        positions=PositionArrays(
            market=columns[0].astype(np.int32),
            account=columns[1].astype(np.int64),
            side=columns[2].astype(np.int8),
            quantity=columns[3].astype(np.float64),
            entry_price=columns[4].astype(np.float64),
            margin=columns[5].astype(np.float64),
        ),
        index_path=(PRICE * (1.0 - 0.05 * np.clip(np.arange(61) / 30.0, 0.0, 1.0)))[:, None],
    )


# A 50x long of 1,000 units (1 M USD at 1,000, liquidated near 990) and a safe 2x short.
LONG_50X = (0, 0, 1, 1000.0, PRICE, PRICE * 1000.0 / 50.0)
SHORT_2X = (0, 1, -1, 400.0, PRICE, PRICE * 400.0 / 2.0)


def test_open_interest_starts_at_the_stated_figure():
    setup = one_market([LONG_50X, SHORT_2X], None)
    result = simulate(setup, counterfactual=False)
    market = result.summary["markets"][0]
    assert market["open_interest_before_contracts"] == pytest.approx(50e6 / PRICE, rel=1e-12)
    assert market["open_interest_before_usd"] == pytest.approx(50e6, rel=1e-12)
    state = result.initial_state
    assert state.hedged_long_quantity[0] == pytest.approx(50_000.0 - 1000.0)
    assert state.hedged_short_quantity[0] == pytest.approx(50_000.0 - 400.0)


def test_a_liquidation_filled_in_the_book_closes_its_contracts():
    """The long is sold into a deep book: the makers' hedged pool buys, closing its shorts,
    so open interest falls by exactly the long's 1,000 units."""
    result = simulate(one_market([LONG_50X, SHORT_2X], None), counterfactual=False)
    events = result.liquidations
    assert set(events["kind"]) == {"book"}
    assert events["quantity"].sum() == pytest.approx(1000.0, rel=1e-12)
    timeline = result.outcome.timeline[:, 0]
    assert timeline["long_open_interest"][-1] == pytest.approx(50_000.0 - 1000.0, rel=1e-12)
    assert timeline["short_open_interest"][-1] == pytest.approx(50_000.0 - 1000.0, rel=1e-12)
    change = result.summary["markets"][0]["open_interest_change"]
    assert change == pytest.approx(-1000.0 / 50_000.0, rel=1e-9)


def test_a_takeover_keeps_its_contracts_open_until_the_fund_sells():
    """A book too thin for the order: the fund takes the rest and, selling nothing
    (unwind pace ~0), holds it; open interest falls only by what the book filled."""
    setup = one_market([LONG_50X, SHORT_2X], None, depth_1pct_usd=2e4, fund_unwind_usd_per_s=1e-9)
    result = simulate(setup, counterfactual=False)
    events = result.liquidations
    filled_in_book = float(events["quantity"][events["kind"] == "book"].sum())
    taken_over = float(events["quantity"][events["kind"] == "insurance"].sum())
    assert taken_over > 0.0
    assert filled_in_book + taken_over == pytest.approx(1000.0, rel=1e-12)
    state = result.outcome.state
    timeline = result.outcome.timeline[:, 0]
    assert timeline["long_open_interest"][-1] == pytest.approx(
        50_000.0 - filled_in_book - (taken_over - state.fund_quantity[0]), rel=1e-9
    )
    assert state.fund_quantity[0] == pytest.approx(taken_over, rel=1e-6)


def test_without_a_stated_figure_a_pool_with_no_shorts_only_moves_contracts():
    """No stated open interest and the traders net long (1,000 against 400): the pool holds
    600 shorts. The liquidated long's 1,000 units are bought by the pool, closing its 600
    shorts and opening 400 longs, so open interest falls from 1,000 to 400 (derived)."""
    setup = one_market([LONG_50X, SHORT_2X], None, open_interest_usd=None)
    result = simulate(setup, counterfactual=False)
    state = result.initial_state
    assert state.hedged_long_quantity[0] == 0.0
    assert state.hedged_short_quantity[0] == pytest.approx(600.0)
    timeline = result.outcome.timeline[:, 0]
    # 600 of the pool's shorts close; the other 400 units the pool buys open pool longs.
    assert timeline["long_open_interest"][-1] == pytest.approx(400.0, rel=1e-9)
