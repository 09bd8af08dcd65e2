"""The outputs of ``cascadesim stress``: the table, its bar chart and report.html.

Everything here takes plain tables (a list of row dictionaries, one per library day, as
:mod:`cascadesim.events.stress` makes them) and writes complete files or none: the folder is
staged and committed by :mod:`cascadesim.report.output`.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cascadesim._util.formatting import format_fraction, format_usd
from cascadesim.report.output import clean, commit, staging_directory, write_parquet
from cascadesim.report.page import (
    assumptions_box,
    escape,
    figures_html,
    header_cells,
    page,
    scroll_table,
    value_cells,
    write_page,
)
from cascadesim.report.plots import (
    LONG_COLOUR,
    SHORT_COLOUR,
    USD_FORMATTER,
    new_figure,
    png_bytes,
    styled,
)

CSV_FILE = "stress.csv"
PARQUET_FILE = "stress.parquet"
PLOT_FILE = "stress.png"
REPORT_FILE = "report.html"
BAD_DEBT_COLOUR = "#000000"


def ratio_text(value) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}x"


def count_text(value) -> str:
    return "n/a" if value is None else f"{int(value):,}"


# (row key, header, formatter): the table of the report and of the CLI.
COLUMNS = (
    ("factor_move", "Factor move (start to low)", format_fraction),
    ("liquidated_total_usd", "Liquidated", format_usd),
    ("liquidated_long_usd", "Longs", format_usd),
    ("liquidated_short_usd", "Shorts", format_usd),
    ("accounts_liquidated", "Accounts", count_text),
    ("bad_debt_usd", "Bad debt", format_usd),
    ("adl_count", "ADL closes", count_text),
    ("adl_notional_usd", "ADL notional", format_usd),
    ("insurance_fund_drawdown_usd", "Fund drawdown", format_usd),
    ("amplification", "Amplification", ratio_text),
    ("most_amplified_market", "Most amplified market", lambda v: "n/a" if v is None else str(v)),
)
CAPTION = (
    "USD liquidated on today's market by each library day's moves, longs (red) and shorts "
    "(green) stacked; a black diamond marks a day that left bad debt (its amount in the "
    "label)."
)


def as_number(value) -> float:
    return math.nan if value is None else float(value)


@styled
def plot_stress(rows: list[dict], scenario_name: str) -> Figure:
    """Horizontal bars of the USD flushed per day, long/short split, bad debt marked."""
    figure = new_figure(9.5, 1.2 + 0.45 * len(rows))
    axes = figure.add_subplot()
    names = [row["day"] for row in rows]
    longs = np.array([as_number(row["liquidated_long_usd"]) for row in rows])
    shorts = np.array([as_number(row["liquidated_short_usd"]) for row in rows])
    positions = np.arange(len(rows))[::-1]  # the first day at the top
    axes.barh(positions, longs, color=LONG_COLOUR, label="longs liquidated")
    axes.barh(positions, shorts, left=longs, color=SHORT_COLOUR, label="shorts liquidated")
    totals = longs + shorts
    span = float(np.nanmax(totals)) if len(rows) and np.nanmax(totals) > 0 else 1.0
    marked = False
    for y, total, row in zip(positions, totals, rows, strict=True):
        bad_debt = as_number(row["bad_debt_usd"])
        label = format_usd(total)
        if bad_debt > 0:
            axes.plot(
                [total + 0.01 * span],
                [y],
                marker="D",
                color=BAD_DEBT_COLOUR,
                linestyle="none",
                label=None if marked else "bad debt left",
            )
            marked = True
            label += f"  (bad debt {format_usd(bad_debt)})"
        axes.text(total + 0.03 * span, y, label, va="center", fontsize=9)
    axes.set_yticks(positions, names)
    axes.set_xlim(0, span * 1.45)
    axes.xaxis.set_major_formatter(USD_FORMATTER)
    axes.set_xlabel("USD liquidated over the day's window")
    axes.set_title(f"What each library day would flush on {scenario_name}")
    axes.legend(loc="lower right")
    return figure


def stress_table_html(rows: list[dict]) -> str:
    head = header_cells(["Day"]) + header_cells(label for _, label, _ in COLUMNS)
    body = [
        f'<tr><td title="{escape(row["description"])}">{escape(row["day"])}</td>'
        f"{value_cells(row, COLUMNS)}</tr>"
        for row in rows
    ]
    return scroll_table(head, body)


def headline(worst: dict) -> str:
    """The answer first: the worst day and its figures, in one sentence."""
    return (
        f"Worst day: {worst['day']} (factor {format_fraction(worst['factor_move'])} start to "
        f"low) would flush {format_usd(worst['liquidated_total_usd'])} "
        f"({format_usd(worst['liquidated_long_usd'])} longs, "
        f"{format_usd(worst['liquidated_short_usd'])} shorts) from "
        f"{count_text(worst['accounts_liquidated'])} accounts, leave "
        f"{format_usd(worst['bad_debt_usd'])} bad debt, close "
        f"{count_text(worst['adl_count'])} positions by ADL "
        f"({format_usd(worst['adl_notional_usd'])}) and draw the insurance fund down by "
        f"{format_usd(worst['insurance_fund_drawdown_usd'])}; amplification "
        f"{ratio_text(worst['amplification'])}."
    )


def render_stress_report(
    rows: list[dict], worst: dict, facts: dict, mappings: dict, plot: tuple[str, bytes]
) -> str:
    """The report's HTML text: answer, table, chart, mapping notes, assumptions."""
    notes = "\n".join(
        f"<li><strong>{escape(day)}</strong>: {escape('; '.join(lines))}</li>"
        for day, lines in mappings.items()
    )
    body = f"""<h1>Stress: {escape(facts["scenario"])} against the event library</h1>
<p class="headline">{escape(headline(worst))}</p>
<h2>One row per library day</h2>
{stress_table_html(rows)}
{figures_html([plot], {pathlib.Path(PLOT_FILE).stem: CAPTION})}
<h2>How each asset got its path</h2>
<ul>
{notes}
</ul>
{assumptions_box((str(key), str(value)) for key, value in facts.items())}"""
    footer = (
        "Generated by cascadesim stress. Every row is in stress.csv and stress.parquet; "
        "amplification is the run's summary figure (the low with liquidations over the low "
        "of the same path with liquidations off, on the market that fell furthest)."
    )
    return page(f"cascadesim stress: {facts['scenario']}", body, footer)


def write_stress_outputs(
    directory: pathlib.Path,
    rows: list[dict],
    worst: dict,
    facts: dict,
    mappings: dict,
    provenance: dict,
) -> list[pathlib.Path]:
    """Write stress.csv, stress.parquet, stress.png and report.html, all or nothing."""
    frame = pd.DataFrame(rows)
    with staging_directory(directory) as staging:
        frame.to_csv(staging / CSV_FILE, index=False)
        write_parquet(frame, staging / PARQUET_FILE, provenance)
        png = png_bytes(plot_stress(rows, str(facts["scenario"])))
        (staging / PLOT_FILE).write_bytes(png)
        text = render_stress_report(
            rows, worst, facts, mappings, (pathlib.Path(PLOT_FILE).stem, png)
        )
        write_page(staging / REPORT_FILE, text)
        (staging / "stress.json").write_text(
            json.dumps(clean({"rows": rows, "facts": facts}), indent=2) + "\n", encoding="utf-8"
        )
        return commit(staging, directory)
