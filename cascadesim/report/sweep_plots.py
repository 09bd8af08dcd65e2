"""Figures of a sweep: price fan chart, loss distributions, heatmaps, ADL and tail plots.

Built like :mod:`cascadesim.report.plots` (the Figure API on Agg, never pyplot, its style and USD
formatting) from the tables a sweep writes: ``paths`` (one row per point and path), ``points``
(one row per design point) and ``price_paths`` (sampled prices per path).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pyarrow.compute as pc
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from cascadesim._util.files import write_atomically
from cascadesim._util.formatting import format_fraction, format_usd
from cascadesim.report.plots import (
    COUNTERFACTUAL_COLOUR,
    PNG_DPI,
    PRICE_COLOUR,
    USD_FORMATTER,
    new_figure,
    png_bytes,
    styled,
)
from cascadesim.sim.result import BAD_DEBT_TOLERANCE_USD

POINT_COLOURS = (
    "#1f3b73",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#6a3d9a",
    "#17a2b8",
    "#8c564b",
    "#e377c2",
)


# --- labels and choices -------------------------------------------------------------------
def short_name(key: str) -> str:
    """The last two parts of a dotted path: ``leverage.max``, ``*.insurance_fund_usd``."""
    return ".".join(key.split(".")[-2:])


def parameter_label(key: str) -> str:
    """A swept parameter in words, with its unit: ``every market's insurance fund (USD)``."""
    name = short_name(key).replace("_", " ").replace("*.", "")
    if key.endswith("_usd"):
        return name[: -len(" usd")] + " (USD)"
    if key.endswith("mmr_scale"):
        owner = key.split(".")[-2]
        return f"{owner} maintenance-margin scale (x)"
    if key.endswith("leverage.max"):
        return "leverage cap (x)"
    return name


def format_value(key: str, value) -> str:
    """A swept value as a reader wants it: USD compact, fractions and scales as numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    if key.endswith("_usd"):
        return format_usd(float(value))
    return f"{float(value):g}"


def point_label(sweep, point: int, separator: str = ", ") -> str:
    """``leverage cap (x) = 10, insurance fund (USD) = $1.0M`` (``all paths`` for no design)."""
    values = sweep.point_values[point]
    if not values:
        return "all paths"
    return separator.join(
        f"{parameter_label(key)} = {format_value(key, value)}" for key, value in values.items()
    )


def without_residue(values: np.ndarray) -> np.ndarray:
    """Bad debt with the engine's sub-dollar floating-point residue set to zero."""
    return np.where(values > BAD_DEBT_TOLERANCE_USD, values, 0.0)


def varying_parameters(sweep) -> list[str]:
    """Swept parameters that take more than one value, in design order."""
    return [
        key
        for key in sweep.parameters
        if len({repr(values[key]) for values in sweep.point_values}) > 1
    ]


def numeric(values) -> bool:
    return all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)


def chosen_points(n_points: int, most: int) -> list[int]:
    """Up to ``most`` points spread evenly, always the first and the last."""
    if n_points <= most:
        return list(range(n_points))
    return sorted({int(round(k)) for k in np.linspace(0, n_points - 1, most)})


def log_axis_suits(values) -> bool:
    """Positive values spanning more than a factor 20 read better on a log axis."""
    values = [float(v) for v in values]
    return min(values) > 0 and max(values) / min(values) > 20


def time_unit(duration_s: float) -> tuple[float, str]:
    return (60.0, "minutes") if duration_s > 900 else (1.0, "seconds")


