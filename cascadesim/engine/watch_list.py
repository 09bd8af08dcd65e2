"""The watch list and the liquidation thresholds that keep the sorted groups conservative.

A position leaves its (market, side, tier) group's sorted order for the watch list when it
was passed over breached-by-threshold but safe, waits out a cooldown, or had its margin or
size changed so that its sorted threshold would no longer be a bound. A listed position's
threshold (liquidation price at zero accumulated funding) and tier are kept in its row and
in its list entry.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.layout import STATUS_OPEN, STATUS_WATCHED, WATCH_BLOCK_BITS
from cascadesim.engine.margin import liquidation_price


@njit(cache=True, inline="always")
def watch(params, watchlist, positions, i, ready_time):
    """Put position i (not already listed) on the watch list until ``ready_time`` (s).

    Its threshold is recomputed from its current quantity and margin: a listed row is no
    longer read by its group's pointer, and the watch list uses the threshold as a cheap
    conservative filter before the exact check.
    """
    m = np.int64(positions.market[i])
    n = watchlist.offset[m] + watchlist.count[m]
    watchlist.position[n] = i
    watchlist.ready_time[n] = ready_time
    watchlist.side[n] = positions.side[i]
    watchlist.entry[i] = n
    watchlist.count[m] += 1
    positions.status[i] = STATUS_WATCHED
    refresh_listed_threshold(params, positions, watchlist, i)


@njit(cache=True, inline="always")
def refresh_listed_threshold(params, positions, watchlist, i):
    """Recompute listed row i's threshold and tier, in the row and in its entry."""
    refresh_threshold(params, positions, i)
    k = np.int64(watchlist.entry[i])
    watchlist.threshold[k] = positions.liquidation_price[i]
    watchlist.tier[k] = positions.tier[i]
    cover_entry(watchlist, np.int64(positions.market[i]), k)


@njit(cache=True, inline="always")
def entry_block(watchlist, m, k):
    """Block of market m's watch-list entry k (an index into the whole list)."""
    return watchlist.block_offset[m] + ((k - watchlist.offset[m]) >> WATCH_BLOCK_BITS)


@njit(cache=True, inline="always")
def cover_entry(watchlist, m, k):
    """Widen the bounds of entry k's block (market m) to the entry's threshold.

    Called whenever an entry's threshold is set or an entry moves into a slot, so that a
    block's bounds always hold every entry in it (a NaN threshold is never crossed and is
    left out).
    """
    b = entry_block(watchlist, m, k)
    threshold = watchlist.threshold[k]
    if watchlist.side[k] > 0:
        if threshold > watchlist.block_high[b]:
            watchlist.block_high[b] = threshold
    elif threshold < watchlist.block_low[b]:
        watchlist.block_low[b] = threshold


@njit(cache=True)
def keep_threshold_a_bound(time, params, positions, watchlist, j):
    """After row j's margin or size moved outside the sorted order, keep its threshold a bound.

    A listed row gets its threshold recomputed. An unlisted row (still behind its group's
    pointer) whose liquidation price came closer than its sorted threshold goes on the watch
    list; one whose price moved away keeps its threshold, which stays conservative.
    """
    if positions.status[j] == STATUS_WATCHED:
        refresh_listed_threshold(params, positions, watchlist, j)
        return
    if positions.status[j] != STATUS_OPEN or positions.quantity[j] <= 0.0:
        return
    m = np.int64(positions.market[j])
    price, _ = liquidation_price(
        params[m],
        positions.side[j],
        positions.quantity[j],
        positions.entry_price[j],
        positions.margin[j],
    )
    stored = positions.liquidation_price[j]
    if (price > stored) if positions.side[j] > 0 else (price < stored):
        watch(params, watchlist, positions, j, time)


@njit(cache=True, inline="always")
def refresh_threshold(params, positions, i):
    """Liquidation price (at zero accumulated funding) and tier of row i as it stands now."""
    m = np.int64(positions.market[i])
    price, tier = liquidation_price(
        params[m],
        positions.side[i],
        positions.quantity[i],
        positions.entry_price[i],
        positions.margin[i],
    )
    positions.liquidation_price[i] = price
    positions.tier[i] = tier
