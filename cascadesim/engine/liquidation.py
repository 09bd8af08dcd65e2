"""Liquidation kernels: orders into the book, insurance takeover, backstop, ADL.

Accounting convention: a trader position's value at price P is
``margin + side * quantity * (P - entry_price) - side * quantity * funding_per_unit[m]``;
every aggregate agent (market makers, the hedged counterparty, the taker, the insurance fund,
the backstop vault) holds ``cash + quantity * P``. Every transfer below moves value from one to
another, so the sum over all of them is constant: money is conserved by construction and
checked by the property tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.book import cover_refilled_levels, walk_book
from cascadesim.engine.layout import (
    ADL_RANK_PNL_LEVERAGE,
    KIND_ADL,
    KIND_ADL_COUNTERPARTY,
    KIND_BACKSTOP,
    KIND_BOOK,
    KIND_INSURANCE,
    LIMIT_BANKRUPTCY,
    PARTIAL_CHUNKS,
    PARTIAL_TIER_STEP_DOWN,
    STATUS_DELEVERAGED,
    STATUS_FLAG_BAD_DEBT,
    STATUS_FLAG_BOOK_EXHAUSTED,
    STATUS_LIQUIDATED,
    STATUS_OPEN,
    STATUS_WATCHED,
    TAKEOVER_BACKSTOP,
    TAKEOVER_INSURANCE,
)
from cascadesim.engine.margin import (
    bankruptcy_price,
    liquidation_price,
    maintenance_margin,
    margin_shortfall,
    tier_for_notional,
)

# A step-down keeps the position a hair inside the lower tier so it is not re-tiered upward.
STEP_DOWN_INSIDE = 1.0 - 1e-9


@njit(cache=True, inline="always")
def record_event(
    events,
    event_count,
    time,
    market,
    account,
    position,
    side,
    kind,
    quantity,
    notional,
    fill_price,
    bankruptcy,
    mark,
):
    """Append one liquidation event, doubling the buffer when full; returns the buffer."""
    n = event_count[0]
    if n >= events.shape[0]:
        grown = np.empty(max(2 * events.shape[0], 1024), dtype=events.dtype)
        grown[:n] = events[:n]
        events = grown
    row = events[n]
    row["time"] = time
    row["market"] = market
    row["account"] = account
    row["position"] = position
    row["side"] = side
    row["kind"] = kind
    row["quantity"] = quantity
    row["notional"] = notional
    row["fill_price"] = fill_price
    row["bankruptcy_price"] = bankruptcy
    row["mark_price"] = mark
    event_count[0] = n + 1
    return events


@njit(cache=True, inline="always")
def effective_margin(positions, state, i):
    """Isolated margin (USD) of position i after the funding it has paid or received."""
    m = positions.market[i]
    funding = state[m].funding_per_unit
    return positions.margin[i] - positions.side[i] * positions.quantity[i] * funding


@njit(cache=True, inline="always")
def is_breached(params, positions, state, i, mark):
    """True when position i's equity at ``mark`` is at or below its maintenance margin."""
    m = positions.market[i]
    return (
        margin_shortfall(
            positions.side[i],
            positions.quantity[i],
            positions.entry_price[i],
            effective_margin(positions, state, i),
            mark,
            params[m].tier_floor_usd,
            params[m].tier_mmr,
            params[m].tier_maintenance_amount,
            params[m].tier_count,
        )
        <= 0.0
    )


@njit(cache=True, inline="always")
def reduce_position(positions, state, i, quantity, price):
    """Close ``quantity`` of position i at ``price``: its PnL and owed funding go to margin."""
    m = positions.market[i]
    side = positions.side[i]
    positions.margin[i] += (
        side * quantity * (price - positions.entry_price[i] - state[m].funding_per_unit)
    )
    remaining = positions.quantity[i] - quantity
    positions.quantity[i] = remaining if remaining > 0.0 else 0.0
    if side > 0:
        state[m].trader_long_quantity -= quantity
    else:
        state[m].trader_short_quantity -= quantity


