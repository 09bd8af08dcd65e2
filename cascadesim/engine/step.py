"""The time-step loop.

Within a step, in this order: exogenous index update; exogenous taker flow (a sell
programme); arbitrage between each perp and its index; per market the liquidation fixed point
(mark -> trigger -> orders -> book walk -> last -> mark ...) up to an iteration cap; the
insurance fund and backstop unwinding inventory; market makers' withdrawal and resilience;
funding if due; the basis average and the timeline record.

Triggered positions come from two places and never from a rescan of the population: each
(market, side, tier) group's pointer into positions sorted by liquidation price, and the
watch list. Funding shifts every threshold of a group by the same amount, so the sort stays
valid; the pointer test is conservative and an exact margin check decides. Within one
fixed-point iteration triggered positions are processed in row order.
"""

from __future__ import annotations

import math

from numba import njit

from cascadesim.engine.book import (
    QUIET_HALF_LIVES,
    PROFILE_REFERENCE_MOVE,
    best_ask_level,
    best_bid_level,
    depth_within,
    fill_levels,
    relax_toward_target,
    shift_window,
    tabulate_profile,
)
from cascadesim.engine.layout import (
    STATUS_FLAG_ITERATION_CAP,
    STATUS_OPEN,
    STATUS_WATCHED,
)
from cascadesim.engine.liquidation import (
    execute_order,
    is_breached,
    liquidate_position,
    unwind_inventory,
    watch,
)
from cascadesim.engine.pricing import funding_rate, mark_price, premium_for_rate

THRESHOLD_RELATIVE_SLACK = 1e-9  # covers rounding between the closed form and the exact check


@njit(cache=True)
def best_bid_price(params, state, m):
    """Best bid (USD) of market m, 0.0 when the bid side is empty; tightens the hint."""
    level = best_bid_level(state.bids[m], state.bid_top_level[m])
    state.bid_top_level[m] = level
    if level < 0:
        return 0.0
    return (state.origin_tick[m] + level) * params.tick_size[m]


@njit(cache=True)
def best_ask_price(params, state, m):
    """Best ask (USD) of market m, ``inf`` when the ask side is empty; tightens the hint."""
    level = best_ask_level(state.asks[m], state.ask_bottom_level[m])
    state.ask_bottom_level[m] = level
    if level >= state.asks.shape[1]:
        return math.inf
    return (state.origin_tick[m] + level) * params.tick_size[m]


@njit(cache=True)
def predicted_funding(params, state, m):
    """Funding rate (fraction per interval) the premium so far would settle at."""
    if state.premium_time[m] <= 0.0:
        return state.funding_rate[m]
    return funding_rate(state.premium_sum[m] / state.premium_time[m],
                        params.funding_interest_rate[m], params.funding_clamp[m],
                        params.funding_cap[m])


@njit(cache=True)
def current_mark(time, params, state, m):
    """Mark price (USD) of market m from the current index, basis average and book."""
    index = state.index_price[params.asset[m]]
    return mark_price(params.mark_rule[m], index, state.basis_average[m], state.last_price[m],
                      best_bid_price(params, state, m), best_ask_price(params, state, m),
                      predicted_funding(params, state, m), state.next_funding_time[m] - time,
                      params.funding_interval_s[m])


@njit(cache=True)
def collect_triggered(time, m, mark, params, positions, groups, state, watchlist, scratch):
    """Rows of market m breached at ``mark`` and ready; returns their count (sorted rows)."""
    n_tiers = params.tier_floor_usd.shape[1]
    funding = state.funding_per_unit[m]
    count = 0
    for slot in range(2):
        side = 1 if slot == 0 else -1
        for tier in range(n_tiers):
            g = (m * 2 + slot) * n_tiers + tier
            row = groups.pointer[g]
            end = groups.end[g]
            if row >= end:
                continue
            shift = funding / (1.0 - side * params.tier_mmr[m, tier])
            # Funding can carry a position into another tier, where the shift differs.
            slack = 0.0
            for other in range(params.tier_count[m]):
                gap = abs(funding / (1.0 - side * params.tier_mmr[m, other]) - shift)
                if gap > slack:
                    slack = gap
            while row < end:
                threshold = positions.liquidation_price[row] + shift
                tolerance = slack + THRESHOLD_RELATIVE_SLACK * abs(threshold)
                if side > 0:
                    crossed = mark <= threshold + tolerance
                else:
                    crossed = mark >= threshold - tolerance
                if not crossed:
                    break
                if positions.status[row] == STATUS_OPEN:
                    if is_breached(params, positions, state, row, mark):
                        scratch.triggered[count] = row
                        count += 1
                    else:
                        watch(watchlist, positions, row, time)
                row += 1
            groups.pointer[g] = row
    k = 0
    while k < watchlist.count[0]:
        i = watchlist.position[k]
        if positions.market[i] != m:
            k += 1
            continue
        listed = positions.status[i] == STATUS_WATCHED
        if listed and (watchlist.ready_time[k] > time
                       or not is_breached(params, positions, state, i, mark)):
            k += 1
            continue
        if listed:
            scratch.triggered[count] = i
            count += 1
            positions.status[i] = STATUS_OPEN
        last = watchlist.count[0] - 1
        watchlist.position[k] = watchlist.position[last]
        watchlist.ready_time[k] = watchlist.ready_time[last]
        watchlist.count[0] = last
    scratch.triggered[:count].sort()
    return count


