"""The body of ``cascadesim tune``: least restrictive swept parameters that meet targets.

Exit codes: 0 when a trial met every target (the answer is the least restrictive of them),
1 when none did (the outputs are written all the same, with the closest trial), 2 on bad
input (one line on stderr), 130 when interrupted (nothing is written).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from cascadesim._util.errors import CascadesimInputError
from cascadesim.cli.console import (
    DelayedProgress,
    deferred_interrupts,
    interrupted,
    report_interrupt,
    table_console,
)
from cascadesim.report.assumptions import sweep_assumptions
from cascadesim.report.output import check_output_folder, clean
from cascadesim.report.sweep_plots import format_value, short_name
from cascadesim.report.tune_report import write_tune_outputs
from cascadesim.sweep.candidates import SweepCandidates
from cascadesim.sweep.run import check_backend_options
from cascadesim.sweep.spec import check_task_count, load_sweep, resolve_sweep_file
from cascadesim.sweep.tune import (
    figure_error,
    parse_prefer,
    parse_targets,
    search,
    search_space,
)

# Figures every trial's row carries besides the targets' (points.parquet columns).
HEADLINE_FIGURES = (
    "adl_probability",
    "bad_debt_probability",
    "liquidated_total_usd_mean",
    "bad_debt_usd_p99",
    "insurance_fund_drawdown_usd_p99",
)


def trials_frame(result, dimensions, targets) -> pd.DataFrame:
    """One row per trial: its values, restrictiveness, feasibility and figures."""
    columns: list[str] = []
    for target in targets:
        columns += [target.column, f"{target.column}_low", f"{target.column}_high"]
    columns += [name for name in HEADLINE_FIGURES if name not in columns]
    rows = []
    for record in result.trials:
        row = {"trial": record.number}
        row.update({d.key: record.values[d.key] for d in dimensions})
        row["restrictiveness"] = record.restrictiveness
        row["feasible"] = record.feasible
        row.update({column: record.figures.get(column) for column in columns})
        rows.append(row)
    return pd.DataFrame(rows)


def answer_record(sweep, result, targets, paths: int, trials: int) -> dict:
    """answer.json: the answer (or the closest trial), each target's estimate and error."""
    chosen = result.answer or result.closest
    return {
        "sweep": sweep.name,
        "seed": sweep.spec.seed,
        "paths": paths,
        "trials": trials,
        "common_random_numbers": True,
        "feasible": result.answer is not None,
        "trial": chosen.number,
        "values": chosen.values,
        "restrictiveness": chosen.restrictiveness,
        "figures": [figure_error(target, chosen.figures, paths) for target in targets],
        "target_values": [target.value for target in targets],
    }


def tune_command(
    sweep_file: str,
    *,
    targets: list[str],
    prefer: list[str],
    trials: int,
    paths: int | None,
    workers: int,
    scheduler: str | None,
    out: str | None,
    json_output: bool,
) -> None:
    """Validate everything, search, write the outputs, print the answer first."""
    parsed = parse_targets(targets)
    check_backend_options(paths, workers, scheduler)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 2:
        raise CascadesimInputError(f"--trials = {trials!r}: an integer >= 2")
    sweep = load_sweep(resolve_sweep_file(sweep_file))
    dimensions = search_space(sweep, parse_prefer(prefer, sweep.parameters))
    paths = sweep.spec.paths if paths is None else paths
    check_task_count(trials, paths, "--paths")
    directory = Path(out) if out is not None else Path("cascadesim-out") / f"{sweep.name}-tune"
    check_output_folder(directory)
    bar = DelayedProgress(Console(stderr=True))
    try:
        with (
            deferred_interrupts() as check,
            SweepCandidates(sweep, paths=paths, workers=workers, scheduler=scheduler) as candidates,
        ):

            def progress(done: int, total: int) -> None:
                bar.update(f"{sweep.name}: trials", done, total)
                check()

            result = search(
                dimensions, parsed, candidates, trials, sweep.spec.seed, progress=progress
            )
    except (KeyboardInterrupt, SystemError) as error:
        if not interrupted(error):
            raise
        bar.close()
        report_interrupt("cascadesim: interrupted; nothing was written")
    finally:
        bar.close()
    frame = trials_frame(result, dimensions, parsed)
    answer = answer_record(sweep, result, parsed, paths, trials)
    try:
        files = write_tune_outputs(
            directory,
            frame,
            answer,
            [(d.key, d.low, d.high, d.log) for d in dimensions],
            sweep_assumptions(sweep, paths),
        )
    except OSError as error:
        raise CascadesimInputError(
            f"--out = '{directory}': cannot write outputs ({error.strerror or error})"
        ) from None
    if json_output:
        typer.echo(json.dumps(clean(answer), allow_nan=False))
    else:
        print_answer(table_console(), answer, len(files), directory)
    if not answer["feasible"]:
        raise typer.Exit(code=1)


def print_answer(console, answer: dict, n_files: int, directory: Path) -> None:
    values = ", ".join(
        f"{short_name(key)} = {format_value(key, value)}" for key, value in answer["values"].items()
    )
    if answer["feasible"]:
        console.print(
            f"Answer (trial {answer['trial']} of {answer['trials']}, {answer['paths']} paths "
            f"each): {values}"
        )
    else:
        console.print(
            f"No trial of {answer['trials']} met every target; the closest was trial "
            f"{answer['trial']}: {values}"
        )
    for item in answer["figures"]:
        interval = (
            ""
            if item["low"] is None
            else f" [{format_value(item['column'], item['low'])} to "
            f"{format_value(item['column'], item['high'])}]"
        )
        met = "met" if item["met"] else "missed"
        console.print(
            f"  {item['target']}: {format_value(item['column'], item['estimate'])}{interval} "
            f"({met}; {item['interval']})"
        )
        for warning in item["warnings"]:
            console.print(f"  warning: {warning}")
    console.print(f"{n_files} files in {directory}/ (open report.html)")
