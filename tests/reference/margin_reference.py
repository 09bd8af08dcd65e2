"""Slow pure-Python reference for the margin kernels (no numba, no numpy).

The liquidation price is found by bisection on the defining condition "equity equals
maintenance margin", not by the closed form the kernel uses, so that agreement between the two
is an independent check. Units: prices USD per base unit, quantities base units, money USD.
"""

from __future__ import annotations

import math


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
) -> float:
    """USD equity minus maintenance margin at ``price``; <= 0 means liquidatable."""
    required = maintenance_margin(floors, mmr, amounts, quantity * price)
    return equity(side, quantity, entry_price, margin, price) - required


def bankruptcy_price(side: int, quantity: float, entry_price: float, margin: float) -> float:
    """USD price at which equity is zero, floored at zero."""
    return max(entry_price - side * margin / quantity, 0.0)


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
) -> float:
    """USD mark price at which equity equals maintenance margin, by bisection.

    Longs: the largest price with shortfall <= 0 (0.0 when none is positive). Shorts: the
    smallest price with shortfall <= 0. Requires shortfall > 0 at the entry price.
    """

    def gap(price: float) -> float:
        return shortfall(side, quantity, entry_price, margin, price, floors, mmr, amounts)

    if side > 0:
        if gap(0.0) > 0.0:
            return 0.0
        # Bisect on "shortfall > 0" and step back to the last price still liquidatable.
        return math.nextafter(_bisect(lambda price: gap(price) > 0.0, 0.0, entry_price), 0.0)
    high = entry_price
    while gap(high) > 0.0:
        high *= 2.0
    return _bisect(lambda price: gap(price) <= 0.0, entry_price, high)
