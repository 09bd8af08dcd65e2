"""Market mechanics of one step, outside the liquidation fixed point.

The index update (own path, spot impact, factor coupling), quotes that follow the index,
the scenario's exogenous taker flow, arbitrage between each perp and its index, market
makers' spot hedge, best quotes, mid and mark, withdrawal and resilience of the book, and
funding settlement. The mark-price and funding-rate formulas are in
:mod:`cascadesim.engine.pricing`; :mod:`cascadesim.engine.step` calls these in order.
"""

from __future__ import annotations

import math

from numba import njit

from cascadesim.engine.book import (
    PROFILE_REFERENCE_MOVE,
    QUIET_HALF_LIVES,
    best_ask_level,
    best_bid_level,
    cover_refilled_levels,
    fill_levels,
    move_quotes,
    relax_toward_target,
    shift_window,
    tabulate_profile,
)
from cascadesim.engine.layout import STATUS_FLAG_INDEX_BOUND
from cascadesim.engine.orders import execute_order, hedged_pool_trade
from cascadesim.engine.pricing import funding_rate, mark_price


@njit(cache=True)
def best_bid_price(params, state, m):
    """Best bid (USD) of market m, 0.0 when the bid side is empty; tightens the hint."""
    level = best_bid_level(state[m].bids[: state[m].book_levels], state[m].bid_top_level)
    state[m].bid_top_level = level
    if level < 0:
        return 0.0
    return (state[m].origin_tick + level) * params[m].tick_size


@njit(cache=True)
def best_ask_price(params, state, m):
    """Best ask (USD) of market m, ``inf`` when the ask side is empty; tightens the hint."""
    level = best_ask_level(state[m].asks[: state[m].book_levels], state[m].ask_bottom_level)
    state[m].ask_bottom_level = level
    if level >= state[m].book_levels:
        return math.inf
    return (state[m].origin_tick + level) * params[m].tick_size


@njit(cache=True)
def predicted_funding(params, state, m):
    """Funding rate (fraction paid per interval) the premium so far would settle at."""
    if state[m].premium_time <= 0.0:
        return state[m].funding_rate
    return funding_rate(
        state[m].premium_sum / state[m].premium_time,
        params[m].funding_interest_rate,
        params[m].funding_clamp,
        params[m].funding_cap,
        params[m].funding_interval_s,
        params[m].funding_premium_period_s,
    )


@njit(cache=True)
def current_mark(time, params, assets, state, m):
    """Mark price (USD) of market m from the current index, basis average and book.

    Held at one tick or more: an index that jumps far from the perp (a near-empty spot
    market's hedges, found by the fuzzer) leaves ``index + basis average`` negative, and no
    venue's mark is below the lowest price its book can quote.
    """
    index = market_index(params, assets, m)
    mark = mark_price(
        params[m].mark_rule,
        index,
        state[m].basis_average,
        state[m].last_price,
        best_bid_price(params, state, m),
        best_ask_price(params, state, m),
        predicted_funding(params, state, m),
        state[m].next_funding_time - time,
        params[m].funding_interval_s,
    )
    tick = params[m].tick_size
    return mark if mark > tick else tick


# Spot impact moves the index by at most a factor 100 either way: a spot market thinner than
# its perps' flows could otherwise drive the index to 0.0 (or inf), where no price is defined.
# Reaching the bound means the scenario's spot depth is unrealistic (STATUS_FLAG_INDEX_BOUND).
MAX_SPOT_IMPACT_LOG = math.log(100.0)
# An index never leaves [1e-6, 1e6] times its start (path, spot impact and the factor's beta
# together; a scenario's own path is held within [1e-4, 1e4] by validation): with the window
# limits of cascadesim.model.market this keeps every price in ticks far inside int64, and the
# cost of re-centring bounded. Reaching it raises STATUS_FLAG_INDEX_BOUND.
MAX_INDEX_RATIO = 1e6


