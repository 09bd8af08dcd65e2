"""Positions that open during the run: hand-made openings whose figures follow from the
setup, re-entries after a liquidation, the draws, and the ledger with opening positions.

The kernels themselves are checked against the pure-Python reference in
``tests/test_engine_differential.py`` (every random setup may carry a flow).
"""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import dump_toml
from cascadesim.engine import layout
from cascadesim.model.flow import FlowMarket, OpeningFlow, capped_leverage, draw_flow
from cascadesim.sim.driver import simulate
from tests.engine_strategies import engine_setups
from tests.test_ledger import LONG_50X, PRICE, SHORT_2X, assert_ledger_balances, one_market


def fixed_flow(arrival, side_draw, notional, leverage, **rates) -> OpeningFlow:
    """A one-market flow with the given draws; calm rates unless ``rates`` says otherwise."""
    values = dict(
        base_rate=1.0,
        activity_gain=0.0,
        sigma_step=1e-4,
        activity_half_life_s=10.0,
        trend_half_life_s=100.0,
        trend_scale=0.01,
        long_bias=0.0,
        momentum=0.0,
        reentry_share=0.0,
        reentry_half_life_s=10.0,
        mean_notional_usd=float(np.mean(notional)) if len(notional) else 1.0,
    )
    values.update(rates)
    n = len(arrival)
    return OpeningFlow(
        market=np.zeros(n, dtype=np.int32),
        arrival=np.asarray(arrival, dtype=np.float64),
        side_draw=np.asarray(side_draw, dtype=np.float64),
        notional_usd=np.asarray(notional, dtype=np.float64),
        leverage=np.asarray(leverage, dtype=np.float64),
        **{key: np.asarray([value], dtype=np.float64) for key, value in values.items()},
    )


def flat(setup, steps: int = 20):
    return dataclasses.replace(setup, index_path=np.full((steps + 1, 1), PRICE))


def test_one_row_opens_per_step_at_a_unit_rate():
    """Rate 1 per second, 1-s steps, arrivals 0.5, 1.5, 2.5: one opening in each of the first
    three steps, at the mark, long when the side draw is under one half (flat market: no
    trend, long bias 0), each bringing notional / leverage of margin."""
    flow = fixed_flow([0.5, 1.5, 2.5], [0.2, 0.8, 0.4], [10_000.0, 20_000.0, 5_000.0], [10, 4, 2])
    setup = dataclasses.replace(flat(one_market([SHORT_2X], None)), flow=flow)
    result = simulate(setup, counterfactual=False)
    positions = result.outcome.positions
    rows = np.flatnonzero(result.original_row >= 1)
    order = np.argsort(result.original_row[rows])
    rows = rows[order]
    assert positions.side[rows].tolist() == [1, -1, 1]
    mark = result.outcome.timeline[0, 0]["mark_price"]
    assert positions.entry_price[rows[0]] == pytest.approx(PRICE, rel=1e-3)
    quantity = np.asarray([10_000.0, 20_000.0, 5_000.0]) / positions.entry_price[rows]
    assert positions.quantity[rows] == pytest.approx(quantity, rel=1e-12)
    assert result.outcome.flow_opened == 3
    assert result.outcome.flow_deposited_usd == pytest.approx(1_000 + 5_000 + 2_500, rel=1e-12)
    timeline = result.outcome.timeline[:, 0]
    start = 50e6 / PRICE
    # Both sides of open interest grow by each opened quantity, in the step it opens.
    assert timeline["long_open_interest"][0] == pytest.approx(start + quantity[0], rel=1e-12)
    assert timeline["long_open_interest"][2] == pytest.approx(start + quantity.sum(), rel=1e-12)
    assert timeline["short_open_interest"][2] == pytest.approx(start + quantity.sum(), rel=1e-12)
    assert timeline["trader_long_open_interest"][2] == pytest.approx(
        quantity[0] + quantity[2], rel=1e-12
    )
    assert mark > 0
    ledger = result.ledger()
    assert ledger["flow_deposits"] == pytest.approx(-8_500.0, rel=1e-12)
    assert ledger["total"] == pytest.approx(result.ledger(False)["total"], rel=1e-12)
    # The flow ran out of rows (all three opened): the run says so.
    assert result.outcome.flags & layout.STATUS_FLAG_FLOW_EXHAUSTED


