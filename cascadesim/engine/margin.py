"""Margin kernels: tiered maintenance margin by the venue's basis, liquidation and bankruptcy
prices.

Every kernel takes one market's parameter record (``params[m]``) so that the venue's
convention travels with the tiers. Maintenance margin of a position of quantity Q and entry
price E at mark P, for the tier t the basis reads (``market.mm_basis``):

- ``MM_BASIS_MARK`` (Binance, Hyperliquid, dYdX): ``N * mmr[t] - amount[t]`` with N = Q * P and
  t the tier of N. With the continuity recursion
  ``amount[t] = floor[t] * (mmr[t] - mmr[t-1]) + amount[t-1]`` MM(N) is continuous, piecewise
  linear and convex, so equity minus MM is monotone in price.
- ``MM_BASIS_ENTRY`` (Bybit): ``Q * E * mmr[t] - amount[t]`` with t the tier of Q * E: the
  requirement is fixed at entry and does not move with price.
- ``MM_BASIS_MARK_FEE`` (OKX): ``Q * P * (mmr[t] + liquidation_fee_rate)``, no deduction, t the
  tier of the position's size (Q * ``tier_price_usd``, the price its USD floors were set at).

An isolated position of side s (+1 long, -1 short) and margin M has equity
``M + s*Q*(P - E)`` at price P; it is breached when equity <= MM. Its bankruptcy price is
``E - s*M/Q``, rounded to the tick against the trader where the venue does so.
"""

from __future__ import annotations

import math

from numba import njit

from cascadesim.engine.layout import (
    BANKRUPTCY_TICK_AGAINST_TRADER,
    MM_BASIS_ENTRY,
    MM_BASIS_MARK,
    MM_BASIS_MARK_FEE,
)

# A price this close (relative, in ticks) to a tick counts as on it: 19,600 / 0.1 is
# 195,999.99999999997 in binary, which must not round up a whole tick.
TICK_SNAP_RELATIVE = 1e-12


@njit(cache=True, inline="always")
def tier_for_notional(tier_floor_usd, tier_count, notional):
    """Index of the tier whose notional band holds ``notional``.

    Parameters
    ----------
    tier_floor_usd : float64 array (n_tiers,), USD lower bounds, ascending
    tier_count : int, valid tiers
    notional : float, USD

    Returns
    -------
    int
    """
    tier = 0
    for t in range(1, tier_count):
        if notional >= tier_floor_usd[t]:
            tier = t
        else:
            break
    return tier


@njit(cache=True, inline="always")
def tier_price(market, entry_price, price):
    """USD per base unit at which a position's tier is read under the market's basis.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    entry_price, price : float, USD (entry and current mark)

    Returns
    -------
    float
        ``price`` (mark basis), ``entry_price`` (entry basis) or ``market.tier_price_usd``
        (a size-tiered table).
    """
    if market.mm_basis == MM_BASIS_ENTRY:
        return entry_price
    if market.mm_basis == MM_BASIS_MARK_FEE:
        return market.tier_price_usd
    return price


@njit(cache=True, inline="always")
def position_tier(market, quantity, entry_price, price):
    """Tier of a position of ``quantity`` base units under the market's basis.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    quantity : float, base units
    entry_price, price : float, USD

    Returns
    -------
    int
    """
    notional = quantity * tier_price(market, entry_price, price)
    return tier_for_notional(market.tier_floor_usd, market.tier_count, notional)


@njit(cache=True, inline="always")
def maintenance_requirement(market, quantity, entry_price, price):
    """Maintenance margin (USD) of a position at mark ``price`` under the market's basis.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    quantity : float, base units
    entry_price, price : float, USD

    Returns
    -------
    float
        USD; for OKX's basis the liquidation fee is included (its margin-ratio denominator).
    """
    t = position_tier(market, quantity, entry_price, price)
    if market.mm_basis == MM_BASIS_ENTRY:
        return quantity * entry_price * market.tier_mmr[t] - market.tier_maintenance_amount[t]
    if market.mm_basis == MM_BASIS_MARK_FEE:
        return quantity * price * (market.tier_mmr[t] + market.liquidation_fee_rate)
    return quantity * price * market.tier_mmr[t] - market.tier_maintenance_amount[t]


@njit(cache=True, inline="always")
def margin_shortfall(market, side, quantity, entry_price, margin, price):
    """Equity minus maintenance margin (USD) at ``price``; <= 0 means liquidatable.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    side : int, +1 long / -1 short
    quantity : float, base units
    entry_price, margin, price : float, USD, USD, USD

    Returns
    -------
    float
    """
    equity = margin + side * quantity * (price - entry_price)
    return equity - maintenance_requirement(market, quantity, entry_price, price)


@njit(cache=True, inline="always")
def round_to_tick(price, tick, direction):
    """``price`` on the tick grid: up for ``direction`` > 0, down for < 0.

    Parameters
    ----------
    price, tick : float, USD (tick > 0)
    direction : int, +1 rounds up, -1 rounds down

    Returns
    -------
    float
    """
    ticks = price / tick
    nearest = math.floor(ticks + 0.5)
    if abs(ticks - nearest) <= TICK_SNAP_RELATIVE * max(1.0, abs(ticks)):
        return nearest * tick
    if direction > 0:
        return math.ceil(ticks) * tick
    return math.floor(ticks) * tick