@njit(cache=True, inline="always")
def execute_order(params, state, m, direction, quantity, limit_price, walk_out, flags):
    """Walk market m's book with a market order; the market makers take the other side.

    Returns (filled base units, notional USD). The caller books its own side.
    """
    if quantity <= 0.0:
        return 0.0, 0.0
    centre_tick = int(round(state[m].centre_price / params[m].tick_size))
    if direction < 0:
        start = state[m].bid_top_level
    else:
        start = state[m].ask_bottom_level
    old_origin = state[m].origin_tick
    new_origin = walk_book(
        state[m].bids,
        state[m].asks,
        old_origin,
        params[m].tick_size,
        direction,
        quantity,
        limit_price,
        centre_tick,
        state[m].profile_usd,
        state[m].liquidity_factor,
        start,
        walk_out,
    )
    moved = new_origin - old_origin
    state[m].origin_tick = new_origin
    stop_level = int(walk_out[4])
    if direction < 0:
        state[m].bid_top_level = stop_level
        state[m].ask_bottom_level -= moved
    else:
        state[m].ask_bottom_level = stop_level
        state[m].bid_top_level -= moved
    if moved != 0:
        # The levels the walk brought into the window carry the target profile on both
        # sides: the other side's hint must cover them too (the walked side's stop level is
        # exact already).
        n_levels = state[m].bids.shape[0]
        first = 0 if moved < 0 else max(n_levels - moved, 0)
        last = min(-moved, n_levels) if moved < 0 else n_levels
        bid_top, ask_bottom = cover_refilled_levels(
            state[m].bid_top_level,
            state[m].ask_bottom_level,
            first,
            last,
            centre_tick - new_origin,
            n_levels,
        )
        if direction < 0:
            state[m].ask_bottom_level = ask_bottom
        else:
            state[m].bid_top_level = bid_top
    if walk_out[3] > 0.0:
        flags[0] |= STATUS_FLAG_BOOK_EXHAUSTED
    filled = walk_out[0]
    notional = walk_out[1]
    if filled > 0.0:
        state[m].quiet_steps = 0
        state[m].step_fill_count += 1
        state[m].maker_quantity -= direction * filled
        state[m].maker_cash += direction * notional
        state[m].last_price = walk_out[2]
        state[m].step_taker_flow_usd += direction * notional
    return filled, notional


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
    n_tiers = params[0].tier_floor_usd.shape[0]
    slot = 0 if counter_side > 0 else 1
    first = groups.start[(m * 2 + slot) * n_tiers]
    last = groups.end[(m * 2 + slot) * n_tiers + n_tiers - 1]
    rule = params[m].adl_rank_rule
    count = 0
    for j in range(first, last):
        if positions.status[j] != STATUS_OPEN and positions.status[j] != STATUS_WATCHED:
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
    m = positions.market[i]
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
        if j < 0:
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
        )
        state[m].adl_count += 1
        state[m].adl_notional_usd += size * price
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
        )
        remaining -= size
        if size >= available:
            cache[3] = adl_pop(scratch, cache[3])
    return events, remaining