# --- fan chart ------------------------------------------------------------------------------
@styled
def plot_fan_chart(sweep, points, price_paths, most: int = 4) -> Figure:
    """Percentile bands of the perp price across the paths of up to ``most`` points."""
    market = points["price_market"].iloc[0]
    table = price_paths.filter(pc.equal(price_paths["market"], market))
    chosen = chosen_points(sweep.n_points, most)
    figure = new_figure(min(5.2 * len(chosen), 15), 4.6)
    axes_list = figure.subplots(1, len(chosen), sharey=True, squeeze=False)[0]
    point_column = table["point"].to_numpy()
    prices_all = table["price_usd"].to_pylist()
    sample_s = sweep.spec.price_sample_s
    for axes, point in zip(axes_list, chosen, strict=True):
        rows = np.asarray([prices_all[k] for k in np.flatnonzero(point_column == point)])
        relative = 100.0 * rows / rows[:, :1]
        scale, unit = time_unit(sample_s * (relative.shape[1] - 1))
        times = np.arange(relative.shape[1]) * sample_s / scale
        for (low, high), alpha in (((1, 99), 0.15), ((5, 95), 0.25), ((25, 75), 0.4)):
            axes.fill_between(
                times,
                np.percentile(relative, low, axis=0),
                np.percentile(relative, high, axis=0),
                color=PRICE_COLOUR,
                alpha=alpha,
                linewidth=0,
                label=f"{low}-{high}th percentile",
            )
        axes.plot(
            times, np.median(relative, axis=0), color=PRICE_COLOUR, linewidth=1.8, label="median"
        )
        axes.set_title(
            point_label(sweep, point, "\n") if sweep.parameters else f"{len(rows):,} paths",
            fontsize=10,
        )
        axes.set_xlabel(f"Time since start ({unit})")
    axes_list[0].set_ylabel(f"{market} perp price (% of start)")
    axes_list[0].legend(loc="upper right")
    figure.suptitle(f"Price paths across the ensemble ({sweep.name})", fontweight="bold")
    return figure


# --- loss distributions -------------------------------------------------------------------
@styled
def plot_loss_distributions(sweep, paths, most: int = 3) -> Figure:
    """Histograms of liquidated USD and bad debt per path, VaR95 (dashed) and VaR99 (dotted)."""
    figure = new_figure(12, 4.6)
    axes_pair = figure.subplots(1, 2)
    chosen = chosen_points(sweep.n_points, most)
    for axes, column, title in (
        (axes_pair[0], "liquidated_total_usd", "Liquidated per path"),
        (axes_pair[1], "bad_debt_usd", "Bad debt per path"),
    ):
        values_all = paths[column].to_numpy(dtype=np.float64)
        if column == "bad_debt_usd":
            values_all = without_residue(values_all)
        top = float(np.max(values_all)) if values_all.size else 0.0
        if top <= 0:
            # Nothing to draw: an axis from 0 to 1 USD would suggest a distribution.
            axes.text(
                0.5,
                0.5,
                f"none in {values_all.size:,} paths",
                ha="center",
                va="center",
                fontsize=14,
                transform=axes.transAxes,
                color="#555555",
            )
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_title(title)
            axes.set_xlabel(f"{title.split(' per')[0]} (USD)")
            axes.set_ylabel("Paths")
            continue
        bins = np.linspace(0.0, top, 41)
        for colour, point in zip(POINT_COLOURS, chosen, strict=False):
            values = paths.loc[paths["point"] == point, column].to_numpy(dtype=np.float64)
            if column == "bad_debt_usd":
                values = without_residue(values)
            var95, var99 = np.quantile(values, 0.95), np.quantile(values, 0.99)
            label = (
                f"{point_label(sweep, point)}\nVaR95 {format_usd(var95)}, VaR99 {format_usd(var99)}"
            )
            if column == "bad_debt_usd":
                label += f", P(> 0) {format_fraction(float((values > 0).mean()))}"
            axes.hist(values, bins=bins, histtype="step", linewidth=1.6, color=colour, label=label)
            axes.axvline(var95, color=colour, linestyle="--", linewidth=1.1)
            axes.axvline(var99, color=colour, linestyle=":", linewidth=1.4)
        axes.xaxis.set_major_formatter(USD_FORMATTER)
        axes.set_xlabel(f"{title.split(' per')[0]} (USD)")
        axes.set_ylabel("Paths")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
    # Below the panels: inside, the legend covered the tallest bars.
    handles, labels = axes_pair[0].get_legend_handles_labels()
    longest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    columns = len(chosen) if longest * len(chosen) <= 150 else 1
    figure.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=8.5)
    figure.suptitle("Loss distributions; dashed: VaR95, dotted: VaR99", fontweight="bold")
    return figure


# --- heatmap ------------------------------------------------------------------------------
HEATMAP_FIGURES = (
    ("bad_debt_usd_mean", "Mean bad debt", "magma_r", True),
    ("adl_probability", "Probability of ADL", "viridis", False),
    ("max_drawdown_p99", "99th percentile of max drawdown", "cividis", False),
)
# Shown instead of bad debt when no path had any (ADL covered every shortfall).
FUND_FIGURE = ("insurance_fund_drawdown_usd_p99", "Insurance-fund drawdown, p99", "magma_r", True)


