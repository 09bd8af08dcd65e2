"""A self-contained HTML report of a sweep, in the page shell of :mod:`cascadesim.report.page`.

One file that opens offline: plots embedded as base64 PNG, inline CSS, no JavaScript; every
string from the sweep or scenario files is escaped.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Iterable

from cascadesim._util.formatting import format_fraction, format_usd
from cascadesim._util.intervals import too_few_paths
from cascadesim.report.assumptions import sweep_assumptions
from cascadesim.report.page import (
    assumptions_box,
    escape,
    exact,
    figures_html,
    page,
    scroll_table,
    write_page,
)
from cascadesim.report.sweep_plots import format_value, short_name

REPORT_NAME = "report.html"

CAPTIONS = {
    "fan_chart": (
        "Fan chart: the perp price of every path as a percentage of its start, summarised by "
        "percentile bands across the ensemble (1-99th, 5-95th, 25-75th) and the median; one "
        "panel per design point shown."
    ),
    "loss_distributions": (
        "Distribution over paths of the USD liquidated and of the bad debt (losses neither "
        "margin nor insurance fund covered). Dashed lines mark the 95 % value at risk (the "
        "95th percentile), dotted lines the 99 %."
    ),
    "drawdown_tails": (
        "Tail of price moves. Left: the fraction of paths whose maximum drawdown exceeds each "
        "level (log scale), one curve per design point; the dashed curve is the same shocks "
        "with liquidations switched off. Right: median, 95th and 99th percentile of the "
        "drawdown against the first swept parameter. A curve that bends outwards is a fatter "
        "tail."
    ),
    "heatmap": (
        "Heatmaps over the first two swept parameters: mean bad debt per path (or, when no "
        "path had any, the 99th percentile of the insurance fund's drawdown), the "
        "probability that a path needed auto-deleveraging, and the 99th percentile of the "
        "price drawdown."
    ),
    "adl_probability": (
        "Probability that a path needed auto-deleveraging against the first swept parameter "
        "(one line per value of the second), with 95 % Wilson intervals for the finite "
        "number of paths."
    ),
}

# (points.parquet column, header, formatter)
COLUMNS = (
    ("liquidated_total_usd_mean", "Liquidated, mean", format_usd),
    ("liquidated_total_usd_p95", "Liquidated, p95", format_usd),
    ("liquidated_total_usd_p99", "Liquidated, p99", format_usd),
    ("bad_debt_usd_mean", "Bad debt, mean", format_usd),
    ("bad_debt_usd_p99", "Bad debt, p99", format_usd),
    ("bad_debt_probability", "P(bad debt)", format_fraction),
    ("adl_probability", "P(ADL)", format_fraction),
    (
        "amplification_p50",
        "Amplification, median",
        lambda v: "n/a" if not math.isfinite(v) else f"{v:.2f}x",
    ),
    ("max_drawdown_p50", "Drawdown, median", format_fraction),
    ("max_drawdown_p99", "Drawdown, p99", format_fraction),
    ("insurance_fund_drawdown_usd_p99", "Fund drawdown, p99", format_usd),
)
MAX_ROWS = 200
# Monte Carlo error at each point (cascadesim._util.intervals): exact binomial intervals of
# the probabilities, order-statistic intervals of the percentiles.
INTERVALS = (
    ("adl_probability", "P(ADL), 95 % interval"),
    ("bad_debt_probability", "P(bad debt), 95 % interval"),
    ("liquidated_total_usd_p99", "Liquidated p99, 95 % interval"),
)


def interval_text(row, column: str) -> str:
    low, high = float(row[f"{column}_low"]), float(row[f"{column}_high"])
    if column.endswith("probability"):
        return f"{format_fraction(low, 0)} to {format_fraction(high, 0)}"
    upper = "unbounded (too few paths)" if math.isinf(high) else format_usd(high)
    return f"{format_usd(low)} to {upper}"


def sample_warning(paths: int) -> str:
    """The report's warning when the paths cannot bound the p99 columns."""
    warning = too_few_paths(paths, 0.99)
    if warning is None:
        return ""
    text = f"{warning[0].upper()}{warning[1:]}: read the p99 columns as the largest paths."
    return f'<p class="warning">{escape(text)}</p>'