@njit(cache=True)
def arbitrage(dt, m, params, assets, state, walk_out, flags):
    """Hedged arbitrageurs close the perp's gap to the index beyond the no-trade band.

    Buying the perp is hedged by selling spot (and the reverse), which moves the index by
    ``spot_impact_share * notional / spot_depth_1pct_usd`` percent: that is how selling on
    one venue reaches every venue of the asset.
    """
    a = params.asset[m]
    index = state.index_price[a]
    band = params.arbitrage_band[m]
    capacity = params.arbitrage_capacity_usd_per_s[m] * dt / index
    if capacity <= 0.0:
        return
    if best_ask_price(params, state, m) < index * (1.0 - band):
        direction = 1
        limit = index * (1.0 - band)
    elif best_bid_price(params, state, m) > index * (1.0 + band):
        direction = -1
        limit = index * (1.0 + band)
    else:
        return
    filled, notional = execute_order(params, state, m, direction, capacity, limit, walk_out,
                                     flags)
    if filled <= 0.0:
        return
    held = state.passive_quantity[m]
    if held * direction >= 0.0:
        total = abs(held) + filled
        state.passive_entry_price[m] = (abs(held) * state.passive_entry_price[m] + notional) / total
    elif abs(held) < filled:
        state.passive_entry_price[m] = notional / filled
    state.passive_quantity[m] = held + direction * filled
    state.passive_cash[m] -= direction * notional
    impact = -direction * params.spot_impact_share[m] * notional / assets.spot_depth_1pct_usd[a] * 0.01
    state.spot_impact_log[a] += impact
    state.index_price[a] *= math.exp(impact)


@njit(cache=True)
def exogenous_flow(usd, m, state, params, walk_out, flags):
    """The scenario's aggressive trader sends a market order of ``usd`` (signed, + buys)."""
    direction = 1 if usd > 0.0 else -1
    quantity = abs(usd) / state.last_price[m]
    limit = math.inf if direction > 0 else 0.0
    filled, notional = execute_order(params, state, m, direction, quantity, limit, walk_out, flags)
    state.taker_quantity[m] += direction * filled
    state.taker_cash[m] -= direction * notional


@njit(cache=True)
def liquidation_fixed_point(time, dt, m, iteration_cap, params, positions, groups, state,
                            watchlist, scratch, events, event_count, walk_out, flags,
                            step_liquidated):
    """Trigger, liquidate and re-mark until nothing new triggers; returns (events, iterations)."""
    iterations = 0
    for _ in range(iteration_cap):
        scratch.adl_cache[5] += 1
        mark = current_mark(time, params, state, m)
        state.mark_price[m] = mark
        count = collect_triggered(time, m, mark, params, positions, groups, state, watchlist,
                                  scratch)
        if count == 0:
            return events, iterations
        iterations += 1
        for k in range(count):
            events = liquidate_position(time, dt, scratch.triggered[k], mark, params, positions,
                                        groups, state, watchlist, scratch, events, event_count,
                                        walk_out, flags, step_liquidated)
    flags[0] |= STATUS_FLAG_ITERATION_CAP
    return events, iterations


@njit(cache=True)
def update_liquidity(dt, m, params, state):
    """Market makers' quoting scale from realised volatility and one-sided flow."""
    decay = 0.5 ** (dt / params.stress_half_life_s[m])
    log_return = math.log(state.last_price[m] / state.centre_price[m])
    variance = decay * state.volatility[m] ** 2 + (1.0 - decay) * log_return * log_return / dt
    state.volatility[m] = math.sqrt(variance)
    flow = state.step_taker_flow_usd[m] / (params.depth_1pct_usd[m] * dt)
    state.flow_imbalance[m] = decay * state.flow_imbalance[m] + (1.0 - decay) * flow
    excess = state.volatility[m] / params.baseline_volatility[m] - 1.0
    stress = (params.withdrawal_vol_sensitivity[m] * (excess if excess > 0.0 else 0.0)
              + params.withdrawal_flow_sensitivity[m] * abs(state.flow_imbalance[m]))
    floor = params.liquidity_floor[m]
    return floor + (1.0 - floor) / (1.0 + stress)


