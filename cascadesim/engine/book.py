"""Order-book kernels: dense depth over integer ticks, market-order walks, resilience.

Each market's book is two rows, ``bids[m, :]`` and ``asks[m, :]``, of base-unit quantity per
price level over a window of ``n_levels`` ticks; level ``k`` sits at price
``(origin_tick[m] + k) * tick_size[m]``. Market makers quote a target profile around a centre
price (the last trade): the USD depth within a fraction x of the centre is
``liquidity_factor * depth_1pct_usd * (x / 0.01) ** depth_shape`` on each side. Two mechanisms
make the liquidity vacuum: depleted levels refill toward the target with the resilience
half-life, and when volatility or one-sided flow rise the liquidity factor falls, so quotes
above the (smaller) target are cancelled with the faster withdrawal half-life.
"""

from __future__ import annotations

import math

from numba import njit

PROFILE_REFERENCE_MOVE = 0.01  # re-tabulate the USD profile when the centre moves this much
QUIET_HALF_LIVES = 30.0  # after this many half-lives undisturbed the book equals its target
# One market order moves the window at most this many times (half a window each, so at least
# 32 windows, over 320 % of the start price): a walk through empty price space beyond that is a
# degenerate market (a path far from the start, a near-zero spot depth), and its cost would
# grow with the distance. The walk stops there with quantity left and says so (out[3] = 2).
MAX_WALK_WINDOW_SHIFTS = 64


@njit(cache=True)
def tabulate_profile(depth_1pct_usd, depth_shape, tick_size, centre_price, out_usd):
    """USD target depth at each tick distance 1..n from the centre (liquidity factor 1).

    Parameters
    ----------
    out_usd : float64 array (n_levels,), USD at distance ``j + 1`` ticks, written
    """
    previous = 0.0
    for j in range(out_usd.shape[0]):
        fraction = (j + 1) * tick_size / centre_price
        cumulative = depth_1pct_usd * (fraction / 0.01) ** depth_shape
        out_usd[j] = cumulative - previous
        previous = cumulative


@njit(cache=True)
def level_price(origin_tick, level, tick_size):
    """Price (USD) of window level ``level``."""
    return (origin_tick + level) * tick_size


@njit(cache=True)
def target_quantity(profile_usd, liquidity_factor, distance, price):
    """Target base quantity at ``distance`` ticks (>= 1) from the centre, at ``price`` USD."""
    if distance < 1 or price <= 0.0:
        return 0.0
    j = distance - 1
    if j >= profile_usd.shape[0]:
        j = profile_usd.shape[0] - 1
    return liquidity_factor * profile_usd[j] / price


@njit(cache=True)
def fill_levels(
    bids,
    asks,
    origin_tick,
    tick_size,
    centre_tick,
    profile_usd,
    liquidity_factor,
    first_level,
    last_level,
):
    """Set levels ``first_level..last_level-1`` of one market to the target profile."""
    for k in range(first_level, last_level):
        tick = origin_tick + k
        price = tick * tick_size
        if tick < centre_tick:
            bids[k] = target_quantity(profile_usd, liquidity_factor, centre_tick - tick, price)
            asks[k] = 0.0
        elif tick > centre_tick:
            asks[k] = target_quantity(profile_usd, liquidity_factor, tick - centre_tick, price)
            bids[k] = 0.0
        else:
            bids[k] = 0.0
            asks[k] = 0.0


@njit(cache=True)
def shift_levels(
    bids, asks, shift, origin_tick, tick_size, centre_tick, profile_usd, liquidity_factor
):
    """Move resting quantity ``shift`` levels toward level 0 (a negative shift moves it up).

    Levels pushed out of the window are dropped; vacated levels get the target profile for a
    window whose level 0 is at ``origin_tick``.
    """
    n_levels = bids.shape[0]
    if shift > 0:
        for k in range(n_levels - shift if shift < n_levels else 0):
            bids[k] = bids[k + shift]
            asks[k] = asks[k + shift]
        start = n_levels - shift if shift < n_levels else 0
        fill_levels(
            bids,
            asks,
            origin_tick,
            tick_size,
            centre_tick,
            profile_usd,
            liquidity_factor,
            start,
            n_levels,
        )
    elif shift < 0:
        back = -shift
        for k in range(n_levels - 1, back - 1, -1):
            bids[k] = bids[k - back]
            asks[k] = asks[k - back]
        stop = back if back < n_levels else n_levels
        fill_levels(
            bids, asks, origin_tick, tick_size, centre_tick, profile_usd, liquidity_factor, 0, stop
        )