@njit(cache=True, inline="always")
def bankruptcy_price(market, side, quantity, entry_price, margin):
    """Price (USD) at which the position's equity is zero, floored at zero.

    Where the market rounds it (``BANKRUPTCY_TICK_AGAINST_TRADER``) it goes to the tick at
    which the trader's equity is still >= 0: up for a long, down for a short.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    side : int, +1 long / -1 short
    quantity, entry_price, margin : float, base units, USD, USD

    Returns
    -------
    float
    """
    price = entry_price - side * margin / quantity
    if market.bankruptcy_rounding == BANKRUPTCY_TICK_AGAINST_TRADER:
        price = round_to_tick(price, market.tick_size, side)
    return max(price, 0.0)


@njit(cache=True, inline="always")
def funding_shift(market, side, tier, funding):
    """Move (USD) of a liquidation price in ``tier`` when ``funding`` USD per unit was paid.

    Paying f per unit lowers the margin by s*Q*f. Where maintenance margin moves with the mark
    the price moves by ``f / (1 - s*rate)``; on the entry basis it does not, so by ``f``.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    side : int, +1 long / -1 short
    tier : int
    funding : float, USD per base unit paid by longs

    Returns
    -------
    float
    """
    if market.mm_basis == MM_BASIS_ENTRY:
        return funding
    rate = market.tier_mmr[tier]
    if market.mm_basis == MM_BASIS_MARK_FEE:
        rate += market.liquidation_fee_rate
    return funding / (1.0 - side * rate)


@njit(cache=True)
def liquidation_price(market, side, quantity, entry_price, margin):
    """Liquidation price and tier of one isolated position under the market's basis.

    Parameters
    ----------
    market : record of ``market_params_dtype``
    side : int, +1 long / -1 short
    quantity, entry_price, margin : float, base units, USD, USD

    Returns
    -------
    price : float
        USD; 0.0 for a long that cannot be liquidated at any positive price.
    tier : int
        The tier that applies at that price.
    """
    floors = market.tier_floor_usd
    if market.mm_basis != MM_BASIS_MARK:
        # The tier is fixed (at entry, or by size): the requirement is linear in price.
        tier = position_tier(market, quantity, entry_price, entry_price)
        if market.mm_basis == MM_BASIS_ENTRY:
            fixed = quantity * entry_price * market.tier_mmr[tier]
            fixed -= market.tier_maintenance_amount[tier]
            price = entry_price - side * (margin - fixed) / quantity
        else:
            rate = market.tier_mmr[tier] + market.liquidation_fee_rate
            price = (quantity * entry_price - side * margin) / (quantity * (1.0 - side * rate))
        return max(price, 0.0), tier
    # Find the notional band that holds the root by the sign of (equity - MM) at the band
    # edges; that is robust where the closed-form per-tier solutions meet at a boundary.
    count = market.tier_count
    tier = 0
    if side > 0:
        # Longs: shortfall rises with price; the root lies above the highest edge still <= 0.
        for t in range(1, count):
            edge = floors[t] / quantity
            if margin_shortfall(market, side, quantity, entry_price, margin, edge) <= 0.0:
                tier = t
            else:
                break
    else:
        # Shorts: shortfall falls with price; the root lies below the lowest edge already <= 0.
        tier = count - 1
        for t in range(1, count):
            edge = floors[t] / quantity
            if margin_shortfall(market, side, quantity, entry_price, margin, edge) <= 0.0:
                tier = t - 1
                break
    denominator = quantity * (1.0 - side * market.tier_mmr[tier])
    amount = market.tier_maintenance_amount[tier]
    price = (quantity * entry_price - side * (margin + amount)) / denominator
    low = floors[tier] / quantity
    if price < low:
        price = low
    if tier + 1 < count:
        high = floors[tier + 1] / quantity
        if price > high:
            price = high
    if price < 0.0:
        price = 0.0
    return price, tier


@njit(cache=True, error_model="numpy")
def liquidation_prices(market, side, quantity, entry_price, margin, params, out_price, out_tier):
    """Liquidation price and tier of every position.

    Parameters
    ----------
    market : int32 array (n,)
    side : int8 array (n,), +1 long / -1 short
    quantity, entry_price, margin : float64 arrays (n,), base units, USD, USD
    params : structured array (n_markets,) of ``market_params_dtype``
    out_price : float64 array (n,), USD, written
    out_tier : int8 array (n,), written
    """
    for i in range(market.shape[0]):
        price, tier = liquidation_price(
            params[market[i]], side[i], quantity[i], entry_price[i], margin[i]
        )
        out_price[i] = price
        out_tier[i] = tier


@njit(cache=True)
def maintenance_requirements(market, quantity, entry_price, price, params, out):
    """Maintenance margin (USD) of every position at ``price`` (USD, one per position).

    Parameters
    ----------
    market : int32 array (n,)
    quantity, entry_price, price : float64 arrays (n,), base units, USD, USD
    params : structured array (n_markets,) of ``market_params_dtype``
    out : float64 array (n,), USD, written
    """
    for i in range(market.shape[0]):
        out[i] = maintenance_requirement(params[market[i]], quantity[i], entry_price[i], price[i])
