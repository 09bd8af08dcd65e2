"""Venue liquidation procedures as the venues publish them, kernel against reference.

Each case is a hand-made market whose expected figures follow from the rule (derived, not
copied from the program): Hyperliquid's per-user chunk cooldown and its auto-deleveraging at
the previous mark once the vault cannot carry a position, OKX's deleveraging at the mark and
its fund-drawdown trigger, Binance's cap on the fund's net notional and dYdX's fillable price.
Sources are in docs/model.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim.engine import layout
from cascadesim.engine.orders import fillable_price
from cascadesim.engine.takeover import fund_capacity
from cascadesim.model.market import AssetSpec, MarketSpec, market_params
from tests.test_engine_differential import (
    PRICE,
    assert_same_run,
    kinds,
    ramp,
    single_market,
)

HYPERLIQUID = dict(
    mark_rule="index",
    partial_mode="chunks",
    limit_mode="slippage",
    takeover_mode="backstop",
    adl_rank_rule="hyperliquid",
    adl_price_rule="previous_mark",
    liquidation_fee_rate=0.0,
    chunk_fraction=0.2,
    chunk_min_notional_usd=100_000.0,
    chunk_cooldown_s=30.0,
    backstop_equity_fraction=2.0 / 3.0,
    insurance_fund_usd=0.0,
    slippage_limit=0.01,
    tier_floor_usd=(0.0,),
    tier_mmr=(0.02,),
    tier_max_leverage=(25.0,),
)


def test_hyperliquid_sends_one_chunk_then_the_whole_position_within_the_cooldown():
    """400 k USD long at 20x: the first order is 20 % (80 units); within the user's 30 s
    cooldown the next order is for the whole rest (320 units), which a deep book fills."""
    quantity = 400.0
    setup = single_market(
        [(1, quantity, PRICE, quantity * PRICE / 20.0), (-1, 10.0, PRICE, 5_000.0)],
        ramp(120, -0.12, start=5, length=200),
        depth_1pct_usd=5e7,
        backstop_usd=1e7,
        **HYPERLIQUID,
    )
    _, reference = assert_same_run(setup)
    events = reference["events"]
    book = events[(events["position"] == 0) & (events["kind"] == layout.KIND_BOOK)]
    assert book["quantity"][0] == pytest.approx(0.2 * quantity)
    assert book.size == 2
    assert book["quantity"][1] == pytest.approx(0.8 * quantity)
    assert book["time"][1] - book["time"][0] < 30.0
    assert reference["status"][0] == layout.STATUS_LIQUIDATED


def test_the_cooldown_belongs_to_the_user_not_the_position():
    """Two 200 k USD longs of one user, liquidated one step apart: the first is chunked and
    opens the user's cooldown, so the second's first order is already for all of it."""
    path = ramp(120, -0.12, start=5, length=200)
    setup = single_market(
        [
            (1, 200.0, PRICE, 200.0 * PRICE / 20.0),
            (1, 200.0, PRICE * 0.998, 200.0 * PRICE * 0.998 / 20.0),
            (-1, 10.0, PRICE, 5_000.0),
        ],
        path,
        depth_1pct_usd=5e7,
        backstop_usd=1e7,
        **HYPERLIQUID,
    )
    setup.positions.account[:] = [0, 0, 1]
    _, reference = assert_same_run(setup)
    events = reference["events"]
    first = events[(events["position"] == 0) & (events["kind"] == layout.KIND_BOOK)]
    second = events[(events["position"] == 1) & (events["kind"] == layout.KIND_BOOK)]
    assert first["quantity"][0] == pytest.approx(40.0)
    assert second["time"][0] - first["time"][0] < 30.0
    assert second["quantity"][0] == pytest.approx(200.0)


def test_hyperliquid_deleverages_at_the_previous_mark_once_the_vault_is_exhausted():
    """A 40x long gaps 8 % in one step with a vault of 1 USD: its value is negative beyond
    the vault, so it is closed against the profitable shorts at the previous step's mark,
    highest (entry / mark) x (notional / equity) first."""
    path = np.full(41, PRICE)
    path[20:] = PRICE * 0.92
    shorts = [(-1, 20.0, PRICE * 1.02, 20.0 * PRICE / lev) for lev in (2.0, 5.0, 10.0)]
    setup = single_market(
        [(1, 50.0, PRICE, 50.0 * PRICE / 40.0), *shorts],
        path,
        depth_1pct_usd=1e3,
        backstop_usd=1.0,
        **HYPERLIQUID,
    )
    result, reference = assert_same_run(setup)
    events = reference["events"]
    adl = events[events["kind"] == layout.KIND_ADL]
    assert adl.size > 0 and adl["quantity"].sum() == pytest.approx(50.0)
    timeline = result.outcome.timeline[:, 0]
    step = int(round(adl["time"][0] / setup.step_seconds)) - 1
    assert adl["fill_price"] == pytest.approx(timeline["mark_price"][step - 1])
    counterparties = events[events["kind"] == layout.KIND_ADL_COUNTERPARTY]
    # Derived ranking: same entry and mark, so the score grows with notional / equity,
    # i.e. with leverage: the 10x short first, then the 5x.
    assert list(counterparties["position"][:2]) == [3, 2]
    assert "backstop" not in kinds(events, 0)


def okx_like(**changes) -> MarketSpec:
    values = dict(
        name="M",
        asset="A",
        price=PRICE,
        tick_size=0.5,
        takeover_mode="insurance",
        adl_price_rule="mark",
        fund_drawdown_trigger=0.3,
        tier_floor_usd=(0.0,),
        tier_mmr=(0.01,),
        tier_max_leverage=(50.0,),
    )
    values.update(changes)
    return MarketSpec(**values)


def fund_state(cash: float, quantity: float = 0.0, peak: float = 0.0) -> np.recarray:
    state = layout.empty_market_state(1, 8)
    state.fund_cash = cash
    state.fund_quantity = quantity
    state.fund_peak_usd = peak
    state.mark_price = PRICE
    return state


def test_okx_stops_taking_over_once_the_fund_is_30_percent_below_its_peak():
    """Derived from OKX's trigger: a fund of 1 M USD with a peak of 1.5 M is 33 % down and
    takes nothing; at a peak of 1.3 M (23 % down) it takes what its equity covers."""
    params = market_params([okx_like()], [AssetSpec(name="A")])
    bankrupt, mark = PRICE * 0.99, PRICE * 0.98  # 10 USD of loss per unit
    assert fund_capacity(params, fund_state(1e6, peak=1.5e6), 0, 1, bankrupt, mark, 500.0) == 0.0
    taken = fund_capacity(params, fund_state(1e6, peak=1.3e6), 0, 1, bankrupt, mark, 500.0)
    assert taken == 500.0  # 5 000 USD of loss, well inside 1 M
    small = fund_capacity(params, fund_state(1e3, peak=1.1e3), 0, 1, bankrupt, mark, 500.0)
    assert small == pytest.approx(100.0)  # 1 000 USD covers 100 units at 10 USD each


def test_binance_caps_the_funds_net_notional_at_its_equity():
    """Derived: equity 1 M USD at a mark of 980 allows 1,020.4 units net; holding 500 long,
    a long takeover has 520.4 units of headroom, a short one 1,520.4."""
    spec = okx_like(
        adl_price_rule="bankruptcy", fund_drawdown_trigger=0.0, fund_notional_cap_ratio=1.0
    )
    params = market_params([spec], [AssetSpec(name="A")])
    mark = 980.0
    cash = 1e6 - 500.0 * mark  # equity at the mark: 1 M
    state = fund_state(cash, quantity=500.0)
    state.mark_price = mark
    most = 1e6 / mark
    assert fund_capacity(params, state, 0, 1, mark, mark, 5e3) == pytest.approx(most - 500.0)
    assert fund_capacity(params, state, 0, -1, mark, mark, 5e3) == pytest.approx(most + 500.0)


def test_okx_deleverages_at_the_mark():
    """No fund and a gap through the bankruptcy price: the long's rest is closed against
    the shorts at the mark of the step, not at its bankruptcy price."""
    path = np.full(41, PRICE)
    path[20:] = PRICE * 0.95
    setup = single_market(
        [(1, 50.0, PRICE, 50.0 * PRICE / 50.0), (-1, 60.0, PRICE * 1.02, 60.0 * PRICE / 5.0)],
        path,
        depth_1pct_usd=1e3,
        partial_mode="none",
        mark_rule="index",
        takeover_mode="insurance",
        adl_price_rule="mark",
        insurance_fund_usd=0.0,
        tier_floor_usd=(0.0,),
        tier_mmr=(0.01,),
        tier_max_leverage=(50.0,),
    )
    result, reference = assert_same_run(setup)
    adl = reference["events"][reference["events"]["kind"] == layout.KIND_ADL]
    assert adl.size > 0
    assert np.allclose(adl["fill_price"], adl["mark_price"])
    assert (adl["fill_price"] < PRICE * (1 - 1 / 50.0)).all()  # beyond bankruptcy (980)
    assert result.outcome.state.bad_debt_usd[0] > 0.0  # the gap below 980 nobody absorbed


def test_dydx_fillable_price_follows_the_bankruptcy_rating():
    """Derived from the v4 formula: 1 unit long at 100 with 5 USD margin, mark 97, MMF 3 %:
    equity 2, MM 2.91, Q = 0.687, ABR = 0.313, spread 0.1 x 0.03 x 0.313, fillable 96.909."""
    spec = MarketSpec(
        name="M",
        asset="A",
        price=100.0,
        tick_size=0.01,
        limit_mode="fillable",
        takeover_mode="negative_equity",
        tier_floor_usd=(0.0,),
        tier_mmr=(0.03,),
        tier_max_leverage=(20.0,),
    )
    params = market_params([spec], [AssetSpec(name="A")])
    positions = layout.Positions(
        market=np.zeros(1, dtype=np.int32),
        account=np.zeros(1, dtype=np.int64),
        side=np.ones(1, dtype=np.int8),
        quantity=np.ones(1),
        entry_price=np.full(1, 100.0),
        margin=np.full(1, 5.0),
        liquidation_price=np.zeros(1),
        tier=np.zeros(1, dtype=np.int8),
        status=np.zeros(1, dtype=np.int8),
        cross=np.zeros(1, dtype=np.bool_),
    )
    state = layout.empty_market_state(1, 8)
    q = 2.0 / 2.91
    expected = 97.0 * (1.0 - 0.1 * 0.03 * (1.0 - q))
    assert fillable_price(params, positions, state, 0, 97.0) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(96.909, abs=5e-4)
    # Underwater (equity < 0): the rating is capped at 1, the full SMMR x MMF spread.
    assert fillable_price(params, positions, state, 0, 94.0) == pytest.approx(
        94.0 * (1.0 - 0.1 * 0.03), rel=1e-12
    )


def test_dydx_retries_while_equity_is_positive_and_deleverages_only_below_zero():
    """A thin book and an empty fund: the order fills little at the fillable price, and the
    position stays open and is retried while its equity is positive; only once it is not
    is the rest deleveraged (at the bankruptcy price)."""
    setup = single_market(
        [(1, 50.0, PRICE, 50.0 * PRICE / 20.0), (-1, 60.0, PRICE * 1.02, 60.0 * PRICE / 5.0)],
        ramp(120, -0.10, start=5, length=100),
        depth_1pct_usd=2e3,
        partial_mode="none",
        mark_rule="index",
        limit_mode="fillable",
        takeover_mode="negative_equity",
        insurance_fund_usd=0.0,
        liquidation_fee_rate=0.0,  # no fees either: the fund has nothing to absorb with
        tier_floor_usd=(0.0,),
        tier_mmr=(0.03,),
        tier_max_leverage=(20.0,),
    )
    _, reference = assert_same_run(setup)
    events = reference["events"]
    mine = events[events["position"] == 0]
    book = mine[mine["kind"] == layout.KIND_BOOK]
    adl = mine[mine["kind"] == layout.KIND_ADL]
    assert adl.size > 0
    # Deleveraging began only once equity at the mark was not positive (mark past bankruptcy)
    assert (adl["mark_price"] <= adl["bankruptcy_price"] + 1e-9).all()
    # ... and before that the order was retried step after step while equity was positive
    # (the order of the ADL step itself is still sent first, at the fillable price).
    retried = book[book["time"] < adl["time"][0]]
    assert retried.size >= 2
    assert (retried["mark_price"] > retried["bankruptcy_price"]).all()


def two_pooled_markets(pooled: bool):
    """M0 (fund 1 M USD) and M1 (fund 0): a 40x long on M1 gaps through its bankruptcy
    price into a thin book. Pooled, the shared fund takes it over; alone, M1's empty fund
    cannot and the rest is deleveraged against M1's short."""
    from dataclasses import replace

    from cascadesim.model.market import EngineSetup, PositionArrays

    path = np.full(41, PRICE)
    path[20:] = PRICE * 0.95
    base = single_market([(1, 1.0, PRICE, 1.0)], path, partial_mode="none", mark_rule="index")
    label = "shared" if pooled else ""
    specs = [
        replace(base.markets[0], name="M0", asset="A", insurance_fund_usd=1e6, fund_pool=label),
        replace(
            base.markets[0],
            name="M1",
            asset="B",
            insurance_fund_usd=0.0,
            liquidation_fee_rate=0.0,
            depth_1pct_usd=1e3,
            fund_pool=label,
        ),
    ]
    positions = PositionArrays(
        market=np.asarray([0, 1, 1], dtype=np.int32),
        account=np.arange(3),
        side=np.asarray([-1, 1, -1], dtype=np.int8),
        quantity=np.asarray([1.0, 50.0, 60.0]),
        entry_price=np.asarray([PRICE, PRICE, PRICE * 1.02]),
        margin=np.asarray([PRICE / 2.0, 50.0 * PRICE / 40.0, 60.0 * PRICE / 5.0]),
    )
    return EngineSetup(
        markets=specs,
        assets=[AssetSpec(name="A"), AssetSpec(name="B")],
        positions=positions,
        index_path=np.column_stack([np.full(41, PRICE), path]),
    )


def test_a_shared_fund_pays_for_a_market_whose_own_fund_is_empty():
    pooled_result, pooled = assert_same_run(two_pooled_markets(True))
    alone_result, alone = assert_same_run(two_pooled_markets(False))
    assert "insurance" in kinds(pooled["events"], 1) and "adl" not in kinds(pooled["events"], 1)
    assert "adl" in kinds(alone["events"], 1)
    # The pool's cash sits with its first market; each market shows the pool's equity.
    timeline = pooled_result.outcome.timeline
    assert timeline["insurance_fund_usd"][-1, 0] == timeline["insurance_fund_usd"][-1, 1]
    summary = pooled_result.summary
    change = summary["markets"][0]["insurance_fund_change_usd"]
    assert summary["markets"][1]["insurance_fund_change_usd"] == change
    assert summary["insurance_fund_change_usd"] == pytest.approx(change)  # counted once
    assert summary["markets"][1]["fund_pool"] == "M0"