@styled
def plot_heatmap(sweep, points) -> Figure | None:
    """Mean bad debt, ADL probability and p99 drawdown over the first two swept parameters.

    Points differing only in other parameters are averaged (the title says so).
    """
    varying = varying_parameters(sweep)
    if len(varying) < 2 or sweep.spec.design.kind != "grid":
        return None
    rows_key, columns_key = varying[0], varying[1]
    row_values = list(dict.fromkeys(points[rows_key].tolist()))
    column_values = list(dict.fromkeys(points[columns_key].tolist()))
    panels = list(HEATMAP_FIGURES)
    if not (points["bad_debt_usd_mean"] > 0).any():
        panels[0] = FUND_FIGURE
    figure = new_figure(5.0 * len(panels), 4.2 + 0.15 * len(row_values))
    for axes, (column, title, colours, usd) in zip(
        figure.subplots(1, len(panels)), panels, strict=True
    ):
        grid = points.groupby([rows_key, columns_key], sort=False)[column].mean()
        values = np.array(
            [[grid.get((r, c), np.nan) for c in column_values] for r in row_values],
            dtype=np.float64,
        )
        image = axes.imshow(values, cmap=colours, aspect="auto", origin="lower")
        colourbar = figure.colorbar(image, ax=axes, shrink=0.85)
        # The colour bar in the cells' own unit: USD, or percent for probabilities and falls.
        colourbar.formatter = USD_FORMATTER if usd else PercentFormatter(xmax=1.0)
        colourbar.update_ticks()
        low, high = np.nanmin(values), np.nanmax(values)
        for (i, j), value in np.ndenumerate(values):
            text = format_usd(value) if usd else format_fraction(value)
            # White on the dark end of the colour map: low values, or high ones for magma_r.
            level = (value - low) / (high - low) if high > low else 0.0
            dark = level > 0.6 if colours.endswith("_r") else level < 0.4
            axes.text(
                j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black"
            )
        axes.set_xticks(
            range(len(column_values)),
            [format_value(columns_key, v) for v in column_values],
            rotation=30,
        )
        axes.set_yticks(range(len(row_values)), [format_value(rows_key, v) for v in row_values])
        axes.set_xlabel(parameter_label(columns_key))
        axes.set_ylabel(parameter_label(rows_key))
        axes.set_title(title)
        axes.grid(False)
    note = " (other parameters averaged)" if len(varying) > 2 else ""
    figure.suptitle(
        f"Over {parameter_label(rows_key)} and\n{parameter_label(columns_key)}{note}",
        fontweight="bold",
    )
    return figure


