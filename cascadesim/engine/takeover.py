"""The insurance fund and the backstop vault: takeovers, leftovers, shortfalls, unwinding.

The insurance fund takes what the book did not fill at the bankruptcy price as far as its
equity goes (auto-deleveraging takes the rest); the backstop vault (Hyperliquid) takes a
position whole with its collateral. A fully closed position's leftover margin goes to the
fund (or the trader), a loss beyond it is paid by the fund or backstop and beyond their
equity is bad debt, and both sell their inventory back into the book at their pace.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cascadesim.engine.account_rows import release_to_account
from cascadesim.engine.adl import auto_deleverage
from cascadesim.engine.layout import (
    ADL_PRICE_MARK,
    ADL_PRICE_PREVIOUS_MARK,
    KIND_BACKSTOP,
    KIND_INSURANCE,
    STATUS_FLAG_BAD_DEBT,
    STATUS_LIQUIDATED,
    TAKEOVER_BACKSTOP,
    TAKEOVER_INSURANCE,
    TAKEOVER_NEGATIVE_EQUITY,
)
from cascadesim.engine.margin import bankruptcy_price
from cascadesim.engine.orders import (
    effective_margin,
    event_figures,
    execute_order,
    hedged_pool_trade,
    record_event,
    reduce_position,
)


@njit(cache=True, inline="always")
def pool_equity(params, state, pool, backstop, at_last):
    """Equity (USD) of one shared insurance fund or backstop vault.

    A pool's cash sits in the record of its first market (``pool``); each member market
    holds its own inventory, valued at its mark (or last price with ``at_last``). A market
    with a fund of its own is a pool of one.

    Parameters
    ----------
    params, state : engine arrays
    pool : int, the pool's market
    backstop : bool, the backstop vault's pool instead of the insurance fund's
    at_last : bool, value inventory at last prices instead of marks

    Returns
    -------
    float, USD
    """
    total = state[pool].backstop_cash if backstop else state[pool].fund_cash
    for k in range(params.shape[0]):
        member = params[k].backstop_pool if backstop else params[k].fund_pool
        if member != pool:
            continue
        held = state[k].backstop_quantity if backstop else state[k].fund_quantity
        if held != 0.0:
            total += held * (state[k].last_price if at_last else state[k].mark_price)
    return total


@njit(cache=True)
def fund_capacity(params, state, m, side, bankrupt, mark, quantity):
    """Base units of a position the insurance fund of market m takes over now (0..quantity).

    Parameters
    ----------
    params, state : engine arrays; m : int, market; side : int, +1/-1 of the position
    bankrupt, mark : float, USD, its bankruptcy price and the mark
    quantity : float, base units left to take over

    Returns
    -------
    float, base units
    """
    mode = params[m].takeover_mode
    if mode != TAKEOVER_INSURANCE and mode != TAKEOVER_NEGATIVE_EQUITY:
        return 0.0
    pool = params[m].fund_pool
    fund_equity = pool_equity(params, state, pool, False, False)
    trigger = params[m].fund_drawdown_trigger
    if trigger > 0.0 and fund_equity < (1.0 - trigger) * state[pool].fund_peak_usd:
        return 0.0
    absorb = quantity
    loss_per_unit = side * (bankrupt - mark)
    if loss_per_unit > 0.0:
        capacity = fund_equity / loss_per_unit if fund_equity > 0.0 else 0.0
        if capacity < absorb:
            absorb = capacity
    cap = params[m].fund_notional_cap_ratio
    if cap > 0.0:
        # Net inventory after the takeover stays within cap x equity in notional.
        headroom = cap * max(fund_equity, 0.0) / mark - side * state[m].fund_quantity
        if headroom < absorb:
            absorb = headroom if headroom > 0.0 else 0.0
    return absorb


@njit(cache=True, inline="always")
def adl_price(params, state, m, bankrupt, mark):
    """Price (USD) at which market m's venue closes ADL counterparties."""
    rule = params[m].adl_price_rule
    if rule == ADL_PRICE_MARK:
        return mark
    if rule == ADL_PRICE_PREVIOUS_MARK:
        return state[m].previous_mark_price
    return bankrupt


