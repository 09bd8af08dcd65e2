"""Margin kernels against the pure-Python reference, and properties of the tier recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadesim.engine import margin as kernels
from cascadesim.model.venues import VENUES, TierTable, maintenance_amounts
from tests.margin_records import market_record
from tests.reference import margin_reference as reference

SETTINGS = settings(max_examples=150)


@st.composite
def positions(draw):
    """A valid isolated position and a tier table whose floors sit around its notional.

    Floors are drawn as multiples of the entry notional, so liquidation prices fall on both
    sides of tier boundaries; the margin is drawn above maintenance margin at entry.
    """
    side = draw(st.sampled_from([1, -1]))
    entry = draw(st.floats(1.0, 1e5))
    quantity = draw(st.floats(1e-3, 1e3))
    notional = entry * quantity
    factors = draw(st.lists(st.floats(0.05, 3.0), min_size=0, max_size=7, unique=True))
    floors = [0.0] + sorted(notional * factor for factor in factors)
    floors = [
        floor for index, floor in enumerate(floors) if index == 0 or floor > floors[index - 1]
    ]
    first = draw(st.floats(0.001, 0.05))
    steps = draw(st.lists(st.floats(0.0, 0.08), min_size=len(floors) - 1, max_size=len(floors) - 1))
    mmr = [min(first + sum(steps[:index]), 0.9) for index in range(len(floors))]
    amounts = reference.maintenance_amounts(floors, mmr)
    entry_maintenance = reference.maintenance_margin(floors, mmr, amounts, notional)
    cushion = draw(st.floats(1e-6, 2.0))
    extra = draw(st.floats(0.0, 1.2))
    margin = entry_maintenance * (1.0 + cushion) + notional * extra + 1e-9 * notional
    return side, quantity, entry, margin, floors, mmr, amounts


def _arrays(floors, mmr, amounts):
    return (
        np.array(floors, dtype=np.float64),
        np.array(mmr, dtype=np.float64),
        np.array(amounts, dtype=np.float64),
    )


def _kernel_liquidation(side, quantity, entry, margin, floors, mmr, amounts):
    market = market_record(*_arrays(floors, mmr, amounts))[0]
    return kernels.liquidation_price(market, side, quantity, entry, margin)


def _near_floor(floors, notional):
    """Whether ``notional`` (USD) is within rounding of a tier floor, where tiers are ambiguous."""
    return any(abs(notional - floor) <= 1e-9 * max(floor, 1.0) for floor in floors[1:])


@SETTINGS
@given(positions())
def test_liquidation_price_matches_bisection_reference(position):
    side, quantity, entry, margin, floors, mmr, amounts = position
    price, tier = _kernel_liquidation(*position)
    expected = reference.liquidation_price(side, quantity, entry, margin, floors, mmr, amounts)
    assert math.isclose(price, expected, rel_tol=1e-9, abs_tol=1e-9 * entry)
    if price > 0.0 and not _near_floor(floors, quantity * price):
        assert tier == reference.tier_for_notional(floors, quantity * price)


@SETTINGS
@given(positions())
def test_equity_equals_maintenance_margin_at_liquidation_price(position):
    side, quantity, entry, margin, floors, mmr, amounts = position
    price, _ = _kernel_liquidation(*position)
    if price == 0.0:
        # A long that no positive price liquidates: still solvent at zero.
        assert side > 0
        assert reference.shortfall(side, quantity, entry, margin, 0.0, floors, mmr, amounts) >= 0
        return
    scale = quantity * entry + margin
    gap = reference.shortfall(side, quantity, entry, margin, price, floors, mmr, amounts)
    assert abs(gap) <= 1e-9 * scale
    # A step away from the liquidation price towards safety leaves a positive cushion.
    safer = price * (1.0 + side * 1e-6)
    assert reference.shortfall(side, quantity, entry, margin, safer, floors, mmr, amounts) > 0.0


@SETTINGS
@given(positions())
def test_bankruptcy_price_and_maintenance_margin_match_reference(position):
    side, quantity, entry, margin, floors, mmr, amounts = position
    expected = reference.bankruptcy_price(side, quantity, entry, margin)
    market = market_record(*_arrays(floors, mmr, amounts))[0]
    assert math.isclose(
        kernels.bankruptcy_price(market, side, quantity, entry, margin),
        expected,
        rel_tol=1e-12,
        abs_tol=1e-12 * entry,
    )
    for notional in [0.0, *floors, quantity * entry, 10.0 * quantity * entry]:
        got = kernels.maintenance_requirement(market, quantity, entry, notional / quantity)
        want = reference.maintenance_margin(floors, mmr, amounts, notional)
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9)


@SETTINGS
@given(positions())
def test_batch_kernel_matches_single_kernel(position):
    side, quantity, entry, margin, floors, mmr, amounts = position
    out_price, out_tier = np.zeros(1), np.zeros(1, dtype=np.int8)
    kernels.liquidation_prices(
        np.zeros(1, dtype=np.int32),
        np.array([side], dtype=np.int8),
        np.array([quantity]),
        np.array([entry]),
        np.array([margin]),
        market_record(*_arrays(floors, mmr, amounts)),
        out_price,
        out_tier,
    )
    assert (out_price[0], out_tier[0]) == _kernel_liquidation(*position)


@SETTINGS
@given(
    st.lists(st.floats(1.0, 1e9), min_size=1, max_size=12, unique=True),
    st.lists(st.floats(0.0001, 0.99), min_size=13, max_size=13),
)
def test_maintenance_amounts_make_maintenance_margin_continuous(raw_floors, raw_mmr):
    floors = [0.0, *sorted(raw_floors)]
    mmr = raw_mmr[: len(floors)]  # any order: continuity does not need monotone rates
    amounts = maintenance_amounts(floors, mmr)
    assert amounts == pytest.approx(reference.maintenance_amounts(floors, mmr), rel=1e-12)
    for tier in range(1, len(floors)):
        below = floors[tier] * mmr[tier - 1] - amounts[tier - 1]
        above = floors[tier] * mmr[tier] - amounts[tier]
        assert math.isclose(below, above, rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("venue", sorted(VENUES))
@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA"])
def test_venue_tables_are_continuous_at_every_floor(venue, asset):
    table = VENUES[venue].tiers(asset)
    count = len(table)
    for floor in table.floors[1:]:
        just_below = np.nextafter(floor, 0.0)
        below = kernels.tier_for_notional(table.floors, count, just_below)
        at = kernels.tier_for_notional(table.floors, count, floor)
        # Continuity of N x mmr - amount across the floor, on the venue's own amounts.
        left = just_below * table.mmr[below] - table.maintenance_amount[below]
        right = floor * table.mmr[at] - table.maintenance_amount[at]
        assert math.isclose(left, right, rel_tol=1e-9)


def test_tier_table_rejects_bad_floors_and_rates():
    from cascadesim._util.errors import CascadesimInputError

    with pytest.raises(CascadesimInputError, match="floors"):
        TierTable.from_tiers([10.0, 20.0], [0.01, 0.02], [50, 25], "floors must start at 0")
    with pytest.raises(CascadesimInputError, match="mmr"):
        TierTable.from_tiers([0.0, 20.0], [0.01, 1.5], [50, 25], "rate above 1")


def test_long_crossing_binance_btc_tiers_hand_made():
    """A 3x 250 BTC long at 60,000 (15M USD, tier 5) liquidated in tier 4 (3M-12M USD)."""
    table = VENUES["binance"].tiers("BTC")
    market = market_record(table.floors, table.mmr, table.maintenance_amount)[0]
    price, tier = kernels.liquidation_price(market, 1, 250.0, 60_000.0, 15e6 / 3.0)
    floors = table.floors.tolist()
    expected = reference.liquidation_price(
        1, 250.0, 60_000.0, 5e6, floors, table.mmr.tolist(), table.maintenance_amount.tolist()
    )
    assert price == pytest.approx(expected, rel=1e-12)
    assert floors[tier] <= 250.0 * price < floors[tier + 1]
    assert tier == 3  # 0-based: the 1% tier from 3M to 12M USD
