"""Slow pure-Python reference for the order-book resilience kernel (no numba).

One level at a time, in the form the engine reference uses: the target at a tick is the
profile's USD at its distance from the centre over the tick's price, on the bid side below
the centre and the ask side above it.
"""

from __future__ import annotations


def relax_toward_target(
    bids: list[float],
    asks: list[float],
    origin_tick: int,
    tick_size: float,
    centre_tick: int,
    profile_usd: list[float],
    liquidity_factor: float,
    refill_fraction: float,
    cancel_fraction: float,
) -> None:
    """Move every level of the window one step toward its target, in place."""
    for level in range(len(bids)):
        tick = origin_tick + level
        price = tick * tick_size
        distance = abs(tick - centre_tick)
        target = 0.0
        if distance > 0 and price > 0.0:
            target = liquidity_factor * profile_usd[min(distance - 1, len(profile_usd) - 1)] / price
        target_bid = target if tick < centre_tick else 0.0
        target_ask = target if tick > centre_tick else 0.0
        for side, side_target in ((bids, target_bid), (asks, target_ask)):
            gap = side_target - side[level]
            moved = side[level] + gap * (refill_fraction if gap > 0.0 else cancel_fraction)
            side[level] = max(moved, 0.0)