@njit(cache=True, inline="always")
def fund_takeover(
    time,
    i,
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
    flags,
    step_liquidated,
):
    """Insurance fund takes what it can absorb at the bankruptcy price; ADL takes the rest."""
    m = positions.market[i]
    side = positions.side[i]
    quantity = positions.quantity[i]
    bankrupt = bankruptcy_price(
        side, quantity, positions.entry_price[i], effective_margin(positions, state, i)
    )
    absorb = quantity
    if params[m].takeover_mode == TAKEOVER_INSURANCE:
        loss_per_unit = side * (bankrupt - mark)
        if loss_per_unit > 0.0:
            fund_equity = state[m].fund_cash + state[m].fund_quantity * mark
            capacity = fund_equity / loss_per_unit if fund_equity > 0.0 else 0.0
            if capacity < absorb:
                absorb = capacity
    else:
        absorb = 0.0
    if absorb > 0.0:
        state[m].fund_quantity += side * absorb
        state[m].fund_cash -= side * absorb * bankrupt
        reduce_position(positions, state, i, absorb, bankrupt)
        events = record_event(
            events,
            event_count,
            time,
            m,
            positions.account[i],
            i,
            side,
            KIND_INSURANCE,
            absorb,
            absorb * bankrupt,
            bankrupt,
            bankrupt,
            mark,
        )
        step_liquidated[m, 0 if side > 0 else 1] += absorb * bankrupt
    rest = positions.quantity[i]
    if rest > 0.0:
        events, unmatched = auto_deleverage(
            time,
            i,
            rest,
            bankrupt,
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
        )
        step_liquidated[m, 0 if side > 0 else 1] += (rest - unmatched) * bankrupt
        if unmatched > 0.0:
            # Nobody left to deleverage against: the fund must hold it, whatever its balance.
            state[m].fund_quantity += side * unmatched
            state[m].fund_cash -= side * unmatched * bankrupt
            reduce_position(positions, state, i, unmatched, bankrupt)
            loss = side * (bankrupt - mark) * unmatched
            if loss > 0.0:
                state[m].bad_debt_usd += loss
            flags[0] |= STATUS_FLAG_BAD_DEBT
            events = record_event(
                events,
                event_count,
                time,
                m,
                positions.account[i],
                i,
                side,
                KIND_INSURANCE,
                unmatched,
                unmatched * bankrupt,
                bankrupt,
                bankrupt,
                mark,
            )
            step_liquidated[m, 0 if side > 0 else 1] += unmatched * bankrupt
    return events


@njit(cache=True)
def open_in_account(positions, crosses, slot, exclude):
    """First open row of cross account ``slot`` other than ``exclude``; -1 when none."""
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = crosses.rows[k]
        if (
            j != exclude
            and positions.quantity[j] > 0.0
            and (positions.status[j] == STATUS_OPEN or positions.status[j] == STATUS_WATCHED)
        ):
            return j
    return -1


@njit(cache=True)
def release_to_account(positions, scratch, crosses, i):
    """Move closed row i's margin to an open position of its cross account.

    Returns the receiving row, or -1 when none is open (the margin stays on row i).
    """
    account = positions.account[i]
    keeper = open_in_account(positions, crosses, crosses.slot[account], i)
    if keeper >= 0:
        positions.margin[keeper] += positions.margin[i]
        positions.margin[i] = 0.0
    return keeper


@njit(cache=True, inline="always")
def close_out(params, positions, state, scratch, crosses, i, flags):
    """Settle a fully closed liquidated position's leftover margin and mark it liquidated.

    In a cross account with positions still open the leftover, gain or loss, stays in the
    account's wallet; otherwise it goes to the fund (or, on backstop venues, to the trader).
    """
    m = positions.market[i]
    market = state[m]
    leftover = positions.margin[i]
    if crosses.slot[positions.account[i]] >= 0:
        if release_to_account(positions, scratch, crosses, i) >= 0:
            positions.status[i] = STATUS_LIQUIDATED
            return
    backstop = params[m].takeover_mode == TAKEOVER_BACKSTOP
    if leftover >= 0.0:
        if backstop:
            # Hyperliquid leaves collateral above the fills with the trader.
            scratch.account_wallet[positions.account[i]] += leftover
        else:
            market.fund_cash += leftover
    else:
        pay_shortfall(market, -leftover, backstop, flags)
    positions.margin[i] = 0.0
    positions.status[i] = STATUS_LIQUIDATED


@njit(cache=True, inline="always")
def pay_shortfall(market, amount, backstop, flags):
    """The fund (or backstop) pays a loss beyond a trader's margin; beyond its equity it is
    bad debt."""
    if backstop:
        equity = market.backstop_cash + market.backstop_quantity * market.last_price
    else:
        equity = market.fund_cash + market.fund_quantity * market.last_price
    covered = equity if equity > 0.0 else 0.0
    if amount > covered:
        market.bad_debt_usd += amount - covered
        flags[0] |= STATUS_FLAG_BAD_DEBT
    if backstop:
        market.backstop_cash -= amount
    else:
        market.fund_cash -= amount