@njit(cache=True)
def shift_window(
    bids, asks, origin_tick, shift, tick_size, centre_tick, profile_usd, liquidity_factor
):
    """Move one market's window by ``shift`` levels (negative: toward lower prices).

    Resting orders keep their prices. The shift is limited so that level 0 stays at tick >= 1.
    Returns the new origin tick.
    """
    if origin_tick + shift < 1:
        shift = 1 - origin_tick
    if shift != 0:
        shift_levels(
            bids,
            asks,
            shift,
            origin_tick + shift,
            tick_size,
            centre_tick,
            profile_usd,
            liquidity_factor,
        )
    return origin_tick + shift


@njit(cache=True)
def move_quotes(
    bids, asks, ticks, origin_tick, tick_size, centre_tick, profile_usd, liquidity_factor
):
    """Market makers move every resting quote by ``ticks`` (their fair value moved)."""
    if ticks != 0:
        shift_levels(
            bids, asks, -ticks, origin_tick, tick_size, centre_tick, profile_usd, liquidity_factor
        )


@njit(cache=True, inline="always")
def cover_refilled_levels(bid_top, ask_bottom, first, last, centre_level, n_levels):
    """Best-quote hints that also cover levels ``first..last-1`` just refilled to target.

    A refill (window shift, quote move) puts bids below the centre level and asks above it,
    possibly beyond a hint that said the side was empty. Returns (bid_top, ask_bottom),
    kept within -1..n_levels-1 and 0..n_levels so that later moves shift them correctly.
    """
    top = min(last - 1, centre_level - 1)
    if top >= first and top > bid_top:
        bid_top = top
    bottom = max(first, centre_level + 1)
    if bottom < last and bottom < ask_bottom:
        ask_bottom = bottom
    bid_top = min(max(bid_top, -1), n_levels - 1)
    ask_bottom = min(max(ask_bottom, 0), n_levels)
    return bid_top, ask_bottom


