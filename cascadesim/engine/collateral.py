"""Multi-asset collateral: cross accounts whose margin moves with the price of what they hold.

A collateral account's margin is a basket of coins, each counted at the venue's own price
for it times a tiered haircut (Binance Multi-Assets mode, Bybit's unified account). The
basket's counted value at the start is inside the positions' ``margin`` columns; at each
step the change of the counted value since it was last credited is added to them, in
proportion to each position's maintenance margin. A fall of a coin's price on one venue alone
(a depeg of that venue's internal price) therefore lowers the equity of accounts whose
positions have not lost anything, and the usual cross-account check liquidates them.

The positions' thresholds (liquidation prices at their allocated margin) are kept bounds by
:func:`cascadesim.engine.cross_margin.keep_thresholds_conservative`: a row whose liquidation
price came closer goes on the watch list, where the exact account check decides.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cascadesim.engine.cross_margin import (
    account_figures,
    is_open,
    keep_thresholds_conservative,
    position_figures,
)


@njit(cache=True, inline="always")
def counted_units(tier_floor_units, tier_ratio, tier_count, units):
    """Coins a venue counts out of ``units`` held: each tier's part times its ratio.

    Tiers are by amount of the coin (Bybit's tiered collateral value ratio); a flat haircut
    (Binance Multi-Assets mode) is one tier.

    Parameters
    ----------
    tier_floor_units : float64 (n_tiers,), coins where each tier starts, 0 first, increasing
    tier_ratio : float64 (n_tiers,), counted fraction inside each tier, in [0, 1]
    tier_count : int, tiers used
    units : float, coins held, >= 0

    Returns
    -------
    float, the counted amount in coins (times the venue's price: the counted USD value)
    """
    total = 0.0
    for k in range(tier_count):
        low = tier_floor_units[k]
        if units <= low:
            break
        high = tier_floor_units[k + 1] if k + 1 < tier_count else math.inf
        total += (min(units, high) - low) * tier_ratio[k]
    return total


@njit(cache=True, inline="always")
def feed_price(collateral, index_path, row, f):
    """USD price of feed f at step row ``row``: its factor times its reference price."""
    asset = collateral.feed_asset[f]
    reference = index_path[row, asset] if asset >= 0 else collateral.feed_price[f]
    return collateral.factor[row, f] * reference


@njit(cache=True)
def basket_value(collateral, index_path, c, row):
    """Counted value (USD) of collateral account c's basket at step row ``row``."""
    total = 0.0
    for h in range(collateral.offsets[c], collateral.offsets[c + 1]):
        f = np.int64(collateral.feed[h])
        total += feed_price(collateral, index_path, row, f) * counted_units(
            collateral.tier_floor_units[f],
            collateral.tier_ratio[f],
            collateral.tier_count[f],
            collateral.units[h],
        )
    return total


@njit(cache=True, inline="always")
def basket_moved(collateral, index_path, c, row):
    """True when a price of account c's basket differs between rows ``row - 1`` and ``row``."""
    for h in range(collateral.offsets[c], collateral.offsets[c + 1]):
        f = np.int64(collateral.feed[h])
        if feed_price(collateral, index_path, row, f) != feed_price(
            collateral, index_path, row - 1, f
        ):
            return True
    return False


@njit(cache=True)
def credit_account(params, positions, state, crosses, slot, amount, required):
    """Add ``amount`` (USD) to the open positions of cross account ``slot``, by maintenance.

    ``required`` is the account's summed maintenance margin; when it is zero (no tier with a
    rate) the first open position takes it all, so that nothing is lost.
    """
    first = -1
    for k in range(crosses.offsets[slot], crosses.offsets[slot + 1]):
        j = np.int64(crosses.rows[k])
        if not is_open(positions, j):
            continue
        if first < 0:
            first = j
        if required > 0.0:
            _, position_required = position_figures(params, positions, state, j)
            positions.margin[j] += amount * (position_required / required)
    if required <= 0.0 and first >= 0:
        positions.margin[first] += amount


@njit(cache=True)
def revalue_collateral(
    step, time, index_path, params, positions, state, watchlist, crosses, collateral
):
    """Credit every active collateral account the change of its basket's counted value.

    Called once per step after the index update, at price row ``step + 1``. A coin that is
    a simulated asset is priced off the exogenous index, not the index after the spot impact
    of the run's own hedging: what collateral is worth is the scenario's input. An account with
    no open position left is no longer revalued: its collateral was settled into its USD
    balance when its last position closed.

    Parameters
    ----------
    step : int, the step being run (prices are read at row ``step + 1``)
    time : float, seconds at the end of the step (the watch-list time of re-listed rows)
    index_path : float64 (n_steps + 1, n_assets), the exogenous index, USD
    params, positions, state, watchlist, crosses : the engine's state tuples
    collateral : layout.Collateral, updated in place (``value``, ``active``, ``repriced_usd``)
    """
    row = step + 1
    for c in range(collateral.slot.shape[0]):
        if not collateral.active[c] or not basket_moved(collateral, index_path, c, row):
            continue
        slot = np.int64(collateral.slot[c])
        _, required, count = account_figures(params, positions, state, crosses, slot)
        if count == 0:
            collateral.active[c] = False
            continue
        value = basket_value(collateral, index_path, c, row)
        change = value - collateral.value[c]
        collateral.value[c] = value
        if change == 0.0:
            continue
        collateral.repriced_usd[0] += change
        credit_account(params, positions, state, crosses, slot, change, required)
        keep_thresholds_conservative(time, params, positions, watchlist, crosses, slot, -1)
