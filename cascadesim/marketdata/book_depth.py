"""Depth of an order book within bands of the mid, and the shape exponent it implies.

The engine's book holds cumulative depth ``D(d) = D_1 x (d / 1 %) ** shape`` per side
(``depth_1pct_usd``, ``depth_shape`` of a market). A snapshot measures the depth within
1 %, 2 % and 5 % (or any distances a data file gives) and fits ``shape`` by least squares
on the logarithms, so that the simulated book grows with distance as the venue's did.
"""

from __future__ import annotations

import numpy as np

from cascadesim.marketdata.observation import DEPTH_BANDS

SHAPE_RANGE = (0.2, 5.0)  # what a scenario's depth_shape accepts (it is > 0 and <= 5)


def depth_within(
    bids: np.ndarray, asks: np.ndarray, mid: float, bands=DEPTH_BANDS
) -> dict[float, tuple[float, float]]:
    """USD resting within each band of ``mid``, per side.

    Parameters
    ----------
    bids, asks : float64 arrays (n, 2) of (price USD, quantity in coin)
    mid : float, USD
    bands : fractions of mid

    Returns
    -------
    {band: (bid USD, ask USD)}
    """
    bids = np.asarray(bids, dtype=np.float64).reshape(-1, 2)
    asks = np.asarray(asks, dtype=np.float64).reshape(-1, 2)
    out = {}
    for band in bands:
        bid_rows = bids[bids[:, 0] >= mid * (1.0 - band)]
        ask_rows = asks[asks[:, 0] <= mid * (1.0 + band)]
        out[band] = (
            float(np.sum(bid_rows[:, 0] * bid_rows[:, 1])),
            float(np.sum(ask_rows[:, 0] * ask_rows[:, 1])),
        )
    return out


def reaches(bids: np.ndarray, asks: np.ndarray, mid: float) -> float:
    """The smallest distance from mid (fraction) that both sides of the book reach."""
    bids = np.asarray(bids, dtype=np.float64).reshape(-1, 2)
    asks = np.asarray(asks, dtype=np.float64).reshape(-1, 2)
    if not len(bids) or not len(asks):
        return 0.0
    return float(min(1.0 - bids[:, 0].min() / mid, asks[:, 0].max() / mid - 1.0))


def fit_depth_shape(distances, cumulative_usd) -> float | None:
    """Exponent s of cumulative depth ~ (distance / 1 %) ** s, fitted on the logarithms.

    Parameters
    ----------
    distances : fractions of mid (0.01, 0.02, 0.05, ...), at least two distinct
    cumulative_usd : USD within each distance (both sides averaged, or one side)

    Returns
    -------
    float clipped to ``SHAPE_RANGE``, or None when fewer than two positive points remain
    """
    d = np.asarray(distances, dtype=np.float64)
    v = np.asarray(cumulative_usd, dtype=np.float64)
    keep = (d > 0) & (v > 0) & np.isfinite(d) & np.isfinite(v)
    d, v = d[keep], v[keep]
    if len(np.unique(d)) < 2:
        return None
    slope = np.polyfit(np.log(d / 0.01), np.log(v), 1)[0]
    return float(np.clip(slope, *SHAPE_RANGE))