@njit(cache=True, inline="always")
def bounded_impact(impact_so_far, impact):
    """``impact`` (log) limited so the cumulative impact stays within the bound."""
    if impact_so_far + impact < -MAX_SPOT_IMPACT_LOG:
        return -MAX_SPOT_IMPACT_LOG - impact_so_far
    if impact_so_far + impact > MAX_SPOT_IMPACT_LOG:
        return MAX_SPOT_IMPACT_LOG - impact_so_far
    return impact


@njit(cache=True, inline="always")
def market_index(params, assets, m):
    """Index of market m in its own price unit: USD, or K / USD for an inverse market.

    An inverse market runs as a linear market in x = K / price (cascadesim.model.contracts):
    buying it in x is selling the coin in USD, and its money is in the coin.
    """
    index = assets[params[m].asset].index_price
    scale = params[m].reciprocal_scale
    return index if scale == 0.0 else scale / index


@njit(cache=True, inline="always")
def usd_buy_notional(params, assets, m, signed_notional):
    """USD notional of the coin bought (+) or sold (-) by a signed trade of market m.

    For an inverse market the trade is in x = K / price with its notional in the coin: a
    buy there sells the coin, worth the notional times the USD index.
    """
    if params[m].reciprocal_scale == 0.0:
        return signed_notional
    return -signed_notional * assets[params[m].asset].index_price


@njit(cache=True, inline="always")
def market_flow(params, assets, m, usd):
    """The scenario's taker flow (signed USD, + buys the coin) in market m's own units."""
    if params[m].reciprocal_scale == 0.0:
        return usd
    return -usd / assets[params[m].asset].index_price


@njit(cache=True, inline="always")
def passive_trade(state, m, direction, quantity, notional):
    """The passive counterparty of market m buys (direction +1) or sells ``quantity`` base
    units for ``notional`` USD; its average entry follows (ADL ranks it by that entry)."""
    held = state[m].passive_quantity
    if held * direction >= 0.0:
        total = abs(held) + quantity
        state[m].passive_entry_price = (abs(held) * state[m].passive_entry_price + notional) / total
    elif abs(held) < quantity:
        state[m].passive_entry_price = notional / quantity
    state[m].passive_quantity = held + direction * quantity
    state[m].passive_cash -= direction * notional


@njit(cache=True)
def arbitrage(dt, m, params, assets, state, walk_out, flags):
    """Hedged arbitrageurs close the perp's gap to the index beyond the no-trade band.

    Buying the perp is hedged by selling spot (and the reverse), which moves the index by
    ``spot_impact_share * notional / spot_depth_1pct_usd`` percent: that is how selling on
    one venue reaches every venue of the asset.
    """
    a = params[m].asset
    index = market_index(params, assets, m)
    band = params[m].arbitrage_band
    capacity = params[m].arbitrage_capacity_usd_per_s * dt / index
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
    filled, notional = execute_order(params, state, m, direction, capacity, limit, walk_out, flags)
    if filled <= 0.0:
        return
    passive_trade(state, m, direction, filled, notional)
    bought_usd = usd_buy_notional(params, assets, m, direction * notional)
    impact = bounded_impact(
        assets[a].spot_impact_log,
        -params[m].spot_impact_share * bought_usd / assets[a].spot_depth_1pct_usd * 0.01,
    )
    assets[a].spot_impact_log += impact
    assets[a].index_price *= math.exp(impact)