@njit(cache=True)
def refresh_book(dt, m, params, state):
    """Re-centre the window, then withdrawal and resilience toward the target profile."""
    n_levels = state.bids.shape[1]
    tick = params.tick_size[m]
    old_centre_tick = int(round(state.centre_price[m] / tick))
    liquidity = update_liquidity(dt, m, params, state)
    if abs(liquidity - state.liquidity_factor[m]) > 1e-12:
        state.quiet_steps[m] = 0
    state.liquidity_factor[m] = liquidity
    state.centre_price[m] = state.last_price[m]
    centre_tick = int(round(state.centre_price[m] / tick))
    if centre_tick != old_centre_tick:
        state.quiet_steps[m] = 0
    if abs(state.centre_price[m] / state.profile_price[m] - 1.0) > PROFILE_REFERENCE_MOVE:
        state.profile_price[m] = state.centre_price[m]
        tabulate_profile(params.depth_1pct_usd[m], params.depth_shape[m], tick,
                         state.centre_price[m], state.profile_usd[m])
    centre_level = centre_tick - state.origin_tick[m]
    if centre_level < n_levels // 4 or centre_level > 3 * n_levels // 4:
        old_origin = state.origin_tick[m]
        state.origin_tick[m] = shift_window(state.bids[m], state.asks[m], old_origin,
                                            centre_level - n_levels // 2, tick, centre_tick,
                                            state.profile_usd[m], liquidity)
        moved = state.origin_tick[m] - old_origin
        state.bid_top_level[m] -= moved
        state.ask_bottom_level[m] -= moved
        centre_level = centre_tick - state.origin_tick[m]
    slowest = max(params.resilience_half_life_s[m], params.withdrawal_half_life_s[m])
    settle_steps = int(math.ceil(QUIET_HALF_LIVES * slowest / dt))
    quiet = state.quiet_steps[m]
    if quiet < settle_steps:
        relax_toward_target(state.bids[m], state.asks[m], state.origin_tick[m], tick, centre_tick,
                            state.profile_usd[m], liquidity,
                            1.0 - 0.5 ** (dt / params.resilience_half_life_s[m]),
                            1.0 - 0.5 ** (dt / params.withdrawal_half_life_s[m]))
    elif quiet == settle_steps:
        # 2**-30 of the gap is left: the book is its target, and stays so untouched.
        fill_levels(state.bids[m], state.asks[m], state.origin_tick[m], tick, centre_tick,
                    state.profile_usd[m], liquidity, 0, n_levels)
    if quiet <= settle_steps:
        top = centre_level - 1
        if top > n_levels - 1:
            top = n_levels - 1
        if state.bid_top_level[m] < top:
            state.bid_top_level[m] = top
        bottom = centre_level + 1
        if bottom < 0:
            bottom = 0
        if state.ask_bottom_level[m] > bottom:
            state.ask_bottom_level[m] = bottom
    if state.bid_top_level[m] > n_levels - 1:
        state.bid_top_level[m] = n_levels - 1
    if state.ask_bottom_level[m] < 0:
        state.ask_bottom_level[m] = 0
    state.quiet_steps[m] = quiet + 1


@njit(cache=True)
def quote_snapshot(m, params, state):
    """(mid, index, best bid, best ask) of market m in USD; mid falls back to the last price."""
    index = state.index_price[params.asset[m]]
    bid = best_bid_price(params, state, m)
    ask = best_ask_price(params, state, m)
    mid = 0.5 * (bid + ask) if bid > 0.0 and ask < math.inf else state.last_price[m]
    return mid, index, bid, ask


@njit(cache=True)
def record_step(row, time, m, params, state, mid, bid, ask, iterations, step_liquidated,
                liquidations, adl_before):
    """Write one timeline row for market m."""
    index = state.index_price[params.asset[m]]
    mark = state.mark_price[m]
    row.time = time
    row.index_price = index
    row.mark_price = mark
    row.last_price = state.last_price[m]
    row.best_bid = bid
    row.best_ask = ask
    bid_usd, ask_usd = depth_within(state.bids[m], state.asks[m], state.origin_tick[m],
                                   params.tick_size[m], mid, 0.01)
    row.bid_depth_1pct_usd = bid_usd
    row.ask_depth_1pct_usd = ask_usd
    row.liquidity_factor = state.liquidity_factor[m]
    long_oi = state.trader_long_quantity[m]
    short_oi = state.trader_short_quantity[m]
    for held in (state.maker_quantity[m], state.passive_quantity[m], state.taker_quantity[m],
                 state.fund_quantity[m], state.backstop_quantity[m]):
        if held > 0.0:
            long_oi += held
        else:
            short_oi -= held
    row.long_open_interest = long_oi
    row.short_open_interest = short_oi
    row.liquidated_long_usd = step_liquidated[0]
    row.liquidated_short_usd = step_liquidated[1]
    row.liquidation_events = liquidations
    row.adl_notional_usd = state.adl_notional_usd[m] - adl_before
    row.insurance_fund_usd = state.fund_cash[m] + state.fund_quantity[m] * mark
    row.backstop_usd = state.backstop_cash[m] + state.backstop_quantity[m] * mark
    row.funding_rate = predicted_funding(params, state, m)
    row.iterations = iterations