@njit(cache=True, inline="always")
def backstop_takeover(
    time, i, mark, positions, state, scratch, events, event_count, step_liquidated
):
    """The backstop vault takes position i with its collateral (Hyperliquid)."""
    m = positions.market[i]
    side = positions.side[i]
    quantity = positions.quantity[i]
    margin = effective_margin(positions, state, i)
    bankrupt = bankruptcy_price(side, quantity, positions.entry_price[i], margin)
    state[m].backstop_quantity += side * quantity
    state[m].backstop_cash += margin - side * quantity * positions.entry_price[i]
    if side > 0:
        state[m].trader_long_quantity -= quantity
    else:
        state[m].trader_short_quantity -= quantity
    positions.quantity[i] = 0.0
    positions.margin[i] = 0.0
    positions.status[i] = STATUS_LIQUIDATED
    events = record_event(
        events,
        event_count,
        time,
        m,
        positions.account[i],
        i,
        side,
        KIND_BACKSTOP,
        quantity,
        quantity * mark,
        mark,
        bankrupt,
        mark,
    )
    step_liquidated[m, 0 if side > 0 else 1] += quantity * mark
    return events


@njit(cache=True, inline="always")
def send_liquidation_order(
    time,
    i,
    quantity,
    mark,
    params,
    positions,
    state,
    events,
    event_count,
    walk_out,
    flags,
    step_liquidated,
):
    """Liquidation order for ``quantity`` of position i into the book; books fill and fee."""
    m = positions.market[i]
    side = positions.side[i]
    margin = effective_margin(positions, state, i)
    bankrupt = bankruptcy_price(side, positions.quantity[i], positions.entry_price[i], margin)
    if params[m].limit_mode == LIMIT_BANKRUPTCY:
        limit = bankrupt
    else:
        limit = mark * (1.0 - side * params[m].slippage_limit)
    filled, notional = execute_order(params, state, m, -side, quantity, limit, walk_out, flags)
    if filled > 0.0:
        price = notional / filled
        reduce_position(positions, state, i, filled, price)
        fee = params[m].liquidation_fee_rate * notional
        available = effective_margin(positions, state, i)
        if fee > available:
            fee = available if available > 0.0 else 0.0
        positions.margin[i] -= fee
        state[m].fund_cash += fee
        state[m].fees_usd += fee
        events = record_event(
            events,
            event_count,
            time,
            m,
            positions.account[i],
            i,
            side,
            KIND_BOOK,
            filled,
            notional,
            price,
            bankrupt,
            mark,
        )
        step_liquidated[m, 0 if side > 0 else 1] += notional
    return events, filled


@njit(cache=True, inline="always")
def watch(params, watchlist, positions, i, ready_time):
    """Put position i (not already listed) on the watch list until ``ready_time`` (s).

    Its threshold is recomputed from its current quantity and margin: a listed row is no
    longer read by its group's pointer, and the watch list uses the threshold as a cheap
    conservative filter before the exact check.
    """
    m = positions.market[i]
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
    k = watchlist.entry[i]
    watchlist.threshold[k] = positions.liquidation_price[i]
    watchlist.tier[k] = positions.tier[i]


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
    m = positions.market[j]
    price, _ = liquidation_price(
        positions.side[j],
        positions.quantity[j],
        positions.entry_price[j],
        positions.margin[j],
        params[m].tier_floor_usd,
        params[m].tier_mmr,
        params[m].tier_maintenance_amount,
        params[m].tier_count,
    )
    stored = positions.liquidation_price[j]
    if (price > stored) if positions.side[j] > 0 else (price < stored):
        watch(params, watchlist, positions, j, time)


@njit(cache=True, inline="always")
def refresh_threshold(params, positions, i):
    """Liquidation price (at zero accumulated funding) and tier of row i as it stands now."""
    m = positions.market[i]
    price, tier = liquidation_price(
        positions.side[i],
        positions.quantity[i],
        positions.entry_price[i],
        positions.margin[i],
        params[m].tier_floor_usd,
        params[m].tier_mmr,
        params[m].tier_maintenance_amount,
        params[m].tier_count,
    )
    positions.liquidation_price[i] = price
    positions.tier[i] = tier