def points_table(sweep, points) -> str:
    """One row per design point: swept values, then the figures of :data:`COLUMNS`."""
    head = "".join(f'<th scope="col">{escape(short_name(key))}</th>' for key in sweep.parameters)
    head += "".join(f'<th scope="col">{escape(label)}</th>' for _, label, _ in COLUMNS)
    head += "".join(f'<th scope="col">{escape(label)}</th>' for _, label in INTERVALS)
    body = []
    for _, row in points.head(MAX_ROWS).iterrows():
        cells = "".join(
            f"<td>{escape(format_value(key, row[key]))}</td>" for key in sweep.parameters
        )
        cells += "".join(
            f'<td title="{escape(exact(float(row[column])))}">'
            f"{escape(formatter(float(row[column])))}</td>"
            for column, _, formatter in COLUMNS
        )
        cells += "".join(
            f"<td>{escape(interval_text(row, column))}</td>" for column, _ in INTERVALS
        )
        body.append(f"<tr><td>{int(row['point'])}</td>{cells}</tr>")
    more = (
        f"<p>First {MAX_ROWS} of {len(points)} points; all are in points.parquet.</p>"
        if len(points) > MAX_ROWS
        else ""
    )
    return scroll_table('<th scope="col">Point</th>' + head, body) + more


def shock_text(sweep) -> str:
    """The shock distribution in words."""
    shock = sweep.spec.shock
    if shock is None:
        return "every path replays the scenario's own shock"

    def said(distribution) -> str:
        return distribution.describe()

    if shock.kind == "index_jump":
        return (
            f"index jump of {', '.join(shock.asset)}: drop fraction "
            f"{said(shock.drop_fraction)}, starting at {said(shock.at_s)} s over a ramp of "
            f"{said(shock.ramp_s)} s"
        )
    return (
        f"sell programme on {', '.join(shock.market)}: {said(shock.usd)} USD over "
        f"{said(shock.duration_s)} s from {said(shock.start_s)} s"
    )


def render_sweep_report(
    sweep, points, paths, provenance: dict, plot_paths: Iterable[os.PathLike | str]
) -> str:
    """The report's HTML text."""
    spec = sweep.spec
    swept = ", ".join(short_name(key) for key in sweep.parameters) or "nothing (one point)"
    population = "re-drawn for every path" if spec.redraw_population else "drawn once per point"
    randomness = (
        "common random numbers (path k has the same shock at every point)"
        if spec.common_random_numbers
        else "independent shocks per point"
    )
    facts = (
        f"{sweep.n_points:,} design point{'s' if sweep.n_points != 1 else ''} &times; "
        f"{provenance['paths']:,} paths on scenario <code>{escape(sweep.base.name)}</code>"
        f"; swept: {escape(swept)}; shock: {escape(shock_text(sweep))}; population "
        f"{population}; {randomness}."
    )
    body = f"""<h1>Sweep: {escape(sweep.name)}</h1>
<p class="provenance">seed <code>{escape(provenance["seed"])}</code> &middot; sweep hash
<code>{escape(provenance["sweep_hash"])}</code> &middot; cascadesim
<code>{escape(provenance["version"])}</code> &middot; {len(paths):,} paths in all</p>
<p class="headline">{escape(spec.description) if spec.description else ""}</p>
<p>{facts}</p>
{assumptions_box(sweep_assumptions(sweep, int(provenance["paths"])))}
<h2>Design points</h2>
{sample_warning(int(provenance["paths"]))}
{points_table(sweep, points)}
<h2>Plots</h2>
{figures_html(plot_paths, CAPTIONS)}
<h2>Sweep file</h2>
<pre>{escape(sweep.text)}</pre>"""
    footer = (
        f"Generated by cascadesim {escape(provenance['version'])}. Every path is in "
        "paths.parquet, the distributions per point in points.parquet and the sampled prices "
        "in price_paths.parquet."
    )
    return page(f"cascadesim sweep: {sweep.name}", body, footer)


def write_sweep_report(
    sweep,
    points,
    paths,
    provenance: dict,
    directory: str | os.PathLike,
    plot_paths: Iterable[os.PathLike | str],
) -> pathlib.Path:
    """Write ``report.html`` of a sweep into ``directory``, atomically."""
    directory = pathlib.Path(directory)
    text = render_sweep_report(sweep, points, paths, provenance, list(plot_paths))
    return write_page(directory / REPORT_NAME, text)