@njit(cache=True)
def pay_funding(time, m, params, state):
    """Settle funding on every holder of market m if a settlement is due."""
    if time < state.next_funding_time[m] - 1e-9:
        return
    rate = predicted_funding(params, state, m)
    per_unit = rate * state.mark_price[m]
    state.funding_per_unit[m] += per_unit
    state.maker_cash[m] -= state.maker_quantity[m] * per_unit
    state.passive_cash[m] -= state.passive_quantity[m] * per_unit
    state.taker_cash[m] -= state.taker_quantity[m] * per_unit
    state.fund_cash[m] -= state.fund_quantity[m] * per_unit
    state.backstop_cash[m] -= state.backstop_quantity[m] * per_unit
    state.funding_rate[m] = rate
    state.premium_sum[m] = 0.0
    state.premium_time[m] = 0.0
    state.next_funding_time[m] += params.funding_interval_s[m]


@njit(cache=True)
def run_steps(first_step, last_step, dt, liquidations_enabled, iteration_cap, params, assets,
              index_path, taker_flow_usd, positions, groups, state, watchlist, scratch, events,
              event_count, timeline, walk_out, flags, step_liquidated):
    """Advance the simulation from ``first_step`` to ``last_step`` (exclusive).

    Parameters
    ----------
    dt : float, seconds per step
    liquidations_enabled : bool, False for the counterfactual run
    iteration_cap : int, most fixed-point iterations per market and step
    index_path : float64 (n_steps + 1, n_assets), exogenous index in USD; row 0 is the start
    taker_flow_usd : float64 (n_steps, n_markets), signed exogenous taker USD per step
    events : LIQUIDATION_EVENT_DTYPE array, grown as needed; event_count : int64 (1,)
    timeline : TIMELINE_DTYPE array (n_steps, n_markets), written
    walk_out : float64 (5,), flags : int64 (1,), step_liquidated : float64 (2,) scratch

    Returns
    -------
    events : the (possibly reallocated) event buffer
    """
    n_markets = params.asset.shape[0]
    n_assets = index_path.shape[1]
    for step in range(first_step, last_step):
        time = (step + 1) * dt
        for a in range(n_assets):
            state.index_price[a] = index_path[step + 1, a] * math.exp(state.spot_impact_log[a])
        for m in range(n_markets):
            state.step_taker_flow_usd[m] = 0.0
            if taker_flow_usd[step, m] != 0.0:
                exogenous_flow(taker_flow_usd[step, m], m, state, params, walk_out, flags)
        for m in range(n_markets):
            arbitrage(dt, m, params, assets, state, walk_out, flags)
        for m in range(n_markets):
            step_liquidated[0] = 0.0
            step_liquidated[1] = 0.0
            events_before = event_count[0]
            adl_before = state.adl_notional_usd[m]
            iterations = 0
            if liquidations_enabled:
                events, iterations = liquidation_fixed_point(
                    time, dt, m, iteration_cap, params, positions, groups, state, watchlist,
                    scratch, events, event_count, walk_out, flags, step_liquidated)
            state.mark_price[m] = current_mark(time, params, state, m)
            unwind_inventory(dt, m, params, state, state.fund_cash, state.fund_quantity,
                             walk_out, flags)
            unwind_inventory(dt, m, params, state, state.backstop_cash, state.backstop_quantity,
                             walk_out, flags)
            refresh_book(dt, m, params, state)
            mid, index, bid, ask = quote_snapshot(m, params, state)
            state.premium_sum[m] += (mid - index) / index * dt
            state.premium_time[m] += dt
            state.mark_price[m] = current_mark(time, params, state, m)
            pay_funding(time, m, params, state)
            alpha = dt / (params.basis_average_s[m] + dt)
            state.basis_average[m] += alpha * ((mid - index) - state.basis_average[m])
            record_step(timeline[step, m], time, m, params, state, mid, bid, ask, iterations,
                        step_liquidated, event_count[0] - events_before, adl_before)
    return events