def test_no_row_opens_before_its_arrival():
    """Rate 0.1 per second: the intensity passes 0.95 at the end of step 10, not before."""
    flow = fixed_flow([0.95, 50.0], [0.1, 0.1], [1e4, 1e4], [5, 5], base_rate=0.1)
    result = simulate(
        dataclasses.replace(flat(one_market([SHORT_2X], None), 30), flow=flow),
        counterfactual=False,
    )
    timeline = result.outcome.timeline[:, 0]
    opened = timeline["trader_long_open_interest"] > 0
    assert int(np.argmax(opened)) == 9  # the 10th step (time 10 s)
    assert result.outcome.flow_opened == 1
    assert not result.outcome.flags & layout.STATUS_FLAG_FLOW_EXHAUSTED


def test_momentum_opens_shorts_into_a_fall():
    """Strong momentum and a steady fall: the trend is negative, so side draws of 0.3 open
    shorts; with the opposite sign (dip buying) the same draws open longs."""
    n = 40
    draws = [0.3] * n
    arrival = np.arange(n) + 0.5

    def sides(momentum):
        flow = fixed_flow(arrival, draws, [1e4] * n, [3] * n, momentum=momentum)
        setup = one_market([SHORT_2X], None)  # falls 5 % over 30 s
        result = simulate(dataclasses.replace(setup, flow=flow), counterfactual=False)
        rows = result.original_row >= 1
        opened = result.outcome.positions.status[rows] != layout.STATUS_PENDING
        return result.outcome.positions.side[rows][opened][5:]  # after the fall began

    assert (sides(20.0) == -1).all()
    assert (sides(-20.0) == 1).all()


def test_liquidated_notional_re_enters_on_its_side():
    """Re-entries only (no fresh rate), all the liquidated notional re-entering: the 50x
    long (1 M USD) is liquidated in the fall, and its side reopens with about 1 M USD over
    the following minutes (rows of 100 k: arrivals 1, 2, ... so 9 or 10 of them open)."""
    n = 30
    flow = fixed_flow(
        np.arange(1, n + 1, dtype=float),
        [0.99] * n,  # a fresh opening would be short: every long here is a re-entry
        [100_000.0] * n,
        [2.0] * n,
        base_rate=0.0,
        reentry_share=1.0,
        reentry_half_life_s=20.0,
    )
    setup = one_market([LONG_50X, SHORT_2X], None)
    setup = dataclasses.replace(
        setup,
        index_path=np.concatenate([setup.index_path, np.full((400, 1), setup.index_path[-1, 0])]),
        flow=flow,
    )
    result = simulate(setup, counterfactual=False)
    liquidated = result.liquidations
    long_usd = float(liquidated["notional"][liquidated["side"] == "long"].sum())
    assert long_usd > 0.9e6
    rows = result.original_row >= 2
    opened = result.outcome.positions.status[rows] != layout.STATUS_PENDING
    assert (result.outcome.positions.side[rows][opened] == 1).all()
    # The re-entry average integrates to the liquidated notional over time (minus the tail
    # still ahead after 400 s, 2**-20 of it), so the arrivals 1..k <= long_usd / 100 k open.
    assert result.outcome.flow_opened == int(long_usd / 100_000.0)


def test_leverage_is_capped_by_the_tier_of_the_notional():
    floors = np.asarray([0.0, 50_000.0, 250_000.0])
    maximum = np.asarray([125.0, 50.0, 20.0])
    capped = capped_leverage(
        np.asarray([100.0, 100.0, 100.0, 10.0]),
        np.asarray([10_000.0, 50_000.0, 1e6, 1e6]),
        floors,
        maximum,
    )
    assert capped.tolist() == [100.0, 50.0, 20.0, 10.0]


def flow_market(**changes) -> FlowMarket:
    values = dict(
        opening_usd_per_s=1_000.0,
        activity_gain=1.0,
        sigma_step=1e-4,
        activity_half_life_s=30.0,
        trend_half_life_s=600.0,
        trend_scale=0.01,
        long_bias=0.0,
        momentum=1.0,
        reentry_share=0.5,
        reentry_half_life_s=60.0,
        leverage_values=np.asarray([5.0, 20.0, 100.0]),
        leverage_weights=np.asarray([1.0, 1.0, 1.0]),
        size_median_usd=1_000.0,
        size_log_std=0.5,
        size_max_usd=1e5,
        tier_floor_usd=np.asarray([0.0, 2_000.0]),
        tier_max_leverage=np.asarray([100.0, 10.0]),
        leveraged_usd=1e6,
    )
    values.update(changes)
    return FlowMarket(**values)


