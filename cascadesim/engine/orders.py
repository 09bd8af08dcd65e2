"""Orders into the book and a position's own bookkeeping.

The kernels every liquidation path shares: the event record, a position's margin net of
funding and its maintenance check, closing part of a position at a price, and a market order
walked through a market's book (the market makers take the other side), including the
liquidation order a venue sends for a breached position. Transfers follow the accounting
convention of :mod:`cascadesim.engine.liquidation`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.book import cover_refilled_levels, walk_book
from cascadesim.engine.layout import (
    KIND_BOOK,
    LIMIT_BANKRUPTCY,
    LIMIT_FILLABLE,
    STATUS_FLAG_BOOK_EXHAUSTED,
    STATUS_FLAG_WALK_CAP,
)
from cascadesim.engine.margin import (
    bankruptcy_price,
    liquidation_price,
    maintenance_requirement,
    margin_shortfall,
)


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
    figures,
):
    """Append one liquidation event, doubling the buffer when full; returns the buffer.

    Parameters
    ----------
    events : LIQUIDATION_EVENT_DTYPE array; event_count : int64 (1,), rows written so far
    time : float, s; market : int; account : int (-1: an aggregate agent)
    position : int, row (-1: an aggregate agent); side : int, +1/-1 of what is closed
    kind : int, KIND_* code
    quantity, notional, fill_price, bankruptcy, mark : float, base units, USD, USD, USD, USD
    figures : tuple of four floats, the closed position as it stood before this event's
        close: (entry price, liquidation price, equity, leverage), from
        :func:`event_figures` (:data:`NO_FIGURES` for an aggregate agent)

    Returns
    -------
    events : the buffer (a new, larger one when it was full)
    """
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
    row["entry_price"] = figures[0]
    row["liquidation_price"] = figures[1]
    row["equity_usd"] = figures[2]
    row["leverage"] = figures[3]
    event_count[0] = n + 1
    return events


# The figures of an event that closes an aggregate agent's holding (no position row).
NO_FIGURES = (np.nan, np.nan, np.nan, np.nan)


@njit(cache=True)
def event_figures(params, positions, state, i, mark):
    """What an event records of position i as it stands now, before the event's close.

    Every figure is read from the row as the engine holds it when the event is recorded,
    before the event's quantity is removed: for a position closed by several events (a book
    fill and the insurance fund, ADL in pieces) each event describes what was left before
    it. Margin is the engine's effective margin, net of the funding the position paid or
    received (:func:`effective_margin`); for a cross position it is the share of the wallet
    the account's spreading or pooling left in the row.

    Parameters
    ----------
    params, positions, state : engine arrays; i : int, row; mark : float, USD, the event's
        mark price (its market's mark at the trigger)

    Returns
    -------
    entry : float, USD, the entry price
    liquidation : float, USD, the liquidation price of the row's quantity and effective
        margin under its venue's rule (:func:`cascadesim.engine.margin.liquidation_price`):
        the price at which its equity, funding included, equals its maintenance margin.
        Where the stored threshold is current this is the funding-shifted threshold the
        trigger compared with the mark (``positions.liquidation_price[i]`` plus
        ``funding_shift``); it is computed afresh, so after a partial close or a change of
        a cross row's allocated margin it is the price that now applies, not a stale bound.
        0.0 for a long that no positive price liquidates.
    equity : float, USD, effective margin + side x quantity x (mark - entry)
    leverage : float, quantity x mark / effective margin; inf where that margin is <= 0
    """
    m = np.int64(positions.market[i])
    quantity = positions.quantity[i]
    entry = positions.entry_price[i]
    margin = effective_margin(positions, state, i)
    liquidation, _ = liquidation_price(params[m], positions.side[i], quantity, entry, margin)
    equity = margin + positions.side[i] * quantity * (mark - entry)
    leverage = quantity * mark / margin if margin > 0.0 else np.inf
    return entry, liquidation, equity, leverage


@njit(cache=True, inline="always")
def effective_margin(positions, state, i):
    """Isolated margin (USD) of position i after the funding it has paid or received."""
    m = np.int64(positions.market[i])
    funding = state[m].funding_per_unit
    return positions.margin[i] - positions.side[i] * positions.quantity[i] * funding


@njit(cache=True, inline="always")
def position_equity(positions, state, i, mark):
    """Equity (USD) of position i at ``mark``: its funding-adjusted margin plus its PnL."""
    return effective_margin(positions, state, i) + positions.side[i] * positions.quantity[i] * (
        mark - positions.entry_price[i]
    )


@njit(cache=True, inline="always")
def is_breached(params, positions, state, i, mark):
    """True when position i's equity at ``mark`` is at or below its maintenance margin."""
    m = np.int64(positions.market[i])
    return (
        margin_shortfall(
            params[m],
            positions.side[i],
            positions.quantity[i],
            positions.entry_price[i],
            effective_margin(positions, state, i),
            mark,
        )
        <= 0.0
    )


@njit(cache=True, inline="always")
def reduce_position(positions, state, i, quantity, price):
    """Close ``quantity`` of position i at ``price``: its PnL and owed funding go to margin."""
    m = np.int64(positions.market[i])
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
def hedged_pool_trade(state, m, delta):
    """Book a trade of ``delta`` base units (+ buys) by the hedged pool of market m.

    The market makers and the basis traders they lay off to hold a gross book of longs and
    shorts (the open interest a venue reports beyond the leveraged traders). A trade closes
    the pool's opposite side first, which is how a liquidation absorbed by the book reduces
    open interest; only the rest opens new pool positions.

    Parameters
    ----------
    state : market state records (``market_state_dtype``), mutated in place
    m : int, market
    delta : float, base units bought (> 0) or sold (< 0) by the pool
    """
    if delta > 0.0:
        closed = min(delta, state[m].hedged_short_quantity)
        state[m].hedged_short_quantity -= closed
        state[m].hedged_long_quantity += delta - closed
    elif delta < 0.0:
        closed = min(-delta, state[m].hedged_long_quantity)
        state[m].hedged_long_quantity -= closed
        state[m].hedged_short_quantity += -delta - closed


@njit(cache=True)
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
        state[m].bids[: state[m].book_levels],
        state[m].asks[: state[m].book_levels],
        old_origin,
        params[m].tick_size,
        direction,
        quantity,
        limit_price,
        centre_tick,
        state[m].profile_usd[: state[m].book_levels],
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
        n_levels = state[m].book_levels
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
    if walk_out[3] == 1.0:
        flags[0] |= STATUS_FLAG_BOOK_EXHAUSTED
    elif walk_out[3] == 2.0:
        flags[0] |= STATUS_FLAG_WALK_CAP
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
def fillable_price(params, positions, state, i, mark):
    """dYdX v4's fillable price of position i's liquidation order (USD).

    ``mark x (1 - side x SMMR x MMF x min(BA x (1 - Q), 1))`` with ``Q = equity / MM`` of the
    (isolated) position and MMF its maintenance fraction at the mark: the worse the
    position's bankruptcy rating, the further from the mark its order may fill.

    Parameters
    ----------
    params, positions, state : engine arrays; i : int, row; mark : float, USD

    Returns
    -------
    float, USD, the order's limit price (>= 0)
    """
    m = np.int64(positions.market[i])
    side = positions.side[i]
    quantity = positions.quantity[i]
    notional = quantity * mark
    equity = position_equity(positions, state, i, mark)
    required = maintenance_requirement(params[m], quantity, positions.entry_price[i], mark)
    if required <= 0.0 or notional <= 0.0:
        return mark
    rating = params[m].fillable_bankruptcy_adjustment * (1.0 - equity / required)
    rating = min(max(rating, 0.0), 1.0)
    spread = params[m].fillable_spread_ratio * (required / notional) * rating
    return max(mark * (1.0 - side * spread), 0.0)


@njit(cache=True)
def liquidation_limit(params, positions, state, i, mark):
    """Limit price of position i's liquidation order under its venue's rule, and its
    bankruptcy price (both USD)."""
    m = np.int64(positions.market[i])
    side = positions.side[i]
    margin = effective_margin(positions, state, i)
    bankrupt = bankruptcy_price(
        params[m], side, positions.quantity[i], positions.entry_price[i], margin
    )
    if params[m].limit_mode == LIMIT_BANKRUPTCY:
        return bankrupt, bankrupt
    if params[m].limit_mode == LIMIT_FILLABLE:
        return fillable_price(params, positions, state, i, mark), bankrupt
    return mark * (1.0 - side * params[m].slippage_limit), bankrupt


@njit(cache=True)
def order_cannot_fill(params, state, m, direction, limit_price):
    """True when a market order on market m limited at ``limit_price`` would fill nothing
    and leave the book, its hints and the flags as they are.

    Mirrors the first steps of :func:`cascadesim.engine.book.walk_book` from the side's
    hint, which bounds the best quote: the first level it reads is priced beyond the limit,
    or the hint is outside the window and the next tick beyond it is too.
    """
    n_levels = state[m].book_levels
    tick = params[m].tick_size
    origin = state[m].origin_tick
    if direction < 0:
        level = min(state[m].bid_top_level, n_levels - 1)
        if level < 0:
            return (origin - 1) * tick < limit_price
        return (origin + level) * tick < limit_price
    level = max(state[m].ask_bottom_level, 0)
    if level >= n_levels:
        return (origin + n_levels) * tick > limit_price
    return (origin + level) * tick > limit_price


@njit(cache=True)
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
    m = np.int64(positions.market[i])
    side = positions.side[i]
    limit, bankrupt = liquidation_limit(params, positions, state, i, mark)
    filled, notional = execute_order(params, state, m, -side, quantity, limit, walk_out, flags)
    if filled > 0.0:
        hedged_pool_trade(state, m, side * filled)
        price = notional / filled
        figures = event_figures(params, positions, state, i, mark)
        reduce_position(positions, state, i, filled, price)
        fee = params[m].liquidation_fee_rate * notional
        available = effective_margin(positions, state, i)
        if fee > available:
            fee = available if available > 0.0 else 0.0
        positions.margin[i] -= fee
        state[params[m].fund_pool].fund_cash += fee
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
            figures,
        )
        step_liquidated[m, 0 if side > 0 else 1] += notional
    return events, filled
