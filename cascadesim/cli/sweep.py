"""The body of ``cascadesim sweep`` (out of :mod:`cascadesim.cli.commands`, which stays small)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.formatting import format_fraction, format_usd
from cascadesim._util.intervals import too_few_paths
from cascadesim.cli.console import (
    DelayedProgress,
    deferred_interrupts,
    interrupted,
    report_interrupt,
    table_console,
)
from cascadesim.report.sweep_plots import format_value, short_name
from cascadesim.sweep.run import check_backend_options, run_sweep
from cascadesim.sweep.spec import check_task_count, load_sweep, resolve_sweep_file


def sweep_command(
    sweep_file: str,
    *,
    paths: int | None,
    workers: int,
    scheduler: str | None,
    out: str | None,
    json_output: bool,
) -> None:
    """Validate everything, run (or resume) the sweep with a progress bar, print a summary."""
    check_backend_options(paths, workers, scheduler)
    if scheduler is not None:
        try:
            import distributed  # noqa: F401  # lazy: probes the optional Dask extra
        except ImportError:
            raise CascadesimInputError(
                "--scheduler needs Dask distributed: pip install 'cascadesim[dask]'"
            ) from None
    loaded = load_sweep(resolve_sweep_file(sweep_file))
    if paths is not None:
        check_task_count(loaded.n_points, paths, "--paths")
    directory = Path(out) if out is not None else Path("cascadesim-out") / loaded.name
    bar = DelayedProgress(Console(stderr=True))

    try:
        # Ctrl-C and a kill (SIGTERM) take effect after the chunk being saved, in this
        # module's code: raised inside the process pool's or Dask's machinery, they could
        # leave it unable to shut down, and the exit would wait for every queued chunk.
        with deferred_interrupts() as check:

            def progress(done: int, total: int) -> None:
                bar.update(f"{loaded.name}: paths", done, total)
                check()

            outcome = run_sweep(
                loaded,
                directory,
                paths=paths,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
            )
    except (KeyboardInterrupt, SystemError) as error:
        if not interrupted(error):  # Ctrl-C inside a kernel surfaces as a SystemError
            raise
        bar.close()
        report_interrupt(
            f"cascadesim: interrupted; finished chunks are saved in "
            f"{directory}/.partial: run the same command again to resume"
        )
    except OSError as error:
        bar.close()
        typer.echo(
            f"cascadesim: error: {directory}: cannot write outputs "
            f"({error.strerror or error}); finished chunks stay in "
            f"{directory}/.partial",
            err=True,
        )
        raise typer.Exit(code=2) from None
    finally:
        bar.close()
    if json_output:
        typer.echo(json.dumps(outcome_json(outcome), allow_nan=False))
        return
    print_outcome(table_console(), loaded, outcome)


def finite(value):
    """JSON has no NaN: undefined figures become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return finite(value.item())
    return value


def outcome_json(outcome) -> dict:
    """Provenance, task counts, the points table and the files, as plain JSON."""
    return {
        **outcome.provenance,
        "tasks_total": outcome.tasks_total,
        "tasks_computed": outcome.tasks_computed,
        "tasks_reused": outcome.tasks_reused,
        "backend": outcome.backend,
        "wall_s": round(outcome.wall_s, 3),
        "points_table": [
            {key: finite(value) for key, value in row.items()}
            for row in outcome.points.to_dict(orient="records")
        ],
        "files": [str(path) for path in outcome.files],
    }


def print_outcome(console, sweep, outcome, max_rows: int = 20) -> None:
    """A table of the design points' headline figures, then where the files are."""
    table = Table(
        title=f"cascadesim sweep: {sweep.name} ({outcome.provenance['paths']:,} paths per point)"
    )
    for key in sweep.parameters:
        table.add_column(short_name(key), justify="right")
    for label in ("liquidated mean", "liquidated p99", "bad debt p99", "P(ADL)", "drawdown p99"):
        table.add_column(label, justify="right")
    for _, row in outcome.points.head(max_rows).iterrows():
        table.add_row(
            *[format_value(key, row[key]) for key in sweep.parameters],
            format_usd(row["liquidated_total_usd_mean"]),
            format_usd(row["liquidated_total_usd_p99"]),
            format_usd(row["bad_debt_usd_p99"]),
            f"{format_fraction(row['adl_probability'])} "
            f"[{format_fraction(row['adl_probability_low'], 0)}-"
            f"{format_fraction(row['adl_probability_high'], 0)}]",
            format_fraction(row["max_drawdown_p99"]),
        )
    console.print(table)
    console.print(
        "P(ADL): share of paths with auto-deleveraging, and in brackets its exact 95 % "
        "binomial interval"
    )
    markets = list(sweep.base.markets)
    if len(markets) > 1:
        console.print(
            f"liquidated, bad debt and ADL: all {len(markets)} markets together; drawdown: "
            "each path's deepest-falling market"
        )
    else:
        console.print(f"every figure: {markets[0]}")
    warning = too_few_paths(int(outcome.provenance["paths"]), 0.99)
    if warning is not None:
        console.print(f"warning: {warning}; the p99 columns are the largest paths' figures")
    if len(outcome.points) > max_rows:
        console.print(f"(first {max_rows} of {len(outcome.points)} points)")
    resumed = (
        f"; {outcome.tasks_reused:,} of {outcome.tasks_total:,} paths were already saved"
        if outcome.tasks_reused
        else ""
    )
    console.print(f"{len(outcome.files)} files in {outcome.directory}/ (open report.html){resumed}")
