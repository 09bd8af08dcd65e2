"""The numba step loop against the pure-Python reference of its semantics.

Both run the same setup; they must produce the same liquidation events (same positions,
kinds, quantities, fill prices, in the same order), the same timeline (prices, open interest,
fund) and the same final balances. The reference shares the engine's arithmetic order, so
floats agree to rounding: compared with a relative tolerance of 1e-9 (plus an absolute
tolerance of 1e-9 of the column's scale for values that cancel to about zero).

Hypothesis examples are derandomized so that CI sees the same cases on every run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from cascadesim.engine import layout
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.sim.driver import simulate
from tests.collateral_strategies import collateral_setups
from tests.engine_strategies import engine_setups
from tests.reference.engine_reference import reference_run

RELATIVE = 1e-9
DIFFERENTIAL = settings(max_examples=30)  # the rest from the suite's profile (conftest)

AGENTS = ("maker", "passive", "taker", "fund", "backstop")


def close(kernel: np.ndarray, reference: np.ndarray, what: str, floor: float = 0.0) -> None:
    """Assert float arrays agree to RELATIVE, with an absolute tolerance of RELATIVE times the
    larger of the arrays' scale and ``floor`` (the scale of the quantity they measure, for
    values such as open interest that cancel to about zero)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert kernel.shape == reference.shape, f"{what}: shapes {kernel.shape} {reference.shape}"
    finite = np.isfinite(reference)
    assert np.array_equal(np.isfinite(kernel), finite), f"{what}: non-finite values differ"
    assert np.array_equal(kernel[~finite], reference[~finite], equal_nan=True), (
        f"{what}: infinities differ"
    )
    if not finite.any():
        return
    scale = max(float(np.max(np.abs(reference[finite]))), floor)
    bad = ~np.isclose(kernel[finite], reference[finite], rtol=RELATIVE, atol=RELATIVE * scale)
    if bad.any():
        k = int(np.argmax(bad))
        where = np.argwhere(finite)[k]
        raise AssertionError(
            f"{what}: first difference at {tuple(where)}: kernel "
            f"{kernel[finite][k]!r}, reference {reference[finite][k]!r}"
        )


def kernel_events(outcome: dict, original_row: np.ndarray) -> np.ndarray:
    """The kernel's event log with positions as the setup's original rows."""
    events = outcome.events.copy()
    rows = events["position"]
    events["position"] = np.where(rows >= 0, original_row[np.maximum(rows, 0)], -1)
    return events


def by_original_row(original_row: np.ndarray, column: np.ndarray) -> np.ndarray:
    out = np.empty_like(column)
    out[original_row] = column
    return out


def assert_same_events(kernel: np.ndarray, reference: np.ndarray) -> None:
    """Same events in the same order: integer fields equal, float fields close."""
    if kernel.size != reference.size:
        n = min(kernel.size, reference.size)
        differ = [
            k
            for k in range(n)
            if kernel[k]["position"] != reference[k]["position"]
            or kernel[k]["kind"] != reference[k]["kind"]
        ]
        first = differ[0] if differ else n
        raise AssertionError(
            f"event counts differ: kernel {kernel.size}, reference {reference.size}; first "
            f"difference at {first}: kernel {kernel[first : first + 3]}, reference "
            f"{reference[first : first + 3]}"
        )
    for name in ("market", "account", "position", "side", "kind"):
        if not np.array_equal(kernel[name], reference[name]):
            k = int(np.argmax(kernel[name] != reference[name]))
            raise AssertionError(
                f"events.{name} differ at {k}: kernel {kernel[k]}, reference {reference[k]}"
            )
    for name in ("time", "quantity", "notional", "fill_price", "bankruptcy_price", "mark_price"):
        close(kernel[name], reference[name], f"events.{name}")
    # What each event records of the closed position (NaN for the hedged aggregate).
    for name in ("entry_price", "liquidation_price", "equity_usd"):
        close(kernel[name], reference[name], f"events.{name}")
    # Leverage is quantity x mark over a margin that can be about zero (the rest of a position
    # whose fills used up its margin): compared as its inverse, margin over notional, which
    # rounding moves by little. Rounding may leave such a margin at +1e-12 USD in one engine
    # (leverage 1e17) and at -1e-12 in the other (inf), so infinities are not compared.
    with np.errstate(divide="ignore"):
        close(1.0 / kernel["leverage"], 1.0 / reference["leverage"], "events.1/leverage")