@njit(cache=True)
def reprice_quotes(dt, m, params, assets, state):
    """Market makers hedge on spot: when the index moves, their quotes move with it.

    The centre scales by the index's move since the last repricing and is pulled toward the
    index with the quote-anchor half-life (makers know fair value: a gap that liquidation
    flow opens closes over tens of seconds even without arbitrage). The resting book is
    shifted by the same number of ticks.
    """
    index = market_index(params, assets, m)
    centre = state[m].centre_price * (index / state[m].quote_index)
    half_life = params[m].quote_anchor_half_life_s
    if half_life > 0.0:
        centre += (index - centre) * (1.0 - 0.5 ** (dt / half_life))
    state[m].quote_index = index
    if centre == state[m].centre_price:
        return
    tick = params[m].tick_size
    old_tick = int(round(state[m].centre_price / tick))
    state[m].centre_price = centre
    new_tick = int(round(state[m].centre_price / tick))
    ticks = new_tick - old_tick
    if ticks == 0:
        return
    move_quotes(
        state[m].bids[: state[m].book_levels],
        state[m].asks[: state[m].book_levels],
        ticks,
        state[m].origin_tick,
        tick,
        new_tick,
        state[m].profile_usd[: state[m].book_levels],
        state[m].liquidity_factor,
    )
    n_levels = state[m].book_levels
    # Quotes moved by ``ticks``; the vacated levels were refilled around the new centre.
    first = 0 if ticks > 0 else max(n_levels + ticks, 0)
    last = min(ticks, n_levels) if ticks > 0 else n_levels
    state[m].bid_top_level, state[m].ask_bottom_level = cover_refilled_levels(
        state[m].bid_top_level + ticks,
        state[m].ask_bottom_level + ticks,
        first,
        last,
        new_tick - state[m].origin_tick,
        n_levels,
    )
    state[m].quiet_steps = 0


@njit(cache=True)
def hedge_makers(m, params, assets, state):
    """Market makers hedge this step's inventory change in spot, moving the index.

    Makers that absorbed liquidation sells are long and sell spot (and the reverse), by
    ``spot_impact_share * notional / spot_depth_1pct_usd`` percent; a trade between makers
    and the hedged arbitrageurs nets to nothing in spot, since both hedge.
    """
    change = state[m].maker_quantity - state[m].maker_hedged_quantity
    if change == 0.0:
        return
    a = params[m].asset
    bought_usd = usd_buy_notional(params, assets, m, change * state[m].mark_price)
    impact = bounded_impact(
        assets[a].spot_impact_log,
        -params[m].spot_impact_share * bought_usd / assets[a].spot_depth_1pct_usd * 0.01,
    )
    assets[a].spot_impact_log += impact
    state[m].maker_hedged_quantity = state[m].maker_quantity


@njit(cache=True)
def exogenous_flow(usd, m, state, params, walk_out, flags):
    """The scenario's aggressive trader sends a market order of ``usd`` (signed, + buys)."""
    direction = 1 if usd > 0.0 else -1
    quantity = abs(usd) / state[m].last_price
    limit = math.inf if direction > 0 else 0.0
    filled, notional = execute_order(params, state, m, direction, quantity, limit, walk_out, flags)
    hedged_pool_trade(state, m, -direction * filled)
    state[m].taker_quantity += direction * filled
    state[m].taker_cash -= direction * notional


@njit(cache=True)
def update_liquidity(dt, m, params, state):
    """Market makers' quoting scale from realised volatility and one-sided flow."""
    decay = 0.5 ** (dt / params[m].stress_half_life_s)
    log_return = math.log(state[m].last_price / state[m].previous_last_price)
    state[m].previous_last_price = state[m].last_price
    variance = decay * state[m].volatility ** 2 + (1.0 - decay) * log_return * log_return / dt
    state[m].volatility = math.sqrt(variance)
    flow = state[m].step_taker_flow_usd / (params[m].depth_1pct_usd * dt)
    state[m].flow_imbalance = decay * state[m].flow_imbalance + (1.0 - decay) * flow
    excess = state[m].volatility / params[m].baseline_volatility - 1.0
    stress = params[m].withdrawal_vol_sensitivity * (excess if excess > 0.0 else 0.0) + params[
        m
    ].withdrawal_flow_sensitivity * abs(state[m].flow_imbalance)
    floor = params[m].liquidity_floor
    return floor + (1.0 - floor) / (1.0 + stress)


