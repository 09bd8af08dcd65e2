"""Figures of a run of several markets: breakdowns by venue and asset, one panel per asset.

Nine price lines on one axis tangle; one small panel per asset, its venues in it, reads at a
glance. Likewise the liquidation map per asset adds up the asset's venues, which is the map
the aggregators publish. Prices are drawn as the change from each market's own start (%), so
that venues quoting slightly different prices share one axis.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cascadesim._util.formatting import format_fraction, format_usd
from cascadesim.report.headlines import ordered_groups
from cascadesim.report.plots import (
    COUNTERFACTUAL_COLOUR,
    LONG_COLOUR,
    MARKET_COLOURS,
    SHORT_COLOUR,
    USD_FORMATTER,
    binned_liquidations,
    describe_width,
    market_rows,
    new_figure,
    perp_price_column,
    round_up,
    styled,
    time_axis,
)

CROSS_LONG_COLOUR = "#8c1a1a"  # dark red: cross-margin longs liquidated above the start
CROSS_SHORT_COLOUR = "#1a5e1a"


def panel_grid(count: int) -> tuple[int, int]:
    """(rows, columns) of a grid of small multiples: at most three columns."""
    columns = min(3, count)
    return math.ceil(count / columns), columns


@styled
def plot_breakdown(result) -> Figure | None:
    """Liquidated USD by venue and by asset, longs and shorts stacked; None for one market.

    Returns
    -------
    matplotlib.figure.Figure or None
        Left: one bar per venue; right: one per asset (most liquidated at the top). Each bar
        is labelled with its total, its ADL closes and its bad debt.
    """
    summary = result.summary
    panels = [
        (key, kind)
        for key, kind in (("by_venue", "venue"), ("by_asset", "asset"))
        if len(summary[key]) > 1
    ]
    if not panels:
        return None
    figure = new_figure(11, max(3.6, 1.6 + 0.55 * max(len(summary[key]) for key, _ in panels)))
    axes_list = np.atleast_1d(figure.subplots(1, len(panels), squeeze=False)[0])
    for axes, (key, kind) in zip(axes_list, panels, strict=True):
        groups = summary[key]
        names = ordered_groups(groups)[::-1]  # barh draws bottom-up
        longs = np.array([groups[name]["liquidated_long_usd"] for name in names])
        shorts = np.array([groups[name]["liquidated_short_usd"] for name in names])
        positions = np.arange(len(names))
        axes.barh(positions, longs, color=LONG_COLOUR, label="Longs liquidated")
        axes.barh(positions, shorts, left=longs, color=SHORT_COLOUR, label="Shorts liquidated")
        axes.set_yticks(positions, names)
        top = float((longs + shorts).max()) or 1.0
        axes.set_xlim(0, top * 1.65)  # room for the labels right of the bars
        for position, name in zip(positions, names, strict=True):
            group = groups[name]
            note = f" {format_usd(group['liquidated_total_usd'])}"
            if group["adl_count"]:
                note += f", ADL {group['adl_count']:,}"
            if group["bad_debt_usd"] > 0:
                note += f", bad debt {format_usd(group['bad_debt_usd'])}"
            axes.text(
                float(longs[position] + shorts[position]),
                position,
                note,
                va="center",
                fontsize=9.5,
            )
        axes.xaxis.set_major_formatter(USD_FORMATTER)
        axes.set_xlabel("Liquidated (USD)")
        axes.set_title(f"By {kind}")
        axes.set_ylabel(kind.title())
        axes.grid(axis="y", visible=False)
    figure.legend(
        handles=[Patch(color=LONG_COLOUR), Patch(color=SHORT_COLOUR)],
        labels=["Longs liquidated", "Shorts liquidated"],
        loc="outside lower center",
        ncols=2,
    )
    figure.suptitle(
        f"Liquidations of all {len(summary['markets'])} markets by venue and by asset",
        fontsize=12.5,
        fontweight="bold",
    )
    return figure


@styled
def plot_assets(result) -> Figure | None:
    """One panel per asset: each of its markets' price change, and its liquidations.

    Returns
    -------
    matplotlib.figure.Figure or None
        Per panel: perp price change from the start (%) of each venue's market (a dot at its
        first liquidation), the counterfactual of the asset's largest market dashed, and the
        asset's liquidated USD per time bin as grey bars on the right axis. None for a run of
        one market.
    """
    summary = result.summary
    if len(summary["markets"]) < 2:
        return None
    axis = time_axis(result)
    assets = summary["by_asset"]
    names = ordered_groups(assets)
    n_rows, n_columns = panel_grid(len(names))
    figure = new_figure(11, 1.2 + 3.1 * n_rows)
    grid = figure.subplots(n_rows, n_columns, squeeze=False, sharex=True)
    frame = result.timeline
    counterfactual = result.counterfactual_timeline
    events = result.liquidations
    events = events[events["kind"] != "adl_counterparty"]
    first_times = events.groupby("market", observed=False)["time"].min()
    venues = sorted({row["venue"] for row in summary["markets"]})
    colour_of = {venue: MARKET_COLOURS[k % len(MARKET_COLOURS)] for k, venue in enumerate(venues)}
    lowest = 0.0
    for panel, asset in enumerate(names):
        axes = grid[panel // n_columns][panel % n_columns]
        group = assets[asset]
        bars = axes.twinx()
        bars.grid(False)
        total = np.zeros(axis.n_bins)
        for market in group["markets"]:
            m = result.market_names.index(market)
            rows = market_rows(frame, market)
            start = float(result.setup.markets[m].price)
            change = 100.0 * (perp_price_column(rows) / start - 1.0)
            lowest = min(lowest, float(np.nanmin(change)))
            times = rows["time"].to_numpy(dtype=np.float64) / axis.scale
            venue = result.setup.markets[m].venue
            axes.plot(times, change, color=colour_of[venue], linewidth=1.6, label=venue, zorder=3)
            first = float(first_times.get(market, math.nan))
            if math.isfinite(first):
                k = min(int(np.searchsorted(times, first / axis.scale)), len(change) - 1)
                axes.plot(
                    [times[k]],
                    [change[k]],
                    marker="o",
                    markersize=6,
                    markeredgecolor="black",
                    color=colour_of[venue],
                    zorder=4,
                )
            binned = binned_liquidations(rows, axis.bin_seconds, axis.n_bins)
            total += binned["liquidated_long_usd"] + binned["liquidated_short_usd"]
            if market == group["price_market"] and counterfactual is not None:
                base = market_rows(counterfactual, market)
                axes.plot(
                    base["time"].to_numpy(dtype=np.float64) / axis.scale,
                    100.0 * (perp_price_column(base) / start - 1.0),
                    color=COUNTERFACTUAL_COLOUR,
                    linestyle="--",
                    linewidth=1.4,
                    label=f"{venue} without liquidations",
                    zorder=2,
                )
        centres = (np.arange(axis.n_bins) + 0.5) * axis.bin_seconds / axis.scale
        bars.bar(
            centres,
            total,
            width=axis.bin_seconds / axis.scale,
            color="#b0b0b0",
            alpha=0.6,
            zorder=1,
        )
        bars.set_ylim(0, max(float(total.max()), 1.0) * 3.0)  # bars in the lower third
        bars.yaxis.set_major_formatter(USD_FORMATTER)
        bars.tick_params(axis="y", labelsize=8, colors="#777777")
        bars.set_ylabel("Liquidated (USD)", fontsize=8, color="#777777")
        axes.set_zorder(bars.get_zorder() + 1)
        axes.patch.set_visible(False)
        amplification = group["amplification"]
        axes.set_title(
            f"{asset}: {format_usd(group['liquidated_total_usd'])}, fell "
            f"{format_fraction(group['max_drawdown'])}"
            + ("" if amplification is None else f" ({amplification:.2f}x)"),
            fontsize=11,
        )
        axes.axhline(0.0, color="black", linewidth=0.7)
        # Upper right: the lines start there at 0 and fall away; the bars are at the bottom.
        axes.legend(loc="upper right", fontsize=8, framealpha=0.85)
    for panel in range(len(names), n_rows * n_columns):
        grid[panel // n_columns][panel % n_columns].set_visible(False)
    for row in grid:
        for axes in row:
            axes.set_ylim(lowest * 1.35 - 0.5, 1.0)  # one scale: panels compare at a glance
    for axes in grid[-1]:
        axes.set_xlabel(axis.label if n_columns == 1 else axis.label.split(";")[0])
    for row in grid:
        row[0].set_ylabel("Price change (%)")
    figure.suptitle(
        f"Each asset's markets: price change from the start (dots: first liquidation)\n"
        f"and the asset's liquidations per {describe_width(axis.bin_seconds)} "
        f"(grey bars, right axis)",
        fontsize=11.5,
        fontweight="bold",
    )
    return figure


def asset_liquidation_levels(result, asset: str):
    """Liquidation levels of an asset's positions before the shock, as % from each start.

    Returns
    -------
    (levels, notional, is_long, cross) : float64, float64, bool, bool arrays
        ``levels`` in % of the position's market start price, ``notional`` USD at the
        liquidation price, ``cross`` True for positions of cross-margin accounts.
    """
    positions = result.initial_positions
    markets = [m for m, spec in enumerate(result.setup.markets) if spec.asset == asset]
    starts = np.array([spec.price for spec in result.setup.markets], dtype=np.float64)
    rows = (
        np.isin(positions.market, markets)
        & (positions.quantity > 0)
        & np.isfinite(positions.liquidation_price)
        & (positions.liquidation_price > 0)
    )
    price = positions.liquidation_price[rows]
    levels = 100.0 * (price / starts[positions.market[rows]] - 1.0)
    cross_rows = result.setup.positions.cross
    cross = np.zeros(int(rows.sum()), dtype=bool)
    if cross_rows is not None and cross_rows.shape[0] == positions.quantity.shape[0]:
        cross = np.asarray(cross_rows, dtype=bool)[rows]
    return levels, positions.quantity[rows] * price, positions.side[rows] > 0, cross


@styled
def plot_asset_liquidation_maps(result, max_bins: int = 80) -> Figure | None:
    """Per asset, the notional liquidated at each price level, summed over its venues.

    Returns
    -------
    matplotlib.figure.Figure or None
        One panel per asset: longs (red) below the start, shorts (green) above, in % from
        the start price, over the same window for every asset. Cross-margin positions whose
        start liquidation level is on the other side of the start (a long above it, a short
        below: the account's other positions carry it) are drawn darker and counted in the
        title. None for a run of one asset.
    """
    summary = result.summary
    assets = summary["by_asset"]
    if len(assets) < 2:
        return None
    names = ordered_groups(assets)
    reach = max(row["max_drawdown"] for row in summary["markets"])
    half_width = 100.0 * min(0.6, max(0.1, 1.5 * reach))
    bin_width = round_up(2 * half_width / max_bins)
    half_width = math.ceil(half_width / bin_width) * bin_width
    edges = np.arange(-half_width, half_width + 0.5 * bin_width, bin_width)
    n_rows, n_columns = panel_grid(len(names))
    figure = new_figure(11, 1.0 + 2.9 * n_rows)
    grid = figure.subplots(n_rows, n_columns, squeeze=False, sharex=True)
    wrong_side_seen = False
    for panel, asset in enumerate(names):
        axes = grid[panel // n_columns][panel % n_columns]
        levels, notional, is_long, cross = asset_liquidation_levels(result, asset)
        wrong = cross & ((is_long & (levels > 0)) | (~is_long & (levels < 0)))
        wrong_side_seen |= bool(wrong.any())
        stacks = (
            (is_long & ~wrong, LONG_COLOUR),
            (~is_long & ~wrong, SHORT_COLOUR),
            (is_long & wrong, CROSS_LONG_COLOUR),
            (~is_long & wrong, CROSS_SHORT_COLOUR),
        )
        for chosen, colour in stacks:
            if chosen.any():
                usd, _ = np.histogram(levels[chosen], bins=edges, weights=notional[chosen])
                axes.stairs(usd, edges, fill=True, color=colour, alpha=0.85)
        axes.axvline(0.0, color="black", linewidth=1.2)
        group = assets[asset]
        low = -100.0 * group["max_drawdown"]
        if low < 0:
            axes.axvline(low, color="#1f3b73", linestyle="--", linewidth=1.1)
        inside = (levels >= edges[0]) & (levels <= edges[-1])
        title = (
            f"{asset} ({len(group['markets'])} venues): "
            f"{format_usd(notional[is_long & inside].sum())} longs, "
            f"{format_usd(notional[~is_long & inside].sum())} shorts"
        )
        if wrong.any():
            title += f"\n{format_usd(notional[wrong].sum())} cross-margin on the far side"
        axes.set_title(title, fontsize=10.5)
        axes.yaxis.set_major_formatter(USD_FORMATTER)
        axes.set_ylim(bottom=0)
    for panel in range(len(names), n_rows * n_columns):
        grid[panel // n_columns][panel % n_columns].set_visible(False)
    for axes in grid[-1]:
        axes.set_xlabel("Liquidation level (% from the start price)")
    for row in grid:
        row[0].set_ylabel(f"USD per {bin_width:g} % bin")
    handles: list = [Patch(color=LONG_COLOUR), Patch(color=SHORT_COLOUR)]
    labels = ["Longs (liquidated if the price falls there)", "Shorts (if it rises there)"]
    if wrong_side_seen:
        handles += [Patch(color=CROSS_LONG_COLOUR), Patch(color=CROSS_SHORT_COLOUR)]
        labels += ["Cross-margin longs above the start", "Cross-margin shorts below it"]
    handles.append(Line2D([], [], color="#1f3b73", linestyle="--", linewidth=1.1))
    labels.append("Low of the asset's largest market in the run")
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9)
    figure.suptitle(
        "Liquidation map per asset before the shock, all venues together",
        fontsize=12.5,
        fontweight="bold",
    )
    return figure
