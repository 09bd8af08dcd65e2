"""Cumulative depth of a book snapshot away from its mid (no plotting library needed)."""

from __future__ import annotations

import math

import numpy as np

from cascadesim.sim.outcome import BookSnapshot


def cumulative_depth(
    snapshot: BookSnapshot, m: int, half_width: float
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative USD depth away from the mid of one book snapshot.

    Returns
    -------
    mid : float, USD (NaN when the book is empty)
    bid_prices, bid_depth : float64 arrays, prices descending from the best bid (USD) and USD
        resting at that price or better, within ``half_width`` (fraction) of the mid
    ask_prices, ask_depth : float64 arrays, the same for asks, ascending from the best ask
    """
    prices = np.asarray(snapshot.price[m], dtype=np.float64)
    bids = np.asarray(snapshot.bids[m], dtype=np.float64)
    asks = np.asarray(snapshot.asks[m], dtype=np.float64)
    has_bid = bids > 0
    has_ask = asks > 0
    best_bid = prices[has_bid].max() if has_bid.any() else math.nan
    best_ask = prices[has_ask].min() if has_ask.any() else math.nan
    quotes = [p for p in (best_bid, best_ask) if math.isfinite(p)]
    mid = float(np.mean(quotes)) if quotes else math.nan
    if not quotes:
        empty = np.zeros(0)
        return mid, empty, empty, empty, empty
    bid_rows = has_bid & (prices >= mid * (1 - half_width))
    ask_rows = has_ask & (prices <= mid * (1 + half_width))
    order = np.argsort(-prices[bid_rows])
    bid_prices = prices[bid_rows][order]
    bid_depth = np.cumsum((bids[bid_rows] * prices[bid_rows])[order])
    order = np.argsort(prices[ask_rows])
    ask_prices = prices[ask_rows][order]
    ask_depth = np.cumsum((asks[ask_rows] * prices[ask_rows])[order])
    return mid, bid_prices, bid_depth, ask_prices, ask_depth


def depth_within(snapshot: BookSnapshot, m: int, fraction: float) -> tuple[float, float]:
    """USD resting within ``fraction`` of the mid (bids, asks) in one snapshot."""
    _, _, bid_depth, _, ask_depth = cumulative_depth(snapshot, m, fraction)
    return (
        float(bid_depth[-1]) if bid_depth.size else 0.0,
        float(ask_depth[-1]) if ask_depth.size else 0.0,
    )
