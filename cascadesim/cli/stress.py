"""The body of ``cascadesim stress``: the event library's days on today's market.

Exit codes: 0 when every day ran and the outputs were written, 2 on bad input (one line on
stderr), 130 when interrupted (nothing is written).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.cli.console import interrupted, report_interrupt, table_console
from cascadesim.events.parallel import check_workers
from cascadesim.events.stress import WINDOWS, load_library, run_stress, worst_day
from cascadesim.report.output import check_output_folder, clean
from cascadesim.report.stress_report import COLUMNS, headline, write_stress_outputs
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario


def stress_command(
    scenario_argument: str | None,
    *,
    library: str | None,
    window: str,
    workers: int,
    scheduler: str | None,
    out: str | None,
    json_output: bool,
) -> None:
    """Validate everything, run every library day on the scenario, write and print."""
    if window not in WINDOWS:
        raise invalid("--window", window, "full or compressed")
    check_workers(workers)
    if scheduler is not None and not scheduler.strip():
        raise invalid("--scheduler", scheduler, "'local' or a scheduler address")
    scenario = Scenario.from_toml(resolve_scenario(scenario_argument))
    days = load_library(library)
    directory = Path(out) if out is not None else Path("cascadesim-out") / f"{scenario.name}-stress"
    check_output_folder(directory)
    if not json_output:
        plural = "s" if len(days) != 1 else ""
        typer.echo(
            f"cascadesim stress: {len(days)} day{plural} on {scenario.name} ({window} window, "
            f"{workers} worker{'s' if workers != 1 else ''})",
            err=True,
        )
    try:
        outcome = run_stress(scenario, days, window=window, workers=workers, scheduler=scheduler)
    except (KeyboardInterrupt, SystemError) as error:
        if not interrupted(error):
            raise
        report_interrupt("cascadesim: interrupted; nothing was written")
    worst = worst_day(outcome.rows)
    durations = sorted(set(outcome.durations_s.values()))
    facts = {
        "scenario": scenario.name,
        "library": library if library is not None else "the bundled event files",
        "window": (
            "full: each day's whole path with the scenario's step"
            if window == "full"
            else "compressed: each day's path squeezed into the scenario's "
            f"{scenario.duration_s:g} s"
        ),
        "simulated seconds per day": ", ".join(f"{d:g}" for d in durations),
        "step": f"{scenario.step_s:g} s",
        "seed": f"{scenario.seed} (the scenario's own, the same population every day)",
        "betas": "assets a day lacks follow its factor asset by the scenario's [assets.X] beta",
    }
    try:
        files = write_stress_outputs(
            directory, outcome.rows, worst, facts, outcome.mappings, scenario.provenance()
        )
    except OSError as error:
        raise CascadesimInputError(
            f"--out = '{directory}': cannot write outputs ({error.strerror or error})"
        ) from None
    if json_output:
        typer.echo(json.dumps(clean(outcome.rows), allow_nan=False))
        return
    console = table_console()
    console.print(headline(worst))
    table = Table(title=f"cascadesim stress: {scenario.name} ({window} window)")
    table.add_column("day")
    for _, label, _ in COLUMNS:
        table.add_column(label, justify="right")
    for row in outcome.rows:
        table.add_row(row["day"], *[formatter(row[key]) for key, _, formatter in COLUMNS])
    console.print(table)
    for day, lines in outcome.mappings.items():
        console.print(f"{day}: {'; '.join(lines)}")
    console.print(f"{len(files)} files in {directory}/ (open report.html)")