@njit(cache=True, inline="always")
def liquidate_position(
    time,
    dt,
    i,
    mark,
    cross,
    params,
    positions,
    groups,
    state,
    watchlist,
    scratch,
    crosses,
    events,
    event_count,
    walk_out,
    flags,
    step_liquidated,
):
    """Run the venue's liquidation procedure on breached position i at ``mark``.

    ``cross`` is True when i belongs to a cross account whose margin has been pooled into
    it (see :func:`cascadesim.engine.cross_margin.liquidate_account`): the account, not the
    position, then decides on the backstop and waits out cooldowns.

    Returns
    -------
    events : the (possibly reallocated) event buffer
    wait : float, for a cross position left partly open, the time (s) before the account's
        next attempt; -1.0 otherwise (an isolated position left open is on the watch list)
    """
    m = positions.market[i]
    side = positions.side[i]
    scratch.account_liquidated[positions.account[i]] = True
    floors = params[m].tier_floor_usd
    quantity = positions.quantity[i]
    if params[m].takeover_mode == TAKEOVER_BACKSTOP and not cross:
        margin = effective_margin(positions, state, i)
        equity = margin + side * quantity * (mark - positions.entry_price[i])
        required = maintenance_margin(
            floors,
            params[m].tier_mmr,
            params[m].tier_maintenance_amount,
            params[m].tier_count,
            quantity * mark,
        )
        if equity < params[m].backstop_equity_fraction * required:
            events = backstop_takeover(
                time, i, mark, positions, state, scratch, events, event_count, step_liquidated
            )
            return events, -1.0
    order = quantity
    partial = False
    mode = params[m].partial_mode
    if mode == PARTIAL_TIER_STEP_DOWN:
        tier = tier_for_notional(floors, params[m].tier_count, quantity * mark)
        if tier > 0:
            order = quantity - floors[tier] / mark * STEP_DOWN_INSIDE
            partial = True
    elif mode == PARTIAL_CHUNKS and quantity * mark > params[m].chunk_min_notional_usd:
        order = quantity * params[m].chunk_fraction
        partial = True
    events, filled = send_liquidation_order(
        time,
        i,
        order,
        mark,
        params,
        positions,
        state,
        events,
        event_count,
        walk_out,
        flags,
        step_liquidated,
    )
    if positions.quantity[i] <= 0.0:
        close_out(params, positions, state, scratch, crosses, i, flags)
        return events, -1.0
    if partial and filled >= order and not is_breached(params, positions, state, i, mark):
        cooldown = params[m].chunk_cooldown_s if mode == PARTIAL_CHUNKS else 0.0
        if cross:
            return events, time + cooldown
        watch(params, watchlist, positions, i, time + cooldown)
        return events, -1.0
    if params[m].takeover_mode == TAKEOVER_BACKSTOP:
        # Market liquidations retry: after the cooldown for chunks, else the next step.
        cooldown = params[m].chunk_cooldown_s if partial else dt
        if cooldown < dt:
            cooldown = dt
        if cross:
            return events, time + cooldown
        watch(params, watchlist, positions, i, time + cooldown)
        return events, -1.0
    if partial:
        events, filled = send_liquidation_order(
            time,
            i,
            positions.quantity[i],
            mark,
            params,
            positions,
            state,
            events,
            event_count,
            walk_out,
            flags,
            step_liquidated,
        )
    if positions.quantity[i] > 0.0:
        events = fund_takeover(
            time,
            i,
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
            flags,
            step_liquidated,
        )
    close_out(params, positions, state, scratch, crosses, i, flags)
    return events, -1.0


@njit(cache=True)
def unwind_inventory(dt, m, backstop, params, state, walk_out, flags):
    """The fund (or the backstop vault) sells taken-over inventory into the book at its pace."""
    market = state[m]
    held = market.backstop_quantity if backstop else market.fund_quantity
    if held == 0.0:
        return
    mark = market.mark_price
    size = params[m].fund_unwind_usd_per_s * dt / mark
    if size > abs(held):
        size = abs(held)
    direction = -1 if held > 0.0 else 1
    limit = mark * (1.0 + direction * params[m].slippage_limit)
    filled, notional = execute_order(params, state, m, direction, size, limit, walk_out, flags)
    if backstop:
        market.backstop_quantity += direction * filled
        market.backstop_cash -= direction * notional
    else:
        market.fund_quantity += direction * filled
        market.fund_cash -= direction * notional
