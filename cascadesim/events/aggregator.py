"""Liquidations as the public aggregators count them, next to the true totals.

The figures that the press quotes (CoinGlass-style "1.7 billion liquidated in 24 hours")
are sums over the venues' public liquidation streams, and some of those streams do not show
every liquidation:

- Binance USDⓈ-M ``<symbol>@forceOrder``: "For each symbol, only the latest one liquidation
  order within 1000ms will be pushed as the snapshot" (Binance developer docs, Liquidation
  Order Streams). In a cascade, every other order of that second is invisible.
- Bybit's older v5 ``liquidation.<symbol>`` topic pushed at most one liquidation per second
  per symbol as well; its ``allLiquidation`` topic (2025) pushes all of them every 500 ms.
  Whether Bybit counts as throttled is therefore a property of the event's date, set per
  event scenario in ``[reporting] throttled_venues``.
- Hyperliquid's liquidations are on-chain fills: all visible.

The model here, per simulated market on a throttled venue: a liquidation **order** is the
set of event-log rows of one position at one time (a book fill and the insurance-fund
takeover of its unfilled rest are one order); the market stands for ``symbols`` real
symbols (an "altcoins" market is many), each order belongs to symbol ``account mod
symbols``; within each second and symbol only the last order is visible. Orders of a step
longer than one second are spread evenly over the step's seconds in log order. ADL
counterparty rows are not liquidations and are never counted.

The gap between the true and the visible total is a figure of its own
(:func:`aggregator_view`'s ``gap_usd`` and ``visible_share``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

LIQUIDATION_KIND_NAMES = ("book", "insurance", "backstop", "adl")


def liquidation_orders(events: pd.DataFrame) -> pd.DataFrame:
    """Collapse an event log into liquidation orders: one row per (market, position, time).

    Parameters
    ----------
    events : DataFrame, :attr:`cascadesim.sim.result.Result.liquidations` (columns ``time`` s,
        ``market``, ``account``, ``position``, ``side`` 'long'/'short', ``kind``,
        ``notional`` USD)

    Returns
    -------
    DataFrame with columns time (s), market (str), account, position, side, notional (USD),
    sequence (int, the order's first row in the log: chronological within a step)
    """
    rows = events[events["kind"].astype(str).isin(LIQUIDATION_KIND_NAMES)]
    frame = pd.DataFrame(
        {
            "time": rows["time"].to_numpy(dtype=np.float64),
            "market": rows["market"].astype(str).to_numpy(),
            "account": rows["account"].to_numpy(dtype=np.int64),
            "position": rows["position"].to_numpy(dtype=np.int64),
            "side": rows["side"].astype(str).to_numpy(),
            "notional": rows["notional"].to_numpy(dtype=np.float64),
            "sequence": np.arange(len(rows), dtype=np.int64),
        }
    )
    if frame.empty:
        return frame
    grouped = frame.groupby(["market", "position", "time"], sort=False, observed=True)
    orders = grouped.agg(
        account=("account", "first"),
        side=("side", "first"),
        notional=("notional", "sum"),
        sequence=("sequence", "min"),
    )
    return orders.reset_index().sort_values("sequence", kind="stable").reset_index(drop=True)


def visible_orders(
    orders: pd.DataFrame, throttled_markets: Mapping[str, int], step_s: float = 1.0
) -> pd.Series:
    """Which orders a public stream shows: a boolean Series aligned with ``orders``.

    Parameters
    ----------
    orders : DataFrame from :func:`liquidation_orders` (sorted by ``sequence``)
    throttled_markets : mapping market name -> number of real symbols it stands for (>= 1);
        markets not in it show every order
    step_s : float, seconds per engine step: orders of one step are spread evenly over its
        seconds in log order

    Returns
    -------
    bool Series: True where the order is visible
    """
    visible = pd.Series(True, index=orders.index)
    if orders.empty or not throttled_markets:
        return visible
    throttled = orders["market"].isin(list(throttled_markets))
    if not throttled.any():
        return visible
    part = orders[throttled]
    symbols = part["market"].map(dict(throttled_markets)).to_numpy(dtype=np.int64)
    # Position of each order within its step (time stamp) and market, in log order.
    within = part.groupby(["market", "time"], sort=False).cumcount().to_numpy()
    count = part.groupby(["market", "time"], sort=False)["time"].transform("size").to_numpy()
    step_start = part["time"].to_numpy() - step_s
    second = np.floor(step_start + step_s * (within + 0.5) / count + 1e-9).astype(np.int64)
    key = pd.DataFrame(
        {
            "market": part["market"].to_numpy(),
            "symbol": part["account"].to_numpy() % symbols,
            "second": second,
        },
        index=part.index,
    )
    last = ~key.duplicated(keep="last")  # the latest order of each (market, symbol, second)
    visible.loc[part.index] = last.to_numpy()
    return visible


def aggregator_view(
    events: pd.DataFrame,
    market_venue: Mapping[str, str],
    market_asset: Mapping[str, str],
    throttled_venues: Sequence[str],
    symbols_per_market: Mapping[str, int] | None = None,
    step_s: float = 1.0,
) -> dict:
    """True and aggregator-visible liquidation figures of one path.

    Parameters
    ----------
    events : DataFrame, the event log (:attr:`cascadesim.sim.result.Result.liquidations`)
    market_venue : mapping market name -> venue label
    market_asset : mapping market name -> asset name
    throttled_venues : venue labels whose stream shows one order per second per symbol
    symbols_per_market : mapping market name -> real symbols it stands for (default 1)
    step_s : float, seconds per engine step

    Returns
    -------
    dict with, for ``true`` and ``visible``: total_usd, long_usd, short_usd, long_share,
    orders, largest_order_usd, by_venue and by_asset (USD, by side); and gap_usd (true -
    visible total), visible_share (visible / true total)
    """
    symbols_per_market = dict(symbols_per_market or {})
    orders = liquidation_orders(events)
    throttled = {
        market: int(symbols_per_market.get(market, 1))
        for market, venue in market_venue.items()
        if venue in set(throttled_venues)
    }
    shown = visible_orders(orders, throttled, step_s)
    views: dict[str, Any] = {
        "true": figures(orders, market_venue, market_asset),
        "visible": figures(
            orders[shown.to_numpy()] if len(orders) else orders, market_venue, market_asset
        ),
    }
    true_total = views["true"]["total_usd"]
    views["gap_usd"] = true_total - views["visible"]["total_usd"]
    views["visible_share"] = views["visible"]["total_usd"] / true_total if true_total > 0 else None
    return views


def figures(
    orders: pd.DataFrame, market_venue: Mapping[str, str], market_asset: Mapping[str, str]
) -> dict:
    """Totals by side, largest order, and per-venue and per-asset totals of some orders."""
    if orders.empty:
        empty = {"total_usd": 0.0, "long_usd": 0.0, "short_usd": 0.0}
        return {
            **empty,
            "long_share": None,
            "orders": 0,
            "largest_order_usd": 0.0,
            "by_venue": {},
            "by_asset": {},
        }
    is_long = (orders["side"] == "long").to_numpy()
    notional = orders["notional"].to_numpy()
    long_usd, total = float(notional[is_long].sum()), float(notional.sum())

    def grouped(labels: Mapping[str, str]) -> dict:
        keys = orders["market"].map(dict(labels)).fillna(orders["market"])
        table = pd.DataFrame(
            {
                "key": keys.to_numpy(),
                "long": np.where(is_long, notional, 0.0),
                "short": np.where(is_long, 0.0, notional),
            }
        )
        sums = table.groupby("key", sort=True)[["long", "short"]].sum()
        return {
            str(k): {
                "long_usd": float(r.long),
                "short_usd": float(r.short),
                "total_usd": float(r.long + r.short),
            }
            for k, r in sums.iterrows()
        }

    return {
        "total_usd": total,
        "long_usd": long_usd,
        "short_usd": total - long_usd,
        "long_share": long_usd / total if total > 0 else None,
        "orders": int(len(orders)),
        "largest_order_usd": float(notional.max()),
        "by_venue": grouped(market_venue),
        "by_asset": grouped(market_asset),
    }
