"""Margin kernels: tiered maintenance margin, liquidation and bankruptcy prices.

Maintenance margin is tiered by position notional N (USD):
``MM(N) = N * mmr[t] - maintenance_amount[t]`` for the tier t with ``floor[t] <= N``, where
``maintenance_amount`` follows ``cum[t] = floor[t] * (mmr[t] - mmr[t-1]) + cum[t-1]``. With that
recursion MM(N) is continuous, piecewise linear and convex, so equity minus MM is monotone in
price and every isolated position has exactly one liquidation price.

An isolated position of side s (+1 long, -1 short), quantity Q, entry price E and margin M has
equity ``M + s*Q*(P - E)`` at price P. Its liquidation price in tier t is
``P = (Q*E - s*(M + amount[t])) / (Q*(1 - s*mmr[t]))`` (Binance's one-way formula with the
wallet equal to the isolated margin) and its bankruptcy price is ``E - s*M/Q``.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def tier_for_notional(tier_floor_usd, tier_count, notional):
    """Index of the tier whose notional band holds ``notional`` (USD)."""
    tier = 0
    for t in range(1, tier_count):
        if notional >= tier_floor_usd[t]:
            tier = t
        else:
            break
    return tier


@njit(cache=True, inline="always")
def maintenance_margin(tier_floor_usd, tier_mmr, tier_maintenance_amount, tier_count, notional):
    """Maintenance margin (USD) of a position of ``notional`` USD."""
    t = tier_for_notional(tier_floor_usd, tier_count, notional)
    return notional * tier_mmr[t] - tier_maintenance_amount[t]


@njit(cache=True, inline="always")
def margin_shortfall(
    side,
    quantity,
    entry_price,
    margin,
    price,
    tier_floor_usd,
    tier_mmr,
    tier_maintenance_amount,
    tier_count,
):
    """Equity minus maintenance margin (USD) at ``price``; <= 0 means liquidatable."""
    equity = margin + side * quantity * (price - entry_price)
    notional = quantity * price
    return equity - maintenance_margin(
        tier_floor_usd, tier_mmr, tier_maintenance_amount, tier_count, notional
    )


@njit(cache=True, inline="always")
def bankruptcy_price(side, quantity, entry_price, margin):
    """Price (USD) at which the position's equity is zero, floored at zero."""
    price = entry_price - side * margin / quantity
    return max(price, 0.0)


@njit(cache=True)
def liquidation_price(
    side,
    quantity,
    entry_price,
    margin,
    tier_floor_usd,
    tier_mmr,
    tier_maintenance_amount,
    tier_count,
):
    """Tier-aware liquidation price of one isolated position.

    Returns
    -------
    price : float
        USD; 0.0 for a long that cannot be liquidated at any positive price.
    tier : int
        The tier that applies at that price.
    """
    # Find the notional band that holds the root by the sign of (equity - MM) at the band
    # edges; that is robust where the closed-form per-tier solutions meet at a boundary.
    tier = 0
    if side > 0:
        # Longs: shortfall rises with price; the root lies above the highest edge still <= 0.
        for t in range(1, tier_count):
            edge = tier_floor_usd[t] / quantity
            if (
                margin_shortfall(
                    side,
                    quantity,
                    entry_price,
                    margin,
                    edge,
                    tier_floor_usd,
                    tier_mmr,
                    tier_maintenance_amount,
                    tier_count,
                )
                <= 0.0
            ):
                tier = t
            else:
                break
    else:
        # Shorts: shortfall falls with price; the root lies below the lowest edge already <= 0.
        tier = tier_count - 1
        for t in range(1, tier_count):
            edge = tier_floor_usd[t] / quantity
            if (
                margin_shortfall(
                    side,
                    quantity,
                    entry_price,
                    margin,
                    edge,
                    tier_floor_usd,
                    tier_mmr,
                    tier_maintenance_amount,
                    tier_count,
                )
                <= 0.0
            ):
                tier = t - 1
                break
    denominator = quantity * (1.0 - side * tier_mmr[tier])
    price = (quantity * entry_price - side * (margin + tier_maintenance_amount[tier])) / denominator
    low = tier_floor_usd[tier] / quantity
    if price < low:
        price = low
    if tier + 1 < tier_count:
        high = tier_floor_usd[tier + 1] / quantity
        if price > high:
            price = high
    if price < 0.0:
        price = 0.0
    return price, tier


@njit(cache=True, error_model="numpy")
def liquidation_prices(
    market,
    side,
    quantity,
    entry_price,
    margin,
    tier_count,
    tier_floor_usd,
    tier_mmr,
    tier_maintenance_amount,
    out_price,
    out_tier,
):
    """Liquidation price and tier of every position.

    Parameters
    ----------
    market : int32 array (n,)
    side : int8 array (n,), +1 long / -1 short
    quantity, entry_price, margin : float64 arrays (n,), base units, USD, USD
    tier_count : int64 array (n_markets,)
    tier_floor_usd, tier_mmr, tier_maintenance_amount : float64 arrays (n_markets, n_tiers)
    out_price : float64 array (n,), USD, written
    out_tier : int8 array (n,), written
    """
    for i in range(market.shape[0]):
        m = market[i]
        price, tier = liquidation_price(
            side[i],
            quantity[i],
            entry_price[i],
            margin[i],
            tier_floor_usd[m],
            tier_mmr[m],
            tier_maintenance_amount[m],
            tier_count[m],
        )
        out_price[i] = price
        out_tier[i] = tier