@njit(cache=True)
def deleverage_rest(
    time,
    i,
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
    step_liquidated,
):
    """Auto-deleverage what is left of position i at its venue's ADL price.

    Returns
    -------
    events : the (possibly reallocated) event buffer
    unmatched : float, base units no counterparty was left for
    """
    m = np.int64(positions.market[i])
    rest = positions.quantity[i]
    price = adl_price(params, state, m, bankrupt, mark)
    events, unmatched = auto_deleverage(
        time,
        i,
        rest,
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
    )
    step_liquidated[m, 0 if positions.side[i] > 0 else 1] += (rest - unmatched) * price
    return events, unmatched


@njit(cache=True)
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
    """Insurance fund takes what it can absorb at the bankruptcy price; ADL takes the rest.

    The fund absorbs no more than its equity covers at the mark, nor (where the venue caps
    it) more net inventory than ``fund_notional_cap_ratio`` times its equity, and nothing
    once it has fallen ``fund_drawdown_trigger`` below its recent peak. What is left is
    deleveraged at the venue's ADL price.
    """
    m = np.int64(positions.market[i])
    side = positions.side[i]
    quantity = positions.quantity[i]
    bankrupt = bankruptcy_price(
        params[m], side, quantity, positions.entry_price[i], effective_margin(positions, state, i)
    )
    absorb = fund_capacity(params, state, m, side, bankrupt, mark, quantity)
    if absorb > 0.0:
        state[m].fund_quantity += side * absorb
        state[params[m].fund_pool].fund_cash -= side * absorb * bankrupt
        figures = event_figures(params, positions, state, i, mark)
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
            figures,
        )
        step_liquidated[m, 0 if side > 0 else 1] += absorb * bankrupt
    if positions.quantity[i] > 0.0:
        events, unmatched = deleverage_rest(
            time,
            i,
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
            step_liquidated,
        )
        if unmatched > 0.0:
            # Nobody left to deleverage against: the fund must hold it, whatever its balance.
            state[m].fund_quantity += side * unmatched
            state[params[m].fund_pool].fund_cash -= side * unmatched * bankrupt
            figures = event_figures(params, positions, state, i, mark)
            reduce_position(positions, state, i, unmatched, bankrupt)
            # Its loss at the mark is beyond the fund's equity (else the fund would have
            # absorbed the whole position): cover_deficits books it as bad debt.
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
                figures,
            )
            step_liquidated[m, 0 if side > 0 else 1] += unmatched * bankrupt
    return events


@njit(cache=True)
def close_out(params, positions, state, scratch, crosses, i, flags):
    """Settle a fully closed liquidated position's leftover margin and mark it liquidated.

    In a cross account with positions still open the leftover, gain or loss, stays in the
    account's wallet; otherwise it goes to the fund (or, on backstop venues, to the trader).
    """
    m = np.int64(positions.market[i])
    leftover = positions.margin[i]
    if crosses.slot[positions.account[i]] >= 0:
        if release_to_account(positions, scratch, crosses, i) >= 0:
            positions.status[i] = STATUS_LIQUIDATED
            return
    backstop = params[m].takeover_mode == TAKEOVER_BACKSTOP
    if leftover >= 0.0:
        if backstop or params[m].takeover_mode == TAKEOVER_NEGATIVE_EQUITY:
            # Hyperliquid and dYdX leave collateral above the fills with the trader.
            scratch.account_wallet[positions.account[i]] += leftover
        else:
            state[params[m].fund_pool].fund_cash += leftover
    else:
        pay_shortfall(params, state, m, -leftover, backstop, flags)
    positions.margin[i] = 0.0
    positions.status[i] = STATUS_LIQUIDATED


