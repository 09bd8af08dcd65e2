"""The outputs of ``cascadesim tune``: trials.csv, answer.json, the trials plot, report.html.

Plain tables in (a DataFrame of trials, the answer as a dictionary, the searched parameters
as (key, low, high, log) tuples); the folder is staged and committed by
:mod:`cascadesim.report.output`, so it is written completely or not at all.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from cascadesim.report.output import clean, commit, staging_directory
from cascadesim.report.page import assumptions_box, escape, figures_html, page, write_page
from cascadesim.report.plots import USD_FORMATTER, new_figure, png_bytes, styled
from cascadesim.report.sweep_plots import format_value, parameter_label, short_name

TRIALS_FILE = "trials.csv"
ANSWER_FILE = "answer.json"
PLOT_FILE = "trials.png"
REPORT_FILE = "report.html"
FEASIBLE_COLOUR = "#2ca02c"
INFEASIBLE_COLOUR = "#d62728"
ANSWER_COLOUR = "#1f3b73"
MAX_ROWS = 500
CAPTION = (
    "Every trial in the space of the searched parameters: green met every target, red did "
    "not; the star is the answer (the least restrictive trial that met them)."
)


def figure_label(column: str) -> str:
    unit = " (USD)" if "_usd" in column else ""
    return column.replace("_", " ") + unit


def set_axis(axes, which: str, key: str, log: bool) -> None:
    getattr(axes, f"set_{which}label")(parameter_label(key))
    if log:
        getattr(axes, f"set_{which}scale")("log")
    if key.endswith("_usd"):
        getattr(axes, f"{which}axis").set_major_formatter(USD_FORMATTER)


@styled
def plot_trials(
    trials, parameters: Sequence[tuple[str, float, float, bool]], answer: dict, first_target: dict
) -> Figure:
    """Trials over the first two parameters (one: against the first target's figure)."""
    figure = new_figure(8.0, 5.5)
    axes = figure.add_subplot()
    feasible = trials["feasible"].to_numpy(dtype=bool)
    x_key, _, _, x_log = parameters[0]
    if len(parameters) > 1:
        y_key, _, _, y_log = parameters[1]
        y_values = trials[y_key].to_numpy(dtype=np.float64)
        set_axis(axes, "y", y_key, y_log)
    else:
        y_key, y_log = first_target["column"], False
        y_values = trials[y_key].to_numpy(dtype=np.float64)
        axes.set_ylabel(figure_label(y_key))
        if "_usd" in y_key:
            axes.yaxis.set_major_formatter(USD_FORMATTER)
        axes.axhline(
            first_target["value"],
            color="#555555",
            linestyle="--",
            label=f"target: {first_target['target']}",
        )
    x_values = trials[x_key].to_numpy(dtype=np.float64)
    axes.scatter(
        x_values[feasible],
        y_values[feasible],
        color=FEASIBLE_COLOUR,
        label="met every target",
        s=36,
        zorder=3,
    )
    axes.scatter(
        x_values[~feasible],
        y_values[~feasible],
        color=INFEASIBLE_COLOUR,
        marker="x",
        label="missed a target",
        s=36,
        zorder=3,
    )
    if answer.get("feasible"):
        row = trials[trials["trial"] == answer["trial"]].iloc[0]
        axes.scatter(
            [row[x_key]],
            [row[y_key]],
            marker="*",
            s=260,
            color=ANSWER_COLOUR,
            label="answer",
            zorder=4,
        )
    set_axis(axes, "x", x_key, x_log)
    axes.set_title(f"{len(trials)} trials of {answer['sweep']}")
    axes.legend(loc="best")
    return figure


def answer_html(answer: dict) -> str:
    """The answer first: the values found, each target's estimate and interval, warnings."""
    values = ", ".join(
        f"{short_name(key)} = {format_value(key, value)}" for key, value in answer["values"].items()
    )
    if answer["feasible"]:
        lead = (
            f"Least restrictive values meeting every target (trial {answer['trial']} of "
            f"{answer['trials']}, {answer['paths']} paths each): {values}."
        )
    else:
        lead = (
            f"No trial of {answer['trials']} met every target. The closest was trial "
            f"{answer['trial']}: {values}."
        )
    rows = []
    for item in answer["figures"]:
        low, high = item["low"], item["high"]
        interval = (
            "n/a"
            if low is None or high is None
            else f"{fmt(item['column'], low)} to {fmt(item['column'], high)}"
        )
        estimate = fmt(item["column"], item["estimate"])
        rows.append(
            f"<tr><td>{escape(item['target'])}</td><td>{escape(estimate)}"
            f"</td><td>{escape(interval)}</td><td>{escape(item['interval'])}</td>"
            f"<td>{'yes' if item['met'] else 'no'}</td></tr>"
        )
    warnings = "".join(
        f'<p class="warning">{escape(text)}</p>'
        for item in answer["figures"]
        for text in item["warnings"]
    )
    return (
        f'<p class="headline">{escape(lead)}</p>\n'
        '<table><thead><tr><th scope="col">Target</th><th scope="col">Estimate</th>'
        '<th scope="col">95 % interval</th><th scope="col">Interval</th>'
        '<th scope="col">Met</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
        + warnings
    )


def fmt(column: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "unbounded" if value is not None and value > 0 else "n/a"
    return format_value(column if "_usd" in column else "", float(value))


def trials_table_html(trials) -> str:
    head = "".join(f'<th scope="col">{escape(column)}</th>' for column in trials.columns)
    body = []
    for _, row in trials.head(MAX_ROWS).iterrows():
        cells = "".join(
            f"<td>{escape(format_value(str(column), value))}</td>" for column, value in row.items()
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        '<div class="scroll"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "\n".join(body)
        + "</tbody></table></div>"
    )


def render_tune_report(
    trials, answer: dict, plot: tuple[str, bytes], assumptions: Sequence[tuple[str, str]] = ()
) -> str:
    body = f"""<h1>Tune: {escape(answer["sweep"])}</h1>
{answer_html(answer)}
<p>Search: Optuna's TPE sampler (seed {escape(answer["seed"])}), {answer["trials"]} trials of
{answer["paths"]} paths each on common random numbers (every trial the same shocks and
seeds); restrictiveness is the sum of each parameter's position towards its restrictive end
(0 to 1, log scale where a parameter spans ten times or more).</p>
{assumptions_box(assumptions) if assumptions else ""}
<h2>Trials</h2>
{figures_html([plot], {pathlib.Path(PLOT_FILE).stem: CAPTION})}
{trials_table_html(trials)}"""
    footer = (
        "Generated by cascadesim tune. Every trial is in trials.csv, the answer in answer.json."
    )
    return page(f"cascadesim tune: {answer['sweep']}", body, footer)


def write_tune_outputs(
    directory: pathlib.Path,
    trials,
    answer: dict,
    parameters: Sequence[tuple[str, float, float, bool]],
    assumptions: Sequence[tuple[str, str]] = (),
) -> list[pathlib.Path]:
    """Write trials.csv, answer.json, trials.png and report.html, all or nothing.

    ``assumptions``: (heading, text) pairs of the sweep's assumptions box
    (:func:`cascadesim.report.assumptions.sweep_assumptions`).
    """
    first_target = {**answer["figures"][0], "value": answer["target_values"][0]}
    with staging_directory(directory) as staging:
        trials.to_csv(staging / TRIALS_FILE, index=False)
        (staging / ANSWER_FILE).write_text(
            json.dumps(clean(answer), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        png = png_bytes(plot_trials(trials, parameters, answer, first_target))
        (staging / PLOT_FILE).write_bytes(png)
        write_page(
            staging / REPORT_FILE,
            render_tune_report(trials, answer, (pathlib.Path(PLOT_FILE).stem, png), assumptions),
        )
        return commit(staging, directory)
