"""Coin-margined (inverse) positions: published examples, derived vectors, the reference.

The venues' worked examples are reproduced to the figure they print; where a page's printed
result does not follow from its own equation the test says so and holds the equation.
Derived vectors are marked as derived: their expected figures come from the formulas written
out by hand in the test, not from the program.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim._util.errors import CascadesimInputError
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.inverse_calculator import inverse_liquidation_price
from cascadesim.model.inverse_venues import inverse_tiers
from tests.cli import run_cli
from tests.reference import inverse_reference as ref


# --- Bybit -----------------------------------------------------------------------------------
# "How to calculate Liquidation Price (Inverse Contract)", Bybit help centre
# (help.bybit.com/hc/en-us/articles/360039261334, read 2026-12-03). Cross margin: "Trader B has
# account balance of 0.5 BTC and buy long 10000 contracts at 8,000 USD", MM 0.5 %, taker fee
# 0.075 % in the bankruptcy price: Bankruptcy Price = 1.00075 x 10000 / (10000/8000 + 0.5)
# = 5718.57; Liquidation Price from 10000 x (1/8000 - 1/LP) = -(0.5 - 0 - 10000/8000 x 0.5 %
# - 10000 x 0.00075 / 5718.57), printed as 5739.50.
def test_bybit_inverse_cross_example_bankruptcy_price():
    figures = inverse_liquidation_price(
        "bybit", "long", 8000, 10000, margin=0.5, mmr=0.005, margin_mode="cross"
    )
    assert figures.contract_size_usd == 1.0
    assert round(figures.bankruptcy_price, 2) == 5718.57


def test_bybit_inverse_cross_example_liquidation_price_follows_the_page_equation():
    """The page's equation gives 5739.08 (5739.10 with its rounded 5718.57); it prints
    5739.50, which no reading of the equation gives (0.007 % apart): the equation is held."""
    figures = inverse_liquidation_price(
        "bybit", "long", 8000, 10000, margin=0.5, mmr=0.005, margin_mode="cross"
    )
    bankruptcy = 1.00075 * 10000 / (10000 / 8000 + 0.5)
    by_hand = 10000 / (10000 / 8000 + 0.5 - 10000 / 8000 * 0.005 - 10000 * 0.00075 / bankruptcy)
    assert figures.liquidation_price == pytest.approx(by_hand, rel=1e-12)
    assert round(figures.liquidation_price, 2) == 5739.08
    assert abs(figures.liquidation_price - 5739.50) < 0.5


# "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)", Bybit help
# centre (read 2026-12-03): LP (long) = Quantity / [Position Value + (IM - MM)], Position Value
# = Quantity / entry, IM = value / leverage, MM = value x MMR - deduction. Its example: 60,000
# USD of BTCUSD at 50,000 USD, 10x, MMR 0.5 %: value 1.2 BTC, IM 0.12 BTC, MM 0.006 BTC.
def test_bybit_inverse_isolated_formula_of_the_unified_account():
    figures = inverse_liquidation_price("bybit", "long", 50_000, 60_000, leverage=10, mmr=0.005)
    assert figures.position_value_coin == pytest.approx(1.2)
    assert figures.margin_coin == pytest.approx(0.12)
    assert figures.maintenance_margin_coin == pytest.approx(0.006)
    assert figures.liquidation_price == pytest.approx(60_000 / (1.2 + 0.12 - 0.006), rel=1e-12)
    short = inverse_liquidation_price("bybit", "short", 50_000, 60_000, leverage=10, mmr=0.005)
    assert short.liquidation_price == pytest.approx(60_000 / (1.2 - 0.12 + 0.006), rel=1e-12)


# --- derived vectors ---------------------------------------------------------------------------
def test_derived_an_inverse_long_at_3x_goes_at_about_25_percent_a_linear_one_at_33():
    """Derived: at 3x with 0.5 % maintenance on the value at the mark, an inverse long is
    liquidated where Q/P x (1 + mmr) = Q/(3E) + Q/E, P = 3E(1 + mmr)/4 = 75,375 at 100,000;
    the linear long where q(P - E) + qE/3 = qP x mmr, P = (2/3)E/(1 - mmr) = 67,001.67."""
    inverse = inverse_liquidation_price("binance", "long", 100_000, 1000, leverage=3, mmr=0.005)
    linear = liquidation_price("binance", "long", 100_000, 1.0, leverage=3, mmr=0.005)
    assert inverse.liquidation_price == pytest.approx(75_375.0, rel=1e-12)
    assert linear.liquidation_price == pytest.approx(200_000 / 3 / 0.995, rel=1e-12)
    assert 1 - inverse.liquidation_price / 100_000 == pytest.approx(0.246, abs=1e-3)


def test_derived_an_inverse_short_at_or_below_1x_is_never_liquidated():
    """Derived: a short's coin margin of at least its value covers any rise (Q/E - Q/P < M)."""
    figures = inverse_liquidation_price("binance", "short", 100_000, 1000, leverage=1.0, mmr=0.005)
    assert math.isinf(figures.liquidation_price) and figures.to_dict()["liquidation_price"] is None


