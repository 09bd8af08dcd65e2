"""Cross-margin accounts: one wallet over positions in several markets of one venue.

An account is liquidated when its equity (wallet plus every position's unrealised PnL, net of
funding) falls to its summed maintenance margin. The wallet is spread over the positions'
``margin`` columns, so a position's own liquidation price is a conservative bound for its
account: the account cannot be breached before one of its positions is, at that position's
allocated margin. Positions stay in the sorted threshold groups like isolated ones; only when
one is breached at its own margin is the account checked exactly. An account found safe has
its equity spread over its positions in proportion to their maintenance margin, so each is
safe on its own again; a position whose liquidation price came closer than its sorted
threshold by that goes on the watch list with its new threshold, so thresholds stay bounds.

An account in hedge mode holds a long and a short in one market. Binance counts each side's
maintenance margin on its own and closes each as a position; Bybit liquidates only the net
position ("a fully hedged position will not be liquidated"): the overlap is first closed
against itself at the mark, outside the book, and the rest is liquidated as usual.

Closing follows the venue's order (largest maintenance margin or largest loss first). To
close position j, every other position keeps exactly its maintenance margin and j carries
the rest of the account's equity; j's bankruptcy price is then the account's, as in the
venues' cross-margin liquidation-price formulas (Binance: wallet balance minus the other
positions' maintenance margin plus their unrealised PnL). After each close the account is
rechecked; once it is safe, what is left is spread over the remaining positions in
proportion to their maintenance margin. On a backstop venue (Hyperliquid), an account below
``backstop_equity_fraction`` of its maintenance margin goes to the backstop vault whole.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.account_rows import release_to_account
from cascadesim.engine.layout import (
    CROSS_ORDER_LARGEST_LOSS,
    HEDGE_NET_FIRST,
    KIND_NETTED,
    STATUS_LIQUIDATED,
    STATUS_OPEN,
    STATUS_WATCHED,
    TAKEOVER_BACKSTOP,
)
from cascadesim.engine.liquidation import liquidate_position
from cascadesim.engine.margin import maintenance_requirement
from cascadesim.engine.orders import (
    effective_margin,
    event_figures,
    record_event,
    reduce_position,
)
from cascadesim.engine.takeover import backstop_takeover
from cascadesim.engine.watch_list import keep_threshold_a_bound, watch

# Equity within this fraction of the summed maintenance margin counts as at maintenance.
# Closing the position that carries an account's pooled equity at its bankruptcy price leaves
# the others exactly at their maintenance margin by construction; rounding (which differs
# between compiled and interpreted arithmetic) must not decide that tie.
MAINTENANCE_TIE_RELATIVE = 1e-9


@njit(cache=True, inline="always")
def is_open(positions, j):
    """True while row j holds a position (open or watched)."""
    return positions.quantity[j] > 0.0 and (
        positions.status[j] == STATUS_OPEN or positions.status[j] == STATUS_WATCHED
    )


@njit(cache=True, inline="always")
def position_figures(params, positions, state, j):
    """(equity, maintenance margin) of row j in USD at its market's current mark."""
    m = np.int64(positions.market[j])
    mark = state[m].mark_price
    quantity = positions.quantity[j]
    equity = effective_margin(positions, state, j) + positions.side[j] * quantity * (
        mark - positions.entry_price[j]
    )
    required = maintenance_requirement(params[m], quantity, positions.entry_price[j], mark)
    return equity, required


@njit(cache=True)
def account_figures(params, positions, state, crosses, slot):
    """(equity, summed maintenance margin, open positions) of cross account ``slot``."""
    equity = 0.0
    required = 0.0
    count = 0
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if is_open(positions, j):
            position_equity, position_required = position_figures(params, positions, state, j)
            equity += position_equity
            required += position_required
            count += 1
    return equity, required, count


@njit(cache=True, inline="always")
def at_maintenance(equity, required):
    """True when ``equity`` is at or below ``required`` (USD), ties within rounding included."""
    return equity <= required * (1.0 + MAINTENANCE_TIE_RELATIVE)


@njit(cache=True)
def spread_equity(params, positions, state, crosses, slot, equity, required):
    """Set each open position's margin so its equity is ``equity`` shared by maintenance.

    With the account safe, every position is then safe on its own by the same margin ratio.
    """
    if required <= 0.0:
        return
    ratio = equity / required
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if is_open(positions, j):
            position_equity, position_required = position_figures(params, positions, state, j)
            positions.margin[j] += position_required * ratio - position_equity


@njit(cache=True)
def keep_thresholds_conservative(time, params, positions, watchlist, crosses, slot, current):
    """After the account's margins moved, keep every threshold a bound again (see
    :func:`cascadesim.engine.watch_list.keep_threshold_a_bound`); ``current`` (the row
    being processed, -1 for none) is left to the caller."""
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if j != current and is_open(positions, j):
            keep_threshold_a_bound(time, params, positions, watchlist, j)


@njit(cache=True)
def rebalance_account(time, params, positions, state, watchlist, crosses, slot, current):
    """Spread a safe account's equity over its positions by maintenance margin."""
    equity, required, count = account_figures(params, positions, state, crosses, slot)
    if count == 0:
        return
    spread_equity(params, positions, state, crosses, slot, equity, required)
    keep_thresholds_conservative(time, params, positions, watchlist, crosses, slot, current)


