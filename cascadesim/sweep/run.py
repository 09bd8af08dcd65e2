"""Monte Carlo ensembles and parameter sweeps: run, resume, aggregate, write.

:func:`run_sweep` runs every (design point, path) task of a sweep file in chunks of paths,
serially, on a pool of processes on this machine, or on a Dask distributed cluster. Each
finished chunk is saved at once, atomically, under ``<out>/.partial/``; a run stopped part-way
(killed, interrupted, a worker lost) continues from those chunks when run again into the same
folder, and a manifest with the sweep's hash refuses to mix the chunks of different sweeps.
The final files are assembled from the saved chunks sorted by (point, path), so they are the
same bytes whatever the backend, the chunking or the order in which chunks finished.

Outputs (see :func:`write_sweep_outputs`): ``paths.parquet``, ``points.parquet``,
``price_paths.parquet``, ``sweep.toml``, PNG plots and ``report.html``.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import write_atomically
from cascadesim._util.intervals import percentile_interval, probability_interval
from cascadesim._util.processes import worker_pool
from cascadesim.report.output import commit, provenance_metadata, staging_directory, write_parquet
from cascadesim.report.sweep_plots import write_sweep_plots
from cascadesim.report.sweep_report import write_sweep_report
from cascadesim.sim.result import BAD_DEBT_TOLERANCE_USD
from cascadesim.sweep.spec import Sweep, check_task_count, load_sweep
from cascadesim.sweep.tasks import PRICE_PREFIX, point_jobs, run_chunk, warm_up

PARTIAL_FOLDER = ".partial"
MANIFEST_FILE = "manifest.json"
PATHS_FILE = "paths.parquet"
POINTS_FILE = "points.parquet"
PRICE_PATHS_FILE = "price_paths.parquet"
SWEEP_FILE = "sweep.toml"
MAX_CHUNK_PATHS = 25
QUANTILES = (0.50, 0.95, 0.99)
# Per-path figures whose mean and percentiles (with intervals) points.parquet carries.
DISTRIBUTION_FIGURES = (
    "liquidated_total_usd",
    "bad_debt_usd",
    "amplification",
    "max_drawdown",
    "insurance_fund_drawdown_usd",
    "largest_sample_drop",
)
# Its probabilities (with exact binomial intervals) and other figures of a point.
PROBABILITY_FIGURES = ("adl_probability", "bad_debt_probability")
OTHER_POINT_FIGURES = ("insurance_fund_drawdown_max_usd", "sample_return_excess_kurtosis")

ProgressCallback = Callable[[int, int], None]  # (tasks done, tasks total)


class Chunk(NamedTuple):
    """Paths ``first .. stop - 1`` of design point ``point``: one unit of work."""

    point: int
    first: int
    stop: int

    @property
    def file_name(self) -> str:
        return f"chunk-{self.point:06d}-{self.first:07d}-{self.stop:07d}.parquet"


@dataclass
class SweepOutcome:
    """What a sweep run produced.

    Attributes
    ----------
    directory : Path, the output folder
    files : list of Path, the files written
    paths : pandas.DataFrame, one row per (point, path) (paths.parquet)
    points : pandas.DataFrame, one row per design point (points.parquet)
    provenance : dict, sweep hash, seed, paths, points, version
    tasks_total, tasks_computed, tasks_reused : int, paths in all, run now, found saved
    wall_s : float, seconds from start to the last chunk saved
    compute_s : float, seconds the workers spent computing the chunks run now
    """

    directory: Path
    files: list[Path]
    paths: object
    points: object
    provenance: dict
    tasks_total: int
    tasks_computed: int
    tasks_reused: int
    wall_s: float
    compute_s: float
    backend: str = "serial"
    extra: dict = field(default_factory=dict)


# --- running ------------------------------------------------------------------------------
def run_sweep(
    sweep,
    out: str | Path,
    *,
    paths: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    on_chunk: Callable[[int], None] | None = None,
    plots: bool = True,
    report: bool = True,
) -> SweepOutcome:
    """Run (or resume) a sweep and write its outputs into ``out``.

    Parameters
    ----------
    sweep : cascadesim.sweep.spec.Sweep, or the path of a sweep file
    out : output folder; ``out/.partial/`` holds the saved chunks between runs
    paths : int or None, paths per design point, replacing the sweep file's
    workers : int, processes on this machine (or LocalCluster workers with
        ``scheduler="local"``); 1 runs serially in this process
    scheduler : None, ``"local"`` (a Dask LocalCluster) or a Dask scheduler address
    progress : callable(tasks_done, tasks_total), called after each saved chunk
    on_chunk : callable(chunks_saved_now), called after each saved chunk (a test hook: an
        exception raised there stops the run as an interruption would)
    plots, report : bool, whether to write the PNG plots and ``report.html``
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    paths = sweep.spec.paths if paths is None else paths
    check_backend_options(paths, workers, scheduler)
    check_task_count(sweep.n_points, paths, "--paths")
    directory = Path(out)
    partial = open_partial(directory, sweep)
    done = saved_tasks(partial)
    chunks = plan_chunks(sweep, paths, done, workers)
    total = sweep.n_points * paths
    reused = sum(1 for point, path in done if path < paths and point < sweep.n_points)
    jobs = point_jobs(sweep)
    if scheduler is not None:
        from cascadesim.sweep.dask_backend import execute_dask  # lazy: Dask is optional

        backend = "dask"
        results: Generator[tuple, None, None] = execute_dask(
            jobs, chunks, workers, scheduler, sweep.hash()
        )
    elif workers > 1:
        backend = "processes"
        results = execute_processes(jobs, chunks, workers)
    else:
        backend = "serial"
        results = execute_serial(jobs, chunks)
    started = time.perf_counter()
    compute_s, finished = 0.0, reused
    if progress is not None:
        progress(finished, total)
    try:
        for count, (chunk, table, seconds) in enumerate(results, start=1):
            save_chunk(partial, chunk, table)
            compute_s += seconds
            finished += chunk.stop - chunk.first
            if progress is not None:
                progress(finished, total)
            if on_chunk is not None:
                on_chunk(count)
    finally:
        # Stopped here (Ctrl-C while a chunk was saved, a full disk): close the backend now.
        # Left to garbage collection, the pool would outlive the traceback that holds it,
        # and the interpreter's exit would wait for every queued chunk to be computed.
        results.close()
    wall_s = time.perf_counter() - started
    outcome = write_sweep_outputs(
        sweep,
        directory,
        read_chunks(partial, sweep.n_points, paths),
        paths,
        plots=plots,
        report=report,
    )
    outcome.tasks_total, outcome.tasks_reused = total, reused
    outcome.tasks_computed = total - reused
    outcome.wall_s, outcome.compute_s, outcome.backend = wall_s, compute_s, backend
    return outcome