def test_derived_bybit_bankruptcy_price_includes_the_fee_to_close():
    """Derived: long BP solves M + Q/E - Q/BP x (1 + fee) = 0; short M - Q/E + Q/BP x (1 - fee)."""
    long = inverse_liquidation_price("bybit", "long", 20_000, 40_000, margin=0.4, mmr=0.005)
    short = inverse_liquidation_price("bybit", "short", 20_000, 40_000, margin=0.4, mmr=0.005)
    assert long.bankruptcy_price == pytest.approx(40_000 * 1.00075 / (2.0 + 0.4), rel=1e-12)
    assert short.bankruptcy_price == pytest.approx(40_000 * 0.99925 / (2.0 - 0.4), rel=1e-12)
    plain = inverse_liquidation_price("binance", "long", 20_000, 400, margin=0.4, mmr=0.005)
    assert plain.bankruptcy_price == pytest.approx(40_000 / 2.4, rel=1e-12)


def test_contracts_are_counted_in_the_venue_contract_size():
    binance = inverse_liquidation_price("binance", "long", 50_000, 10, leverage=5)
    assert binance.contract_size_usd == 100.0 and binance.face_usd == 1000.0
    own = inverse_liquidation_price("binance", "long", 50_000, 10, leverage=5, contract_size=10)
    assert own.face_usd == 100.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin_mode": "portfolio", "leverage": 3}, "margin_mode"),
        ({"leverage": 3, "margin": 1.0}, "exactly one"),
        ({"margin": 1e-9}, "maintenance margin at entry"),
        ({"leverage": 3, "close_fee_rate": 0.5}, "close_fee_rate"),
    ],
)
def test_bad_inverse_inputs_are_named(kwargs, message):
    with pytest.raises(CascadesimInputError, match=message):
        inverse_liquidation_price("binance", "long", 50_000, 10, **kwargs)


# --- the transform against the reference -------------------------------------------------------
@given(
    venue=st.sampled_from(["binance", "bybit"]),
    side=st.sampled_from([1, -1]),
    entry=st.floats(100.0, 200_000.0),
    contracts=st.floats(1.0, 1e6),
    leverage=st.floats(1.1, 100.0),
)
@settings(max_examples=300, deadline=None)
def test_the_reciprocal_transform_agrees_with_the_coin_reference(
    venue, side, entry, contracts, leverage
):
    """The engine's kernels on the linear market in x give the price at which the coin
    equity of the inverse position, computed directly in USD prices, meets maintenance."""
    try:
        figures = inverse_liquidation_price(
            venue,
            "long" if side > 0 else "short",
            entry,
            contracts,
            leverage=leverage,
            close_fee_rate=0.0,
        )
    except CascadesimInputError:
        return  # breached at entry: the reference would say the same
    table = inverse_tiers(venue, "BTC", entry)
    floors = [f / entry for f in table.floors]
    amounts = [a / entry for a in table.maintenance_amount]
    expected = ref.liquidation_price(
        "entry" if venue == "bybit" else "mark",
        floors,
        list(table.mmr),
        amounts,
        side,
        figures.face_usd,
        entry,
        figures.margin_coin,
    )
    if math.isinf(expected):
        assert math.isinf(figures.liquidation_price)
    else:
        assert figures.liquidation_price == pytest.approx(expected, rel=1e-7, abs=1e-9)


# --- the CLI -------------------------------------------------------------------------------------
def test_liqprice_inverse_cross_on_the_command_line(tmp_path):
    done = run_cli(
        "liqprice",
        "--venue",
        "bybit",
        "--side",
        "long",
        "--entry",
        "8000",
        "--quantity",
        "10000",
        "--margin",
        "0.5",
        "--mmr",
        "0.005",
        "--contract",
        "inverse",
        "--margin-mode",
        "cross",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert round(figures["bankruptcy_price"], 2) == 5718.57
    assert round(figures["liquidation_price"], 2) == 5739.08
    assert figures["margin_coin"] == 0.5 and figures["contract_size_usd"] == 1.0


def test_liqprice_rejects_a_bad_contract_in_one_line(tmp_path):
    done = run_cli(
        "liqprice",
        "--venue",
        "bybit",
        "--side",
        "long",
        "--entry",
        "8000",
        "--quantity",
        "10",
        "--leverage",
        "3",
        "--contract",
        "quanto",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "contract" in done.stderr and "Traceback" not in done.stderr


def test_bitmex_xbtusd_risk_limit_steps_in_xbt():
    """BitMEX risk-limits examples: a 180 XBT position needs 0.90 XBT of maintenance (0.5 %);
    derived from "maintenance margin becomes 0.50% + (# of Steps x 0.50%)" on the whole
    position, 250 XBT (one step) need 2.5 XBT and 600 XBT (three steps) 12 XBT."""
    from cascadesim.model.inverse_venues import inverse_tiers

    price = 40_000.0
    table = inverse_tiers("bitmex", "BTC", price)
    assert not table.is_estimate
    for xbt, expected in ((180.0, 0.90), (250.0, 2.5), (600.0, 12.0)):
        usd = xbt * price
        tier = int(np.searchsorted(table.floors, usd, side="right")) - 1
        required_usd = usd * table.mmr[tier] - table.maintenance_amount[tier]
        assert required_usd / price == pytest.approx(expected, rel=1e-12)