@njit(cache=True)
def pool_into(params, positions, state, crosses, slot, target):
    """Leave every other open position at exactly its maintenance margin; ``target`` carries
    the rest of the account's equity."""
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if j != target and is_open(positions, j):
            position_equity, position_required = position_figures(params, positions, state, j)
            surplus = position_equity - position_required
            positions.margin[j] -= surplus
            positions.margin[target] += surplus


@njit(cache=True)
def close_order(params, positions, state, crosses, slot):
    """Open rows of the account in the venue's close order (ties keep row order)."""
    first = crosses.offsets[slot]
    size = crosses.offsets[slot + 1] - first
    rows = np.empty(size, dtype=np.int64)
    keys = np.empty(size)
    count = 0
    rule = -1
    for k in range(first, first + size):
        j = np.int64(crosses.rows[k])
        if not is_open(positions, j):
            continue
        m = np.int64(positions.market[j])
        rule = params[m].cross_close_order
        equity, required = position_figures(params, positions, state, j)
        if rule == CROSS_ORDER_LARGEST_LOSS:
            unrealised = equity - effective_margin(positions, state, j)
            keys[count] = unrealised  # most negative first
        else:
            keys[count] = -required  # largest maintenance first
        rows[count] = j
        count += 1
    order = np.argsort(keys[:count], kind="mergesort")
    return rows[:count][order]


@njit(cache=True)
def close_netted(positions, scratch, crosses, i):
    """Settle row i, closed by netting: its margin stays with the account (the venue
    closed it at the mark, not as a liquidation order), in an open row or its wallet."""
    if release_to_account(positions, scratch, crosses, i) < 0:
        scratch.account_wallet[positions.account[i]] += positions.margin[i]
        positions.margin[i] = 0.0
    positions.status[i] = STATUS_LIQUIDATED


@njit(cache=True)
def net_hedged_pairs(time, params, positions, state, scratch, crosses, slot, events, event_count):
    """Close the overlap of each long and short the account holds in one market of a venue
    that liquidates the net position (``HEDGE_NET_FIRST``), against each other at the mark.

    Both legs are reduced at the same price, so the account's equity and the market's open
    interest balance stay as they were; each leg is logged as a ``netted`` event.

    Returns
    -------
    events : the (possibly reallocated) event buffer
    netted : bool, True when a pair was netted (the account's close order changed)
    """
    netted = False
    first = crosses.offsets[slot]
    last = crosses.offsets[slot + 1]
    for a in range(first, last):
        i = np.int64(crosses.rows[a])
        if positions.side[i] < 0 or not is_open(positions, i):
            continue
        m = np.int64(positions.market[i])
        if params[m].hedge_liquidation != HEDGE_NET_FIRST:
            continue
        for b in range(first, last):
            j = np.int64(crosses.rows[b])
            if positions.market[j] != m or positions.side[j] > 0 or not is_open(positions, j):
                continue
            quantity = min(positions.quantity[i], positions.quantity[j])
            mark = state[m].mark_price
            account = positions.account[i]
            for row in (i, j):
                events = record_event(
                    events,
                    event_count,
                    time,
                    m,
                    account,
                    row,
                    positions.side[row],
                    KIND_NETTED,
                    quantity,
                    quantity * mark,
                    mark,
                    mark,
                    mark,
                    event_figures(params, positions, state, row, mark),
                )
                reduce_position(positions, state, row, quantity, mark)
            scratch.account_liquidated[account] = True
            netted = True
            for row in (i, j):
                if positions.quantity[row] <= 0.0:
                    close_netted(positions, scratch, crosses, row)
    return events, netted


@njit(cache=True)
def liquidate_account(
    time,
    dt,
    slot,
    triggered_row,
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
    """Liquidate breached cross account ``slot`` in its venue's order until it is safe.

    Each position is closed at its own market's current mark by the venue's procedure
    (book, insurance, ADL; chunks and tier step-down included). A partial close that has to
    wait (a chunk cooldown, a retry next step) stops the account until then. What is left
    is rebalanced and ``triggered_row`` (the row that stood for the account) listed.
    """
    equity, required, count = account_figures(params, positions, state, crosses, slot)
    if count == 0:
        return events
    rows = close_order(params, positions, state, crosses, slot)
    venue_market = np.int64(positions.market[rows[0]])
    if params[venue_market].takeover_mode == TAKEOVER_BACKSTOP and (
        equity < params[venue_market].backstop_equity_fraction * required
    ):
        spread_equity(params, positions, state, crosses, slot, equity, required)
        for j in rows:
            scratch.account_liquidated[positions.account[j]] = True
            events = backstop_takeover(
                time,
                j,
                state[positions.market[j]].mark_price,
                params,
                positions,
                state,
                scratch,
                events,
                event_count,
                step_liquidated,
            )
        return events
    events, netted = net_hedged_pairs(
        time, params, positions, state, scratch, crosses, slot, events, event_count
    )
    if netted:
        rows = close_order(params, positions, state, crosses, slot)
    for j in rows:
        if not is_open(positions, j):
            continue
        equity, required, count = account_figures(params, positions, state, crosses, slot)
        if not at_maintenance(equity, required):
            break
        pool_into(params, positions, state, crosses, slot, j)
        events, wait = liquidate_position(
            time,
            dt,
            j,
            state[positions.market[j]].mark_price,
            np.bool_(True),  # a value, not a literal: one compiled variant for both
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
        if wait > time:
            crosses.ready_time[slot] = wait
            break
    rebalance_account(time, params, positions, state, watchlist, crosses, slot, triggered_row)
    if is_open(positions, triggered_row) and positions.status[triggered_row] == STATUS_OPEN:
        watch(params, watchlist, positions, triggered_row, time)
    return events
