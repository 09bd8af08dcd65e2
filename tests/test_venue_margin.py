"""Venue margin conventions: published worked examples, kernels against the reference per basis,
and the properties each basis promises.

Sources (read 2026-12-02 through the project's page search):

- Bybit Help Center "Liquidation Price (USDT Contract)",
  testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract (undated):
  isolated ``LP(long) = Entry - (IM - MM) / size``, ``LP(short) = Entry + (IM - MM) / size``,
  ``IM = position value / leverage``, ``MM = position value x MMR - MM deduction``, position
  value = contract size x entry price; Example 1 (long) 1 BTC at 20,000 USDT, 50x, MMR 0.5 %:
  IM 400, MM 100, LP 19,700. Example 2 (short) was cut off in the excerpt read.
- Bybit Help Center "Bankruptcy Price (USDT Contract)" (search excerpt, undated): long
  ``Entry x (1 - IMR)``, short ``Entry x (1 + IMR)``, IMR = 1 / leverage; example 1 BTC long
  at 10,000 USDT, 50x: 9,800 USDT.
- OKX help "Tiered maintenance margin ratio rules" (published 2022-06-16, updated
  2025-05-16): liquidation when the margin ratio falls to 100 %, equity <= maintenance margin
  plus liquidation fees; isolated USDT-margined: (margin + upl) / (contracts x face value x mark
  x (tier MMR + fee rate)). No worked number was found: the OKX vectors below are derived.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim._util.errors import CascadesimInputError
from cascadesim.engine import layout
from cascadesim.engine import margin as kernels
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.venues import VENUES
from tests.margin_records import market_record
from tests.reference import margin_reference as reference
from tests.test_liqprice import _assert_one_line_error, _cli

SETTINGS = settings(max_examples=150, deadline=None)
BASES = {
    layout.MM_BASIS_MARK: "mark",
    layout.MM_BASIS_ENTRY: "entry",
    layout.MM_BASIS_MARK_FEE: "mark_with_fee",
}


# --- published examples ----------------------------------------------------------------------
def test_bybit_long_example_1_lands_on_19700():
    # Bybit "Liquidation Price (USDT Contract)", Example 1 (Long), with the page's MMR.
    figures = liquidation_price("bybit", "long", 20_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.initial_margin == 400.0
    assert figures.maintenance_margin == 100.0
    assert figures.liquidation_price == 19_700.0
    assert figures.tick == 0.1  # BTCUSDT's tick: 19,700 is on it


def test_bybit_long_example_1_with_bybits_own_btc_table():
    # Bybit's BTCUSDT risk limit 1 is 0.5 % below 2M USDT: the page's MMR, no deduction.
    figures = liquidation_price("bybit", "long", 20_000.0, 1.0, leverage=50.0)
    assert figures.liquidation_price == 19_700.0
    assert figures.mm_basis == "entry"


def test_bybit_bankruptcy_price_example():
    # Bybit "Bankruptcy Price (USDT Contract)": 1 BTC long at 10,000 USDT, 50x -> 9,800 USDT.
    figures = liquidation_price("bybit", "long", 10_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.bankruptcy_price == 9_800.0


def test_bybit_short_example_derived_from_the_short_formula():
    # Derived (the page's short example was not read): 1 BTC short at 20,000, 50x, MMR 0.5 %:
    # LP = 20,000 + (400 - 100) / 1 = 20,300; bankruptcy = 20,000 x (1 + 1/50) = 20,400.
    figures = liquidation_price("bybit", "short", 20_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.liquidation_price == 20_300.0
    assert figures.bankruptcy_price == 20_400.0


@pytest.mark.parametrize(
    ("side", "liquidation", "bankruptcy"),
    [
        # Derived: 3 BTC at 20,000 with 1,000 USDT margin, MMR 0.5 %: MM = 300 on the entry
        # value. Long: LP = 20,000 - 700/3 = 19,766.66..., first 0.1 tick breached 19,766.6;
        # bankruptcy 20,000 - 1,000/3 = 19,666.66..., up to 19,666.7 (against the trader).
        ("long", 19_766.6, 19_666.7),
        # Short: LP = 20,233.33... -> 20,233.4; bankruptcy 20,333.33... -> 20,333.3.
        ("short", 20_233.4, 20_333.3),
    ],
)
def test_bybit_rounds_to_the_tick(side, liquidation, bankruptcy):
    figures = liquidation_price("bybit", side, 20_000.0, 3.0, margin=1_000.0, mmr=0.005)
    assert figures.liquidation_price == pytest.approx(liquidation, abs=1e-9)
    assert figures.bankruptcy_price == pytest.approx(bankruptcy, abs=1e-9)
    assert "against the trader" in figures.convention


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        # Derived from OKX's margin ratio: 1 BTC at 100,000, 20x (margin 5,000), tier 1 MMR
        # 0.4 % (OKX BTC-USDT-SWAP below 1M USD at 100,000) plus the 0.05 % fee (an estimate):
        # long (100,000 - 5,000) / (1 - 0.0045), short (100,000 + 5,000) / (1 + 0.0045).
        ("long", 95_000.0 / 0.9955),
        ("short", 105_000.0 / 1.0045),
    ],
)
def test_okx_liquidation_price_includes_the_fee(side, expected):
    figures = liquidation_price("okx", side, 100_000.0, 1.0, leverage=20.0)
    assert figures.mm_basis == "mark_with_fee"
    assert figures.liquidation_fee_rate == 0.0005
    assert figures.liquidation_price == pytest.approx(expected, rel=1e-12)
    # At that price equity equals (MMR + fee) x notional exactly.
    price = figures.liquidation_price
    sign = 1 if side == "long" else -1
    equity = 5_000.0 + sign * (price - 100_000.0)
    assert equity == pytest.approx(price * 0.0045, rel=1e-9)


def test_okx_refuses_a_maintenance_deduction():
    with pytest.raises(CascadesimInputError, match="^maintenance_amount = "):
        liquidation_price(
            "okx", "long", 100_000.0, 1.0, leverage=20.0, mmr=0.01, maintenance_amount=50.0
        )


def test_binance_is_unchanged_and_unrounded():
    # Binance keeps MM at the mark and has no tick of its own here: Binance's one-way formula
    # (Q E - (WB + cum)) / (Q (1 - mmr)) with WB = 5,000 in BTCUSDT's 50k-500k bracket (0.5 %,
    # maintenance amount 50): (100,000 - 5,050) / 0.995.
    figures = liquidation_price("binance", "long", 100_000.0, 1.0, leverage=20.0)
    assert figures.mm_basis == "mark" and figures.tick is None
    assert figures.liquidation_price == pytest.approx(94_950.0 / 0.995, rel=1e-12)


def test_tick_option_rounds_binance_too():
    # 95,427.1356... on a 0.1 tick: the first breaching tick for a long is 95,427.1.
    figures = liquidation_price("binance", "long", 100_000.0, 1.0, leverage=20.0, tick=0.1)
    assert figures.liquidation_price == pytest.approx(95_427.1, abs=1e-9)
    assert figures.liquidation_price_exact == pytest.approx(94_950.0 / 0.995, rel=1e-12)


def test_cli_names_the_convention_and_takes_a_tick():
    result = _cli(
        "--venue", "bybit", "--side", "long", "--entry", "20000", "--quantity", "1",
        "--leverage", "50", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["liquidation_price"] == 19_700.0 and output["mm_basis"] == "entry"
    assert "entry value" in output["convention"]
    bad = _cli(
        "--venue", "bybit", "--side", "long", "--entry", "20000", "--quantity", "1",
        "--leverage", "50", "--tick", "-1",
    )  # fmt: skip
    _assert_one_line_error(bad)
    assert "tick = -1" in bad.stderr


def test_mark_price_rules_and_basis_windows():
    # Bybit "Mark Price Calculation (Perpetual Contract)" (2024-10-16): Binance's median with a
    # 5-minute average measured every second: 300 points 0..299 s old. Binance since
    # 2025-09-18: 30 points a second apart. The EMA carries each average's centre of mass.
    assert VENUES["bybit"].mark_rule == layout.MARK_BINANCE
    assert VENUES["bybit"].basis_average_s == np.arange(300).mean()
    assert VENUES["binance"].basis_average_s == np.arange(30).mean()


# --- kernels against the reference, per basis ----------------------------------------------
@st.composite
def positions(draw):
    """An isolated position, a tier table around its notional and a convention."""
    side = draw(st.sampled_from([1, -1]))
    entry = draw(st.floats(1.0, 1e5))
    quantity = draw(st.floats(1e-3, 1e3))
    notional = entry * quantity
    factors = draw(st.lists(st.floats(0.05, 3.0), min_size=0, max_size=6, unique=True))
    floors = [0.0]
    for value in sorted(notional * factor for factor in factors):
        if value > floors[-1] * (1.0 + 1e-6):
            floors.append(value)
    first = draw(st.floats(0.001, 0.05))
    steps = draw(st.lists(st.floats(0.0, 0.08), min_size=len(floors) - 1, max_size=len(floors) - 1))
    mmr = [min(first + sum(steps[:index]), 0.9) for index in range(len(floors))]
    amounts = reference.maintenance_amounts(floors, mmr)
    basis = draw(st.sampled_from(sorted(BASES)))
    fee = draw(st.floats(0.0, 0.01))
    tier_price = entry * draw(st.floats(0.8, 1.25))
    convention = reference.Convention(BASES[basis], fee, tier_price)
    required = reference.requirement(floors, mmr, amounts, quantity, entry, entry, convention)
    margin = required * (1.0 + draw(st.floats(1e-4, 2.0))) + notional * draw(st.floats(0.0, 1.2))
    margin += 1e-6 * notional
    market = market_record(floors, mmr, amounts, basis, fee, tier_price)[0]
    return side, quantity, entry, margin, floors, mmr, amounts, convention, market


def _near_floor(floors, notional):
    return any(abs(notional - floor) <= 1e-9 * max(floor, 1.0) for floor in floors[1:])


@SETTINGS
@given(positions())
def test_kernel_liquidation_price_matches_the_bisection_reference(position):
    side, quantity, entry, margin, floors, mmr, amounts, convention, market = position
    price, _ = kernels.liquidation_price(market, side, quantity, entry, margin)
    expected = reference.liquidation_price(
        side, quantity, entry, margin, floors, mmr, amounts, convention
    )
    assert math.isclose(price, expected, rel_tol=1e-9, abs_tol=1e-9 * entry)


@SETTINGS
@given(positions(), st.floats(0.2, 3.0))
def test_kernel_maintenance_matches_the_reference(position, move):
    side, quantity, entry, margin, floors, mmr, amounts, convention, market = position
    price = entry * move
    if _near_floor(floors, reference.tier_notional(quantity, entry, price, convention)):
        return
    got = kernels.maintenance_requirement(market, quantity, entry, price)
    want = reference.requirement(floors, mmr, amounts, quantity, entry, price, convention)
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9 * quantity * price)


@SETTINGS
@given(positions(), st.sampled_from([0.01, 0.1, 0.5, 1.0]))
def test_bankruptcy_rounding_matches_the_reference(position, tick):
    side, quantity, entry, margin, floors, mmr, amounts, _, _ = position
    rounded = reference.Convention(tick=tick, rounding="tick_against_trader")
    market = market_record(
        floors, mmr, amounts, tick=tick, rounding=layout.BANKRUPTCY_TICK_AGAINST_TRADER
    )[0]
    got = kernels.bankruptcy_price(market, side, quantity, entry, margin)
    want = reference.bankruptcy_price(side, quantity, entry, margin, rounded)
    assert got == pytest.approx(want, abs=1e-9 * entry)
    if got > 0.0:
        # On the grid, and the trader's equity there is not negative.
        assert abs(got / tick - round(got / tick)) < 1e-6
        assert reference.equity(side, quantity, entry, margin, got) >= -1e-9 * margin


@SETTINGS
@given(positions(), st.floats(-0.05, 0.05))
def test_funding_shift_moves_the_liquidation_price_exactly(position, rate):
    side, quantity, entry, margin, _, _, _, convention, market = position
    funding = rate * entry  # USD per unit paid by longs
    price, tier = kernels.liquidation_price(market, side, quantity, entry, margin)
    paid = margin - side * quantity * funding
    if price <= 0.0 or paid <= 0.0:
        return
    moved, moved_tier = kernels.liquidation_price(market, side, quantity, entry, paid)
    if moved <= 0.0 or moved_tier != tier:
        return  # into another tier: the engine's slack covers it
    shift = kernels.funding_shift(market, side, tier, funding)
    assert moved == pytest.approx(price + shift, rel=1e-9, abs=1e-9 * entry)
    if convention.basis == "entry":
        assert shift == funding


@SETTINGS
@given(positions())
def test_entry_basis_has_one_liquidation_price(position):
    side, quantity, entry, margin, floors, mmr, amounts, _, _ = position
    market = market_record(floors, mmr, amounts, layout.MM_BASIS_ENTRY)[0]
    prices = entry * np.linspace(0.01, 3.0, 400)
    gaps = np.array(
        [kernels.margin_shortfall(market, side, quantity, entry, margin, p) for p in prices]
    )
    # Equity - MM rises with price for a long, falls for a short: one sign change at most.
    assert np.all(side * np.diff(gaps) > 0.0)


@SETTINGS
@given(positions(), st.sampled_from([0.01, 0.1, 1.0]))
def test_tick_liquidation_price_is_breached_there_and_not_a_tick_before(position, tick):
    side, quantity, entry, margin, floors, mmr, amounts, convention, market = position
    exact, _ = kernels.liquidation_price(market, side, quantity, entry, margin)
    price = kernels.round_to_tick(exact, tick, -side)
    if price <= tick:
        return
    scale = 1e-9 * (quantity * entry + margin)
    at = kernels.margin_shortfall(market, side, quantity, entry, margin, price)
    before = kernels.margin_shortfall(market, side, quantity, entry, margin, price + side * tick)
    assert at <= scale
    assert before > 0.0
    assert (
        reference.shortfall(
            side, quantity, entry, margin, price + side * tick, floors, mmr, amounts, convention
        )
        > 0.0
    )
