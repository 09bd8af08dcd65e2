"""Auto-deleveraging: the ranked queue of profitable opposite positions and the closes.

What a liquidation leaves that neither the book nor the insurance fund takes is closed at the
bankruptcy price against the opposite side's profitable positions (and the hedged
counterparty aggregate), highest ADL score first. The queue is a binary heap in the scratch
arrays, ranked once per (market, side, fixed-point iteration).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.account_rows import release_to_account
from cascadesim.engine.layout import (
    ADL_RANK_PNL_LEVERAGE,
    KIND_ADL,
    KIND_ADL_COUNTERPARTY,
    STATUS_DELEVERAGED,
    STATUS_OPEN,
    STATUS_WATCHED,
)
from cascadesim.engine.orders import (
    NO_FIGURES,
    effective_margin,
    event_figures,
    hedged_pool_trade,
    record_event,
    reduce_position,
)
from cascadesim.engine.watch_list import keep_threshold_a_bound


@njit(cache=True)
def adl_score(rule, side, quantity, entry_price, margin, mark):
    """Auto-deleveraging priority of a profitable position; higher is closed first."""
    pnl = side * quantity * (mark - entry_price)
    equity = margin + pnl
    if pnl <= 0.0 or margin <= 0.0 or equity <= 0.0:
        return -1.0
    notional = quantity * mark
    if rule == ADL_RANK_PNL_LEVERAGE:
        return (pnl / margin) * (notional / equity)
    if side > 0:
        return (mark / entry_price) * (notional / equity)
    return (entry_price / mark) * (notional / equity)


@njit(cache=True, inline="always")
def adl_ranks_before(scratch, a, b):
    """True when heap slot a is deleveraged before slot b: higher score first; on a tie the
    lower row, and the hedged aggregate (row -1) after every position."""
    score_a = scratch.adl_scores[a]
    score_b = scratch.adl_scores[b]
    if score_a != score_b:
        return score_a > score_b
    row_a = scratch.adl_candidates[a]
    row_b = scratch.adl_candidates[b]
    if row_a < 0:
        return False
    if row_b < 0:
        return True
    return row_a < row_b


@njit(cache=True)
def adl_sift_down(scratch, slot, size):
    """Restore the heap order below ``slot`` among the first ``size`` slots."""
    while True:
        first = slot
        left = 2 * slot + 1
        right = left + 1
        if left < size and adl_ranks_before(scratch, left, first):
            first = left
        if right < size and adl_ranks_before(scratch, right, first):
            first = right
        if first == slot:
            return
        row = scratch.adl_candidates[slot]
        scratch.adl_candidates[slot] = scratch.adl_candidates[first]
        scratch.adl_candidates[first] = row
        score = scratch.adl_scores[slot]
        scratch.adl_scores[slot] = scratch.adl_scores[first]
        scratch.adl_scores[first] = score
        slot = first


@njit(cache=True)
def adl_pop(scratch, size):
    """Remove the head of the ADL queue of ``size`` candidates; returns the new size."""
    size -= 1
    scratch.adl_candidates[0] = scratch.adl_candidates[size]
    scratch.adl_scores[0] = scratch.adl_scores[size]
    adl_sift_down(scratch, 0, size)
    return size


@njit(cache=True)
def rank_adl_candidates(params, positions, groups, state, scratch, m, counter_side, mark):
    """Queue the profitable positions on ``counter_side`` of market m; returns their count.

    Row -1 stands for the hedged counterparty aggregate. The queue is a binary heap in the
    scratch arrays, its head at slot 0, popped in the order of a stable sort by descending
    score: one liquidation consumes a few candidates of a side that can hold millions, so
    heapifying (linear) and popping what is used beats sorting them all.
    """
    n_tiers = groups.start.shape[0] // (2 * params.shape[0])  # tier subarrays are padded
    slot = 0 if counter_side > 0 else 1
    first = groups.start[(m * 2 + slot) * n_tiers]
    last = groups.end[(m * 2 + slot) * n_tiers + n_tiers - 1]
    # Rows of the opening flow follow the market's last group, up to the next market's rows.
    flow_first = groups.end[(m * 2 + 2) * n_tiers - 1]
    flow_last = (
        groups.start[(m + 1) * 2 * n_tiers]
        if m + 1 < params.shape[0]
        else positions.quantity.shape[0]
    )
    rule = params[m].adl_rank_rule
    count = 0
    n_side_rows = last - first
    for n in range(n_side_rows + flow_last - flow_first):
        j = first + n if n < n_side_rows else flow_first + (n - n_side_rows)
        if positions.status[j] != STATUS_OPEN and positions.status[j] != STATUS_WATCHED:
            continue
        if n >= n_side_rows and positions.side[j] != counter_side:
            continue
        if positions.quantity[j] <= 0.0:
            continue
        score = adl_score(
            rule,
            counter_side,
            positions.quantity[j],
            positions.entry_price[j],
            effective_margin(positions, state, j),
            mark,
        )
        if score > 0.0:
            scratch.adl_candidates[count] = j
            scratch.adl_scores[count] = score
            count += 1
    passive = state[m].passive_quantity
    if passive * counter_side > 0.0:
        size = abs(passive)
        passive_margin = size * state[m].passive_entry_price / params[m].passive_leverage
        score = adl_score(
            rule, counter_side, size, state[m].passive_entry_price, passive_margin, mark
        )
        if score > 0.0:
            scratch.adl_candidates[count] = -1
            scratch.adl_scores[count] = score
            count += 1
    for heap_slot in range(count // 2 - 1, -1, -1):
        adl_sift_down(scratch, heap_slot, count)
    return count


@njit(cache=True)
def auto_deleverage(
    time,
    i,
    quantity,
    price,
    mark,
    params,
    positions,
    groups,
    state,
    scratch,
    crosses,
    watchlist,
    events,
    event_count,
):
    """Close ``quantity`` of liquidated position i at ``price`` against ranked opposite positions.

    The ranking is computed once per (market, side, fixed-point iteration) and consumed in
    order from the head of its queue. Returns (events, quantity left unmatched).
    """
    m = np.int64(positions.market[i])
    side = positions.side[i]
    counter = -side
    cache = scratch.adl_cache  # market, side, stamp, queue size, current stamp
    if cache[0] != m or cache[1] != counter or cache[2] != cache[4]:
        cache[3] = rank_adl_candidates(params, positions, groups, state, scratch, m, counter, mark)
        cache[0] = m
        cache[1] = counter
        cache[2] = cache[4]
    remaining = quantity
    while remaining > 0.0 and cache[3] > 0:
        j = scratch.adl_candidates[0]
        if j < 0:
            passive = state[m].passive_quantity
            available = abs(passive) if passive * counter > 0.0 else 0.0
        elif positions.status[j] == STATUS_OPEN or positions.status[j] == STATUS_WATCHED:
            available = positions.quantity[j]
        else:
            available = 0.0
        if available <= 0.0:
            cache[3] = adl_pop(scratch, cache[3])
            continue
        size = available if available < remaining else remaining
        # The counterparty as it stands before its close (the aggregate has no figures).
        counter_figures = event_figures(params, positions, state, j, mark) if j >= 0 else NO_FIGURES
        if j < 0:
            hedged_pool_trade(state, m, side * size)
            state[m].passive_quantity += side * size
            state[m].passive_cash -= side * size * price
            account = -1
        elif crosses.slot[positions.account[j]] >= 0:
            # A cross account's margin is its wallet: the realised profit stays in it, which
            # only moves the account's positions further from their thresholds.
            # The counterparty closes at the liquidated position's bankruptcy price, which a
            # gap can put beyond the mark: the realised result may be a loss that the account
            # keeps, so the threshold of what is left is checked again.
            account = positions.account[j]
            reduce_position(positions, state, j, size, price)
            if positions.quantity[j] <= 0.0:
                positions.status[j] = STATUS_DELEVERAGED
                keeper = release_to_account(positions, scratch, crosses, j)
                if keeper < 0:
                    scratch.account_wallet[account] += positions.margin[j]
                    positions.margin[j] = 0.0
                else:
                    keep_threshold_a_bound(time, params, positions, watchlist, keeper)
            else:
                keep_threshold_a_bound(time, params, positions, watchlist, j)
        else:
            kept_share = (positions.quantity[j] - size) / positions.quantity[j]
            kept_margin = positions.margin[j] * kept_share
            reduce_position(positions, state, j, size, price)
            wallet_share = positions.margin[j] - kept_margin
            if positions.quantity[j] <= 0.0:
                wallet_share = positions.margin[j]
                kept_margin = 0.0
                positions.status[j] = STATUS_DELEVERAGED
            positions.margin[j] = kept_margin
            account = positions.account[j]
            scratch.account_wallet[account] += wallet_share
        events = record_event(
            events,
            event_count,
            time,
            m,
            account,
            j,
            counter,
            KIND_ADL_COUNTERPARTY,
            size,
            size * price,
            price,
            price,
            mark,
            counter_figures,
        )
        state[m].adl_count += 1
        state[m].adl_notional_usd += size * price
        figures = event_figures(params, positions, state, i, mark)
        reduce_position(positions, state, i, size, price)
        events = record_event(
            events,
            event_count,
            time,
            m,
            positions.account[i],
            i,
            side,
            KIND_ADL,
            size,
            size * price,
            price,
            price,
            mark,
            figures,
        )
        remaining -= size
        if size >= available:
            cache[3] = adl_pop(scratch, cache[3])
    return events, remaining
