"""Invariants of the numba engine over random small markets (hypothesis).

- money is conserved: traders + insurance fund + backstop + fees + market makers + hedged
  counterparty + taker sum to the same value at the start and the end, and every market's
  net quantity is zero;
- long open interest equals short open interest at every step;
- book quantities never go negative;
- a position is liquidated only when its margin is breached at the trigger mark, and at
  most once (partial liquidations aside): no event for a position after the one that
  closed it;
- auto-deleveraging only when the fund cannot absorb the loss;
- the same setup gives bit-identical results.

Hypothesis examples are derandomized so that CI sees the same cases on every run.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from cascadesim.engine import layout
from cascadesim.model.market import PositionArrays
from cascadesim.sim.driver import simulate
from tests.engine_strategies import engine_setups, with_market
from tests.reference import margin_reference
from tests.reference.engine_reference import reference_run

PROPERTIES = settings(max_examples=40)  # the rest from the suite's profile (conftest)
RELATIVE = 1e-9
HOLDERS = ("traders", "maker", "passive", "taker", "fund", "backstop")
LIQUIDATION_KINDS = (layout.KIND_BOOK, layout.KIND_INSURANCE, layout.KIND_BACKSTOP, layout.KIND_ADL)


def run(setup):
    return simulate(setup, counterfactual=False)


def original_events(result) -> np.ndarray:
    """Event log with ``position`` as the setup's original row (-1 for aggregates)."""
    events = result.outcome.events.copy()
    rows = events["position"]
    events["position"] = np.where(rows >= 0, result.original_row[np.maximum(rows, 0)], -1)
    return events


def value_scale(result) -> float:
    """USD scale of the money in play: the gross of every holder's cash and inventory."""
    setup = result.setup
    price = np.asarray([spec.price for spec in setup.markets])[setup.positions.market]
    scale = float(np.sum(setup.positions.quantity * price) + np.sum(setup.positions.margin))
    for final in (False, True):
        state = result.outcome.state if final else result.initial_state
        mark = state.mark_price if final else np.asarray([s.price for s in setup.markets])
        for holder in HOLDERS[1:]:
            scale += float(np.abs(getattr(state, f"{holder}_cash")).sum())
            scale += float(np.abs(getattr(state, f"{holder}_quantity") * mark).sum())
    return scale


