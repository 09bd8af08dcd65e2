"""Extreme markets: each must complete with correct accounting and say what happened.

For every case: money is conserved (the ledger's total is unchanged), each market's net
quantity is zero, long open interest equals short at every step, books stay finite and
non-negative, and the run's flags or figures tell the story (book exhausted, iteration cap,
bad debt, ADL). The table in the issue-7 note is this file's cases.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cascadesim.engine import layout
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.sim.driver import simulate
from tests.test_engine_differential import PRICE, ramp, single_market
from tests.test_engine_properties import RELATIVE, value_scale


def assert_accounting(result) -> None:
    """Conserved money, balanced open interest, sane books."""
    before, after = result.ledger(False), result.ledger(True)
    assert abs(after["total"] - before["total"]) <= RELATIVE * max(value_scale(result), 1.0)
    quantity_scale = max(float(result.setup.positions.quantity.sum()), 1.0)
    assert np.all(np.abs(after["net_quantity"]) <= RELATIVE * quantity_scale)
    timeline = result.outcome.timeline
    gap = np.abs(timeline["long_open_interest"] - timeline["short_open_interest"])
    assert gap.max() <= RELATIVE * quantity_scale
    for snapshot in result.outcome.book_snapshots:
        for side in ("bids", "asks"):
            assert (
                np.isfinite(getattr(snapshot, side)).all()
                and (getattr(snapshot, side) >= 0.0).all()
            )
    assert np.isfinite(timeline["mark_price"]).all() and (timeline["mark_price"] > 0).all()


def longs_at(leverage: float, count: int, notional: float = 20_000.0):
    return [(1, notional / PRICE, PRICE, notional / leverage) for _ in range(count)]


def shorts_at(leverage: float, count: int, notional: float = 20_000.0):
    return [(-1, notional / PRICE, PRICE, notional / leverage) for _ in range(count)]


def test_book_exhausted_on_one_side_recentres_without_running_off_the_window():
    n_steps = 60
    flow = np.zeros((n_steps, 1))
    flow[10:13] = -5e9  # far more than the whole bid side
    setup = single_market(
        longs_at(10, 20) + shorts_at(3, 20),
        np.full(n_steps + 1, PRICE),
        flow=flow,
        depth_1pct_usd=1e5,
        tick_size=1.0,
        n_levels=512,
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    assert result.outcome.flags & layout.STATUS_FLAG_BOOK_EXHAUSTED
    assert result.outcome.timeline["last_price"].min() >= 1.0  # the tick-1 floor


def test_price_falling_99_percent():
    path = ramp(200, -0.99, start=5, length=100)
    setup = single_market(
        longs_at(5, 30) + shorts_at(2, 30), path, depth_1pct_usd=1e6, tick_size=0.5
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    status = result.outcome.positions.status
    longs = result.outcome.positions.side > 0
    assert np.all(status[longs] >= layout.STATUS_LIQUIDATED)  # every long is gone
    # The index ends at 1 % of the start, give or take the hedges' spot impact.
    assert result.outcome.timeline["index_price"][-1, 0] == pytest.approx(PRICE * 0.01, rel=1e-3)


def test_every_account_at_the_maximum_leverage():
    spec_max = 50.0
    setup = single_market(
        longs_at(spec_max, 40) + shorts_at(spec_max, 40),
        ramp(120, -0.05),
        tier_floor_usd=(0.0,),
        tier_mmr=(0.01,),
        tier_max_leverage=(spec_max,),
        depth_1pct_usd=5e5,
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    liquidated = result.summary["accounts_liquidated"]
    assert liquidated >= 40  # a 5 % fall takes every 50x long (2 % equity, 1 % maintenance)


def test_one_position_larger_than_the_whole_book():
    quantity = 2_000.0  # 2 M USD against 20 000 USD within 1 %
    setup = single_market(
        [(1, quantity, PRICE, quantity * PRICE / 10.0)] + shorts_at(2, 5),
        ramp(80, -0.15),
        depth_1pct_usd=2e4,
        insurance_fund_usd=1e5,
        partial_mode="none",
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    kinds = set(result.outcome.events["kind"])
    assert layout.KIND_INSURANCE in kinds or layout.KIND_ADL in kinds


def test_zero_positions():
    setup = single_market(longs_at(5, 1), ramp(50, -0.2))
    empty = PositionArrays(
        *(
            getattr(setup.positions, name)[:0]
            for name in ("market", "account", "side", "quantity", "entry_price", "margin")
        )
    )
    result = simulate(dataclasses.replace(setup, positions=empty), counterfactual=True)
    assert_accounting(result)
    assert result.summary["liquidated_total_usd"] == 0.0
    assert result.outcome.events.size == 0


def test_a_single_market_with_one_account():
    setup = single_market(longs_at(20, 1), ramp(60, -0.1))
    result = simulate(setup)
    assert_accounting(result)
    assert result.summary["accounts_liquidated"] == 1


def test_funding_at_its_cap_for_days():
    """Six days at one-minute steps, the premium pinned far above the cap: 20x longs
    (5 % equity, 0.4 % maintenance) bleed 0.3 % per 8 h and are liquidated by funding alone
    after the 16th settlement, on a flat index."""
    days = 6
    step = 60.0
    n_steps = int(days * 86_400 / step)
    setup = single_market(
        longs_at(20, 10) + shorts_at(20, 10),
        np.full(n_steps + 1, PRICE),
        step_seconds=step,
        funding_interval_s=28_800.0,
        time_to_first_funding_s=28_800.0,
        funding_rate_initial=0.003,
        funding_cap=0.003,
        funding_interest_rate=0.05,
        funding_clamp=0.05,
        mark_rule="index",
        depth_1pct_usd=5e8,
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    rates = result.outcome.timeline["funding_rate"][:, 0]
    assert np.allclose(rates, 0.003)
    assert result.summary["accounts_liquidated"] == 10  # the longs, none of the shorts
    first = result.outcome.events["time"].min()
    assert 15 * 28_800.0 < first <= 16 * 28_800.0 + step


def test_insurance_fund_that_starts_empty_deleverages_from_the_first_liquidation():
    setup = single_market(
        [(1, 100.0, PRICE, 100.0 * PRICE / 25.0)] + shorts_at(3, 10),
        ramp(60, -0.12),
        depth_1pct_usd=1e3,
        partial_mode="none",
        insurance_fund_usd=0.0,
        liquidation_fee_rate=0.0,
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    events = result.outcome.events
    assert layout.KIND_ADL in set(events["kind"])
    first_adl = events["time"][events["kind"] == layout.KIND_ADL].min()
    assert first_adl == events["time"].min()


def test_fixed_point_hitting_its_iteration_cap_is_reported():
    """Dense ladders of 100x longs on a thin book with one iteration allowed per step."""
    positions = [(1, 10.0, PRICE * (1.0 + k * 1e-4), 10.0 * PRICE / 100.0) for k in range(50)]
    setup = single_market(positions + shorts_at(2, 20), ramp(60, -0.03), depth_1pct_usd=2e4)
    result = simulate(dataclasses.replace(setup, iteration_cap=1), counterfactual=False)
    assert_accounting(result)
    assert result.outcome.flags & layout.STATUS_FLAG_ITERATION_CAP
    assert result.outcome.timeline["iterations"].max() == 1


def test_many_markets_with_cross_accounts_in_a_crash():
    """Ten markets of one venue, every account cross with a position in each, all falling
    40 %: the accounting holds across markets."""
    n_markets, n_accounts = 10, 30
    specs = [
        MarketSpec(
            name=f"M{m}",
            asset=f"A{m}",
            price=PRICE,
            tick_size=0.5,
            depth_1pct_usd=2e5,
            venue="binance",
        )
        for m in range(n_markets)
    ]
    market = np.repeat(np.arange(n_markets), n_accounts).astype(np.int32)
    account = np.tile(np.arange(n_accounts), n_markets)
    side = np.where(account % 3 == 0, -1, 1).astype(np.int8)
    quantity = np.full(market.size, 20.0)
    margin = np.full(market.size, 20.0 * PRICE / 10.0)
    positions = PositionArrays(
        market=market,
        account=account,
        side=side,
        quantity=quantity,
        entry_price=np.full(market.size, PRICE),
        margin=margin,
        cross=np.ones(market.size, dtype=bool),
    )
    path = np.column_stack([ramp(150, -0.4, start=5 + m, length=80) for m in range(n_markets)])
    setup = EngineSetup(
        markets=specs,
        assets=[AssetSpec(name=f"A{m}") for m in range(n_markets)],
        positions=positions,
        index_path=path,
    )
    result = simulate(setup)
    assert_accounting(result)
    assert result.summary["accounts_liquidated"] >= 20  # every all-long account


def test_a_spot_market_far_too_thin_for_its_perp_keeps_the_index_positive():
    """Found by fuzzing: with 0.001 USD of spot depth, the makers' and arbitrageurs' hedges
    drove the index to 0.0 and a division by zero. The cumulative spot impact is bounded
    (a factor 100), so the run completes with its accounting intact."""
    from cascadesim.scenario.bundled import bundled_scenarios
    from cascadesim.scenario.models import Scenario

    scenario = Scenario.from_toml(bundled_scenarios()["liquidity_vacuum"])
    population = scenario.population.model_copy(update={"accounts": 300})
    setup = scenario.model_copy(update={"population": population}).build()
    setup = dataclasses.replace(
        setup,
        assets=[dataclasses.replace(asset, spot_depth_1pct_usd=1e-3) for asset in setup.assets],
    )
    result = simulate(setup, counterfactual=False)
    assert_accounting(result)
    index = result.outcome.timeline["index_price"]
    assert np.isfinite(index).all() and (index > 0.0).all()
    assert result.summary["accounts_liquidated"] > 0
