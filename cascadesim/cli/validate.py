"""The body of ``cascadesim validate`` and ``calibrate`` (out of :mod:`cascadesim.cli.commands`).

Exit codes: 0 when every compared figure of every event passes, 1 when at least one figure
fails its band, 2 on bad input (one line on stderr).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import is_file
from cascadesim._util.formatting import format_fraction, format_millions
from cascadesim.cli.console import table_console
from cascadesim.engine.compile_cache import is_compiled
from cascadesim.events.calibrate import (
    PARAMETERS,
    calibrate,
    stored_loss,
    write_profile,
)
from cascadesim.events.parallel import EventWorkers, check_workers
from cascadesim.events.validate import validate_event
from cascadesim.scenario.bundled import bundled_directory
from cascadesim.scenario.models import Scenario
from cascadesim.scenario.profiles import profile_directory, read_profile_file

COUNTS = ("aggregator", "true")
MODE_CHOICES = ("replay", "shock", "both")


def event_directory() -> Path:
    """``events/`` of the bundled files."""
    return bundled_directory() / "events"


def resolve_events(arguments: list[str] | None) -> list[Path]:
    """Scenario arguments (files or event names) -> files; none = the whole event library."""
    directory = event_directory()
    library = (
        {path.stem: path for path in sorted(directory.glob("*.toml"))} if directory.is_dir() else {}
    )
    if not arguments:
        if not library:
            raise CascadesimInputError(f"{directory}: no event scenarios found")
        return list(library.values())
    paths = []
    for argument in arguments:
        path = Path(argument)
        if is_file(path) or path.suffix == ".toml" or "/" in argument:
            paths.append(path)
        elif argument in library:
            paths.append(library[argument])
        else:
            raise CascadesimInputError(
                f"{argument}: no such file, and not an event of the "
                f"library (events: {', '.join(library) or 'none'})"
            )
    return paths


def validate_command(
    scenarios: list[str] | None,
    *,
    mode: str | None,
    count: str,
    seed: int | None,
    json_output: bool,
    seeds: int = 1,
    workers: int | None = 1,
) -> None:
    """Load every event first (bad input exits 2 before any run), run, print, set the code.

    ``workers`` processes share the runs (None: one per core); the figures are the same.
    """
    check_workers(workers)
    if mode is not None and mode not in MODE_CHOICES:
        raise invalid("--mode", mode, "replay, shock or both")
    if count not in COUNTS:
        raise invalid("--count", count, "aggregator or true")
    if seed is not None and seed < 0:
        raise invalid("--seed", seed, "an integer >= 0")
    if seeds < 1:
        raise invalid("--seeds", seeds, "an integer >= 1")
    loaded = [Scenario.from_toml(path) for path in resolve_events(scenarios)]
    for scenario in loaded:
        if scenario.reported is None:
            raise CascadesimInputError(
                f"{scenario.source}: reported: an event scenario needs a [reported] table"
            )
    jobs = [
        (scenario, each, count, seed, seeds)
        for scenario in loaded
        for each in (["replay", "shock"] if mode == "both" else [mode])
    ]
    workers = check_workers(workers, len(jobs))
    with EventWorkers(workers) as pool:
        # Kernels not compiled yet: the first run compiles them here, before any worker
        # starts, so that the workers load them instead of compiling into one cache at once.
        first = [] if workers == 1 or is_compiled() else [run_validation(jobs[0])]
        runs = first + pool.map(run_validation, jobs[len(first) :])
    if json_output:
        typer.echo(json.dumps([json_entry(run) for run in runs], allow_nan=False))
    else:
        print_tables(runs)
    if not all(run["passed"] for run in runs):
        raise typer.Exit(code=1)


def run_validation(job: tuple) -> dict:
    """One event run of ``validate`` (a module-level function: it goes to worker processes)."""
    scenario, mode, count, seed, seeds = job
    return validate_event(scenario, mode, count=count, seed=seed, seeds=seeds)


def json_entry(run: dict) -> dict:
    """One event run as JSON: ``figures`` keyed by name with simulated, reported, ratio."""
    figures = {
        f["name"]: {
            "simulated": f["simulated"],
            "reported": f["reported"],
            "ratio": f["ratio"],
            "band": f["band"],
            "passed": f["passed"],
            "pass_rate": f["pass_rate"],
        }
        for f in run["figures"]
    }
    return {
        "event": run["event"],
        "scenario": run["scenario"],
        "mode": run["mode"],
        "count": run["count"],
        "seeds": run["seeds"],
        "passed": run["passed"],
        "figures": figures,
        "reporting": run["reporting"],
        "perp_low": run["perp_low"],
        "runtime_s": run["runtime_s"],
    }


def format_value(name: str, value: float | None) -> str:
    """USD in M, shares in %, counts with separators, prices as they are."""
    if value is None:
        return "n/a"
    if name.endswith("usd") or name.endswith("usd_min"):
        return format_millions(value)
    if "share" in name or name.startswith("price_drop") or name == "open_interest_change":
        return format_fraction(value)
    if name == "accounts":
        return f"{value:,.0f}"
    return f"{value:,.6g}"


def print_tables(runs: list[dict]) -> None:
    """One rich table per event run, then the reporting-model gap."""
    console = table_console()
    for run in runs:
        several = len(run["seeds"]) > 1
        where = f"median of {len(run['seeds'])} seeds" if several else f"seed {run['seeds'][0]}"
        table = Table(
            title=f"{run['event']} ({run['mode']}, {run['count']} count, {where}, "
            f"{run['runtime_s']:.0f} s)"
        )
        columns = ["figure", "simulated", "reported", "ratio", "band", "pass"]
        for column in columns + (["pass rate"] if several else []):
            table.add_column(column, justify="left" if column in ("figure", "band") else "right")
        for figure in run["figures"]:
            mark = {True: "pass", False: "FAIL", None: "-"}[figure["passed"]]
            ratio = "n/a" if figure["ratio"] is None else f"{figure['ratio']:.2f}"
            cells = [
                figure["name"],
                format_value(figure["name"], figure["simulated"]),
                format_value(figure["name"], figure["reported"]),
                ratio,
                figure["band"],
                mark,
            ]
            if several:
                rate = figure["pass_rate"]
                cells.append("n/a" if rate is None else f"{100 * rate:.0f} %")
            table.add_row(*cells)
        console.print(table)
        gap = run["reporting"]
        share = gap["visible_share"]
        console.print(
            f"reporting model: true {gap['true_total_usd'] / 1e6:,.1f} M USD in "
            f"{gap['true_orders']:,} orders; visible to aggregators "
            f"{gap['visible_total_usd'] / 1e6:,.1f} M USD in "
            f"{gap['visible_orders']:,} orders; gap {gap['gap_usd'] / 1e6:,.1f} M USD"
            + ("" if share is None else f" ({100 * (1 - share):.1f} % unseen)")
        )
    passed = sum(run["passed"] for run in runs)
    console.print(f"{passed} of {len(runs)} event runs pass every figure")


DEFAULT_PROFILE_OUT = "calibrated.toml"  # in the current folder
START_DEFAULTS = {
    "leverage_median": 5.0,
    "leverage_log_std": 1.1,
    "tail_alpha": 1.5,
    "spread_fraction": 0.01,
    "withdrawal_flow_sensitivity": 5.0,
}


def profile_target(out: str | None) -> Path:
    """The profile file ``calibrate`` writes: ``--out``, or ``./calibrated.toml``.

    Refused (one line, before any run): a path inside the installed package's bundled files
    (a bundled profile is replaced by hand, never by a fit), a folder, a missing folder.
    """
    target = Path(out if out is not None else DEFAULT_PROFILE_OUT).expanduser()
    shown = str(target)
    bundled = bundled_directory().resolve()
    if target.resolve().is_relative_to(bundled):
        raise invalid(
            "--out",
            shown,
            f"a file outside the bundled files of the installed package ({bundled}); "
            "calibrate never overwrites a bundled profile (copy a fitted one there by hand)",
        )
    if target.is_dir():
        raise invalid("--out", shown, "a profile file to write, not a folder")
    if not target.parent.is_dir():
        raise invalid("--out", shown, f"a file in an existing folder (no folder {target.parent})")
    return target


def start_parameters(target: Path) -> dict:
    """Where the fit starts: the target profile's record (a fit continued), else the bundled
    ``calibrated`` profile's, else :data:`START_DEFAULTS`.

    An existing target must be a profile file (it is about to be replaced).
    """
    record = {}
    if target.is_file():
        try:
            record = read_profile_file(target).get("calibration", {})
        except CascadesimInputError as error:
            allowed = f"a new file or a profile to replace ({error})"
            raise invalid("--out", str(target), allowed) from None
    bundled = profile_directory() / "calibrated.toml"
    if not record and bundled.is_file():
        record = read_profile_file(bundled).get("calibration", {})
    start = {}
    for name in PARAMETERS:
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf:
            start[name] = float(value)
        else:
            start[name] = START_DEFAULTS[name]
    return start


def calibrate_command(
    scenarios: list[str] | None,
    *,
    max_evaluations: int,
    out: str | None,
    json_output: bool,
    workers: int | None = 1,
) -> None:
    """Fit the profile to the event library; write it; print the losses and parameters."""
    if max_evaluations < 1:
        raise invalid("--max-evaluations", max_evaluations, "an integer >= 1")
    check_workers(workers)
    paths = resolve_events(scenarios)
    workers = check_workers(workers, len(paths))
    target = profile_target(out)
    start = start_parameters(target)
    # The library as it stands (with the stored profile): the loss the fit must beat.
    loss_stored = stored_loss(paths)

    def report(count: int, loss: float, parameters: dict) -> None:
        if not json_output:
            typer.echo(
                f"evaluation {count}: loss {loss:.4f} "
                + ", ".join(f"{k}={v:.4g}" for k, v in parameters.items()),
                err=True,
            )

    fit = calibrate(paths, start, max_evaluations=max_evaluations, report=report, workers=workers)
    if fit.loss_best < loss_stored:
        write_profile(target, fit, loss_stored)
        written = True
    else:
        written = False
    outcome = {
        "loss_stored_profile": loss_stored,
        "loss_start": fit.loss_start,
        "loss_best": fit.loss_best,
        "start": fit.start,
        "best": fit.best,
        "evaluations": fit.evaluations,
        "seconds": fit.seconds,
        "profile": str(target),
        "written": written,
    }
    if json_output:
        typer.echo(json.dumps(outcome))
        return
    typer.echo(
        f"loss: stored profile {loss_stored:.4f}; parametric start {fit.loss_start:.4f}; "
        f"fitted {fit.loss_best:.4f} ({fit.evaluations} evaluations, {fit.seconds:.0f} s)"
    )
    typer.echo(f"stopped: {fit.message}")
    for name in PARAMETERS:
        typer.echo(f"  {name}: {fit.start[name]:.4g} -> {fit.best[name]:.4g}")
    typer.echo(
        f"{'written to' if written else 'not written (no better than the stored):'} {target}"
    )
