"""The liquidation heatmap: what remains to be liquidated at each price as the run goes.

The view traders know from the aggregators: price levels up the side, time along the
bottom, colour for the notional whose liquidation level sits there. Here it is exact for the
simulated book: the positions open before the shock, by their liquidation level at the
start, less what the run has liquidated of each by the end of each time bin. The price line
drawn over it shows the cascade eating into the bands.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from cascadesim.engine import layout
from cascadesim.report.asset_plots import asset_liquidation_levels
from cascadesim.report.plots import (
    PRICE_COLOUR,
    USD_FORMATTER,
    lowest_prices,
    market_index,
    market_rows,
    new_figure,
    perp_price_column,
    round_up,
    styled,
    time_axis,
)


def remaining_notional(
    levels: np.ndarray,
    notional: np.ndarray,
    event_times: np.ndarray,
    event_levels: np.ndarray,
    event_notional: np.ndarray,
    level_edges: np.ndarray,
    time_edges: np.ndarray,
) -> np.ndarray:
    """USD still to be liquidated per (time bin, level bin): the start's, less what went.

    Parameters
    ----------
    levels, notional : float64 (n,), each position's liquidation level and USD at the start
    event_times, event_levels, event_notional : float64 (k,), each liquidation's time (s),
        its position's level at the start and the USD it took off that level
    level_edges : float64 (n_levels + 1,), time_edges : float64 (n_times + 1,) seconds

    Returns
    -------
    float64 (n_times, n_levels)
        Row t: the notional left at the end of time bin t, never below zero.
    """
    start, _ = np.histogram(levels, bins=level_edges, weights=notional)
    gone, _, _ = np.histogram2d(
        event_times, event_levels, bins=(time_edges, level_edges), weights=event_notional
    )
    return np.maximum(start[None, :] - np.cumsum(gone, axis=0), 0.0)


@styled
def plot_liquidation_heatmap(result, market: int | str | None = None, n_levels: int = 60):
    """Heatmap of the notional left to liquidate at each level over time, for one asset.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    market : int or str, optional; the asset shown is this market's (by default the most
        liquidated market's), summed over all its venues
    n_levels : int, most level bins over the window

    Returns
    -------
    matplotlib.figure.Figure
        Colour (log scale, USD per bin): notional of the positions open before the shock
        whose liquidation level (% from the start price) is in the bin, less what was
        liquidated of them by then. Line: the asset's largest market's perp price (%).
    """
    m = market_index(result, market)
    asset = result.setup.markets[m].asset
    summary = result.summary
    group = summary["by_asset"][asset]
    axis = time_axis(result)
    levels, notional, _, _ = asset_liquidation_levels(result, asset)
    reach = max(row["max_drawdown"] for row in summary["markets"])
    half_width = 100.0 * min(0.6, max(0.08, 1.6 * reach))
    width = round_up(2 * half_width / n_levels)
    half_width = np.ceil(half_width / width) * width
    level_edges = np.arange(-half_width, half_width + 0.5 * width, width)
    time_edges = np.arange(axis.n_bins + 1) * axis.bin_seconds

    positions = result.initial_positions
    starts = np.array([spec.price for spec in result.setup.markets], dtype=np.float64)
    events = result.outcome.events
    rows = events["position"]
    asset_markets = [k for k, spec in enumerate(result.setup.markets) if spec.asset == asset]
    chosen = (
        np.isin(events["kind"], layout.LIQUIDATION_KINDS)
        & (rows >= 0)
        & np.isin(events["market"], asset_markets)
    )
    rows = rows[chosen]
    # Positions opened during the run had no level at the start; their liquidations are
    # not in the start's bands either.
    opened_before = positions.quantity[rows] > 0
    rows = rows[opened_before]
    price = positions.liquidation_price[rows]
    event_levels = 100.0 * (price / starts[positions.market[rows]] - 1.0)
    remaining = remaining_notional(
        levels,
        notional,
        events["time"][chosen][opened_before],
        event_levels,
        events["quantity"][chosen][opened_before] * price,
        level_edges,
        time_edges,
    )

    figure = new_figure(11, 6.5)
    axes = figure.subplots()
    positive = remaining[remaining > 0]
    if positive.size:
        norm = LogNorm(
            vmin=max(float(positive.min()), float(positive.max()) * 1e-4),
            vmax=float(positive.max()),
        )
        image = axes.pcolormesh(
            time_edges / axis.scale,
            level_edges,
            np.where(remaining > 0, remaining, np.nan).T,
            cmap="magma",
            norm=norm,
            shading="flat",
        )
        bar = figure.colorbar(image, ax=axes, format=USD_FORMATTER)
        bar.set_label(f"USD left to liquidate per {width:g} % band")
    name = group["price_market"]
    k = result.market_names.index(name)
    timeline = market_rows(result.timeline, name)
    change = 100.0 * (perp_price_column(timeline) / starts[k] - 1.0)
    axes.plot(
        timeline["time"].to_numpy(dtype=np.float64) / axis.scale,
        change,
        color="white",
        linewidth=3.2,
    )
    axes.plot(
        timeline["time"].to_numpy(dtype=np.float64) / axis.scale,
        change,
        color=PRICE_COLOUR,
        linewidth=1.6,
        label=f"{name} perp price",
    )
    # The summary's low is the lower of each step's mid and last trade: mark it, since a
    # single trade below the mid is not on the mid's line.
    lows = 100.0 * (lowest_prices(timeline) / starts[k] - 1.0)
    trough = int(np.argmin(lows))
    axes.plot(
        [float(timeline["time"].iloc[trough]) / axis.scale],
        [lows[trough]],
        marker="v",
        markersize=9,
        color="white",
        markeredgecolor=PRICE_COLOUR,
        linestyle="none",
        label=f"lowest price {lows[trough]:.1f} % (mid or last trade)",
    )
    axes.axhline(0.0, color="white", linewidth=0.8, linestyle=":")
    axes.set_xlim(0, axis.end_seconds / axis.scale)
    axes.set_ylim(level_edges[0], level_edges[-1])
    axes.set_xlabel(axis.label)
    axes.set_ylabel("Liquidation level (% from the start price)")
    axes.legend(loc="upper right")
    venues = len(group["markets"])
    scope = name if venues == 1 else f"{asset}, {venues} venues together"
    axes.set_title(
        f"Liquidation heatmap of {scope}: what is left to liquidate at each level\n"
        "(positions open before the shock, at their start liquidation levels)"
    )
    axes.grid(False)
    return figure
