"""The body of ``cascadesim calibrate --cross-validate``: the library fit and its error.

Fits the population model's and the opening flow's global parameters to the whole event
library (:mod:`cascadesim.events.library_fit`), refits with each event left out, and prints
the in-sample and leave-one-out tables side by side with pass marks and 90 % interval
coverage. Writes the fitted parameters into a library profile (``--out``, default
``./library.toml``; event scenarios adopt it with ``profile = "<path>"``), the whole record as
JSON (``--report``) and the tables as Markdown (``--markdown``). ``--runs-cache`` keeps every
event run in a JSON file, so that an interrupted fit resumes without running them again.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import typer

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import write_atomically
from cascadesim._util.toml import dump_toml
from cascadesim.events.library_fit import PARAMETERS, CrossValidation, cross_validate, tables_for
from cascadesim.events.parallel import EventWorkers, check_workers
from cascadesim.scenario.profiles import profile_directory, read_profile_file

DEFAULT_LIBRARY_OUT = "library.toml"
HEADLINE_ROWS = (
    ("total", ("total_usd", "total_usd_min")),
    ("long share", ("long_share", "long_share_min")),
    ("accounts", ("accounts", "accounts_min")),
    ("largest", ("largest_single_usd",)),
)


MAX_DESIGN_POINTS = 4096
MAX_SEEDS = 100


def atomic_write_text(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def library_profile_text(fit: CrossValidation) -> str:
    """The bundled library profile with the fitted population-model and flow keys."""
    base = read_profile_file(profile_directory() / "library.toml")
    tables = tables_for(fit.in_sample_values)
    for table, keys in tables.items():
        base[table] = {**base.get(table, {}), **keys}
    base["calibration"] = {
        "status": "fitted by `cascadesim calibrate --cross-validate`",
        "fitted_utc": datetime.now(UTC).strftime("%Y-%m-%d"),
        "events": len(fit.events),
        "runs": fit.runs,
        "loss_start": round(fit.start_loss, 4),
        "loss_fitted": round(fit.in_sample_loss, 4),
        **{f"fitted_{k}": round(v, 6) for k, v in fit.in_sample_values.items()},
    }
    header = (
        "# Global parameters of the event library, fitted by `cascadesim calibrate "
        "--cross-validate`\n# (cascadesim/events/library_fit.py). Event scenarios adopt "
        'them with profile = "library".\n'
    )
    return header + dump_toml(base)


def format_figure(name: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if "share" in name or "open_interest_change" in name:
        return f"{100 * value:.0f} %"
    if name.startswith("accounts"):
        return f"{value / 1e3:,.0f} k"
    return f"{value / 1e6:,.0f} M"


def reported_text(row: dict) -> str:
    name = row["name"]
    if row.get("low") is not None:
        return f"{format_figure(name, row['low'])}-{format_figure(name, row['high'])}"
    prefix = ">" if name.endswith("_min") else ""
    return prefix + format_figure(name, row["reported"])


def headline_table(fit: CrossValidation) -> list[str]:
    """Markdown: one row per day, in-sample and leave-one-out side by side."""
    lines = [
        "| Day | Figure | Reported | In-sample | LOO | LOO 90 % interval | LOO pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for inside, outside in zip(fit.in_sample, fit.leave_one_out, strict=True):
        rows_in = {row["name"]: row for row in inside.figures}
        for row in outside.figures:
            name = row["name"]
            low, high = row["interval_90"]
            lines.append(
                f"| {outside.event} | {name} | {reported_text(row)} | "
                f"{format_figure(name, rows_in[name]['simulated'])} | "
                f"{format_figure(name, row['simulated'])} | "
                f"{format_figure(name, low)}-{format_figure(name, high)} | "
                f"{'pass' if row['passed'] else 'FAIL'} |"
            )
    return lines


def summary_lines(fit: CrossValidation) -> list[str]:
    lines = ["| | In-sample | Leave-one-out | Target (LOO) |", "|---|---|---|---|"]
    targets = {"total": "75 %", "long_share": "75 %", "accounts": "75 %"}
    for key in ("total", "long_share", "accounts"):
        cells = []
        for which in ("in_sample", "leave_one_out"):
            marks = fit.summary[which][key]
            share = marks["passed"] / marks["of"] if marks["of"] else math.nan
            cells.append(f"{marks['passed']} of {marks['of']} ({100 * share:.0f} %)")
        lines.append(f"| {key} within its band | {cells[0]} | {cells[1]} | {targets[key]} |")
    for label, key in (
        ("90 % intervals (seeds, parameters) covering", "coverage"),
        ("90 % intervals with the model error covering", "coverage_with_model_error"),
    ):
        values = [fit.summary[w][key] for w in ("in_sample", "leave_one_out")]
        cells = ["n/a" if v is None else f"{100 * v:.0f} %" for v in values]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | 70 % |")
    return lines


def parameter_lines(fit: CrossValidation) -> list[str]:
    lines = ["| Parameter | Start | Fitted (all days) | LOO range |", "|---|---|---|---|"]
    for parameter in PARAMETERS:
        name = parameter.name
        held = [values[name] for values in fit.leave_one_out_values.values()]
        lines.append(
            f"| {name} | {fit.start_values[name]:.4g} | {fit.in_sample_values[name]:.4g} | "
            f"{min(held):.4g}-{max(held):.4g} |"
        )
    return lines


def record(fit: CrossValidation) -> dict:
    def predictions(items):
        return [{"event": p.event, "values": p.values, "figures": p.figures} for p in items]

    return {
        "events": fit.events,
        "design": fit.design,
        "start_values": fit.start_values,
        "in_sample_values": fit.in_sample_values,
        "start_loss": fit.start_loss,
        "in_sample_loss": fit.in_sample_loss,
        "leave_one_out_values": fit.leave_one_out_values,
        "summary": fit.summary,
        "in_sample": predictions(fit.in_sample),
        "leave_one_out": predictions(fit.leave_one_out),
        "runs": fit.runs,
        "seconds": fit.seconds,
    }


def output_path(option: str, value: str | None, default: str | None) -> Path | None:
    """A file to write (refused before any run: a folder, a missing folder, a bundled file)."""
    chosen = value if value is not None else default
    if chosen is None:
        return None
    target = Path(chosen).expanduser()
    bundled = profile_directory().parent.resolve()
    if target.resolve().is_relative_to(bundled):
        raise invalid(option, str(target), "a file outside the installed package's bundled files")
    if target.is_dir():
        raise invalid(option, str(target), "a file to write, not a folder")
    if not target.parent.is_dir():
        raise invalid(option, str(target), f"a file in an existing folder (no {target.parent})")
    return target


def cross_validate_command(
    paths: list[Path],
    *,
    design_points: int,
    seeds: int,
    out: str | None,
    report_path: str | None,
    markdown_path: str | None,
    runs_cache: str | None,
    json_output: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Fit, cross-validate, write the profile and the records, print the tables."""
    if len(paths) < 2:
        raise invalid("scenarios", len(paths), "at least two events to leave one out")
    # Each design point is a run of every event (x seeds): beyond these a fit would take
    # months on any machine, and the design itself is allocated before the first run.
    if not 1 <= design_points <= MAX_DESIGN_POINTS:
        raise invalid(
            "--design-points", design_points, f"an integer from 1 to {MAX_DESIGN_POINTS:,}"
        )
    if not 1 <= seeds <= MAX_SEEDS:
        raise invalid("--seeds", seeds, f"an integer from 1 to {MAX_SEEDS}")
    check_workers(workers)
    workers = check_workers(workers, len(paths))
    target = output_path("--out", out, DEFAULT_LIBRARY_OUT)
    report_file = output_path("--report", report_path, None)
    markdown_file = output_path("--markdown", markdown_path, None)
    cache_file = output_path("--runs-cache", runs_cache, None)
    cache: dict | None = None
    if cache_file is not None:
        cache = {}
        if cache_file.is_file():
            try:
                cache = json.loads(cache_file.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise CascadesimInputError(
                    f"{cache_file}: --runs-cache: not a runs file written by calibrate ({error})"
                ) from None

    def say(line: str) -> None:
        if not json_output:
            typer.echo(line, err=True)

    with EventWorkers(workers, scheduler) as pool:
        try:
            fit = cross_validate(
                paths,
                design_size=design_points,
                seeds=seeds,
                mapper=pool.map,
                report=say,
                cache=cache,
            )
        finally:
            if cache_file is not None and cache is not None:
                atomic_write_text(cache_file, json.dumps(cache))
    assert target is not None
    atomic_write_text(target, library_profile_text(fit))
    document = record(fit)
    if report_file is not None:
        atomic_write_text(report_file, json.dumps(document, indent=1))
    tables = (
        ["## Pass marks and coverage", ""]
        + summary_lines(fit)
        + ["", "## Parameters", ""]
        + parameter_lines(fit)
        + ["", "## Every figure", ""]
        + headline_table(fit)
    )
    if markdown_file is not None:
        atomic_write_text(markdown_file, "\n".join(tables) + "\n")
    if json_output:
        typer.echo(json.dumps(document["summary"]))
        return
    typer.echo("\n".join(tables[: -len(headline_table(fit))]))
    typer.echo(f"profile written to {target} ({fit.runs} event runs, {fit.seconds:.0f} s)")
