"""Kernels that prepare a sorted population for the step loop."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def make_thresholds_monotone(threshold, start, end, long_slot):
    """Make each group's thresholds monotone in row order, only ever toward earlier triggers.

    Positions are sorted by a quantised key, so neighbours may be out of order by less than
    the quantum. Longs (descending) take the running maximum from the end, shorts (ascending)
    the running minimum: a stored threshold is then never later than the position's own
    liquidation price, and the exact margin check decides.

    Parameters
    ----------
    threshold : float64 array (n,), USD, modified in place
    start, end : int64 arrays (n_groups,), row ranges of the groups
    long_slot : bool array (n_groups,), True for long groups
    """
    for g in range(start.shape[0]):
        for k in range(end[g] - 2, start[g] - 1, -1):
            following = threshold[k + 1]
            if long_slot[g]:
                if threshold[k] < following:
                    threshold[k] = following
            elif threshold[k] > following:
                threshold[k] = following