def check_backend_options(paths: int | None, workers: int, scheduler: str | None) -> None:
    """The options every backend shares: whole counts >= 1, and a worker count this machine
    can hold (each local worker is a process holding a population: thousands would exhaust
    memory). One-line errors name the option.
    """
    for option, value in (("--paths", paths), ("--workers", workers)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise invalid(option, value, "an integer >= 1")
    cores = os.cpu_count() or 1
    if (scheduler is None or scheduler == "local") and workers > max(8, 4 * cores):
        raise invalid(
            "--workers",
            workers,
            f"at most {max(8, 4 * cores)} processes on this machine ({cores} cores)",
        )
    if scheduler is not None and not scheduler.strip():
        raise invalid("--scheduler", scheduler, "'local' or a scheduler address")


def plan_chunks(sweep, paths: int, done: set, workers: int) -> list[Chunk]:
    """Chunks of the tasks not yet saved: runs of consecutive paths of one point.

    A chunk never spans two points, so a worker builds each point's population once; the
    size gives every worker several chunks (load balance) and bounds the work lost to a kill.
    """
    remaining = [
        (point, path)
        for point in range(sweep.n_points)
        for path in range(paths)
        if (point, path) not in done
    ]
    size = sweep.spec.chunk_paths or min(
        MAX_CHUNK_PATHS, max(1, math.ceil(len(remaining) / (8 * workers)))
    )
    chunks: list[Chunk] = []
    for point, path in remaining:
        last = chunks[-1] if chunks else None
        if last and last.point == point and last.stop == path and last.stop - last.first < size:
            chunks[-1] = last._replace(stop=path + 1)
        else:
            chunks.append(Chunk(point, path, path + 1))
    return chunks


def execute_serial(jobs, chunks: list[Chunk]) -> Generator[tuple, None, None]:
    """Run the chunks one after the other in this process."""
    for chunk in chunks:
        yield (chunk, *run_chunk(jobs[chunk.point], chunk.first, chunk.stop))


def execute_processes(jobs, chunks: list[Chunk], workers: int) -> Generator[tuple, None, None]:
    """Run the chunks on a pool of processes, yielding them as they finish.

    The pool starts its processes by :func:`cascadesim._util.processes.worker_context`
    (never 'fork'). Each process loads the kernels once, in the pool's initializer.
    """
    if not chunks:
        return
    # Compile (or load) the kernels here first: several processes compiling the same
    # signatures into one numba cache directory at once can corrupt it.
    warm_up(jobs[chunks[0].point])
    # The pool's workers are this process's children started from here on (the public way
    # to reach them; the executor keeps its own list private).
    children_before = {child.pid for child in multiprocessing.active_children()}
    pool = worker_pool(
        min(workers, len(chunks)), initializer=initialize_worker, initargs=(jobs[chunks[0].point],)
    )
    completed = False
    try:
        pending = {
            pool.submit(run_chunk, jobs[chunk.point], chunk.first, chunk.stop): chunk
            for chunk in chunks
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            # Within one wake-up, hand the chunks over in plan order (not the set's order).
            for future in sorted(finished, key=lambda f: pending[f]):
                yield (pending.pop(future), *future.result())
        completed = True
    finally:
        # Interrupted: return at once. The workers' chunks in hand are lost anyway (only the
        # parent saves chunks), so they are stopped: left to finish, CPython 3.11's pool can
        # hang the interpreter's exit (its manager thread waits for idle workers).
        workers_now = (
            []
            if completed
            else [
                child
                for child in multiprocessing.active_children()
                if child.pid not in children_before
            ]
        )
        pool.shutdown(wait=completed, cancel_futures=True)
        for process in workers_now:
            process.terminate()


def initialize_worker(job) -> None:
    """Pool initializer: leave Ctrl-C to the parent, then load the kernels once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up(job)


# --- saved chunks and the manifest --------------------------------------------------------
def open_partial(directory: Path, sweep) -> Path:
    """``directory/.partial`` with a manifest of this sweep (refuses another sweep's)."""
    if directory.exists() and not directory.is_dir():
        raise invalid("--out", str(directory), "a folder (this is a file)")
    partial = directory / PARTIAL_FOLDER
    manifest = {
        "sweep": sweep.name,
        "sweep_hash": sweep.hash(),
        "seed": sweep.spec.seed,
        "version": sweep.provenance()["version"],
    }
    path = partial / MANIFEST_FILE
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = {}
        if {key: found.get(key) for key in manifest} != manifest:
            raise CascadesimInputError(
                f"{directory}: holds the saved chunks of another sweep ({found.get('sweep')!r}, "
                f"hash {found.get('sweep_hash')}, seed {found.get('seed')}, version "
                f"{found.get('version')}); this is {sweep.name!r}, hash {manifest['sweep_hash']}"
                f", seed {manifest['seed']}, version {manifest['version']}: choose another "
                f"--out folder, or delete {partial} to start afresh"
            )
        return partial
    try:
        partial.mkdir(parents=True, exist_ok=True)
        write_atomically(path, (json.dumps(manifest, indent=2) + "\n").encode())
    except OSError as error:
        raise CascadesimInputError(
            f"--out = '{directory}': cannot write there ({error.strerror or error})"
        ) from None
    return partial


def save_chunk(partial: Path, chunk: Chunk, table) -> Path:
    """Save one chunk's table as ``chunk-<point>-<first>-<stop>.parquet``, atomically."""
    return write_atomically(partial / chunk.file_name, lambda stream: pq.write_table(table, stream))


def saved_tasks(partial: Path) -> set[tuple[int, int]]:
    """(point, path) of every task in the saved chunks; unreadable leftovers are removed."""
    for leftover in partial.glob(".chunk-*.tmp"):  # a write cut short by a kill
        leftover.unlink(missing_ok=True)
    done: set[tuple[int, int]] = set()
    for path in sorted(partial.glob("chunk-*.parquet")):
        try:
            table = pq.read_table(path, columns=["point", "path"])
        except Exception:  # noqa: BLE001 - a damaged chunk is recomputed, not fatal
            path.unlink(missing_ok=True)
            continue
        done.update(zip(table["point"].to_pylist(), table["path"].to_pylist(), strict=True))
    return done


def read_chunks(partial: Path, n_points: int, paths: int):
    """Every saved task with point < n_points and path < paths, sorted by (point, path)."""
    tables = [pq.read_table(path) for path in sorted(partial.glob("chunk-*.parquet"))]
    table = pa.concat_tables(tables)
    keep = pc.and_(pc.less(table["path"], paths), pc.less(table["point"], n_points))
    table = table.filter(keep).sort_by([("point", "ascending"), ("path", "ascending")])
    point = table["point"].to_numpy()
    path = table["path"].to_numpy()
    first = np.ones(len(point), dtype=bool)  # a task saved twice (a rerun race) counts once
    first[1:] = (point[1:] != point[:-1]) | (path[1:] != path[:-1])
    table = table.filter(pa.array(first))
    if table.num_rows != n_points * paths:
        raise RuntimeError(f"{partial}: {table.num_rows} of {n_points * paths} tasks saved")
    return table


# --- assembling the outputs ---------------------------------------------------------------
def design_columns(sweep, point_index: np.ndarray) -> dict:
    """The swept values as pyarrow arrays, one entry per row of ``point_index``."""
    columns = {}
    for key in sweep.parameters:
        values = [values[key] for values in sweep.point_values]
        if all(isinstance(v, bool) for v in values):
            kind = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = pa.int64()
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            kind, values = pa.float64(), [float(v) for v in values]
        elif all(isinstance(v, str) for v in values):
            kind = pa.string()
        else:
            kind, values = pa.string(), [json.dumps(v) for v in values]
        columns[key] = pa.array(values, type=kind).take(pa.array(point_index))
    return columns


def split_tables(sweep, table):
    """paths table (figures and swept values) and price-paths table from the saved rows."""
    price_names = [name for name in table.column_names if name.startswith(PRICE_PREFIX)]
    figures = table.drop_columns(price_names)
    design = design_columns(sweep, table["point"].to_numpy())
    for offset, (name, column) in enumerate(design.items()):
        figures = figures.add_column(2 + offset, name, column)
    n_rows = table.num_rows
    price_paths = pa.table(
        {
            "point": pa.concat_arrays([table["point"].combine_chunks()] * len(price_names)),
            "path": pa.concat_arrays([table["path"].combine_chunks()] * len(price_names)),
            "market": pa.array(
                [name[len(PRICE_PREFIX) :] for name in price_names for _ in range(n_rows)],
                type=pa.string(),
            ),
            "price_usd": pa.concat_arrays([table[name].combine_chunks() for name in price_names]),
        }
    )
    return figures, price_paths


def quantile_columns(values: np.ndarray, name: str) -> dict:
    """Mean and 50/95/99th percentiles of one figure over a point's paths (NaN ignored)."""
    finite = values[np.isfinite(values)]
    row = {f"{name}_mean": float(finite.mean()) if finite.size else math.nan}
    for q in QUANTILES:
        label = f"{name}_p{round(100 * q)}"
        row[label] = float(np.quantile(finite, q)) if finite.size else math.nan
        # Its 95 % distribution-free interval (inf: too few paths to bound it).
        row[f"{label}_low"], row[f"{label}_high"] = percentile_interval(finite, q)
    return row


def excess_kurtosis(price_rows: list[np.ndarray]) -> float:
    """Excess kurtosis of the log returns between price samples, pooled over paths."""
    returns = np.concatenate([np.diff(np.log(prices)) for prices in price_rows])
    centred = returns - returns.mean()
    variance = float(np.mean(centred**2))
    return float(np.mean(centred**4) / variance**2 - 3.0) if variance > 0 else math.nan


def points_frame(sweep, paths_frame, price_paths):
    """One row per design point: swept values and the distribution of its paths' figures."""
    markets = list(dict.fromkeys(price_paths["market"].to_pylist()))
    totals = {
        name: paths_frame.get(
            f"{name}.liquidated_total_usd", paths_frame["liquidated_total_usd"]
        ).sum()
        for name in markets
    }
    lead = max(markets, key=lambda name: (totals[name], -markets.index(name)))
    lead_prices = price_paths.filter(pc.equal(price_paths["market"], lead))
    prices_by_point: dict[int, list[np.ndarray]] = {}
    for point, prices in zip(
        lead_prices["point"].to_pylist(), lead_prices["price_usd"].to_pylist(), strict=True
    ):
        prices_by_point.setdefault(point, []).append(np.asarray(prices, dtype=np.float64))
    rows = []
    for point, group in paths_frame.groupby("point", sort=True):
        row = {
            "point": int(point),
            **{key: sweep.point_values[point][key] for key in sweep.parameters},
            "paths": len(group),
        }
        for name in DISTRIBUTION_FIGURES:
            values = group[name].to_numpy(dtype=np.float64)
            if name == "bad_debt_usd":
                values = np.where(values > BAD_DEBT_TOLERANCE_USD, values, 0.0)
            row.update(quantile_columns(values, name))
        adl = int((group["adl_count"] > 0).sum())
        bad_debt = int((group["bad_debt_usd"] > BAD_DEBT_TOLERANCE_USD).sum())
        row["adl_probability"] = adl / len(group)
        row["adl_probability_low"], row["adl_probability_high"] = probability_interval(
            adl, len(group)
        )
        row["bad_debt_probability"] = bad_debt / len(group)
        row["bad_debt_probability_low"], row["bad_debt_probability_high"] = probability_interval(
            bad_debt, len(group)
        )
        row["insurance_fund_drawdown_max_usd"] = float(group["insurance_fund_drawdown_usd"].max())
        row["sample_return_excess_kurtosis"] = excess_kurtosis(prices_by_point[point])
        row["price_market"] = lead
        rows.append(row)
    frame = pd.DataFrame(rows)
    for key in sweep.parameters:  # the same column types as in paths.parquet
        frame[key] = paths_frame.groupby("point", sort=True)[key].first().to_numpy()
    return frame


def write_sweep_outputs(
    sweep, directory: Path, table, paths: int, plots: bool = True, report: bool = True
) -> SweepOutcome:
    """Write paths, points, price paths, the sweep file, plots and report, all or nothing."""
    provenance = sweep.provenance(paths)
    figures, price_paths = split_tables(sweep, table)
    paths_frame = figures.to_pandas()
    points = points_frame(sweep, paths_frame, price_paths)
    metadata = provenance_metadata({**provenance, "price_sample_s": sweep.spec.price_sample_s})

    def write_table(arrow_table: pa.Table, path: Path) -> None:
        merged = dict(arrow_table.schema.metadata or {})
        merged.update(metadata)
        pq.write_table(arrow_table.replace_schema_metadata(merged), path)

    with staging_directory(directory) as staging:
        write_table(figures, staging / PATHS_FILE)
        write_parquet(points, staging / POINTS_FILE, provenance)
        write_table(price_paths, staging / PRICE_PATHS_FILE)
        (staging / SWEEP_FILE).write_text(sweep.text, encoding="utf-8")
        plot_paths = []
        if plots:
            plot_paths = write_sweep_plots(sweep, paths_frame, points, price_paths, staging)
        if report:
            write_sweep_report(sweep, points, paths_frame, provenance, staging, plot_paths)
        files = commit(staging, directory)
    return SweepOutcome(
        directory=directory,
        files=files,
        paths=paths_frame,
        points=points,
        provenance=provenance,
        tasks_total=0,
        tasks_computed=0,
        tasks_reused=0,
        wall_s=0.0,
        compute_s=0.0,
    )