def test_draws_are_sized_for_the_run_and_grouped_by_market():
    rng = np.random.default_rng(3)
    flow = draw_flow(rng, [flow_market(), flow_market(opening_usd_per_s=0.0)], 3_600.0, 1.0)
    first = flow.market == 0
    mean = flow_market().mean_notional_usd()
    calm = 1_000.0 / mean * 3_600.0
    # Headroom: twice the calm openings at the sizing activity (2x calm), plus re-entries.
    assert first.sum() >= 2 * (calm * 3 + 0.5 * 1e6 / mean)
    assert (np.diff(flow.market) >= 0).all()
    for m in (0, 1):
        arrival = flow.arrival[flow.market == m]
        assert (np.diff(arrival) > 0).all()
    assert (flow.leverage[flow.notional_usd >= 2_000.0] <= 10.0).all()
    assert flow.base_rate[1] == 0.0
    again = draw_flow(
        np.random.default_rng(3), [flow_market(), flow_market(opening_usd_per_s=0.0)], 3_600.0, 1.0
    )
    assert np.array_equal(again.notional_usd, flow.notional_usd)


def test_a_bad_flow_is_refused_in_one_line():
    with pytest.raises(CascadesimInputError, match="reentry_share"):
        draw_flow(np.random.default_rng(0), [flow_market(reentry_share=1.5)], 10.0, 1.0)
    flow = fixed_flow([1.0], [0.5], [-5.0], [2.0])
    with pytest.raises(CascadesimInputError, match="notional > 0"):
        simulate(dataclasses.replace(flat(one_market([SHORT_2X], None)), flow=flow))


@given(engine_setups(opening_flow=(True,)))
@settings(max_examples=20)
def test_the_ledger_balances_with_positions_opening(setup):
    """Money is conserved at every step with positions opening (their margin counted as an
    outside source), no fund below zero, both sides of open interest equal."""
    assert_ledger_balances(setup)
    result = simulate(setup, counterfactual=False)
    after = result.ledger()
    assert after["flow_deposits"] == -result.outcome.flow_deposited_usd


# --- the [flow] table of a scenario ------------------------------------------------------------


def gentle_with_flow(flow: dict | None, volume: float | None = 400e6):
    from cascadesim.scenario.bundled import resolve_scenario
    from cascadesim.scenario.models import Scenario

    path = resolve_scenario("gentle")
    data = tomllib.loads(path.read_text())
    if flow is not None:
        data["flow"] = flow
    if volume is not None:
        for market in data["markets"].values():
            market["volume_24h_usd"] = volume
    return Scenario.from_data(data, path)


def test_a_scenario_flow_opens_positions_at_the_stated_volume():
    """400 M USD a day at a 5 % opening share is 231 USD/s of fresh openings; over the
    30-minute run, at the population's mean size, that is what the calm rate opens (the
    slide's activity adds more); the summary reports them and the estimates say which
    gains were left at their defaults."""
    scenario = gentle_with_flow({"opening_share_of_volume": 0.05})
    setup = scenario.build()
    flow = setup.flow
    calm = 0.05 * 400e6 / 86_400 * scenario.duration_s / flow.mean_notional_usd[0]
    result = simulate(setup, counterfactual=False)
    summary = result.summary["flow"]
    assert summary["positions_opened"] >= 0.8 * calm
    assert summary["positions_opened"] == result.outcome.flow_opened
    assert summary["opened_long_usd"] + summary["opened_short_usd"] > 0
    assert not summary["rows_exhausted"]
    estimates = " ".join(result.summary["estimates"])
    assert "activity_gain" in estimates and "opening_share_of_volume" not in estimates
    ledger = result.ledger()
    assert ledger["flow_deposits"] == pytest.approx(-summary["margin_deposited_usd"])


def test_the_flow_leaves_the_population_and_the_hash_alone():
    plain = gentle_with_flow(None, volume=None)
    with_flow = gentle_with_flow({}, volume=None)
    # No volume stated: a [flow] table draws nothing.
    assert with_flow.build().flow is None
    flowing = gentle_with_flow({})
    assert np.array_equal(plain.build().positions.quantity, flowing.build().positions.quantity)
    assert "flow" not in plain.model_dump() and "volume_24h_usd" not in str(plain.model_dump())


def test_a_flow_on_an_inverse_market_is_refused_in_one_line():
    from cascadesim.scenario.bundled import resolve_scenario
    from cascadesim.scenario.models import Scenario

    path = resolve_scenario("inverse_vs_linear")
    data = tomllib.loads(path.read_text())
    data["flow"] = {}
    for market in data["markets"].values():
        market["volume_24h_usd"] = 1e8
    with pytest.raises(CascadesimInputError, match=r"markets\.BTCUSD-inverse\.volume_24h_usd"):
        Scenario.from_toml_text(dump_toml(data), str(path))