@njit(cache=True)
def settle_steps(slowest_half_life_s, dt):
    """Undisturbed steps after which a book is set to its target and left alone."""
    return int(math.ceil(QUIET_HALF_LIVES * slowest_half_life_s / dt))


@njit(cache=True)
def refresh_book(dt, m, params, state):
    """Re-centre the window, then withdrawal and resilience toward the target profile."""
    n_levels = state[m].book_levels
    tick = params[m].tick_size
    old_centre_tick = int(round(state[m].centre_price / tick))
    liquidity = update_liquidity(dt, m, params, state)
    if abs(liquidity - state[m].liquidity_factor) > 1e-12:
        state[m].quiet_steps = 0
    state[m].liquidity_factor = liquidity
    if state[m].step_fill_count > 0:
        # Trades consumed liquidity: market makers re-centre on the mid of what is left, not
        # on the last print, so one sweep through a thin side moves the centre half as far.
        bid = best_bid_price(params, state, m)
        ask = best_ask_price(params, state, m)
        if bid > 0.0 and ask < math.inf:
            state[m].centre_price = 0.5 * (bid + ask)
        else:
            state[m].centre_price = state[m].last_price
    centre_tick = int(round(state[m].centre_price / tick))
    if centre_tick != old_centre_tick:
        state[m].quiet_steps = 0
    if abs(state[m].centre_price / state[m].profile_price - 1.0) > PROFILE_REFERENCE_MOVE:
        state[m].profile_price = state[m].centre_price
        tabulate_profile(
            params[m].depth_1pct_usd,
            params[m].depth_shape,
            tick,
            state[m].centre_price,
            state[m].profile_usd[: state[m].book_levels],
        )
    centre_level = centre_tick - state[m].origin_tick
    if centre_level < n_levels // 4 or centre_level > 3 * n_levels // 4:
        old_origin = state[m].origin_tick
        state[m].origin_tick = shift_window(
            state[m].bids[: state[m].book_levels],
            state[m].asks[: state[m].book_levels],
            old_origin,
            centre_level - n_levels // 2,
            tick,
            centre_tick,
            state[m].profile_usd[: state[m].book_levels],
            liquidity,
        )
        moved = state[m].origin_tick - old_origin
        centre_level = centre_tick - state[m].origin_tick
        first = 0 if moved < 0 else max(n_levels - moved, 0)
        last = min(-moved, n_levels) if moved < 0 else n_levels
        state[m].bid_top_level, state[m].ask_bottom_level = cover_refilled_levels(
            state[m].bid_top_level - moved,
            state[m].ask_bottom_level - moved,
            first,
            last,
            centre_level,
            n_levels,
        )
    slowest = max(params[m].resilience_half_life_s, params[m].withdrawal_half_life_s)
    settle = settle_steps(slowest, dt)
    quiet = state[m].quiet_steps
    if quiet < settle:
        relax_toward_target(
            state[m].bids[: state[m].book_levels],
            state[m].asks[: state[m].book_levels],
            state[m].origin_tick,
            tick,
            centre_tick,
            state[m].profile_usd[: state[m].book_levels],
            liquidity,
            1.0 - 0.5 ** (dt / params[m].resilience_half_life_s),
            1.0 - 0.5 ** (dt / params[m].withdrawal_half_life_s),
        )
    elif quiet == settle:
        # 2**-30 of the gap is left: the book is its target, and stays so untouched.
        fill_levels(
            state[m].bids[: state[m].book_levels],
            state[m].asks[: state[m].book_levels],
            state[m].origin_tick,
            tick,
            centre_tick,
            state[m].profile_usd[: state[m].book_levels],
            liquidity,
            0,
            n_levels,
        )
    if quiet <= settle:
        top = centre_level - 1
        if top > n_levels - 1:
            top = n_levels - 1
        if state[m].bid_top_level < top:
            state[m].bid_top_level = top
        bottom = centre_level + 1
        if bottom < 0:
            bottom = 0
        if state[m].ask_bottom_level > bottom:
            state[m].ask_bottom_level = bottom
    if state[m].bid_top_level > n_levels - 1:
        state[m].bid_top_level = n_levels - 1
    if state[m].ask_bottom_level < 0:
        state[m].ask_bottom_level = 0
    state[m].quiet_steps = quiet + 1