def assert_same_outcome(
    outcome: dict, original_row: np.ndarray, reference: dict, setup: EngineSetup
) -> None:
    """A kernel path outcome (``run_path``'s dict) agrees with a reference run."""
    assert_same_events(kernel_events(outcome, original_row), reference["events"])
    positions = setup.positions
    quantity_scale = float(np.sum(positions.quantity))
    start_price = np.asarray([spec.price for spec in setup.markets])[positions.market]
    money_scale = float(
        np.sum(positions.quantity * start_price)
        + np.sum(positions.margin)
        + sum(s.insurance_fund_usd + s.backstop_usd for s in setup.markets)
    )
    if setup.flow is not None:
        prices = np.asarray([spec.price for spec in setup.markets])
        money_scale += float(setup.flow.notional_usd.sum())
        quantity_scale += float((setup.flow.notional_usd / prices[setup.flow.market]).sum())
    timeline = outcome.timeline
    for name in layout.TIMELINE_DTYPE.names:
        if timeline.dtype[name].kind in "iu":
            assert np.array_equal(timeline[name], reference["timeline"][name]), (
                f"timeline.{name} differs"
            )
        else:
            floor = (
                quantity_scale
                if "open_interest" in name
                else money_scale
                if name.endswith("_usd")
                else 1e-6
            )
            close(timeline[name], reference["timeline"][name], f"timeline.{name}", floor)
    state = outcome.state
    agents = reference["agents"]
    for holder in AGENTS:
        close(
            getattr(state, f"{holder}_cash"),
            agents[f"{holder}_cash"],
            f"{holder}_cash",
            money_scale,
        )
        close(
            getattr(state, f"{holder}_quantity"),
            agents[f"{holder}_quantity"],
            f"{holder}_quantity",
            quantity_scale,
        )
    for name in ("fees_usd", "bad_debt_usd", "adl_notional_usd"):
        close(getattr(state, name), agents[name], name, money_scale)
    price_scale = max(spec.price for spec in setup.markets)
    for name in ("funding_per_unit", "mark_price", "last_price", "passive_entry_price"):
        close(getattr(state, name), agents[name], name, price_scale)
    assert np.array_equal(state.adl_count, agents["adl_count"])
    close(outcome.assets.index_price, reference["index_price"], "index_price")
    close(outcome.account_wallet, reference["account_wallet"], "account_wallet", money_scale)
    assert np.array_equal(outcome.account_liquidated, reference["account_liquidated"])
    positions = outcome.positions
    close(
        by_original_row(original_row, positions.quantity),
        reference["quantity"],
        "quantity",
        quantity_scale,
    )
    close(
        by_original_row(original_row, positions.margin), reference["margin"], "margin", money_scale
    )
    # The opening flow's rows: the side and entry each opened with, and the money brought in.
    assert np.array_equal(by_original_row(original_row, positions.side), reference["side"])
    close(
        by_original_row(original_row, positions.entry_price),
        reference["entry"],
        "entry_price",
        max(spec.price for spec in setup.markets),
    )
    close(
        np.asarray([outcome.flow_deposited_usd]),
        np.asarray([reference["flow_deposited_usd"]]),
        "flow_deposited_usd",
        money_scale,
    )
    assert np.array_equal(
        outcome.flow_opened_time, reference["flow_opened_time"], equal_nan=True
    ), "opening times differ"
    status = by_original_row(original_row, positions.status)
    status = np.where(status == layout.STATUS_WATCHED, layout.STATUS_OPEN, status)
    assert np.array_equal(status, reference["status"]), "final statuses differ"
    assert outcome.flags == reference["flags"], "status flags differ"
    for m, book in enumerate(reference["books"]):
        assert state.origin_tick[m] == book["origin_tick"], f"window origin of market {m}"
        depth = float(np.max(book["bids"]) + np.max(book["asks"]))
        n_levels = int(state.book_levels[m])
        close(state.bids[m, :n_levels], book["bids"], f"bids[{m}]", depth)
        close(state.asks[m, :n_levels], book["asks"], f"asks[{m}]", depth)
        # The record's capacity beyond the book is never touched by the kernels.
        for spare in (state.bids[m, n_levels:], state.asks[m, n_levels:]):
            assert not spare.any(), f"levels beyond the book of market {m} were written"