@njit(cache=True, inline="always")
def pay_shortfall(params, state, m, amount, backstop, flags):
    """The fund (or backstop) of market m pays a loss beyond a trader's margin as far as its
    (pool's) equity goes; the rest is market m's bad debt, and no fund goes below zero."""
    pool = params[m].backstop_pool if backstop else params[m].fund_pool
    equity = pool_equity(params, state, pool, backstop, True)
    covered = equity if equity > 0.0 else 0.0
    if covered > amount:
        covered = amount
    if amount > covered:
        state[m].bad_debt_usd += amount - covered
        flags[0] |= STATUS_FLAG_BAD_DEBT
    if backstop:
        state[pool].backstop_cash -= covered
    else:
        state[pool].fund_cash -= covered


@njit(cache=True)
def cover_deficits(params, state, m, flags):
    """Book as bad debt whatever a fund's or a backstop's equity at the mark fell below zero
    by (a loss it took over moving further, funding on its inventory), so that neither is
    ever negative: bad debt is the loss that nothing absorbed.

    Parameters
    ----------
    params, state : engine arrays; state is updated in place (fund_cash, backstop_cash,
        bad_debt_usd of market m)
    m : int, the market; only a pool's first market settles the pool
    flags : int64 array (1,), STATUS_FLAG_BAD_DEBT is raised when a deficit is booked
    """
    if params[m].fund_pool == m:
        fund = pool_equity(params, state, m, False, False)
        if fund < 0.0:
            state[m].fund_cash -= fund
            state[m].bad_debt_usd -= fund
            flags[0] |= STATUS_FLAG_BAD_DEBT
    if params[m].backstop_pool == m:
        backstop = pool_equity(params, state, m, True, False)
        if backstop < 0.0:
            state[m].backstop_cash -= backstop
            state[m].bad_debt_usd -= backstop
            flags[0] |= STATUS_FLAG_BAD_DEBT


@njit(cache=True)
def backstop_takeover(
    time, i, mark, params, positions, state, scratch, events, event_count, step_liquidated
):
    """The backstop vault takes position i with its collateral (Hyperliquid)."""
    m = np.int64(positions.market[i])
    side = positions.side[i]
    quantity = positions.quantity[i]
    margin = effective_margin(positions, state, i)
    bankrupt = bankruptcy_price(params[m], side, quantity, positions.entry_price[i], margin)
    figures = event_figures(params, positions, state, i, mark)
    state[m].backstop_quantity += side * quantity
    state[params[m].backstop_pool].backstop_cash += (
        margin - side * quantity * positions.entry_price[i]
    )
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
        figures,
    )
    step_liquidated[m, 0 if side > 0 else 1] += quantity * mark
    return events


@njit(cache=True)
def backstop_or_deleverage(
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
):
    """The backstop vault takes breached position i, unless the vault cannot carry it.

    A position whose value (``equity``, USD at the mark) is negative by more than the vault's
    own equity would leave the vault below zero: then it is auto-deleveraged instead, whole,
    against the ranked opposite positions at the venue's ADL price (Hyperliquid: the previous
    mark), and what is left of its margin settles as any closed position's does. Only if no
    counterparty is left does the vault take the rest.

    Returns
    -------
    events : the (possibly reallocated) event buffer
    """
    m = np.int64(positions.market[i])
    vault = pool_equity(params, state, params[m].backstop_pool, True, False)
    if equity >= 0.0 or vault + equity >= 0.0:
        return backstop_takeover(
            time, i, mark, params, positions, state, scratch, events, event_count, step_liquidated
        )
    bankrupt = bankruptcy_price(
        params[m],
        positions.side[i],
        positions.quantity[i],
        positions.entry_price[i],
        effective_margin(positions, state, i),
    )
    events, unmatched = deleverage_rest(
        time,
        i,
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
        step_liquidated,
    )
    if unmatched > 0.0:
        return backstop_takeover(
            time, i, mark, params, positions, state, scratch, events, event_count, step_liquidated
        )
    close_out(params, positions, state, scratch, crosses, i, flags)
    return events


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
    hedged_pool_trade(state, m, -direction * filled)
    if backstop:
        market.backstop_quantity += direction * filled
        state[params[m].backstop_pool].backstop_cash -= direction * notional
    else:
        market.fund_quantity += direction * filled
        state[params[m].fund_pool].fund_cash -= direction * notional
