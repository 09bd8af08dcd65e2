"""Slow pure-Python reference for the margin kernels (no numba, no numpy).

The liquidation price is found by bisection on the defining condition "equity equals
maintenance margin", not by the closed form the kernel uses, so that agreement between the two
is an independent check. Units: prices USD per base unit, quantities base units, money USD.

A :class:`Convention` states the venue's maintenance-margin basis as the venues' pages put it:
"mark" (Binance: MM on the notional at the mark), "entry" (Bybit "Liquidation Price (USDT
Contract)": MM on the position value at entry, tier fixed at entry) and "mark_with_fee" (OKX
"Tiered maintenance margin ratio rules": equity against notional x (tier MMR + fee rate), the
tier read on the position's size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Convention:
    """A venue's margin convention: basis, fee in maintenance, size-tier price, rounding."""

    basis: str = "mark"
    fee_rate: float = 0.0  # fraction of notional, in maintenance margin on "mark_with_fee"
    tier_price: float = 0.0  # USD per unit the floors of a size-tiered table were set at
    tick: float = 0.0  # USD price tick
    rounding: str = "exact"  # or "tick_against_trader": bankruptcy long up, short down


MARK = Convention()


def convention_for(spec) -> Convention:
    """The convention of a ``MarketSpec`` (read field by field: this module imports nothing)."""
    return Convention(
        basis=spec.mm_basis,
        fee_rate=float(spec.liquidation_fee_rate),
        tier_price=float(spec.price),
        tick=float(spec.tick_size),
        rounding=spec.bankruptcy_rounding,
    )


def maintenance_amounts(floors: list[float], mmr: list[float]) -> list[float]:
    """USD amounts ``cum[n] = floors[n] * (mmr[n] - mmr[n-1]) + cum[n-1]``, ``cum[0] = 0``."""
    amounts = [0.0]
    for tier in range(1, len(floors)):
        amounts.append(floors[tier] * (mmr[tier] - mmr[tier - 1]) + amounts[-1])
    return amounts


def tier_for_notional(floors: list[float], notional: float) -> int:
    """Index of the highest tier whose floor (USD) is <= ``notional``."""
    return max(tier for tier, floor in enumerate(floors) if floor <= notional or tier == 0)


def maintenance_margin(
    floors: list[float],
    mmr: list[float],
    amounts: list[float],
    notional: float,
) -> float:
    """USD maintenance margin of a position of ``notional`` USD."""
    tier = tier_for_notional(floors, notional)
    return notional * mmr[tier] - amounts[tier]


def tier_notional(quantity: float, entry_price: float, price: float, convention: Convention):
    """USD notional the convention reads the tier on."""
    if convention.basis == "entry":
        return quantity * entry_price
    if convention.basis == "mark_with_fee":
        return quantity * convention.tier_price
    return quantity * price


def requirement(
    floors: list[float],
    mmr: list[float],
    amounts: list[float],
    quantity: float,
    entry_price: float,
    price: float,
    convention: Convention = MARK,
) -> float:
    """USD maintenance margin at mark ``price`` under ``convention``."""
    tier = tier_for_notional(floors, tier_notional(quantity, entry_price, price, convention))
    if convention.basis == "mark_with_fee":
        return quantity * price * (mmr[tier] + convention.fee_rate)
    if convention.basis == "entry":
        return quantity * entry_price * mmr[tier] - amounts[tier]
    return maintenance_margin(floors, mmr, amounts, quantity * price)


def equity(side: int, quantity: float, entry_price: float, margin: float, price: float) -> float:
    """USD isolated margin plus unrealised PnL at ``price``."""
    return margin + side * quantity * (price - entry_price)


def shortfall(
    side: int,
    quantity: float,
    entry_price: float,
    margin: float,
    price: float,
    floors: list[float],
    mmr: list[float],
    amounts: list[float],
    convention: Convention = MARK,
) -> float:
    """USD equity minus maintenance margin at ``price``; <= 0 means liquidatable."""
    required = requirement(floors, mmr, amounts, quantity, entry_price, price, convention)
    return equity(side, quantity, entry_price, margin, price) - required


def bankruptcy_price(
    side: int, quantity: float, entry_price: float, margin: float, convention: Convention = MARK
) -> float:
    """USD price at which equity is zero, floored at zero; on the tick against the trader
    where the convention rounds (the tick at which the trader's equity is still >= 0)."""
    price = entry_price - side * margin / quantity
    if convention.rounding == "tick_against_trader":
        # Search the grid around the price instead of dividing, so a binary near-tie such as
        # 19,600 / 0.1 decides by equity, not by the quotient's last bit.
        k = math.floor(price / convention.tick) - 2
        candidates = [(k + j) * convention.tick for j in range(6)]
        slack = 1e-12 * (abs(margin) + quantity * entry_price)
        ok = [c for c in candidates if equity(side, quantity, entry_price, margin, c) >= -slack]
        price = min(ok) if side > 0 else max(ok)
    return max(price, 0.0)


def _bisect(condition, low: float, high: float) -> float:
    """Smallest float in [low, high] where the monotone ``condition`` turns true."""
    while True:
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high:
            return high
        if condition(middle):
            high = middle
        else:
            low = middle


def liquidation_price(
    side: int,
    quantity: float,
    entry_price: float,
    margin: float,
    floors: list[float],
    mmr: list[float],
    amounts: list[float],
    convention: Convention = MARK,
) -> float:
    """USD mark price at which equity equals maintenance margin, by bisection.

    Longs: the largest price with shortfall <= 0 (0.0 when none is positive). Shorts: the
    smallest price with shortfall <= 0 (0.0 when shortfall <= 0 at every price >= 0). A
    position already at or below maintenance at its entry price (a breached one: the root
    lies beyond the entry) is bracketed by doubling past the entry.
    """

    def gap(price: float) -> float:
        return shortfall(
            side, quantity, entry_price, margin, price, floors, mmr, amounts, convention
        )

    if side > 0:
        if gap(0.0) > 0.0:
            return 0.0
        high = entry_price
        while gap(high) <= 0.0:
            high *= 2.0
        # Bisect on "shortfall > 0" and step back to the last price still liquidatable.
        return math.nextafter(_bisect(lambda price: gap(price) > 0.0, 0.0, high), 0.0)
    if gap(0.0) <= 0.0:
        return 0.0
    low = entry_price if gap(entry_price) > 0.0 else 0.0
    high = entry_price
    while gap(high) > 0.0:
        high *= 2.0
    return _bisect(lambda price: gap(price) <= 0.0, low, high)