def assert_same_run(setup: EngineSetup):
    """Run both engines on ``setup`` and assert they agree; returns (result, reference)."""
    result = simulate(setup, counterfactual=False)
    reference = reference_run(setup)
    assert_same_outcome(result.outcome, result.original_row, reference, setup)
    return result, reference


@given(engine_setups())
@DIFFERENTIAL
def test_kernel_matches_reference_on_random_markets(setup):
    assert_same_run(setup)


@given(engine_setups(max_steps=150))
@settings(DIFFERENTIAL, max_examples=8)
def test_counterfactual_matches_reference_without_liquidations(setup):
    """The liquidation-free path (the amplification baseline) agrees as well."""
    result = simulate(setup, counterfactual=True)
    reference = reference_run(setup, liquidations_enabled=False)
    assert reference["events"].size == 0
    assert_same_outcome(result.counterfactual_outcome, result.original_row, reference, setup)


@pytest.mark.slow
@given(
    engine_setups(
        max_positions=400, max_steps=600, levels=(256, 512, 1024), tier_counts=(1, 2, 3, 4)
    )
)
@settings(DIFFERENTIAL, max_examples=150)
def test_kernel_matches_reference_on_many_random_markets(setup):
    assert_same_run(setup)


# --- hand-made cases ------------------------------------------------------------------------

PRICE = 1000.0


def single_market(
    positions: list[tuple[int, float, float, float]],
    path,
    *,
    flow=None,
    n_levels=512,
    step_seconds=1.0,
    **market,
) -> EngineSetup:
    """One market at PRICE with positions given as (side, quantity, entry, margin)."""
    defaults = dict(
        name="M",
        asset="A",
        price=PRICE,
        tick_size=0.5,
        depth_1pct_usd=2e6,
        arbitrage_capacity_usd_per_s=0.0,
        funding_interval_s=28_800.0,
        time_to_first_funding_s=14_400.0,
        withdrawal_vol_sensitivity=0.0,
        withdrawal_flow_sensitivity=0.0,
    )
    defaults.update(market)
    spec = MarketSpec(**defaults)
    n = len(positions)
    side, quantity, entry, margin = (
        np.asarray(column, dtype=np.float64) for column in zip(*positions, strict=True)
    )
    arrays = PositionArrays(
        market=np.zeros(n, np.int32),
        account=np.arange(n),
        side=side.astype(np.int8),
        quantity=quantity,
        entry_price=entry,
        margin=margin,
    )
    return EngineSetup(
        markets=[spec],
        assets=[AssetSpec(name="A")],
        positions=arrays,
        index_path=np.asarray(path, dtype=np.float64)[:, None],
        step_seconds=step_seconds,
        taker_flow_usd=flow,
        n_levels=n_levels,
    )


def ramp(n_steps: int, move: float, start: int = 5, length: int = 20) -> np.ndarray:
    """Index path from PRICE moving by ``move`` (fraction) linearly over ``length`` steps."""
    t = np.arange(n_steps + 1)
    return PRICE * (1.0 + move * np.clip((t - start) / length, 0.0, 1.0))


def kinds(events: np.ndarray, position: int) -> list[str]:
    return [layout.KIND_NAMES[k] for k in events["kind"][events["position"] == position]]


