"""Positions that open during the run: the opening intensity and the opening of a row.

Every draw (arrival clock, side, size, leverage) is made before the run and passed in
(:class:`cascadesim.engine.layout.Flow`); the kernels only decide *when* a row opens and on
which side, from the market as it stands. A step costs the few arithmetic operations of the
rate plus the rows that open in it: nothing rescans the population. An opened row goes on
the watch list, where the exact check decides its liquidation like any listed row's.

A new trader's order is taken by the passive counterparty at the mark (it sells what the
trader buys), so that both sides of open interest grow by the opened quantity and the
ledger's holders stay balanced; the trader's margin is new money, counted in
``deposited_usd``.
"""

from __future__ import annotations

import math

from numba import njit

from cascadesim.engine.layout import STATUS_FLAG_FLOW_EXHAUSTED, STATUS_OPEN
from cascadesim.engine.market import passive_trade
from cascadesim.engine.watch_list import watch


@njit(cache=True, inline="always")
def opening_rates(flow, m, log_mark):
    """Update market m's averages with the mark's log ``log_mark``; return its rates.

    Returns
    -------
    (fresh, long_probability, reentry_long, reentry_short) : floats; fresh openings and
    re-entries per second, and the chance that a fresh opening is long
    """
    step_return = log_mark - flow.last_log_mark[m]
    flow.last_log_mark[m] = log_mark
    keep = flow.activity_keep[m]
    flow.activity[m] = keep * flow.activity[m] + (1.0 - keep) * abs(step_return)
    keep = flow.trend_keep[m]
    flow.trend_level[m] = keep * flow.trend_level[m] + (1.0 - keep) * log_mark
    trend = (log_mark - flow.trend_level[m]) / flow.trend_scale[m]
    fresh = flow.base_rate[m] * (
        1.0 + flow.activity_gain[m] * flow.activity[m] / flow.sigma_step[m]
    )
    exponent = flow.long_bias[m] + flow.momentum[m] * trend
    long_probability = 1.0 / (1.0 + math.exp(-min(max(exponent, -50.0), 50.0)))
    per_usd = flow.reentry_share[m] / flow.mean_notional_usd[m]
    return (
        fresh,
        long_probability,
        per_usd * flow.reentry_long_usd[m],
        per_usd * flow.reentry_short_usd[m],
    )


@njit(cache=True)
def open_arrivals(time, dt, m, params, positions, state, watchlist, flow, flags):
    """Advance market m's opening clock by one step and open the rows that arrive.

    Parameters
    ----------
    time : float, s, the end of the step
    dt : float, s per step
    m : int, market
    params, positions, state, watchlist : the engine's arrays (mutated: opened rows,
        open interest, the passive counterparty, the watch list)
    flow : layout.Flow (its pointer, averages and deposits mutated)
    flags : int64 (1,), STATUS_FLAG_FLOW_EXHAUSTED raised when the last row opened

    Returns
    -------
    int, rows opened in this step
    """
    mark = state[m].mark_price
    fresh, long_probability, reentry_long, reentry_short = opening_rates(flow, m, math.log(mark))
    rate = fresh + reentry_long + reentry_short
    if rate <= 0.0:
        return 0
    flow.intensity[m] += rate * dt
    long_weight = (fresh * long_probability + reentry_long) / rate
    opened = 0
    row = flow.pointer[m]
    end = flow.end[m]
    while row < end:
        k = flow.first[m] + (row - flow.start[m])
        if flow.arrival[k] > flow.intensity[m]:
            break
        side = 1 if flow.side_draw[k] < long_weight else -1
        open_row(time, m, row, k, side, mark, params, positions, state, watchlist, flow)
        opened += 1
        row += 1
    flow.pointer[m] = row
    if row == end and end > flow.start[m]:
        flags[0] |= STATUS_FLAG_FLOW_EXHAUSTED
    return opened


@njit(cache=True, inline="always")
def open_row(time, m, row, k, side, price, params, positions, state, watchlist, flow):
    """Open flow row ``row`` (draws at k) on ``side`` at ``price`` against the passive side.

    Funding already accumulated is credited to the stored margin (``side * q * F``), so that
    the engine's ``margin - side * q * F_now`` charges the row only what accrues after it
    opened, with its entry exactly the opening price.
    """
    notional = flow.notional_usd[k]
    quantity = notional / price
    margin = notional / flow.leverage[k]
    positions.side[row] = side
    positions.quantity[row] = quantity
    positions.entry_price[row] = price
    positions.margin[row] = margin + side * quantity * state[m].funding_per_unit
    positions.status[row] = STATUS_OPEN
    flow.deposited_usd[0] += margin
    flow.opened_time[k] = time
    if side > 0:
        state[m].trader_long_quantity += quantity
        state[m].hedged_short_quantity += quantity
    else:
        state[m].trader_short_quantity += quantity
        state[m].hedged_long_quantity += quantity
    passive_trade(state, m, -side, quantity, quantity * price)
    watch(params, watchlist, positions, row, time)


@njit(cache=True, inline="always")
def record_liquidations(dt, m, flow, long_usd, short_usd):
    """Fold one step's liquidated notional of market m (USD) into its re-entry averages."""
    keep = flow.reentry_keep[m]
    flow.reentry_long_usd[m] = keep * flow.reentry_long_usd[m] + (1.0 - keep) * long_usd / dt
    flow.reentry_short_usd[m] = keep * flow.reentry_short_usd[m] + (1.0 - keep) * short_usd / dt
