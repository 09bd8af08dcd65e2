"""The insurance fund and the backstop vault: takeovers, leftovers, shortfalls, unwinding.

The insurance fund takes what the book did not fill at the bankruptcy price as far as its
equity goes (auto-deleveraging takes the rest); the backstop vault (Hyperliquid) takes a
position whole with its collateral. A fully closed position's leftover margin goes to the
fund (or the trader), a loss beyond it is paid by the fund or backstop and beyond their
equity is bad debt, and both sell their inventory back into the book at their pace.
"""

from __future__ import annotations

from numba import njit

from cascadesim.engine.account_rows import release_to_account
from cascadesim.engine.adl import auto_deleverage
from cascadesim.engine.layout import (
    KIND_BACKSTOP,
    KIND_INSURANCE,
    STATUS_FLAG_BAD_DEBT,
    STATUS_LIQUIDATED,
    TAKEOVER_BACKSTOP,
    TAKEOVER_INSURANCE,
)
from cascadesim.engine.margin import bankruptcy_price
from cascadesim.engine.orders import (
    effective_margin,
    execute_order,
    record_event,
    reduce_position,
)


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
        params[m], side, quantity, positions.entry_price[i], effective_margin(positions, state, i)
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
            )
            step_liquidated[m, 0 if side > 0 else 1] += unmatched * bankrupt
    return events


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
    """The fund (or backstop) pays a loss beyond a trader's margin as far as its equity goes;
    the rest is bad debt, and the fund never goes below zero."""
    if backstop:
        equity = market.backstop_cash + market.backstop_quantity * market.last_price
    else:
        equity = market.fund_cash + market.fund_quantity * market.last_price
    covered = equity if equity > 0.0 else 0.0
    if covered > amount:
        covered = amount
    if amount > covered:
        market.bad_debt_usd += amount - covered
        flags[0] |= STATUS_FLAG_BAD_DEBT
    if backstop:
        market.backstop_cash -= covered
    else:
        market.fund_cash -= covered


@njit(cache=True, inline="always")
def cover_deficits(market, flags):
    """Book as bad debt whatever the fund's or the backstop's equity at the mark fell below
    zero by (a loss it took over moving further, funding on its inventory), so that neither
    is ever negative: bad debt is the loss that nothing absorbed.

    Parameters
    ----------
    market : record of MARKET_STATE_DTYPE, updated in place (fund_cash, backstop_cash,
        bad_debt_usd)
    flags : int64 array (1,), STATUS_FLAG_BAD_DEBT is raised when a deficit is booked
    """
    mark = market.mark_price
    fund = market.fund_cash + market.fund_quantity * mark
    if fund < 0.0:
        market.fund_cash -= fund
        market.bad_debt_usd -= fund
        flags[0] |= STATUS_FLAG_BAD_DEBT
    backstop = market.backstop_cash + market.backstop_quantity * mark
    if backstop < 0.0:
        market.backstop_cash -= backstop
        market.bad_debt_usd -= backstop
        flags[0] |= STATUS_FLAG_BAD_DEBT


@njit(cache=True, inline="always")
def backstop_takeover(
    time, i, mark, params, positions, state, scratch, events, event_count, step_liquidated
):
    """The backstop vault takes position i with its collateral (Hyperliquid)."""
    m = positions.market[i]
    side = positions.side[i]
    quantity = positions.quantity[i]
    margin = effective_margin(positions, state, i)
    bankrupt = bankruptcy_price(params[m], side, quantity, positions.entry_price[i], margin)
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