@njit(cache=True)
def quote_snapshot(m, params, assets, state):
    """(mid, index, best bid, best ask) of market m in USD; mid falls back to the last price."""
    index = market_index(params, assets, m)
    bid = best_bid_price(params, state, m)
    ask = best_ask_price(params, state, m)
    mid = 0.5 * (bid + ask) if bid > 0.0 and ask < math.inf else state[m].last_price
    return mid, index, bid, ask


@njit(cache=True)
def pay_funding(time, m, params, state):
    """Settle funding on every holder of market m if a settlement is due."""
    if time < state[m].next_funding_time - 1e-9:
        return
    rate = predicted_funding(params, state, m)
    per_unit = rate * state[m].mark_price
    state[m].funding_per_unit += per_unit
    state[m].maker_cash -= state[m].maker_quantity * per_unit
    state[m].passive_cash -= state[m].passive_quantity * per_unit
    state[m].taker_cash -= state[m].taker_quantity * per_unit
    state[params[m].fund_pool].fund_cash -= state[m].fund_quantity * per_unit
    state[params[m].backstop_pool].backstop_cash -= state[m].backstop_quantity * per_unit
    state[m].funding_rate = rate
    state[m].premium_sum = 0.0
    state[m].premium_time = 0.0
    state[m].next_funding_time += params[m].funding_interval_s


@njit(cache=True)
def update_index(step, dt, assets, index_path, flags):
    """Each asset's index: its own path and spot impact, plus beta times the market factor.

    The factor is the factor-weighted own log move (exogenous path and arbitrage impact) of
    the other assets, so a cascade that pushes BTC spot down carries into every asset with a
    beta to it, after the asset's factor half-life. With all weights 0 this is just
    ``path * exp(impact)``.
    """
    n_assets = index_path.shape[1]
    factor = 0.0
    for a in range(n_assets):
        if assets[a].factor_weight != 0.0:
            own = math.log(index_path[step + 1, a] / index_path[0, a]) + assets[a].spot_impact_log
            factor += assets[a].factor_weight * own
    for a in range(n_assets):
        coupling = 0.0
        if factor != 0.0:
            own_share = 0.0
            if assets[a].factor_weight != 0.0:
                own_share = assets[a].factor_weight * (
                    math.log(index_path[step + 1, a] / index_path[0, a]) + assets[a].spot_impact_log
                )
            coupling = assets[a].beta * (factor - own_share)
        half_life = assets[a].factor_half_life_s
        if half_life > 0.0:
            followed = assets[a].factor_followed
            coupling = followed + (coupling - followed) * (1.0 - 0.5 ** (dt / half_life))
        assets[a].factor_followed = coupling
        index = index_path[step + 1, a] * math.exp(assets[a].spot_impact_log + coupling)
        start = index_path[0, a]
        if abs(assets[a].spot_impact_log) >= MAX_SPOT_IMPACT_LOG * (1.0 - 1e-12):
            flags[0] |= STATUS_FLAG_INDEX_BOUND
        if not index <= start * MAX_INDEX_RATIO:
            index = start * MAX_INDEX_RATIO
            flags[0] |= STATUS_FLAG_INDEX_BOUND
        elif index < start / MAX_INDEX_RATIO:
            index = start / MAX_INDEX_RATIO
            flags[0] |= STATUS_FLAG_INDEX_BOUND
        assets[a].index_price = index