@njit(cache=True)
def walk_book(
    bids,
    asks,
    origin_tick,
    tick_size,
    direction,
    quantity,
    limit_price,
    centre_tick,
    profile_usd,
    liquidity_factor,
    start_level,
    out,
):
    """Execute a market order of ``quantity`` base units against one market's book.

    ``direction`` is -1 for a sell (walks bids downward) and +1 for a buy (walks asks upward).
    Levels priced worse than ``limit_price`` (USD) are not touched; pass 0.0 (sell) or
    ``inf`` (buy) for no limit. When the walk runs off the window, and the next tick is
    within the limit, the window moves and the new levels carry the target profile; it stops
    at the tick-1 price floor.

    Parameters
    ----------
    start_level : int, a level at or beyond the best quote on the walked side (a hint)
    out : float64 array (5,), written: filled base units, notional USD, last fill price USD,
        1.0 if the walk hit the price floor with quantity left, 2.0 if it stopped after
        ``MAX_WALK_WINDOW_SHIFTS`` window moves with quantity left, else 0.0, and the level
        where the walk stopped (a bound on the best quote left on that side)

    Returns
    -------
    origin_tick : int, the (possibly moved) window origin
    """
    n_levels = bids.shape[0]
    remaining = quantity
    notional = 0.0
    last_price = 0.0
    floor_hit = 0.0
    shifts = 0
    level = start_level
    if direction < 0:
        if level > n_levels - 1:
            level = n_levels - 1
        while remaining > 0.0:
            if level < 0:
                if (origin_tick - 1) * tick_size < limit_price:
                    # Nothing beyond the window is within the limit: do not move it.
                    break
                if origin_tick <= 1:
                    floor_hit = 1.0
                    break
                if shifts == MAX_WALK_WINDOW_SHIFTS:
                    floor_hit = 2.0
                    break
                shifts += 1
                shift = -(n_levels // 2)
                new_origin = shift_window(
                    bids,
                    asks,
                    origin_tick,
                    shift,
                    tick_size,
                    centre_tick,
                    profile_usd,
                    liquidity_factor,
                )
                # Resume at the top of the refilled levels: the walk may have started from
                # a hint below the old window, and the refill can put bids above that hint.
                level = origin_tick - new_origin - 1
                origin_tick = new_origin
                continue
            price = (origin_tick + level) * tick_size
            if price < limit_price:
                break
            available = bids[level]
            if available > remaining:
                bids[level] = available - remaining
                notional += remaining * price
                remaining = 0.0
                last_price = price
                break
            if available > 0.0:
                bids[level] = 0.0
                remaining -= available
                notional += available * price
                last_price = price
            level -= 1
    else:
        if level < 0:
            level = 0
        while remaining > 0.0:
            if level >= n_levels:
                if (origin_tick + n_levels) * tick_size > limit_price:
                    break
                if shifts == MAX_WALK_WINDOW_SHIFTS:
                    floor_hit = 2.0
                    break
                shifts += 1
                shift = n_levels // 2
                new_origin = shift_window(
                    bids,
                    asks,
                    origin_tick,
                    shift,
                    tick_size,
                    centre_tick,
                    profile_usd,
                    liquidity_factor,
                )
                # Resume at the bottom of the refilled levels (see the sell side).
                level = n_levels - (new_origin - origin_tick)
                origin_tick = new_origin
                continue
            price = (origin_tick + level) * tick_size
            if price > limit_price:
                break
            available = asks[level]
            if available > remaining:
                asks[level] = available - remaining
                notional += remaining * price
                remaining = 0.0
                last_price = price
                break
            if available > 0.0:
                asks[level] = 0.0
                remaining -= available
                notional += available * price
                last_price = price
            level += 1
    out[0] = quantity - remaining
    out[1] = notional
    out[2] = last_price
    out[3] = floor_hit
    out[4] = level
    return origin_tick


@njit(cache=True)
def best_bid_level(bids, upper_bound):
    """Highest level with resting bids at or below ``upper_bound``, or -1."""
    start = upper_bound if upper_bound < bids.shape[0] else bids.shape[0] - 1
    for k in range(start, -1, -1):
        if bids[k] > 0.0:
            return k
    return -1


@njit(cache=True)
def best_ask_level(asks, lower_bound):
    """Lowest level with resting asks at or above ``lower_bound``, or ``n_levels``."""
    start = lower_bound if lower_bound > 0 else 0
    for k in range(start, asks.shape[0]):
        if asks[k] > 0.0:
            return k
    return asks.shape[0]


@njit(cache=True, inline="always")
def relax_level(quantity, target, refill_fraction, cancel_fraction):
    """One level's quantity after a step toward ``target``: below it by ``refill_fraction``
    of the gap, above it by ``cancel_fraction``; never negative."""
    gap = target - quantity
    quantity += gap * (refill_fraction if gap > 0.0 else cancel_fraction)
    return 0.0 if quantity < 0.0 else quantity


# The passes below are written so that LLVM vectorises them (AVX2/AVX-512): contiguous
# slices indexed from 0, the level's price from a float counter (an int64 -> float conversion
# in the loop kept it scalar), selects instead of branches, and numpy's error model so that a
# division is not a branch to a ZeroDivisionError. Prices are exact integers times the tick,
# so ``(first_tick + i) * tick_size`` is bit for bit the scalar ``(origin_tick + k) * tick``.
@njit(cache=True, error_model="numpy")
def _relax_to_profile(
    side, profile_usd, toward_centre, first_tick, tick_size, liquidity_factor, refill, cancel
):
    """One side's levels relaxed toward the profile, ``side[i]`` at tick ``first_tick + i``.

    Asks above the centre (``toward_centre`` False) sit ``i + 1`` ticks from it; bids below
    it (``toward_centre`` True) sit ``n - i`` ticks from it, so their profile runs backwards.

    Parameters
    ----------
    side : float64 array (n,), base quantity per level, relaxed in place
    profile_usd : float64 array (>= n,), USD target at distance ``j + 1`` ticks
    toward_centre : bool, True when the levels rise toward the centre (bids)
    first_tick : float64, the tick of ``side[0]`` (an integer value)
    """
    n = side.shape[0]
    first = n - 1 if toward_centre else 0
    step = -1 if toward_centre else 1
    for i in range(n):
        distance_index = first + step * i
        target = liquidity_factor * profile_usd[distance_index] / ((first_tick + i) * tick_size)
        side[i] = relax_level(side[i], target, refill, cancel)


@njit(cache=True, error_model="numpy")
def _relax_to_zero(side, refill, cancel):
    """Quotes on the wrong side of the centre are withdrawn (target zero); zeros stay zero."""
    for i in range(side.shape[0]):
        side[i] = relax_level(side[i], 0.0, refill, cancel)


@njit(cache=True)
def relax_toward_target(
    bids,
    asks,
    origin_tick,
    tick_size,
    centre_tick,
    profile_usd,
    liquidity_factor,
    refill_fraction,
    cancel_fraction,
):
    """One step of resilience and withdrawal for one market.

    Levels below target move ``refill_fraction`` of the gap toward it; levels above target
    (stale quotes, or quotes the market makers withdraw) move ``cancel_fraction``. Below the
    centre the bid target is the profile and the ask target zero, above it the reverse. This
    runs for every disturbed market every step, so the usual case (centre inside the window)
    takes vectorised passes; a centre outside it, where the profile index is clamped, takes
    the scalar loop. Both give the same bits.
    """
    n_levels = bids.shape[0]
    centre_level = centre_tick - origin_tick
    below = min(max(centre_level, 0), n_levels)
    above = min(max(centre_level + 1, 0), n_levels)
    if 0 <= centre_level < n_levels and profile_usd.shape[0] >= n_levels and origin_tick >= 1:
        _relax_to_profile(
            bids[:below],
            profile_usd[:below],
            True,
            float(origin_tick),
            tick_size,
            liquidity_factor,
            refill_fraction,
            cancel_fraction,
        )
        _relax_to_profile(
            asks[above:],
            profile_usd[: n_levels - above],
            False,
            float(origin_tick + above),
            tick_size,
            liquidity_factor,
            refill_fraction,
            cancel_fraction,
        )
        _relax_to_zero(asks[:above], refill_fraction, cancel_fraction)
        _relax_to_zero(bids[below:], refill_fraction, cancel_fraction)
        return
    for k in range(below):
        target = target_quantity(
            profile_usd, liquidity_factor, centre_level - k, (origin_tick + k) * tick_size
        )
        bids[k] = relax_level(bids[k], target, refill_fraction, cancel_fraction)
    for k in range(below):
        if asks[k] != 0.0:
            asks[k] = relax_level(asks[k], 0.0, refill_fraction, cancel_fraction)
    for k in range(below, above):
        bids[k] = relax_level(bids[k], 0.0, refill_fraction, cancel_fraction)
        asks[k] = relax_level(asks[k], 0.0, refill_fraction, cancel_fraction)
    for k in range(above, n_levels):
        target = target_quantity(
            profile_usd, liquidity_factor, k - centre_level, (origin_tick + k) * tick_size
        )
        asks[k] = relax_level(asks[k], target, refill_fraction, cancel_fraction)
    for k in range(above, n_levels):
        if bids[k] != 0.0:
            bids[k] = relax_level(bids[k], 0.0, refill_fraction, cancel_fraction)


@njit(cache=True)
def depth_within(bids, asks, origin_tick, tick_size, reference_price, fraction):
    """USD resting within ``fraction`` of ``reference_price`` on each side: (bid, ask)."""
    low = reference_price * (1.0 - fraction)
    high = reference_price * (1.0 + fraction)
    bid_usd = 0.0
    ask_usd = 0.0
    first = int(math.floor(low / tick_size)) - origin_tick
    last = int(math.ceil(high / tick_size)) - origin_tick
    if first < 0:
        first = 0
    if last > bids.shape[0] - 1:
        last = bids.shape[0] - 1
    for k in range(first, last + 1):
        price = (origin_tick + k) * tick_size
        if low <= price <= reference_price:
            bid_usd += bids[k] * price
        if reference_price <= price <= high:
            ask_usd += asks[k] * price
    return bid_usd, ask_usd
