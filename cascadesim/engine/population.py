"""Kernels that prepare a sorted population for the step loop."""

from __future__ import annotations

import math

import numpy as np
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


@njit(cache=True, error_model="numpy")
def sort_keys(
    market, side, tier, threshold, n_tiers, price_bits, row_bits, low_log, scale, out_key
):
    """Packed int64 sort keys: group, then quantised log threshold, then row.

    The group is (market*2 + side slot)*n_tiers + tier; longs take the complement of the
    price quantum so that they sort by descending threshold.

    Parameters
    ----------
    market : int32 (n,); side : int8 (n,); tier : int8 (n,); threshold : float64 (n,) USD
    low_log, scale : float, log-price offset and quanta per unit of log price
    out_key : int64 (n,), written
    """
    top = (1 << price_bits) - 1
    for i in range(market.shape[0]):
        quantum = 0
        if threshold[i] > 0.0:
            value = (math.log(threshold[i]) - low_log) * scale
            quantum = int(value) if value > 0.0 else 0
            if quantum > top:
                quantum = top
        slot = 0 if side[i] > 0 else 1
        if slot == 0:
            quantum = top - quantum
        group = (np.int64(market[i]) * 2 + slot) * n_tiers + np.int64(tier[i])
        out_key[i] = (group << (price_bits + row_bits)) | (quantum << row_bits) | i


@njit(cache=True)
def unpack_order(sorted_key, row_bits, price_bits, out_order, out_group):
    """Rows and group ids back from sorted packed keys."""
    row_mask = (1 << row_bits) - 1
    for k in range(sorted_key.shape[0]):
        out_order[k] = sorted_key[k] & row_mask
        out_group[k] = sorted_key[k] >> (price_bits + row_bits)


@njit(cache=True)
def gather_positions(
    order,
    market,
    account,
    side,
    quantity,
    entry_price,
    margin,
    threshold,
    tier,
    out_market,
    out_account,
    out_side,
    out_quantity,
    out_entry_price,
    out_margin,
    out_threshold,
    out_tier,
):
    """All position columns permuted by ``order`` in one pass (one random read per row)."""
    for k in range(order.shape[0]):
        i = order[k]
        out_market[k] = market[i]
        out_account[k] = account[i]
        out_side[k] = side[i]
        out_quantity[k] = quantity[i]
        out_entry_price[k] = entry_price[i]
        out_margin[k] = margin[i]
        out_threshold[k] = threshold[i]
        out_tier[k] = tier[i]
