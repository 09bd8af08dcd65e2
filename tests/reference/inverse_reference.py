"""Slow pure-Python reference for coin-margined (inverse) positions (no numba, no numpy).

It works in USD prices and coin money directly, as the venues' pages write it: equity
``M + side x Q x (1/E - 1/P)`` coin on ``Q`` USD face, maintenance margin on the coin value at
the mark (``Q / P``, tier by that value, minus the tier's deduction in coin; Binance COIN-M)
or at entry (``Q / E``, tier fixed at entry; Bybit inverse). The liquidation price is found
by bisection on "equity equals maintenance margin", not through the reciprocal transform the
engine uses, so agreement is an independent check of that transform.
"""

from __future__ import annotations

import math


def tier_of(floors, value):
    """Index of the tier whose floor is the largest at or below ``value``."""
    tier = 0
    for k, floor in enumerate(floors):
        if value >= floor:
            tier = k
    return tier


def maintenance_coin(basis, floors, mmr, amounts, face, entry, price):
    """Maintenance margin (coin) of ``face`` USD at mark ``price``."""
    value = face / (entry if basis == "entry" else price)
    tier = tier_of(floors, value)
    return value * mmr[tier] - amounts[tier]


def equity_coin(side, face, entry, margin, price):
    """Coin equity of the position at ``price``."""
    return margin + side * face * (1.0 / entry - 1.0 / price)


def liquidation_price(basis, floors, mmr, amounts, side, face, entry, margin):
    """USD mark at which equity first reaches maintenance margin (inf: never, for a short)."""

    def gap(price):
        return equity_coin(side, face, entry, margin, price) - maintenance_coin(
            basis, floors, mmr, amounts, face, entry, price
        )

    if side > 0:
        low, high = entry * 1e-9, entry
        if gap(low) > 0:
            return 0.0
    else:
        low, high = entry, entry * 1e9
        if gap(high) > 0:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (low + high)
        breached = gap(mid) <= 0
        if side > 0:
            low, high = (low, mid) if not breached else (mid, high)
        else:
            low, high = (mid, high) if not breached else (low, mid)
    return high if side > 0 else low
