"""The time-step loop and the liquidation fixed point.

Within a step, in this order: exogenous index update; exogenous taker flow (a sell
programme); arbitrage between each perp and its index; per market the liquidation fixed point
(mark -> trigger -> orders -> book walk -> last -> mark ...) up to an iteration cap; the
insurance fund and backstop unwinding inventory; market makers' withdrawal and resilience;
funding if due; the basis average and the timeline record. The market mechanics are in
:mod:`cascadesim.engine.market`.

Triggered positions come from two places and never from a rescan of the population: each
(market, side, tier) group's pointer into positions sorted by liquidation price, and the
watch list. Funding shifts every threshold of a group by the same amount, so the sort stays
valid; the pointer test is conservative and an exact margin check decides. Within one
fixed-point iteration triggered positions are processed in row order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cascadesim.engine.book import depth_within
from cascadesim.engine.collateral import revalue_collateral
from cascadesim.engine.cross_margin import (
    account_figures,
    at_maintenance,
    keep_thresholds_conservative,
    liquidate_account,
    spread_equity,
)
from cascadesim.engine.flow import open_arrivals, record_liquidations
from cascadesim.engine.layout import (
    STATUS_FLAG_ITERATION_CAP,
    STATUS_OPEN,
    STATUS_WATCHED,
    WATCH_BLOCK_BITS,
)
from cascadesim.engine.liquidation import liquidate_position, retry_when_unfillable
from cascadesim.engine.margin import funding_shift
from cascadesim.engine.market import (
    arbitrage,
    current_mark,
    exogenous_flow,
    hedge_makers,
    market_flow,
    market_index,
    pay_funding,
    predicted_funding,
    quote_snapshot,
    refresh_book,
    reprice_quotes,
    settle_steps,
    update_index,
)
from cascadesim.engine.orders import is_breached
from cascadesim.engine.takeover import cover_deficits, pool_equity, unwind_inventory
from cascadesim.engine.watch_list import cover_entry, refresh_listed_threshold, watch

THRESHOLD_RELATIVE_SLACK = 1e-9  # covers rounding between the closed form and the exact check
BLOCK_RELATIVE_SLACK = 2 * THRESHOLD_RELATIVE_SLACK  # a block's bound covers its entries' slack


@njit(cache=True, inline="always")
def cross_triggers(time, i, params, positions, state, watchlist, crosses, slot):
    """Exact check of cross row i's account: True when it is to be liquidated now.

    The account is looked at when i is breached at its own allocated margin; an account
    found safe is rebalanced, which leaves every position safe on its own again.
    """
    if crosses.ready_time[slot] > time:
        return False
    if not is_breached(params, positions, state, i, state[positions.market[i]].mark_price):
        return False
    # One pass over the account's rows serves the check and, when safe, the rebalance.
    equity, required, count = account_figures(params, positions, state, crosses, slot)
    if count == 0:
        return False
    if at_maintenance(equity, required):
        return True
    spread_equity(params, positions, state, crosses, slot, equity, required)
    keep_thresholds_conservative(time, params, positions, watchlist, crosses, slot, i)
    return False


@njit(cache=True, inline="always")
def funding_shift_bounds(params, state, m, side):
    """(lowest, highest) shift of a threshold by accumulated funding over the tiers."""
    funding = state[m].funding_per_unit
    low = math.inf
    high = -math.inf
    for tier in range(params[m].tier_count):
        shift = funding_shift(params[m], side, tier, funding)
        low = min(low, shift)
        high = max(high, shift)
    return low, high


@njit(cache=True, inline="always")
def funding_shift_range(params, state, m, side):
    """(shift of each tier's threshold by accumulated funding, spread between tiers)."""
    low, high = funding_shift_bounds(params, state, m, side)
    return high - low


@njit(cache=True)
def collect_triggered(time, m, mark, params, positions, groups, state, watchlist, scratch, crosses):
    """Rows of market m breached at ``mark`` and ready; returns their count (sorted rows).

    A row of a cross account stands for its account: it is returned when the account is
    breached (see :func:`cross_triggers`).
    """
    n_tiers = groups.start.shape[0] // (2 * params.shape[0])  # tier subarrays are padded
    funding = state[m].funding_per_unit
    count = 0
    for side_slot in range(2):
        side = 1 if side_slot == 0 else -1
        for tier in range(n_tiers):
            g = (m * 2 + side_slot) * n_tiers + tier
            row = groups.pointer[g]
            end = groups.end[g]
            if row >= end:
                continue
            shift = funding_shift(params[m], side, tier, funding)
            # Funding can carry a position into another tier, where the shift differs.
            slack = 0.0
            for other in range(params[m].tier_count if funding != 0.0 else 0):
                gap = abs(funding_shift(params[m], side, other, funding) - shift)
                if gap > slack:
                    slack = gap
            while row < end:
                if positions.status[row] != STATUS_OPEN:
                    # Listed or closed: the watch list (or nothing) owns it now, and a listed
                    # row's threshold is no longer in the group's order.
                    row += 1
                    continue
                threshold = positions.liquidation_price[row] + shift
                tolerance = slack + THRESHOLD_RELATIVE_SLACK * abs(threshold)
                if side > 0:
                    crossed = mark <= threshold + tolerance
                else:
                    crossed = mark >= threshold - tolerance
                if not crossed:
                    break
                account_slot = crosses.slot[positions.account[row]]
                if account_slot < 0:
                    if is_breached(params, positions, state, row, mark):
                        scratch.triggered[count] = row
                        count += 1
                    else:
                        watch(params, watchlist, positions, row, time)
                elif cross_triggers(
                    time, row, params, positions, state, watchlist, crosses, account_slot
                ):
                    scratch.triggered[count] = row
                    count += 1
                else:
                    watch(params, watchlist, positions, row, time)
                row += 1
            groups.pointer[g] = row
    count = scan_watch_list(
        time, m, mark, count, params, positions, state, watchlist, scratch, crosses
    )
    scratch.triggered[:count].sort()
    return count


@njit(cache=True, inline="always")
def block_crossable(watchlist, b, mark, long_shift, long_slack, short_shift, short_slack):
    """False when no entry of watch-list block b can be crossed at ``mark``.

    ``long_shift`` is the highest funding shift of a long threshold over the tiers and
    ``short_shift`` the lowest of a short one, so the block's bounds plus them bound every
    entry's shifted threshold; the relative slack is twice the entries' own, which covers
    their ``THRESHOLD_RELATIVE_SLACK * abs(threshold)`` (negative thresholds included) and
    the rounding of both sums.
    """
    high = watchlist.block_high[b]
    if high > -math.inf:
        high += long_shift
        if mark <= high + long_slack + BLOCK_RELATIVE_SLACK * (abs(high) + abs(mark)):
            return True
    low = watchlist.block_low[b]
    if low < math.inf:
        low += short_shift
        if mark >= low - short_slack - BLOCK_RELATIVE_SLACK * (abs(low) + abs(mark)):
            return True
    return False


@njit(cache=True)
def scan_watch_list(time, m, mark, count, params, positions, state, watchlist, scratch, crosses):
    """Add market m's listed rows breached at ``mark`` and ready to ``scratch.triggered``.

    Returns the new count. Entries are read in list order, as one pass over the segment
    would; a block none of whose entries can be crossed (see :func:`block_crossable`) is
    passed over whole, which is what that pass would do entry by entry. A block that is
    read gets its bounds rebuilt from the entries it keeps.
    """
    funding = state[m].funding_per_unit
    long_slack = funding_shift_range(params, state, m, 1)
    short_slack = funding_shift_range(params, state, m, -1)
    _, long_shift = funding_shift_bounds(params, state, m, 1)
    short_shift, _ = funding_shift_bounds(params, state, m, -1)
    first = watchlist.offset[m]
    size = np.int64(1) << WATCH_BLOCK_BITS
    block = watchlist.block_offset[m]
    start = first
    while start < first + watchlist.count[m]:
        if not block_crossable(
            watchlist, block, mark, long_shift, long_slack, short_shift, short_slack
        ):
            start += size
            block += 1
            continue
        # Rebuilt from the entries kept below (and widened by any re-armed meanwhile).
        watchlist.block_high[block] = -math.inf
        watchlist.block_low[block] = math.inf
        k = start
        while k < min(start + size, first + watchlist.count[m]):
            # Entries cooling down, or not crossed by their threshold, are passed over
            # reading the list alone: most entries are one of the two on most iterations.
            if watchlist.ready_time[k] > time:
                cover_entry(watchlist, m, k)
                k += 1
                continue
            side = watchlist.side[k]
            threshold = watchlist.threshold[k] + funding_shift(
                params[m], side, watchlist.tier[k], funding
            )
            if side > 0:
                crossed = mark <= threshold + long_slack + THRESHOLD_RELATIVE_SLACK * abs(threshold)
            else:
                crossed = mark >= threshold - short_slack - THRESHOLD_RELATIVE_SLACK * abs(
                    threshold
                )
            if not crossed:
                cover_entry(watchlist, m, k)
                k += 1
                continue
            i = np.int64(watchlist.position[k])
            if positions.status[i] == STATUS_WATCHED:
                account_slot = crosses.slot[positions.account[i]]
                if account_slot >= 0:
                    if not cross_triggers(
                        time, i, params, positions, state, watchlist, crosses, account_slot
                    ):
                        # A rebalance leaves the row it was checked for to its caller (see
                        # keep_thresholds_conservative): re-arm the entry at the row's new
                        # threshold, or it stays crossed and is rechecked every step.
                        refresh_listed_threshold(params, positions, watchlist, i)
                        cover_entry(watchlist, m, k)
                        k += 1
                        continue
                elif not is_breached(params, positions, state, i, mark):
                    cover_entry(watchlist, m, k)
                    k += 1
                    continue
                scratch.triggered[count] = i
                count += 1
                positions.status[i] = STATUS_OPEN
            # Triggered, or its row was closed while listed: the entry goes, and the last
            # entry moves into its slot (read next, in this block).
            last = first + watchlist.count[m] - 1
            moved = watchlist.position[last]
            watchlist.position[k] = moved
            watchlist.ready_time[k] = watchlist.ready_time[last]
            watchlist.threshold[k] = watchlist.threshold[last]
            watchlist.side[k] = watchlist.side[last]
            watchlist.tier[k] = watchlist.tier[last]
            if positions.status[moved] == STATUS_WATCHED:
                watchlist.entry[moved] = k
            watchlist.count[m] -= 1
        start += size
        block += 1
    return count


@njit(cache=True)
def liquidation_fixed_point(
    time,
    dt,
    m,
    iteration_cap,
    params,
    assets,
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
    """Trigger, liquidate and re-mark until nothing new triggers; returns (events, iterations)."""
    iterations = 0
    for _ in range(iteration_cap):
        scratch.adl_cache[4] += 1
        mark = current_mark(time, params, assets, state, m)
        state[m].mark_price = mark
        count = collect_triggered(
            time, m, mark, params, positions, groups, state, watchlist, scratch, crosses
        )
        if count == 0:
            return events, iterations
        iterations += 1
        for k in range(count):
            i = np.int64(scratch.triggered[k])
            slot = crosses.slot[positions.account[i]]
            if slot < 0:
                if retry_when_unfillable(
                    time, dt, i, mark, params, positions, state, watchlist, scratch
                ):
                    continue
                events, _ = liquidate_position(
                    time,
                    dt,
                    i,
                    mark,
                    np.bool_(False),  # a value, not a literal: one compiled variant for both
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
                )
            elif positions.quantity[i] > 0.0 and (
                positions.status[i] == STATUS_OPEN or positions.status[i] == STATUS_WATCHED
            ):
                # An earlier liquidation of this iteration may have deleveraged it (or, by
                # moving margin within its account, put it on the watch list).
                events = liquidate_account(
                    time,
                    dt,
                    slot,
                    i,
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
                )
    flags[0] |= STATUS_FLAG_ITERATION_CAP
    return events, iterations


# Columns of the per-step, per-market totals (``step_totals``): a cross account's closes
# in other markets land in those markets' rows, so every market is recorded after all ran.
TOTAL_LONG_USD = 0
TOTAL_SHORT_USD = 1
TOTAL_EVENTS = 2
TOTAL_ITERATIONS = 3
TOTAL_ADL_BEFORE = 4
TOTAL_COLUMNS = 5


@njit(cache=True, inline="always")
def track_fund_peak(time, m, params, state):
    """Running peak of market m's fund equity for the drawdown trigger (OKX).

    A peak older than the window is replaced by the current equity: a rolling maximum
    without a history buffer, which can only start the trigger later than a true one.
    """
    if params[m].fund_drawdown_trigger <= 0.0 or params[m].fund_pool != m:
        return
    equity = pool_equity(params, state, m, False, False)
    if (
        equity >= state[m].fund_peak_usd
        or time - state[m].fund_peak_time > params[m].fund_drawdown_window_s
    ):
        state[m].fund_peak_usd = equity
        state[m].fund_peak_time = time


@njit(cache=True)
def record_step(row, time, dt, m, params, assets, state, mid, bid, ask, step_totals):
    """Write one timeline row for market m."""
    index = market_index(params, assets, m)
    mark = state[m].mark_price
    row["time"] = time
    row["index_price"] = index
    row["mark_price"] = mark
    row["last_price"] = state[m].last_price
    row["best_bid"] = bid
    row["best_ask"] = ask
    slowest = max(params[m].resilience_half_life_s, params[m].withdrawal_half_life_s)
    if state[m].quiet_steps <= settle_steps(slowest, dt) + 1:
        # The book changed this step (a settled book stays as it is until disturbed).
        bid_usd, ask_usd = depth_within(
            state[m].bids[: state[m].book_levels],
            state[m].asks[: state[m].book_levels],
            state[m].origin_tick,
            params[m].tick_size,
            mid,
            0.01,
        )
        state[m].bid_depth_1pct_usd = bid_usd
        state[m].ask_depth_1pct_usd = ask_usd
    row["bid_depth_1pct_usd"] = state[m].bid_depth_1pct_usd
    row["ask_depth_1pct_usd"] = state[m].ask_depth_1pct_usd
    row["liquidity_factor"] = state[m].liquidity_factor
    long_oi = state[m].trader_long_quantity
    short_oi = state[m].trader_short_quantity
    row["trader_long_open_interest"] = long_oi
    row["trader_short_open_interest"] = short_oi
    # One side's open interest: every holder's longs. The hedged pool is gross (see
    # orders.hedged_pool_trade); the other aggregate agents hold one net position each.
    long_oi += state[m].hedged_long_quantity
    short_oi += state[m].hedged_short_quantity
    for held in (state[m].taker_quantity, state[m].fund_quantity, state[m].backstop_quantity):
        if held > 0.0:
            long_oi += held
        else:
            short_oi -= held
    row["long_open_interest"] = long_oi
    row["short_open_interest"] = short_oi
    row["liquidated_long_usd"] = step_totals[m, TOTAL_LONG_USD]
    row["liquidated_short_usd"] = step_totals[m, TOTAL_SHORT_USD]
    row["liquidation_events"] = int(step_totals[m, TOTAL_EVENTS])
    row["adl_notional_usd"] = state[m].adl_notional_usd - step_totals[m, TOTAL_ADL_BEFORE]
    # A shared fund or vault shows on each of its markets (the summary counts it once).
    row["insurance_fund_usd"] = pool_equity(params, state, params[m].fund_pool, False, False)
    row["backstop_usd"] = pool_equity(params, state, params[m].backstop_pool, True, False)
    row["funding_rate"] = predicted_funding(params, state, m)
    row["iterations"] = int(step_totals[m, TOTAL_ITERATIONS])


@njit(cache=True)
def run_steps(
    first_step,
    last_step,
    dt,
    liquidations_enabled,
    iteration_cap,
    params,
    assets,
    index_path,
    taker_flow_usd,
    positions,
    groups,
    state,
    watchlist,
    scratch,
    crosses,
    collateral,
    flow,
    events,
    event_count,
    timeline,
    walk_out,
    flags,
    step_totals,
):
    """Advance the simulation from ``first_step`` to ``last_step`` (exclusive).

    Parameters
    ----------
    dt : float, seconds per step
    liquidations_enabled : bool, False for the counterfactual run
    iteration_cap : int, most fixed-point iterations per market and step
    index_path : float64 (n_steps + 1, n_assets), exogenous index in USD; row 0 is the start
    taker_flow_usd : float64 (n_steps, n_markets), signed exogenous taker USD per step
    crosses : CrossAccounts, the cross-margin accounts (empty arrays when all are isolated)
    collateral : Collateral, the cross accounts margined by a basket of coins (empty arrays
        when none is)
    flow : Flow, the positions that open during the run (no rows when none do)
    events : LIQUIDATION_EVENT_DTYPE array, grown as needed; event_count : int64 (1,)
    timeline : TIMELINE_DTYPE array (n_steps, n_markets), written
    walk_out : float64 (5,), flags : int64 (1,) scratch
    step_totals : float64 (n_markets, TOTAL_COLUMNS) scratch

    Returns
    -------
    events : the (possibly reallocated) event buffer
    """
    n_markets = params.shape[0]
    for step in range(first_step, last_step):
        time = (step + 1) * dt
        update_index(step, dt, assets, index_path, flags)
        if collateral.slot.shape[0] > 0:
            revalue_collateral(
                step, time, index_path, params, positions, state, watchlist, crosses, collateral
            )
        for m in range(n_markets):
            state[m].previous_mark_price = state[m].mark_price
            state[m].step_taker_flow_usd = 0.0
            state[m].step_fill_count = 0
            reprice_quotes(dt, m, params, assets, state)
            if taker_flow_usd[step, m] != 0.0:
                taker = market_flow(params, assets, m, taker_flow_usd[step, m])
                exogenous_flow(taker, m, state, params, walk_out, flags)
        for m in range(n_markets):
            arbitrage(dt, m, params, assets, state, walk_out, flags)
        if flow.arrival.shape[0] > 0:
            for m in range(n_markets):
                open_arrivals(time, dt, m, params, positions, state, watchlist, flow, flags)
        step_totals[:, :] = 0.0
        for m in range(n_markets):
            step_totals[m, TOTAL_ADL_BEFORE] = state[m].adl_notional_usd
        step_first_event = event_count[0]
        for m in range(n_markets):
            iterations = 0
            if liquidations_enabled:
                events, iterations = liquidation_fixed_point(
                    time,
                    dt,
                    m,
                    iteration_cap,
                    params,
                    assets,
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
                    step_totals,
                )
            step_totals[m, TOTAL_ITERATIONS] = iterations
            state[m].mark_price = current_mark(time, params, assets, state, m)
            unwind_inventory(dt, m, False, params, state, walk_out, flags)
            unwind_inventory(dt, m, True, params, state, walk_out, flags)
            hedge_makers(m, params, assets, state)
            refresh_book(dt, m, params, state)
            mid, index, bid, ask = quote_snapshot(m, params, assets, state)
            state[m].premium_sum += (mid - index) / index * dt
            state[m].premium_time += dt
            state[m].mark_price = current_mark(time, params, assets, state, m)
            pay_funding(time, m, params, state)
            alpha = dt / (params[m].basis_average_s + dt)
            state[m].basis_average += alpha * ((mid - index) - state[m].basis_average)
        for e in range(step_first_event, event_count[0]):
            step_totals[events[e]["market"], TOTAL_EVENTS] += 1.0
        for m in range(n_markets):
            # After every market ran: a cross account's closes reach other markets' funds.
            cover_deficits(params, state, m, flags)
            if flow.arrival.shape[0] > 0:
                record_liquidations(
                    dt, m, flow, step_totals[m, TOTAL_LONG_USD], step_totals[m, TOTAL_SHORT_USD]
                )
            track_fund_peak(time, m, params, state)
            mid, index, bid, ask = quote_snapshot(m, params, assets, state)
            record_step(
                timeline[step, m], time, dt, m, params, assets, state, mid, bid, ask, step_totals
            )
    return events