def funding_per_unit_before(result, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Settlement times (s) and cumulative funding per unit after each, rebuilt from the
    timeline: a settlement at step k pays the settled rate times that step's mark."""
    spec = result.setup.markets[m]
    timeline = result.outcome.timeline[:, m]
    next_time = spec.time_to_first_funding_s
    times, cumulative = [], []
    total = 0.0
    for row in timeline:
        if row["time"] >= next_time - 1e-9:
            total += row["funding_rate"] * row["mark_price"]
            times.append(row["time"])
            cumulative.append(total)
            next_time += spec.funding_interval_s
    return np.asarray(times), np.asarray(cumulative)


@given(engine_setups())
@PROPERTIES
def test_money_is_conserved_and_net_quantity_is_zero(setup):
    result = run(setup)
    before = result.ledger(False)
    after = result.ledger(True)
    scale = value_scale(result)
    assert abs(after["total"] - before["total"]) <= RELATIVE * scale, (before, after)
    quantity_scale = float(setup.positions.quantity.sum())
    for m, net in enumerate(after["net_quantity"]):
        assert abs(net) <= RELATIVE * quantity_scale, f"market {m} net quantity {net}"


@given(engine_setups())
@PROPERTIES
def test_no_fund_goes_below_zero_and_bad_debt_is_what_nothing_absorbed(setup):
    result = run(setup)
    timeline = result.outcome.timeline
    scale = value_scale(result)
    assert (timeline["insurance_fund_usd"] >= -RELATIVE * scale).all()
    assert (timeline["backstop_usd"] >= -RELATIVE * scale).all()
    # Bad debt is the ledger's uncovered holder: conservation above counts it.
    assert result.ledger(True)["uncovered"] == -float(result.outcome.state.bad_debt_usd.sum())
    bad_debt = result.outcome.state.bad_debt_usd
    assert (bad_debt >= 0.0).all()
    if bad_debt.sum() > 0.0:
        assert result.outcome.flags & layout.STATUS_FLAG_BAD_DEBT


@given(engine_setups())
@PROPERTIES
def test_long_open_interest_equals_short_at_every_step(setup):
    timeline = run(setup).outcome.timeline
    scale = float(setup.positions.quantity.sum())
    gap = np.abs(timeline["long_open_interest"] - timeline["short_open_interest"])
    assert gap.max() <= RELATIVE * scale
    assert (timeline["trader_long_open_interest"] >= -RELATIVE * scale).all()
    assert (timeline["trader_short_open_interest"] >= -RELATIVE * scale).all()


@given(engine_setups())
@PROPERTIES
def test_book_quantities_never_go_negative(setup):
    result = run(setup)
    for snapshot in result.outcome.book_snapshots:
        for side in ("bids", "asks"):
            depth = getattr(snapshot, side)
            assert np.isfinite(depth).all(), f"{side} at step {snapshot.step}"
            assert (depth >= 0.0).all(), f"negative {side} at step {snapshot.step}"
    timeline = result.outcome.timeline
    assert (timeline["bid_depth_1pct_usd"] >= 0.0).all()
    assert (timeline["ask_depth_1pct_usd"] >= 0.0).all()


def opened_columns(result, settlements) -> PositionArrays:
    """Every position as it opened, by original row: the setup's rows, then the flow's.

    A flow row opened at its recorded time with the side and entry the run gave it, the
    quantity notional / entry, and the margin the engine stores (notional / leverage plus
    the funding already accrued, ``side * q * F``, which the run charges back).
    """
    setup = result.setup
    positions = setup.positions
    flow = setup.flow
    if flow is None or flow.n_rows == 0:
        return positions
    n0 = len(positions)
    by_row = np.empty(len(result.original_row), dtype=np.int64)
    by_row[result.original_row] = np.arange(len(result.original_row))
    rows = by_row[n0:]
    side = result.outcome.positions.side[rows].astype(np.int8)
    entry = result.outcome.positions.entry_price[rows]
    opened = np.isfinite(result.outcome.flow_opened_time)
    quantity = np.where(opened, flow.notional_usd / np.where(opened, entry, 1.0), 0.0)
    accrued = np.zeros(flow.n_rows)
    for k in np.flatnonzero(opened):
        times, cumulative = settlements[int(flow.market[k])]
        paid = cumulative[times < result.outcome.flow_opened_time[k]]
        accrued[k] = float(paid[-1]) if paid.size else 0.0
    margin = flow.notional_usd / flow.leverage + side * quantity * accrued
    cross = np.zeros(n0, bool) if positions.cross is None else np.asarray(positions.cross)
    return PositionArrays(
        market=np.concatenate([positions.market, flow.market]).astype(np.int32),
        account=np.concatenate([positions.account, -1 - np.arange(flow.n_rows)]),
        side=np.concatenate([positions.side, side]).astype(np.int8),
        quantity=np.concatenate([positions.quantity, quantity]),
        entry_price=np.concatenate([positions.entry_price, entry]),
        margin=np.concatenate([positions.margin, margin]),
        cross=np.concatenate([cross, np.zeros(flow.n_rows, bool)]),
    )


@given(engine_setups())
@PROPERTIES
def test_positions_are_liquidated_only_when_breached_and_at_most_once(setup):
    result = run(setup)
    events = original_events(result)
    settlements = [funding_per_unit_before(result, m) for m in range(len(setup.markets))]
    positions = opened_columns(result, settlements)
    final_status = np.empty(len(result.original_row), dtype=np.int8)
    final_status[result.original_row] = result.outcome.positions.status
    for row in np.unique(events["position"][events["position"] >= 0]):
        mine = events[events["position"] == row]
        m = int(positions.market[row])
        spec = setup.markets[m]
        side = int(positions.side[row])
        quantity = float(positions.quantity[row])
        closed = np.cumsum(mine["quantity"])
        # At most once: nothing after the event that closed the position.
        done = np.flatnonzero(closed >= quantity * (1.0 - RELATIVE))
        if done.size:
            assert done[0] == mine.size - 1, f"position {row}: events after it was closed"
            assert final_status[row] in (layout.STATUS_LIQUIDATED, layout.STATUS_DELEVERAGED)
        else:
            assert final_status[row] in (layout.STATUS_OPEN, layout.STATUS_WATCHED)
        assert closed[-1] <= quantity * (1.0 + RELATIVE)
        liquidations = mine[np.isin(mine["kind"], LIQUIDATION_KINDS)]
        if liquidations.size == 0:
            continue
        if positions.cross is not None and positions.cross[row]:
            # A cross position is closed when its account is breached, whatever its own
            # share of the wallet; the account check is compared with the reference's plain
            # one in test_engine_differential and test_cross_margin.
            continue
        if spec.partial_mode == "none" and spec.takeover_mode not in (
            "backstop",
            "negative_equity",
        ):
            # One liquidation procedure: every fill, takeover and ADL at the same moment (the
            # backstop and negative-equity venues retry an unfilled order the next step).
            assert np.unique(liquidations["time"]).size == 1, f"position {row} twice"
        first = liquidations[0]
        if mine["kind"][0] == layout.KIND_ADL_COUNTERPARTY and mine["time"][0] <= first["time"]:
            continue  # deleveraged before: the initial columns no longer describe it
        times, cumulative = settlements[m]
        paid = cumulative[times < first["time"]]
        funding = float(paid[-1]) if paid.size else 0.0
        margin = float(positions.margin[row]) - side * quantity * funding
        shortfall = margin_reference.shortfall(
            side,
            quantity,
            float(positions.entry_price[row]),
            margin,
            float(first["mark_price"]),
            list(spec.tier_floor_usd),
            list(spec.tier_mmr),
            [float(a) for a in spec.maintenance_amounts()],
            margin_reference.convention_for(spec),
        )
        assert shortfall <= RELATIVE * quantity * float(first["mark_price"]), (
            f"position {row} liquidated at mark {first['mark_price']} with shortfall {shortfall}"
        )


@given(engine_setups(fund_regimes=("huge",)))
@PROPERTIES
def test_no_auto_deleveraging_when_the_fund_can_absorb(setup):
    setup = with_market(setup, takeover_mode="insurance", insurance_fund_usd=1e15)
    events = run(setup).outcome.events
    assert not np.isin(events["kind"], (layout.KIND_ADL, layout.KIND_ADL_COUNTERPARTY)).any()


@given(engine_setups())
@PROPERTIES
def test_backstop_venues_deleverage_only_what_the_vault_cannot_carry(setup):
    """Checked inside the reference (held equal to the kernel by the differential tests):
    on a backstop venue every auto-deleveraged position was worth less than minus the
    vault's equity at the time (Hyperliquid: value negative after the liquidator vault)."""
    reference = reference_run(setup)
    for _market, vault, equity in reference["backstop_adl"]:
        assert equity < 0.0 and vault + equity < 0.0


@given(engine_setups(fund_regimes=("empty", "small"), max_positions=120, max_steps=200))
@settings(PROPERTIES, max_examples=15)
def test_auto_deleveraging_starts_only_once_the_fund_is_spent(setup):
    """Checked inside the reference (which the differential tests hold equal to the kernel):
    whenever ADL starts on an insurance venue, the fund's equity at mark is used up."""
    setup = with_market(
        setup, takeover_mode="insurance", fund_drawdown_trigger=0.0, fund_notional_cap_ratio=0.0
    )
    reference = reference_run(setup)
    for market, fund_equity, loss in reference["adl_fund_equity"]:
        assert fund_equity <= RELATIVE * max(abs(loss), setup.markets[market].price), (
            f"market {market}: ADL with {fund_equity} USD left in the fund"
        )


@given(engine_setups())
@settings(PROPERTIES, max_examples=15)
def test_same_setup_gives_identical_results(setup):
    first = run(setup)
    second = run(setup)
    assert first.outcome.events.tobytes() == second.outcome.events.tobytes()
    assert first.outcome.timeline.tobytes() == second.outcome.timeline.tobytes()
    assert first.outcome.state.tobytes() == second.outcome.state.tobytes()
    for name in ("quantity", "margin", "status"):
        assert np.array_equal(
            getattr(first.outcome.positions, name), getattr(second.outcome.positions, name)
        )
    assert first.outcome.account_wallet.tobytes() == second.outcome.account_wallet.tobytes()