# --- ADL probability ----------------------------------------------------------------------
def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = 1.96):
    """95 % Wilson score interval of a binomial probability (good near 0 and 1)."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


@styled
def plot_adl_probability(sweep, points, most_lines: int = 6) -> Figure | None:
    """Probability of ADL (and of bad debt) against the first swept parameter."""
    varying = varying_parameters(sweep)
    if not varying:
        return None
    x_key = varying[0]
    group_key = varying[1] if len(varying) > 1 else None
    figure = new_figure(8.5, 4.8)
    axes = figure.subplots()
    groups = [(None, points)] if group_key is None else list(points.groupby(group_key, sort=False))
    groups = [groups[k] for k in chosen_points(len(groups), most_lines)]
    for colour, (value, group) in zip(POINT_COLOURS, groups, strict=False):
        summary = group.groupby(x_key, sort=True).agg(
            adl=("adl_probability", "mean"), paths=("paths", "sum")
        )
        x = summary.index.to_numpy()
        trials = summary["paths"].to_numpy(dtype=np.float64)
        low, high = wilson_interval(summary["adl"].to_numpy() * trials, trials)
        label = (
            "P(ADL)"
            if group_key is None
            else f"{short_name(group_key)} = {format_value(group_key, value)}"
        )
        if numeric(x):
            axes.plot(x, summary["adl"], marker="o", color=colour, label=label)
            axes.fill_between(x, low, high, color=colour, alpha=0.15, linewidth=0)
        else:
            axes.errorbar(
                [str(v) for v in x],
                summary["adl"],
                yerr=[summary["adl"] - low, high - summary["adl"]],
                marker="o",
                color=colour,
                label=label,
                capsize=3,
            )
    values = points[x_key].tolist()
    if numeric(values) and log_axis_suits(values):
        axes.set_xscale("log")
    if x_key.endswith("_usd"):
        axes.xaxis.set_major_formatter(USD_FORMATTER)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel(short_name(x_key))
    axes.set_ylabel("Probability of auto-deleveraging")
    axes.set_title("Probability of ADL per path (bands: 95 % Wilson interval)")
    axes.legend(loc="best")
    return figure


# --- tails of price moves -----------------------------------------------------------------
@styled
def plot_drawdown_tails(sweep, paths, points, most: int = 8) -> Figure:
    """Survival function of the max drawdown per point, and its quantiles against a parameter.

    With common random numbers every point replays the same shocks, so the dashed curve (the
    shocks alone, liquidations off) is shared and the spread between points is the cascade.
    """
    varying = varying_parameters(sweep)
    x_key = varying[0] if varying and numeric(points[varying[0]].tolist()) else None
    figure = new_figure(13 if x_key else 7, 4.8)
    left, right = figure.subplots(1, 2) if x_key else (figure.subplots(), None)
    chosen = chosen_points(sweep.n_points, most)
    for colour, point in zip(POINT_COLOURS, chosen, strict=False):
        values = np.sort(paths.loc[paths["point"] == point, "max_drawdown"].to_numpy())
        survival = 1.0 - np.arange(values.size) / values.size
        left.step(
            100 * values, survival, where="post", color=colour, label=point_label(sweep, point)
        )
    baseline = paths.loc[paths["point"] == chosen[0], "counterfactual_max_drawdown"].to_numpy()
    if np.isfinite(baseline).any():
        baseline = np.sort(baseline[np.isfinite(baseline)])
        left.step(
            100 * baseline,
            1.0 - np.arange(baseline.size) / baseline.size,
            where="post",
            color=COUNTERFACTUAL_COLOUR,
            linestyle="--",
            label="shock alone (no liquidations)",
        )
    left.set_yscale("log")
    left.set_xlabel("Max drawdown of the perp (%)")
    left.set_ylabel("Fraction of paths with a larger drawdown")
    left.set_title("Tail of price moves")
    left.legend(loc="lower left", fontsize=8)
    if x_key is None or right is None:
        return figure
    others = varying[1:]
    subset = points
    for key in others:  # the other parameters at their first value
        subset = subset[subset[key] == points[key].iloc[0]]
    subset = subset.sort_values(x_key)
    for column, style, label in (
        ("max_drawdown_p50", "-", "median"),
        ("max_drawdown_p95", "--", "95th percentile"),
        ("max_drawdown_p99", ":", "99th percentile"),
    ):
        right.plot(
            subset[x_key],
            100 * subset[column],
            linestyle=style,
            marker="o",
            color=PRICE_COLOUR,
            label=label,
        )
    if log_axis_suits(subset[x_key].tolist()):
        right.set_xscale("log")
    right.set_xlabel(short_name(x_key))
    right.set_ylabel("Max drawdown (%)")
    note = (
        ""
        if not others
        else " ("
        + ", ".join(f"{short_name(k)} = {format_value(k, points[k].iloc[0])}" for k in others)
        + ")"
    )
    right.set_title(f"Drawdown quantiles against {short_name(x_key)}{note}", fontsize=10.5)
    right.legend(loc="upper left")
    return figure


# --- writing ------------------------------------------------------------------------------
def write_sweep_plots(
    sweep, paths, points, price_paths, directory: str | os.PathLike, dpi: int = PNG_DPI
) -> list[pathlib.Path]:
    """Render the sweep's figures to PNG files in ``directory`` (each written atomically).

    Returns
    -------
    list of pathlib.Path: ``fan_chart``, ``loss_distributions``, ``drawdown_tails`` and, when
    the design has them, ``heatmap`` (two swept parameters) and ``adl_probability``.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = [
        ("fan_chart", plot_fan_chart(sweep, points, price_paths)),
        ("loss_distributions", plot_loss_distributions(sweep, paths)),
        ("drawdown_tails", plot_drawdown_tails(sweep, paths, points)),
        ("heatmap", plot_heatmap(sweep, points)),
        ("adl_probability", plot_adl_probability(sweep, points)),
    ]
    written = []
    for stem, figure in figures:
        if figure is None:
            continue
        written.append(write_atomically(directory / f"{stem}.png", png_bytes(figure, dpi)))
    return written
