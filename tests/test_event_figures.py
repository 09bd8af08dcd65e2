"""What the event log records of the position each event closes, checked by hand.

Each event carries the closed position's entry price, its liquidation price, its equity at
the event's mark and its leverage, all as the position stood just before the event's close
(``cascadesim.engine.orders.event_figures``). The cases are hand-made markets without
funding, whose figures follow from the venue's rule: a single isolated long, the ADL
counterparties and the hedged aggregate of an empty fund, and an inverse market in USD.
The kernel is compared with the reference engine on each (``assert_same_run``), which
compares the new fields as well.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cascadesim.engine import layout
from cascadesim.sim.driver import simulate
from tests.test_engine_differential import PRICE, assert_same_run, ramp, single_market

MMR = 0.005
ONE_TIER = dict(tier_floor_usd=(0.0,), tier_mmr=(MMR,), tier_max_leverage=(100.0,))


def no_funding_paid(result) -> None:
    assert result.engine_outcome.state.funding_per_unit[0] == 0.0


def test_a_single_isolated_long_records_its_own_figures():
    """10 units at 1,000 with 500 USD margin (20x): maintenance 0.5 % of the notional at the
    mark, so the long is liquidated at (Q E - M) / (Q (1 - mmr)) = 9,500 / 9.95."""
    quantity, entry, margin = 10.0, PRICE, 500.0
    setup = single_market(
        [(1, quantity, entry, margin)],
        ramp(220, -0.10, length=200),
        depth_1pct_usd=5e8,
        partial_mode="none",
        **ONE_TIER,
    )
    result, _ = assert_same_run(setup)
    no_funding_paid(result)
    frame = result.liquidations
    for name in ("entry_price", "liquidation_price", "equity_usd", "leverage"):
        assert name in frame.columns
    (event,) = result.outcome.events
    assert event["kind"] == layout.KIND_BOOK and event["quantity"] == quantity
    mark = float(event["mark_price"])
    by_hand = (quantity * entry - margin) / (quantity * (1.0 - MMR))
    assert event["entry_price"] == entry
    assert event["liquidation_price"] == pytest.approx(by_hand, rel=1e-12)
    assert event["equity_usd"] == pytest.approx(margin + quantity * (mark - entry), rel=1e-12)
    assert event["leverage"] == pytest.approx(quantity * mark / margin, rel=1e-12)
    # The threshold it crossed: the mark is at or below it, and the equity at or below the
    # maintenance margin there.
    assert mark <= event["liquidation_price"]
    assert event["equity_usd"] <= MMR * quantity * mark
    row = frame.iloc[0]
    assert row["liquidation_price"] == event["liquidation_price"]
    assert row["leverage"] == event["leverage"]


def empty_fund_setup(shorts: list[tuple[int, float, float, float]]):
    """A 25x long of 100 units, a book of 1,000 USD within 1 % and no insurance fund; the
    index gaps 8 % down, past the long's bankruptcy price (960), so the fund cannot take the
    rest and it is deleveraged against the profitable shorts."""
    positions = [(1, 100.0, PRICE, 100.0 * PRICE / 25.0), *shorts]
    path = np.full(61, PRICE)
    path[10:] = 0.92 * PRICE
    return single_market(
        positions,
        path,
        depth_1pct_usd=1e3,
        partial_mode="none",
        insurance_fund_usd=0.0,
        **ONE_TIER,
    )


def test_adl_counterparties_record_their_own_figures():
    """Six 3x shorts entered at 1,010 are closed by ADL: each event describes that short
    before its own close (an isolated counterparty keeps its margin pro rata)."""
    entry, quantity, margin = PRICE * 1.01, 20.0, 20.0 * PRICE / 3.0
    setup = empty_fund_setup([(-1, quantity, entry, margin) for _ in range(6)])
    result, _ = assert_same_run(setup)
    no_funding_paid(result)
    events = result.outcome.events
    counterparties = events[events["kind"] == layout.KIND_ADL_COUNTERPARTY]
    assert counterparties.size > 0
    left = {}
    for event in counterparties:
        row = int(event["position"])
        assert row >= 0
        before = left.get(row, quantity)
        margin_before = margin * before / quantity
        mark = float(event["mark_price"])
        assert event["entry_price"] == entry
        # A short's liquidation price: (Q E + M) / (Q (1 + mmr)), the same for any share.
        assert event["liquidation_price"] == pytest.approx(
            (quantity * entry + margin) / (quantity * (1.0 + MMR)), rel=1e-12
        )
        assert event["equity_usd"] == pytest.approx(
            margin_before - before * (mark - entry), rel=1e-12
        )
        assert event["leverage"] == pytest.approx(before * mark / margin_before, rel=1e-12)
        left[row] = before - float(event["quantity"])
    # The liquidated long's events describe the long before each of its closes.
    mine = events[events["position"] == 0]
    assert layout.KIND_ADL in mine["kind"]
    quantity_before = 100.0 - np.concatenate([[0.0], np.cumsum(mine["quantity"])[:-1]])
    margin_before = mine["equity_usd"] - quantity_before * (mine["mark_price"] - PRICE)
    assert np.all(mine["entry_price"] == PRICE)
    positive = margin_before > 0.0
    assert np.allclose(
        mine["leverage"][positive],
        quantity_before[positive] * mine["mark_price"][positive] / margin_before[positive],
        rtol=1e-9,
    )
    assert np.all(np.isinf(mine["leverage"][~positive]))


def test_the_hedged_aggregate_records_no_figures():
    """One short of 5 units against a long of 100: the hedged counterparty is short the
    rest and takes what the short cannot; its events have no position and NaN figures."""
    setup = empty_fund_setup([(-1, 5.0, PRICE * 1.01, 5.0 * PRICE / 3.0)])
    result, _ = assert_same_run(setup)
    events = result.outcome.events
    aggregate = events[events["position"] == -1]
    assert aggregate.size > 0
    assert np.all(aggregate["kind"] == layout.KIND_ADL_COUNTERPARTY)
    for name in ("entry_price", "liquidation_price", "equity_usd", "leverage"):
        assert np.all(np.isnan(aggregate[name])), name
        assert not np.isnan(events[events["position"] >= 0][name]).any(), name
    frame = result.liquidations
    assert frame.loc[frame["position"] == -1, "leverage"].isna().all()


def test_an_inverse_market_reports_its_figures_in_usd():
    """An inverse long of 100,000 USD face at 100,000 with 0.25 BTC margin (4x): equity
    ``M + Q (1/E - 1/P)`` BTC is ``Q (1 + mmr) / P`` at the liquidation price, so
    P = Q (1 + mmr) / (M + Q / E); the USD view reports equity at the event's USD mark and
    leverage as the coin notional over the coin margin."""
    price, face, margin = 100_000.0, 100_000.0, 0.25
    setup = single_market(
        [(1, face, price, margin), (-1, 50_000.0, price, 0.25)],
        ramp(200, -0.25, length=180) * (price / PRICE),
        price=price,
        tick_size=50.0,
        depth_1pct_usd=5e8,
        partial_mode="none",
        **ONE_TIER,
    )
    setup = dataclasses.replace(
        setup, markets=[dataclasses.replace(setup.markets[0], contract="inverse")]
    )
    result = simulate(setup, counterfactual=False)
    no_funding_paid(result)
    events = result.outcome.events
    raw = result.engine_outcome.events
    # Event rows are the engine's sorted rows: the inverse long is a short in x.
    original = np.where(
        events["position"] >= 0, result.original_row[np.maximum(events["position"], 0)], -1
    )
    mine = original == 0
    assert mine.sum() == 1
    event = events[mine][0]
    x = raw[mine][0]
    mark = float(event["mark_price"])
    assert event["side"] == 1 and x["side"] == -1  # a short in x = K / price
    assert event["entry_price"] == pytest.approx(price, rel=1e-12)
    by_hand = face * (1.0 + MMR) / (margin + face / price)
    assert event["liquidation_price"] == pytest.approx(by_hand, rel=1e-9)
    assert mark <= event["liquidation_price"] * (1.0 + 1e-12)  # the long crossed it
    equity_coin = margin + face * (1.0 / price - 1.0 / mark)
    assert x["equity_usd"] == pytest.approx(equity_coin, rel=1e-9)
    assert event["equity_usd"] == pytest.approx(equity_coin * mark, rel=1e-9)
    assert event["leverage"] == x["leverage"]
    assert event["leverage"] == pytest.approx(face / mark / margin, rel=1e-9)
    row = result.liquidations[result.liquidations["position"] == 0].iloc[0]
    assert row["equity_usd"] == event["equity_usd"]
    assert row["entry_price"] == event["entry_price"]
