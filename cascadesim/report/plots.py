"""Figures of one market of a simulated path: price, liquidation map, book depth, open interest.

Every public ``plot_*`` function takes a :class:`cascadesim.sim.result.Result` and returns a
matplotlib :class:`~matplotlib.figure.Figure` built through the object API. pyplot is never
imported: it keeps a global registry of figures and picks a GUI backend, neither of which is
safe in threads, Dask workers or a headless server. :func:`png_bytes` draws a figure once on
the Agg canvas; :mod:`cascadesim.report.figures` lists, draws and writes them all.

Results with several markets: these plots show one market (by default the one with the most
liquidated USD) and say so in their title; :mod:`cascadesim.report.asset_plots` shows them
all, by venue and asset.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from typing import NamedTuple, ParamSpec, TypeVar

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cascadesim._util.formatting import format_fraction, format_price, format_usd, price_decimals
from cascadesim.report.book_view import cumulative_depth

LONG_COLOUR = "#d62728"  # red: longs liquidated (forced sells), as liquidation trackers show them
SHORT_COLOUR = "#2ca02c"  # green: shorts liquidated (forced buys)
BID_COLOUR = "#2ca02c"
ASK_COLOUR = "#d62728"
PRICE_COLOUR = "#1f3b73"
MARK_COLOUR = "#ff7f0e"
INDEX_COLOUR = "#7f7f7f"
COUNTERFACTUAL_COLOUR = "#17a2b8"
FUND_COLOUR = "#6a3d9a"
P = ParamSpec("P")
FigureOrNone = TypeVar("FigureOrNone", Figure, Figure | None)
PNG_DPI = 120
# zlib level of the PNG files: level 1 encodes these flat-coloured figures several times
# faster than PIL's default 6, for files about 10 % larger (pixels are the same).
PNG_COMPRESS_LEVEL = 1

# Applied while a figure's artists are created (text properties are read from rcParams then),
# so the figures look the same whatever the user's matplotlibrc says.
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9.5,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    # "$1.2M ... $3.4M" in a label must print dollars, not switch to mathtext between them.
    "text.parse_math": False,
}

# Bin widths (seconds) for liquidation bars: round numbers a reader can take in.
BIN_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
MAX_BARS = 150
LIQUIDATION_COLUMNS = ("liquidated_long_usd", "liquidated_short_usd")


# --- formatting (the numbers themselves: cascadesim._util.formatting) ------------------
def usd_tick(value: float, _position: int | None = None) -> str:
    """Axis tick label in compact USD, without trailing zeros (``$250K``, ``$1.25M``)."""
    return format_usd(value, digits=2, trim=True)


USD_FORMATTER = FuncFormatter(usd_tick)


def price_formatter(reference: float) -> FuncFormatter:
    """Axis formatter for prices near ``reference`` (USD), with thousands separators."""
    decimals = price_decimals(reference)
    return FuncFormatter(lambda value, _position: f"{value:,.{decimals}f}")


# --- shared helpers ------------------------------------------------------------------------
def styled(function: Callable[P, FigureOrNone]) -> Callable[P, FigureOrNone]:
    """Build the figure under :data:`STYLE` and attach an Agg canvas to it (if one is drawn)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> FigureOrNone:
        # STYLE's keys are valid rcParams; matplotlib types them as a closed Literal set.
        with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
            figure = function(*args, **kwargs)
        if figure is not None:
            FigureCanvasAgg(figure)
        return figure

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A white figure with constrained layout (labels never overlap or fall off the edge).

    Created at the resolution of the PNG files: the Agg canvas draws at the figure's dpi.
    """
    return Figure(figsize=(width, height), dpi=PNG_DPI, layout="constrained")


def png_bytes(figure: Figure, dpi: float = PNG_DPI) -> bytes:
    """The figure as PNG, drawn once.

    ``Figure.savefig`` draws a figure with a layout engine twice (a pass with drawing
    disabled to settle the layout, then the real one), though the real draw runs the layout
    engine itself; printing on the Agg canvas directly draws once, to the same pixels.
    """
    if figure.dpi != dpi:
        figure.set_dpi(dpi)
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    canvas.print_png(buffer, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()


def market_index(result, market: int | str | None = None) -> int:
    """Index of the market to plot: the one given, else the one with the most liquidated USD.

    Ties (for instance nothing liquidated anywhere) go to the deepest drawdown, then the first.
    """
    names = list(result.market_names)
    if isinstance(market, str):
        if market not in names:
            raise ValueError(f"unknown market {market!r}; markets are {', '.join(names)}")
        return names.index(market)
    if market is not None:
        if not 0 <= int(market) < len(names):
            raise ValueError(f"market index {market} out of range 0..{len(names) - 1}")
        return int(market)
    rows = result.summary["markets"]
    return max(
        range(len(rows)),
        key=lambda m: (rows[m]["liquidated_total_usd"], rows[m]["max_drawdown"], -m),
    )


def market_label(result, m: int, chosen_by_caller: bool) -> str:
    """The market's name, with a note on which of several markets it is."""
    name = result.market_names[m]
    n_markets = len(result.market_names)
    if n_markets == 1:
        return name
    if chosen_by_caller:
        return f"{name} (one of {n_markets} markets)"
    return f"{name} (most liquidated of {n_markets} markets)"


