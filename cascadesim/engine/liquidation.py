"""The venue's liquidation procedure for one breached position.

Backstop takeover below the venue's equity fraction, else liquidation orders into the book
(whole, in chunks, or a tier step-down), then the insurance fund and auto-deleveraging for
what the book did not fill. The pieces live in :mod:`cascadesim.engine.orders`,
:mod:`cascadesim.engine.takeover`, :mod:`cascadesim.engine.adl` and
:mod:`cascadesim.engine.watch_list`.

Accounting convention: a trader position's value at price P is
``margin + side * quantity * (P - entry_price) - side * quantity * funding_per_unit[m]``;
every aggregate agent (market makers, the hedged counterparty, the taker, the insurance fund,
the backstop vault) holds ``cash + quantity * P``. Every transfer in these modules moves value
from one to another, so the sum over all of them is constant: money is conserved by
construction and checked by the property tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.layout import (
    PARTIAL_CHUNKS,
    PARTIAL_TIER_STEP_DOWN,
    TAKEOVER_BACKSTOP,
    TAKEOVER_NEGATIVE_EQUITY,
)
from cascadesim.engine.margin import maintenance_requirement, position_tier, tier_price
from cascadesim.engine.orders import (
    is_breached,
    liquidation_limit,
    order_cannot_fill,
    position_equity,
    send_liquidation_order,
)
from cascadesim.engine.takeover import backstop_or_deleverage, close_out, fund_takeover
from cascadesim.engine.watch_list import watch

# A step-down keeps the position a hair inside the lower tier so it is not re-tiered upward.
STEP_DOWN_INSIDE = 1.0 - 1e-9


@njit(cache=True, inline="always")
def backstop_takeover_due(market, equity, quantity, entry_price, mark):
    """Whether a position's ``equity`` (USD) is below the backstop's share of its maintenance
    margin: a backstop venue then takes it over instead of sending an order."""
    required = maintenance_requirement(market, quantity, entry_price, mark)
    return equity < market.backstop_equity_fraction * required


@njit(cache=True, inline="always")
def chunk_starts(market, quantity, mark, cooldown_end, time):
    """Whether a liquidation of ``quantity`` at ``mark`` sends one chunk and opens the
    account's cooldown (a position above the venue's chunk minimum, no cooldown running)."""
    return (
        market.partial_mode == PARTIAL_CHUNKS
        and quantity * mark > market.chunk_min_notional_usd
        and cooldown_end <= time
    )


@njit(cache=True, inline="always")
def retried_next_step(takeover_mode, cross, equity):
    """Whether a position an order left open is retried next step rather than taken over: on
    a backstop venue always, on dYdX's while its ``equity`` (USD) is not negative (for a
    cross position the account decides, so dYdX's rule does not apply to it here)."""
    if takeover_mode == TAKEOVER_NEGATIVE_EQUITY and not cross:
        return equity >= 0.0
    return takeover_mode == TAKEOVER_BACKSTOP


@njit(cache=True)
def retry_when_unfillable(time, dt, i, mark, params, positions, state, watchlist, scratch):
    """List isolated breached position i for the next step when that is all that
    :func:`liquidate_position` would do now; returns True if it did.

    On the venues whose market liquidations retry (a backstop vault, or dYdX's wait while
    equity is positive) a position the book cannot fill at its order's limit is tried
    again every step, often for hundreds of steps after a gap. Such an attempt changes
    nothing but the retry: no takeover is due, no chunk cooldown starts and the order would
    fill nothing. Recognising it here skips the procedure's calls (the 10-market benchmark
    spent most of its time on 24 M of these attempts) and leaves every result as it was.
    """
    m = np.int64(positions.market[i])
    takeover = params[m].takeover_mode
    if takeover != TAKEOVER_BACKSTOP and takeover != TAKEOVER_NEGATIVE_EQUITY:
        return False  # the venue takes over instead: nothing to retry
    quantity = positions.quantity[i]
    if quantity <= 0.0:
        return False  # the procedure closes it out
    # The procedure's own decisions: no takeover due, no chunk starting, and a retry.
    equity = position_equity(positions, state, i, mark)
    entry = positions.entry_price[i]
    if takeover == TAKEOVER_BACKSTOP and backstop_takeover_due(
        params[m], equity, quantity, entry, mark
    ):
        return False
    cooldown_end = scratch.chunk_cooldown_end[positions.account[i]]
    if chunk_starts(params[m], quantity, mark, cooldown_end, time):
        return False
    if not retried_next_step(takeover, False, equity):
        return False
    limit, _ = liquidation_limit(params, positions, state, i, mark)
    if not order_cannot_fill(params, state, m, -positions.side[i], limit):
        return False
    scratch.account_liquidated[positions.account[i]] = True
    watch(params, watchlist, positions, i, time + dt)
    return True


@njit(cache=True)
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
    m = np.int64(positions.market[i])
    scratch.account_liquidated[positions.account[i]] = True
    floors = params[m].tier_floor_usd
    quantity = positions.quantity[i]
    if params[m].takeover_mode == TAKEOVER_BACKSTOP and not cross:
        equity = position_equity(positions, state, i, mark)
        if backstop_takeover_due(params[m], equity, quantity, positions.entry_price[i], mark):
            events = backstop_or_deleverage(
                time,
                i,
                mark,
                equity,
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
            return events, -1.0
    order = quantity
    partial = False
    mode = params[m].partial_mode
    if mode == PARTIAL_TIER_STEP_DOWN:
        # Down to the lower tier's limit, on the notional the venue's basis tiers by.
        entry = positions.entry_price[i]
        tier = position_tier(params[m], quantity, entry, mark)
        if tier > 0:
            order = quantity - floors[tier] / tier_price(params[m], entry, mark) * STEP_DOWN_INSIDE
            partial = True
    elif chunk_starts(
        params[m], quantity, mark, scratch.chunk_cooldown_end[positions.account[i]], time
    ):
        # One chunk opens the user's cooldown; within it every order is for the whole
        # position (Hyperliquid docs "Liquidations").
        order = quantity * params[m].chunk_fraction
        partial = True
        scratch.chunk_cooldown_end[positions.account[i]] = time + params[m].chunk_cooldown_s
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
        # Safe after its first part: it stays checked every step like any listed row.
        if cross:
            return events, time
        watch(params, watchlist, positions, i, time)
        return events, -1.0
    equity = position_equity(positions, state, i, mark)
    if retried_next_step(params[m].takeover_mode, cross, equity):
        # Market liquidations retry the next step (the backstop check runs every step).
        if cross:
            return events, time + dt
        watch(params, watchlist, positions, i, time + dt)
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
