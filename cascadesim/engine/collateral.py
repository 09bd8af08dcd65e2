"""Multi-asset collateral: cross accounts whose margin moves with the price of what they hold.

A collateral account's margin is a basket of coins, each counted at the venue's own price
for it times a tiered haircut (Binance Multi-Assets mode, Bybit's unified account). The
basket's counted value at the start is inside the positions' ``margin`` columns; at each
step the change of the counted value since it was last credited is added to the account's
first open position. A fall of a coin's price on one venue alone
(a depeg of that venue's internal price) therefore lowers the equity of accounts whose
positions have not lost anything, and the usual cross-account check liquidates them.

That row's threshold (its liquidation price at its allocated margin) is kept a bound by
:func:`cascadesim.engine.watch_list.keep_threshold_a_bound`: when its liquidation price came
closer it goes on the watch list, where the exact account check decides (and re-spreads the
account's equity over its rows by maintenance margin when it is safe).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cascadesim.engine.layout import STATUS_OPEN, STATUS_WATCHED
from cascadesim.engine.watch_list import keep_threshold_a_bound


@njit(cache=True, inline="always")
def feed_price(factor, feed_asset, feed_price_usd, index_path, row, f):
    """USD price of feed f at step row ``row``: its factor times its reference price."""
    asset = feed_asset[f]
    reference = index_path[row, asset] if asset >= 0 else feed_price_usd[f]
    return factor[row, f] * reference


@njit(cache=True, inline="always")
def basket_value(prices, tier_floor_units, tier_ratio, tier_count, offsets, feed, units, c):
    """Counted value (USD) of collateral account c's basket at the feeds' ``prices``.

    Of ``u`` coins of feed f the venue counts, over f's tiers (by amount of the coin, as
    Bybit's tiered collateral value ratio; a flat haircut as Binance's is one tier), the part
    of ``u`` inside each tier times its ratio, at f's price.

    Parameters
    ----------
    prices : float64 (n_feeds,), USD per coin this step
    tier_floor_units : float64 (n_feeds, n_tiers), coins where each tier starts, 0 first
    tier_ratio : float64 (n_feeds, n_tiers), counted fraction inside each tier, in [0, 1]
    tier_count : int64 (n_feeds,), tiers used
    offsets, feed, units : the holdings of every account (layout.Collateral)
    c : int, the collateral account

    Returns
    -------
    float, USD

    The kernels here take the collateral's arrays, not its tuple, and read the tables in
    place: passing the tuple, or a row view, counts references to arrays on every call,
    which costs more than the sum itself.
    """
    total = 0.0
    for h in range(offsets[c], offsets[c + 1]):
        f = np.int64(feed[h])
        held = units[h]
        counted = 0.0
        for k in range(tier_count[f]):
            low = tier_floor_units[f, k]
            if held <= low:
                break
            high = tier_floor_units[f, k + 1] if k + 1 < tier_count[f] else math.inf
            counted += (min(held, high) - low) * tier_ratio[f, k]
        total += prices[f] * counted
    return total


@njit(cache=True, inline="always")
def basket_moved(moved, offsets, feed, c):
    """True when a feed of account c's basket moved this step (``moved`` per feed)."""
    for h in range(offsets[c], offsets[c + 1]):
        if moved[feed[h]]:
            return True
    return False


@njit(cache=True)
def price_feeds(factor, feed_asset, feed_price_usd, index_path, row, prices, moved):
    """Each feed's USD price at step row ``row`` into ``prices``, whether it moved since the
    row before into ``moved``; True when any did."""
    any_moved = False
    for f in range(prices.shape[0]):
        now = feed_price(factor, feed_asset, feed_price_usd, index_path, row, f)
        moved[f] = now != feed_price(factor, feed_asset, feed_price_usd, index_path, row - 1, f)
        prices[f] = now
        any_moved |= moved[f]
    return any_moved


@njit(cache=True, inline="always")
def first_open_row(offsets, rows, quantity, status, slot):
    """First open row of cross account ``slot`` (offsets and rows of CrossAccounts); -1.

    :func:`cascadesim.engine.account_rows.open_in_account` on arrays instead of the tuples,
    for the per-step loop over every collateral account (see :func:`basket_value`).
    """
    for k in range(offsets[slot], offsets[slot + 1]):
        j = np.int64(rows[k])
        if quantity[j] > 0.0 and (status[j] == STATUS_OPEN or status[j] == STATUS_WATCHED):
            return j
    return -1


@njit(cache=True)
def revalue_collateral(
    step, time, index_path, params, positions, state, watchlist, crosses, collateral
):
    """Credit every active collateral account the change of its basket's counted value.

    Called once per step after the index update, at price row ``step + 1``. A coin that is
    a simulated asset is priced off the exogenous index, not the index after the spot impact
    of the run's own hedging: what collateral is worth is the scenario's input. An account
    with no open position left is no longer revalued: its collateral was settled into its
    USD balance when its last position closed.

    Parameters
    ----------
    step : int, the step being run (prices are read at row ``step + 1``)
    time : float, seconds at the end of the step (the watch-list time of re-listed rows)
    index_path : float64 (n_steps + 1, n_assets), the exogenous index, USD
    params, positions, state, watchlist, crosses : the engine's state tuples
    collateral : layout.Collateral, updated in place (``value``, ``active``, ``repriced_usd``)
    """
    prices = collateral.feed_now
    moved = collateral.feed_moved
    if not price_feeds(
        collateral.factor,
        collateral.feed_asset,
        collateral.feed_price,
        index_path,
        step + 1,
        prices,
        moved,
    ):
        return
    offsets = collateral.offsets
    feed = collateral.feed
    value = collateral.value
    active = collateral.active
    slots = collateral.slot
    margin = positions.margin
    quantity = positions.quantity
    status = positions.status
    repriced = 0.0
    for c in range(slots.shape[0]):
        if not active[c] or not basket_moved(moved, offsets, feed, c):
            continue
        keeper = first_open_row(crosses.offsets, crosses.rows, quantity, status, slots[c])
        if keeper < 0:
            active[c] = False
            continue
        now = basket_value(
            prices,
            collateral.tier_floor_units,
            collateral.tier_ratio,
            collateral.tier_count,
            offsets,
            feed,
            collateral.units,
            c,
        )
        change = now - value[c]
        value[c] = now
        if change == 0.0:
            continue
        repriced += change
        # The account's first open row takes the change: any split of a cross wallet over its
        # rows is valid (the account is checked as a whole once a row is breached at its own
        # margin, and then re-spread by maintenance), and one row costs one threshold.
        margin[keeper] += change
        if change < 0.0:
            # A gain moves the row's liquidation price away: its threshold stays a bound.
            keep_threshold_a_bound(time, params, positions, watchlist, keeper)
    collateral.repriced_usd[0] += repriced