def market_rows(frame, name: str):
    """The timeline rows of one market, in step order."""
    return frame[frame["market"] == name].sort_values("step")


def perp_price_column(rows) -> np.ndarray:
    """Perp price per step (USD): the mid where the frame has it, else the last trade."""
    column = "mid_price" if "mid_price" in rows.columns else "last_price"
    return rows[column].to_numpy(dtype=np.float64)


def lowest_prices(rows) -> np.ndarray:
    """Per step, the lower of the mid and the last trade (USD): the summary's price_min rule."""
    return np.minimum(perp_price_column(rows), rows["last_price"].to_numpy(dtype=np.float64))


class TimeAxis(NamedTuple):
    """How the time axis of a figure is drawn: extent, unit and liquidation bins."""

    end_seconds: float  # right edge of the axis (s)
    scale: float  # seconds per axis unit (1 or 60)
    label: str  # axis label with the unit
    bin_seconds: float  # width of one liquidation bar (s)
    n_bins: int  # bars from 0 to end_seconds


def last_active_time(timeline: np.ndarray, relative_change: float = 1e-6) -> float:
    """Time (s) of the last step in which a price moved or anything was liquidated.

    Parameters
    ----------
    timeline : structured array (n_steps, n_markets) of ``layout.TIMELINE_DTYPE``
    relative_change : float, smallest per-step price move (fraction) that counts as activity;
        the slow drift of a funding-adjusted mark stays below it.
    """
    times = timeline["time"][:, 0]
    active = np.zeros(times.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        for name in ("index_price", "mark_price", "last_price", "best_bid"):
            values = timeline[name]
            moved = np.abs(np.diff(values, axis=0)) > relative_change * np.abs(values[1:])
            active[1:] |= moved.any(axis=1)
    for name in LIQUIDATION_COLUMNS:
        active |= (timeline[name] > 0).any(axis=1)
    return float(times[active].max()) if active.any() else 0.0


def time_axis(result) -> TimeAxis:
    """The time axis shared by the time-series figures of a result.

    A long run whose cascade is over early would leave the action squeezed into the left
    edge, so the axis stops a little after the last step in which anything moved (in either
    path) and the label says how long the run really was.
    """
    duration = result.setup.n_steps * result.setup.step_seconds
    paths = [result.outcome.timeline]
    if result.counterfactual_outcome is not None:
        paths.append(result.counterfactual_outcome.timeline)
    active = max(last_active_time(path) for path in paths)
    unit = 60.0 if duration > 900 else 10.0
    end = min(duration, max(60.0, math.ceil(1.3 * active / unit) * unit))
    if end > 0.8 * duration:
        end = duration
    scale = 60.0 if end > 900 else 1.0
    words, unit_name, decimals = ("minutes", "min", 1) if scale == 60 else ("seconds", "s", 0)
    label = f"Time since start ({words})"
    if end < duration:
        label += (
            f"; the run lasts {duration / scale:,.0f} {unit_name}, quiet after "
            f"{active / scale:,.{decimals}f} {unit_name}"
        )
    width = bin_width_seconds(end, result.setup.step_seconds)
    return TimeAxis(end, scale, label, width, max(1, math.ceil(end / width)))


def bin_width_seconds(duration: float, step_seconds: float) -> float:
    """Width of a liquidation bar (s): the roundest width giving at most MAX_BARS bars."""
    for width in BIN_WIDTHS_S:
        if width >= step_seconds and duration / width <= MAX_BARS:
            return float(width)
    return float(math.ceil(duration / MAX_BARS))


def describe_width(seconds: float) -> str:
    """``10 s``, ``1 min``, ``2 h``: the bar width as a reader would say it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def binned_liquidations(rows, width: float, n_bins: int) -> dict[str, np.ndarray]:
    """Liquidated USD per time bin, per side column, from per-step timeline rows.

    A step's row carries the time at its end, so a step ending exactly on a bin edge belongs
    to the bin it closes (ceil, then minus one).
    """
    times = rows["time"].to_numpy(dtype=np.float64)
    bins = np.maximum(np.ceil(times / width - 1e-9).astype(np.int64) - 1, 0)
    shown = bins < n_bins  # steps past the end of the axis are quiet by construction
    return {
        column: np.bincount(
            bins[shown], weights=rows[column].to_numpy(dtype=np.float64)[shown], minlength=n_bins
        )
        for column in LIQUIDATION_COLUMNS
    }


# --- price with and without liquidations ---------------------------------------------------
@styled
def plot_price(result, market: int | str | None = None) -> Figure:
    """Perp price with liquidations, mark, index and the counterfactual; liquidation bars.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    market : int or str, optional
        Market index or name; by default the market with the most liquidated USD.

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: prices (USD) against time. Bottom panel: liquidated USD per time bin,
        longs in red and shorts in green, stacked.
    """
    m = market_index(result, market)
    label = market_label(result, m, chosen_by_caller=market is not None)
    figures = result.summary["markets"][m]
    axis = time_axis(result)
    rows = market_rows(result.timeline, result.market_names[m])
    base = None
    if result.counterfactual_timeline is not None:
        base = market_rows(result.counterfactual_timeline, result.market_names[m])

    figure = new_figure(11, 7.5)
    price_axes, bar_axes = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1.6])
    draw_prices(price_axes, rows, base, axis, float(result.setup.markets[m].price))
    price_axes.set_title(price_title(label, len(result.market_names) > 1, figures))
    draw_liquidation_bars(bar_axes, rows, axis, liquidation_totals(figures))
    return figure


def draw_prices(axes, rows, base, axis: TimeAxis, start: float) -> None:
    """Index, counterfactual, mark and perp price (USD) of one market against time.

    Parameters
    ----------
    rows, base : pandas.DataFrame, the market's timeline rows with and without liquidations
        (``base`` None when no counterfactual was run)
    start : float, start price (USD), for the drawdown labels and the tick format
    """
    times = rows["time"].to_numpy(dtype=np.float64) / axis.scale
    axes.plot(
        times,
        rows["index_price"],
        color=INDEX_COLOUR,
        linestyle="--",
        linewidth=1.3,
        label="Index (spot composite)",
    )
    if base is not None:
        axes.plot(
            base["time"].to_numpy(dtype=np.float64) / axis.scale,
            perp_price_column(base),
            color=COUNTERFACTUAL_COLOUR,
            linewidth=2.2,
            linestyle=(0, (4, 2)),
            label="Perp price without liquidations (counterfactual)",
        )
    axes.plot(
        times,
        rows["mark_price"],
        color=MARK_COLOUR,
        linewidth=1.2,
        label="Mark price (liquidations trigger on it)",
    )
    axes.plot(
        times,
        perp_price_column(rows),
        color=PRICE_COLOUR,
        linewidth=2.2,
        label="Perp price (mid) with liquidations",
    )
    annotate_lows(axes, rows, base, axis.scale, axis.end_seconds / axis.scale, start)
    axes.yaxis.set_major_formatter(price_formatter(start))
    axes.margins(y=0.08)  # room below the trough for its label
    axes.set_ylabel("Price (USD)")
    axes.legend(loc="best")


def draw_liquidation_bars(axes, rows, axis: TimeAxis, totals: str) -> None:
    """Liquidated USD per time bin of one market, longs (red) and shorts (green) stacked.

    Each side is one filled step patch over all the bins (``Axes.stairs``), the shorts on
    top of the longs: two artists instead of one rectangle per bin and side.
    """
    width = axis.bin_seconds
    binned = binned_liquidations(rows, width, axis.n_bins)
    longs, shorts = binned["liquidated_long_usd"], binned["liquidated_short_usd"]
    edges = np.arange(axis.n_bins + 1) * width / axis.scale
    axes.stairs(
        longs,
        edges,
        baseline=0.0,
        fill=True,
        color=LONG_COLOUR,
        label="Longs liquidated (forced sells)",
    )
    axes.stairs(
        longs + shorts,
        edges,
        baseline=longs,
        fill=True,
        color=SHORT_COLOUR,
        label="Shorts liquidated (forced buys)",
    )
    axes.yaxis.set_major_formatter(USD_FORMATTER)
    # Headroom above the tallest bar for the totals box and the legend.
    tallest = float((longs + shorts).max())
    if tallest > 0:
        axes.set_ylim(0, 1.4 * tallest)
    else:
        axes.set_ylim(0, 1.0)
        axes.set_yticks([0.0])
        axes.text(
            0.5,
            0.5,
            "No liquidations",
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#555555",
        )
    axes.set_ylabel(f"Liquidated per {describe_width(width)}\n(USD)")
    axes.set_xlabel(axis.label)
    axes.set_xlim(0, axis.end_seconds / axis.scale)
    axes.legend(loc="upper right")
    axes.text(
        0.01,
        0.95,
        totals,
        transform=axes.transAxes,
        va="top",
        ha="left",
        fontsize=10,
        zorder=6,
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc"},
    )


def price_title(label: str, long_label: bool, figures: dict) -> str:
    """Headline of the price plot: the drawdown with and without liquidations."""
    # A multi-market label is long: give the sentence its own line.
    separator = ":\n" if long_label else ": "
    drawdown = figures["max_drawdown"]
    counterfactual = figures.get("counterfactual_max_drawdown")
    amplification = figures.get("amplification")
    if figures["liquidated_total_usd"] <= 0:
        return f"{label}{separator}no liquidations; the price fell {format_fraction(drawdown)}"
    if counterfactual is None or amplification is None:
        return (
            f"{label}{separator}price and liquidations (max drawdown {format_fraction(drawdown)})"
        )
    # Below half a percent of amplification the difference is within a tick or two.
    if amplification < 1.005:
        return (
            f"{label}{separator}liquidations did not deepen the drop "
            f"({format_fraction(drawdown)} with and {format_fraction(counterfactual)} "
            "without)"
        )
    return (
        f"{label}{separator}liquidations deepen the drop from "
        f"{format_fraction(counterfactual)} to {format_fraction(drawdown)} "
        f"({amplification:.1f}x amplification)"
    )


def annotate_lows(axes, rows, base, scale: float, end: float, start: float) -> None:
    """Mark the lowest perp price with and without liquidations, with their drawdowns."""
    # The lower low is labelled below its dot and the other above, so the labels never meet.
    paths = [(rows, PRICE_COLOUR, "low with liquidations", -6)]
    if base is not None:
        paths.append((base, COUNTERFACTUAL_COLOUR, "low without", 8))
    for frame, colour, words, offset in paths:
        prices = lowest_prices(frame)
        if prices.size == 0 or not np.isfinite(prices).any():
            continue
        k = int(np.nanargmin(prices))
        low = float(prices[k])
        time = float(frame["time"].iloc[k]) / scale
        # Labels of lows in the right half of the axis run leftwards, so none leave the plot.
        leftwards = time > 0.5 * end
        axes.plot([time], [low], marker="o", markersize=7, color=colour, zorder=5)
        axes.annotate(
            f"{words}: {format_price(low, start)} ({format_fraction(low / start - 1)})",
            xy=(time, low),
            xytext=(-10 if leftwards else 10, offset),
            textcoords="offset points",
            ha="right" if leftwards else "left",
            fontsize=10,
            color=colour,
            fontweight="bold",
            va="top" if offset < 0 else "bottom",
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "alpha": 0.8,
                "edgecolor": "none",
            },
            zorder=6,
        )


def liquidation_totals(figures: dict) -> str:
    """One-box summary of a market's liquidations for the bar panel."""
    return (
        f"Longs {format_usd(figures['liquidated_long_usd'])}, "
        f"shorts {format_usd(figures['liquidated_short_usd'])}; "
        f"{figures['accounts_liquidated']:,} accounts; "
        f"largest {format_usd(figures['largest_liquidation_usd'])}"
    )


# --- liquidation map -----------------------------------------------------------------------
@styled
def plot_liquidation_map(result, market: int | str | None = None, max_bins: int = 120) -> Figure:
    """Notional (USD) that would be liquidated at each price level, before the shock.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    market : int or str, optional
        Market index or name; by default the market with the most liquidated USD.
    max_bins : int
        Most price bins across the window shown; the bin width is rounded up to 1, 2, 2.5
        or 5 times a power of ten (USD) so that the axis label reads naturally.

    Returns
    -------
    matplotlib.figure.Figure
        Bars: quantity x liquidation price (USD) of the positions whose liquidation price
        falls in each bin, longs in red below the start price, shorts in green above. Lines
        (right axis): cumulative USD liquidated if the price moved from the start to that
        level. Liquidation prices are the engine's, at zero accumulated funding.
    """
    m = market_index(result, market)
    label = market_label(result, m, chosen_by_caller=market is not None)
    start = float(result.setup.markets[m].price)
    positions = result.initial_positions
    rows = (
        (positions.market == m)
        & (positions.quantity > 0)
        & np.isfinite(positions.liquidation_price)
        & (positions.liquidation_price > 0)
    )
    levels = positions.liquidation_price[rows]
    notional = positions.quantity[rows] * levels
    is_long = positions.side[rows] > 0

    figures = result.summary["markets"][m]
    reach = max(figures["max_drawdown"], figures.get("counterfactual_max_drawdown") or 0.0)
    half_width = min(0.6, max(0.1, 1.5 * reach))
    bin_width = round_up(2 * half_width * start / max_bins)
    # Edges on multiples of the bin width, one of them at the start price, so that no bin
    # mixes longs (below the start) with shorts (above it).
    first = start - math.ceil(half_width * start / bin_width) * bin_width
    edges = first + bin_width * np.arange(round(2 * (start - first) / bin_width) + 1)
    half_width = (start - first) / start
    long_usd, _ = np.histogram(levels[is_long], bins=edges, weights=notional[is_long])
    short_usd, _ = np.histogram(levels[~is_long], bins=edges, weights=notional[~is_long])

    figure = new_figure(11, 6.5)
    axes = figure.subplots()
    # The price lines before the bars, so they lead the legend (the patches draw below them
    # whatever the order, by their z-order).
    axes.axvline(start, color="black", linewidth=1.6, label=f"Start price {format_price(start)}")
    if figures["price_min"] < start:
        axes.axvline(
            figures["price_min"],
            color=PRICE_COLOUR,
            linewidth=1.3,
            linestyle="--",
            label=f"Lowest price reached in the run {format_price(figures['price_min'])}",
        )
    # One filled step patch per side over all the bins, not one rectangle per bin.
    axes.stairs(
        long_usd,
        edges,
        fill=True,
        color=LONG_COLOUR,
        alpha=0.8,
        label="Longs liquidated if the price falls to this level",
    )
    axes.stairs(
        short_usd,
        edges,
        fill=True,
        color=SHORT_COLOUR,
        alpha=0.8,
        label="Shorts liquidated if the price rises to this level",
    )
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(bottom=0)
    axes.xaxis.set_major_formatter(price_formatter(start))
    axes.yaxis.set_major_formatter(USD_FORMATTER)
    axes.set_xlabel("Liquidation price (USD)")
    axes.set_ylabel(f"Notional per {format_price(bin_width, start)} USD price bin (USD)")

    cumulative = axes.twinx()
    cumulative.grid(False)
    centres = 0.5 * (edges[:-1] + edges[1:])
    below = centres < start
    # Longs: everything between the start and a level below it is liquidated on the way down,
    # so the curve sums bins from the start price leftwards; shorts sum rightwards.
    long_curve = np.cumsum(long_usd[below][::-1])[::-1]
    short_curve = np.cumsum(short_usd[~below])
    cumulative.plot(
        centres[below],
        long_curve,
        color=LONG_COLOUR,
        linewidth=2.2,
        label="Cumulative longs liquidated (right axis)",
    )
    cumulative.plot(
        centres[~below],
        short_curve,
        color=SHORT_COLOUR,
        linewidth=2.2,
        label="Cumulative shorts liquidated (right axis)",
    )
    cumulative.set_ylim(bottom=0)
    cumulative.yaxis.set_major_formatter(USD_FORMATTER)
    cumulative.set_ylabel("Cumulative liquidations from the start price (USD)")

    handles, labels = axes.get_legend_handles_labels()
    extra_handles, extra_labels = cumulative.get_legend_handles_labels()
    axes.legend(handles + extra_handles, labels + extra_labels, loc="upper right")
    outside = float(notional.sum() - long_usd.sum() - short_usd.sum())
    axes.set_title(
        f"{label}: liquidation map before the shock\n"
        f"{format_usd(long_usd.sum())} of longs within {half_width:.0%} below the "
        f"start price, {format_usd(short_usd.sum())} of shorts within "
        f"{half_width:.0%} above ({format_usd(outside)} further out)"
    )
    return figure


def round_up(value: float) -> float:
    """Smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is at least ``value``."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(power * factor for factor in (1, 2, 2.5, 5, 10) if power * factor >= value)


# --- order-book depth ----------------------------------------------------------------------
def trough_step(result, m: int) -> int:
    """Step (1-based, end of step) of the lowest perp price of market m."""
    rows = market_rows(result.timeline, result.market_names[m])
    prices = lowest_prices(rows)
    return int(rows["step"].iloc[int(np.nanargmin(prices))])


@styled
def plot_book_depth(result, market: int | str | None = None, half_width: float = 0.02) -> Figure:
    """Order-book depth before the shock, at the trough and at the end.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    market : int or str, optional
        Market index or name; by default the market with the most liquidated USD.
    half_width : float
        Fraction of the mid shown on each side of it.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels with a shared depth axis: cumulative USD resting at each price or
        better, bids (green) below the mid and asks (red) above it. The trough panel uses the
        book snapshot nearest the step of the lowest price.
    """
    m = market_index(result, market)
    label = market_label(result, m, chosen_by_caller=market is not None)
    snapshots = result.outcome.book_snapshots
    low_step = trough_step(result, m)
    trough = min(snapshots, key=lambda snapshot: abs(snapshot.step - low_step))
    step_seconds = result.setup.step_seconds
    moments = [
        ("Before the shock", snapshots[0]),
        (f"At the trough (lowest price at step {low_step:,})", trough),
        ("At the end", snapshots[-1]),
    ]
    reference = float(result.setup.markets[m].price)

    figure = new_figure(13, 5.5)
    panels = figure.subplots(1, 3, sharey=True)
    for axes, (words, snapshot) in zip(panels, moments, strict=True):
        mid, bid_prices, bid_depth, ask_prices, ask_depth = cumulative_depth(
            snapshot, m, half_width
        )
        if bid_prices.size:
            axes.fill_between(bid_prices, bid_depth, step="post", color=BID_COLOUR, alpha=0.35)
            axes.plot(
                bid_prices,
                bid_depth,
                drawstyle="steps-post",
                color=BID_COLOUR,
                linewidth=1.6,
                label="Bids (buy orders)",
            )
        if ask_prices.size:
            axes.fill_between(ask_prices, ask_depth, step="post", color=ASK_COLOUR, alpha=0.35)
            axes.plot(
                ask_prices,
                ask_depth,
                drawstyle="steps-post",
                color=ASK_COLOUR,
                linewidth=1.6,
                label="Asks (sell orders)",
            )
        if math.isfinite(mid):
            axes.axvline(mid, color="black", linewidth=1.0, linestyle=":", label="Mid price")
            axes.set_xlim(mid * (1 - half_width), mid * (1 + half_width))
        seconds = snapshot.step * step_seconds
        axes.set_title(
            f"{words}\nbook after step {snapshot.step:,} (t = {seconds:,.0f} s)", fontsize=11
        )
        axes.xaxis.set_major_locator(MaxNLocator(4))
        axes.xaxis.set_major_formatter(price_formatter(reference))
        axes.set_xlabel("Price (USD)")
        axes.text(
            0.5,
            0.97,
            depth_note(bid_prices, bid_depth, ask_prices, ask_depth, mid, reference),
            transform=axes.transAxes,
            ha="center",
            va="top",
            fontsize=9.5,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc"},
        )
    # One legend for the three panels: a legend inside each would cover the depth curves.
    handles, labels = max(
        (axes.get_legend_handles_labels() for axes in panels), key=lambda pair: len(pair[1])
    )
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    panels[0].set_ylabel("Cumulative depth from the mid (USD)")
    panels[0].yaxis.set_major_formatter(USD_FORMATTER)
    panels[0].set_ylim(bottom=0)
    figure.suptitle(
        f"{label}: order-book depth within "
        f"{half_width:.0%} of the mid, before, at the trough and after",
        fontsize=12.5,
        fontweight="bold",
    )
    return figure


def depth_note(bid_prices, bid_depth, ask_prices, ask_depth, mid: float, reference: float) -> str:
    """The mid and the USD resting within 1 % of it on each side, for a panel's text box."""
    if not math.isfinite(mid):
        return "book empty"
    bids = bid_depth[bid_prices >= mid * 0.99]
    asks = ask_depth[ask_prices <= mid * 1.01]
    bid_usd = float(bids[-1]) if bids.size else 0.0
    ask_usd = float(asks[-1]) if asks.size else 0.0
    return (
        f"mid {format_price(mid, reference)}\nwithin 1 %: bids {format_usd(bid_usd)}, "
        f"asks {format_usd(ask_usd)}"
    )


# --- open interest and insurance fund ------------------------------------------------------
@styled
def plot_open_interest(result, market: int | str | None = None) -> Figure:
    """Open interest (USD) and the insurance fund (USD) over time.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    market : int or str, optional
        Market index or name; by default the market with the most liquidated USD.

    Returns
    -------
    matplotlib.figure.Figure
        Top: long open interest at the mark price (USD), with and without liquidations.
        Bottom: change of the insurance fund since the start (cash plus taken-over inventory
        at mark, USD), and of the backstop vault where the venue has one.
    """
    m = market_index(result, market)
    label = market_label(result, m, chosen_by_caller=market is not None)
    name = result.market_names[m]
    figures = result.summary["markets"][m]
    axis = time_axis(result)
    scale = axis.scale
    rows = market_rows(result.timeline, name)
    times = rows["time"].to_numpy(dtype=np.float64) / scale

    figure = new_figure(11, 7)
    interest_axes, fund_axes = figure.subplots(2, 1, sharex=True)
    counterfactual = result.counterfactual_timeline
    if counterfactual is not None:
        base = market_rows(counterfactual, name)
        interest_axes.plot(
            base["time"].to_numpy(dtype=np.float64) / scale,
            base["long_open_interest_usd"],
            color=COUNTERFACTUAL_COLOUR,
            linewidth=2,
            linestyle=(0, (4, 2)),
            label="Without liquidations (counterfactual)",
        )
    interest_axes.plot(
        times,
        rows["long_open_interest_usd"],
        color=PRICE_COLOUR,
        linewidth=2.2,
        label="With liquidations",
    )
    interest_axes.yaxis.set_major_formatter(USD_FORMATTER)
    interest_axes.set_ylabel("Open interest at mark (USD)")
    interest_axes.legend(loc="best")
    interest_axes.set_title(
        f"{label}: open interest and insurance fund\n"
        f"open interest {format_usd(figures['open_interest_before_usd'])} before, "
        f"{format_usd(figures['open_interest_after_usd'])} after; insurance fund change "
        f"{format_usd(figures['insurance_fund_change_usd'])}, bad debt "
        f"{format_usd(figures['bad_debt_usd'])}"
    )

    # Changes since the start, not balances: a $1B fund losing $0.5M would otherwise fill the
    # panel with a cliff that is 0.05 % of the fund.
    spec = result.setup.markets[m]
    fund_axes.plot(
        times,
        rows["insurance_fund_usd"] - spec.insurance_fund_usd,
        color=FUND_COLOUR,
        linewidth=2.2,
        label=f"Insurance fund (started at {format_usd(spec.insurance_fund_usd)})",
    )
    if "backstop_usd" in rows.columns and np.any(rows["backstop_usd"].to_numpy() != 0):
        fund_axes.plot(
            times,
            rows["backstop_usd"] - spec.backstop_usd,
            color=MARK_COLOUR,
            linewidth=2,
            label=f"Backstop vault (started at {format_usd(spec.backstop_usd)})",
        )
    fund_axes.axhline(0.0, color="black", linewidth=0.8)
    fund_axes.yaxis.set_major_formatter(USD_FORMATTER)
    fund_axes.set_ylabel("Change since the start (USD)")
    fund_axes.set_xlabel(axis.label)
    fund_axes.set_xlim(0, axis.end_seconds / scale)
    fund_axes.legend(loc="best")
    return figure


# --- contagion across markets --------------------------------------------------------------
MARKET_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