def test_single_long_liquidated_into_a_deep_book():
    """A 20x long, a slow 10 % drop, a deep book: one book fill of the whole position."""
    setup = single_market(
        [(1, 10.0, PRICE, PRICE * 10.0 / 20.0)],
        ramp(220, -0.10, length=200),
        depth_1pct_usd=5e8,
        partial_mode="none",
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    assert kinds(events, 0) == ["book"]
    (event,) = events
    assert event["quantity"] == pytest.approx(10.0)
    assert abs(event["fill_price"] / event["mark_price"] - 1.0) < 0.01
    assert reference["status"][0] == layout.STATUS_LIQUIDATED


def test_position_larger_than_the_book_goes_to_the_insurance_fund():
    """The IOC at bankruptcy fills what the thin book has; the fund takes the rest."""
    quantity = 500.0  # 500 000 USD against 5 000 USD of depth within 1 %
    setup = single_market(
        [(1, quantity, PRICE, quantity * PRICE / 10.0), (-1, 1.0, PRICE, 500.0)],
        ramp(60, -0.15),
        depth_1pct_usd=5e3,
        partial_mode="none",
        insurance_fund_usd=1e9,
        fund_unwind_usd_per_s=0.0,
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    assert "insurance" in kinds(events, 0)
    taken = events[(events["position"] == 0) & (events["kind"] == layout.KIND_INSURANCE)]
    assert taken["quantity"].sum() > 0.5 * quantity
    assert np.allclose(taken["fill_price"], taken["bankruptcy_price"])
    assert reference["agents"]["fund_quantity"][0] == pytest.approx(taken["quantity"].sum())


def test_empty_fund_forces_auto_deleveraging():
    """No fund, no depth to speak of: the loss is closed against profitable shorts."""
    positions = [(1, 100.0, PRICE, 100.0 * PRICE / 25.0)]
    positions += [(-1, 20.0, PRICE * 1.01, 20.0 * PRICE / 3.0) for _ in range(6)]
    setup = single_market(
        positions, ramp(60, -0.12), depth_1pct_usd=1e3, partial_mode="none", insurance_fund_usd=0.0
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    assert "adl" in kinds(events, 0)
    counterparties = events[events["kind"] == layout.KIND_ADL_COUNTERPARTY]
    assert counterparties.size > 0
    adl = events[events["kind"] == layout.KIND_ADL]
    assert counterparties["quantity"].sum() == pytest.approx(adl["quantity"].sum())
    for _market, fund_equity, loss in reference["adl_fund_equity"]:
        assert fund_equity <= 1e-9 * max(loss, 1.0)


def test_hyperliquid_chunks_with_cooldown_then_backstop():
    """A large position goes 20 % at a time, one chunk per cooldown while the price slides;
    a sudden 4 % gap then takes its equity below 2/3 of maintenance: the backstop takes it."""
    cooldown = 5.0
    quantity = 400.0  # 400 000 USD, above the chunk threshold
    path = ramp(120, -0.12, start=5, length=200)
    path[80:] *= 0.96
    setup = single_market(
        [(1, quantity, PRICE, quantity * PRICE / 20.0), (-1, 10.0, PRICE, 5_000.0)],
        path,
        mark_rule="hyperliquid",
        partial_mode="chunks",
        limit_mode="slippage",
        takeover_mode="backstop",
        adl_rank_rule="hyperliquid",
        liquidation_fee_rate=0.0,
        chunk_fraction=0.2,
        chunk_min_notional_usd=100_000.0,
        chunk_cooldown_s=cooldown,
        backstop_equity_fraction=2.0 / 3.0,
        backstop_usd=1e7,
        insurance_fund_usd=0.0,
        depth_1pct_usd=5e6,
        slippage_limit=0.01,
        tier_floor_usd=(0.0,),
        tier_mmr=(0.02,),
        tier_max_leverage=(25.0,),
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    mine = events[events["position"] == 0]
    book = mine[mine["kind"] == layout.KIND_BOOK]
    assert book.size >= 3
    assert np.allclose(book["quantity"][1:] / book["quantity"][:-1], 0.8)  # 20 % of the rest
    assert np.all(np.diff(book["time"]) >= cooldown)
    assert mine["kind"][-1] == layout.KIND_BACKSTOP
    assert mine["quantity"].sum() == pytest.approx(quantity)
    assert reference["status"][0] == layout.STATUS_LIQUIDATED


def test_tier_step_down_leaves_a_healthy_remainder():
    """Above the tier-1 floor the step-down sells down into tier 0, where it is healthy."""
    floors = (0.0, 100_000.0)
    rates = (0.01, 0.05)
    quantity = 150.0  # 150 000 USD, tier 1
    margin = quantity * PRICE * 0.07
    setup = single_market(
        [(1, quantity, PRICE, margin), (-1, 1.0, PRICE, 500.0)],
        ramp(80, -0.06, start=5, length=40),
        partial_mode="tier_step_down",
        depth_1pct_usd=5e8,
        tier_floor_usd=floors,
        tier_mmr=rates,
        tier_max_leverage=(100.0, 20.0),
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    mine = events[events["position"] == 0]
    assert mine.size == 1 and mine["kind"][0] == layout.KIND_BOOK
    left = quantity - mine["quantity"][0]
    assert left * mine["mark_price"][0] == pytest.approx(floors[1], rel=1e-6)
    assert reference["status"][0] == layout.STATUS_OPEN
    assert reference["quantity"][0] == pytest.approx(left)


def test_funding_settlement_carries_a_position_across_its_threshold():
    """A flat index; longs pay a capped rate every 10 s until one long is breached."""
    interval = 10.0
    quantity = 10.0
    mmr = 0.01
    # Equity 1.6 % of notional, maintenance 1 %: three settlements at 0.3 % breach it.
    margin = quantity * PRICE * 0.016
    setup = single_market(
        [(1, quantity, PRICE, margin), (-1, quantity, PRICE, quantity * PRICE / 5.0)],
        np.full(61, PRICE),
        funding_interval_s=interval,
        time_to_first_funding_s=interval,
        funding_rate_initial=0.003,
        funding_cap=0.003,
        funding_interest_rate=0.003,
        funding_clamp=0.01,
        mark_rule="index",
        partial_mode="none",
        depth_1pct_usd=5e8,
        tier_floor_usd=(0.0,),
        tier_mmr=(mmr,),
        tier_max_leverage=(50.0,),
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    mine = events[events["position"] == 0]
    assert mine.size >= 1
    first = float(mine["time"][0])
    assert first > interval
    # At that mark and without funding the position would still be healthy.
    equity = margin + quantity * (mine["mark_price"][0] - PRICE)
    assert equity > mmr * quantity * mine["mark_price"][0]
    assert not math.isnan(first)


def test_sell_programme_through_the_whole_book_hits_the_price_floor():
    """A sell far larger than the book walks the window down to the tick-1 floor."""
    n_steps = 40
    flow = np.zeros((n_steps, 1))
    flow[10] = -1e12
    positions = [(1, 5.0, PRICE, 5.0 * PRICE / 10.0), (-1, 5.0, PRICE, 5.0 * PRICE / 2.0)]
    setup = single_market(
        positions,
        np.full(n_steps + 1, PRICE),
        flow=flow,
        tick_size=2.0,
        n_levels=512,
        depth_1pct_usd=1e5,
        insurance_fund_usd=0.0,
    )
    result, reference = assert_same_run(setup)
    assert reference["flags"] & layout.STATUS_FLAG_BOOK_EXHAUSTED
    assert result.outcome.timeline["last_price"].min() == pytest.approx(2.0)
    assert reference["status"][0] == layout.STATUS_LIQUIDATED


# --- hedge mode and multi-asset collateral -----------------------------------------------
@given(collateral_setups(max_steps=200))
@settings(DIFFERENTIAL, max_examples=20)
def test_kernel_matches_reference_with_hedge_pairs_and_collateral(setup):
    """Collateral revaluation and hedge-pair netting agree with the reference too."""
    result, reference = assert_same_run(setup)
    close(
        [result.outcome.collateral_repriced_usd],
        [reference["collateral_repriced_usd"]],
        "collateral_repriced_usd",
        float(np.sum(setup.positions.margin)),
    )
