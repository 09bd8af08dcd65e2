"""Inverse markets in the engine: money conserved in the coin, the teaching scenario's lesson.

The reciprocal transform (cascadesim.model.contracts) runs an inverse market as a linear one;
these tests check what a user of an inverse market relies on: each settlement currency's
ledger balances, long and short open interest agree, the USD view reports face value, and a
20 % fall flushes an inverse book of 4.2-4.8x longs while a linear one survives it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from cascadesim.model.contracts import engine_space
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate
from tests.engine_strategies import engine_setups


def inverse_variant(setup):
    """The setup with every market whose positions are all isolated made inverse: the same
    notional at entry as USD face, the same leverage at entry as coin margin (x 1.5, so that
    positions entered away from the start price still start healthy)."""
    positions = setup.positions
    cross = np.zeros(len(positions), dtype=bool) if positions.cross is None else positions.cross
    markets = list(setup.markets)
    quantity = positions.quantity.copy()
    margin = positions.margin.copy()
    changed = False
    for m, spec in enumerate(markets):
        rows = positions.market == m
        if cross[rows].any() or not rows.any():
            continue
        markets[m] = dataclasses.replace(spec, contract="inverse", fund_pool="", backstop_pool="")
        quantity[rows] = positions.quantity[rows] * positions.entry_price[rows]
        margin[rows] = 1.5 * positions.margin[rows] / positions.entry_price[rows]
        changed = True
    if not changed:
        return None
    # An account is one wallet in one currency: each market's positions get their own ids.
    n = max(setup.n_accounts or 0, int(positions.account.max()) + 1)
    account = positions.account + n * positions.market
    return dataclasses.replace(
        setup,
        markets=markets,
        positions=dataclasses.replace(positions, quantity=quantity, margin=margin, account=account),
        n_accounts=n * len(markets),
    )


@given(engine_setups(cross_margin=(False,), opening_flow=(False,)))
@settings(max_examples=15, deadline=None)
def test_money_is_conserved_in_each_currency_with_inverse_markets(setup):
    variant = inverse_variant(setup)
    if variant is None:
        return
    try:
        result = simulate(variant, counterfactual=False)
    except Exception as error:  # a position that the conversion left below maintenance
        assert "maintenance margin at the start" in str(error)
        return
    start, end = result.ledger(False), result.ledger(True)
    for name, book in start["by_currency"].items():
        scale = abs(book["total"]) + sum(abs(v) for k, v in book.items() if k != "net_quantity")
        assert end["by_currency"][name]["total"] == pytest.approx(book["total"], abs=1e-9 * scale)
        assert end["by_currency"][name]["fund"] >= -1e-9 * scale
    assert abs(end["total"] - start["total"]) <= 1e-9 * (abs(start["total"]) + 1.0) * 10
    timeline = result.engine_outcome.timeline
    gap = np.abs(timeline["long_open_interest"] - timeline["short_open_interest"])
    assert gap.max() <= 1e-9 * (timeline["long_open_interest"].max() + 1.0)


def test_engine_space_is_idempotent_and_swaps_sides():
    scenario = Scenario.from_toml(resolve_scenario("inverse_vs_linear"))
    setup = scenario.build(seed=1)
    assert engine_space(setup) is setup  # the scenario layer draws inverse markets there
    spec = setup.markets[1]
    assert spec.inverse and spec.reciprocal_scale == pytest.approx(spec.price**2)
    # 70 % of the inverse accounts are long: in x they are the shorts.
    rows = setup.positions.market == 1
    assert np.mean(setup.positions.side[rows] < 0) == pytest.approx(0.7, abs=0.01)


def test_the_same_fall_flushes_the_inverse_book_and_barely_touches_the_linear_one():
    """Derived from the scenario: 4.2-4.8x longs entered within 0.5 % of 100,000. A linear
    long goes at a fall of 1/L - mmr (20.4-23.4 %), beyond the 20 % held; an inverse one at
    1 - L(1 + mmr)/(L + 1) (16.9-18.9 %), inside it. So every inverse long is liquidated and
    the linear ones only where the cascade pushes the mid past -20 %."""
    scenario = Scenario.from_toml(resolve_scenario("inverse_vs_linear"))
    result = simulate(scenario, counterfactual=False)
    linear, inverse = result.summary["markets"]
    assert inverse["contract"] == "inverse" and linear["contract"] == "linear"
    long_face = 0.7 * 0.5 * 2 * 200e6  # long share x leveraged share x both sides x OI
    assert inverse["liquidated_long_usd"] == pytest.approx(long_face, rel=1e-6)
    assert linear["liquidated_long_usd"] < 0.1 * inverse["liquidated_long_usd"]
    # Inverse liquidations are reported as USD face: contracts x contract size.
    events = result.liquidations
    mine = events[events["market"] == "BTCUSD-inverse"]
    assert np.allclose(mine["notional"], mine["quantity"] * mine["fill_price"], rtol=1e-9)
    book = mine[mine["kind"] == "book"]
    assert book["fill_price"].between(70_000, 100_000).all()
    ledger_start, ledger_end = result.ledger(False), result.ledger(True)
    btc = ledger_start["by_currency"]["BTC"]["total"]
    assert ledger_end["by_currency"]["BTC"]["total"] == pytest.approx(btc, rel=1e-12)
    assert ledger_end["total"] == pytest.approx(ledger_start["total"], rel=1e-12)
