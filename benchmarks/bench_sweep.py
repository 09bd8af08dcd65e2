"""Sweep benchmarks: 1,000 paths x 1e5 positions, parallel speed-up, Dask, per-task overhead.

Usage::

    PYTHONPATH=. python benchmarks/bench_sweep.py                 # the figures of the README
    PYTHONPATH=. python benchmarks/bench_sweep.py --paths 100 --repeats 1   # a quick look

What it measures (medians over ``--repeats`` runs, the backends interleaved so that a change
in the machine's load hits them alike):

- **ensemble**: one design point of the bundled default scenario cut to 15 simulated minutes
  with ``--accounts`` positions (1e5), ``--paths`` paths (1,000) with a random index jump
  (2-10 % over 30-600 s), each path with its liquidation-free counterfactual, serially, on 2
  processes (``--workers 2``) and on a Dask LocalCluster of 2 workers. ``run`` is the time
  from the start of the run to the last chunk saved (it includes starting the pool or the
  cluster and loading the kernels in every worker); ``total`` adds assembling the tables,
  the plots and the report.
- **start-up and overhead per task**: tiny tasks (10 steps over 200 positions, one path per
  chunk, so that the work is negligible), once with 2 tasks (the run time is then the
  start-up: the pool or cluster, the imports and the kernels in every worker) and once with
  ``--tiny-paths`` tasks. Overhead per task =
  ``((run_N - run_2) x workers - (computed_N - computed_2)) / (N - 2)``: what a task costs
  beyond its own work (scheduling, pickling, saving its chunk), start-up excluded.

The 1-minute load average before and after is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ENSEMBLE = """
name = "bench_ensemble"
scenario = "default"
paths = {paths}
seed = 1

[fixed]
duration_s = 900
"population.accounts" = {accounts}

[shock]
drop_fraction = {{distribution = "uniform", low = 0.02, high = 0.10}}
at_s = 60
ramp_s = {{distribution = "loguniform", low = 30, high = 600}}
"""

TINY = """
name = "bench_tiny"
scenario = "gentle"
paths = {paths}
seed = 1
chunk_paths = 1

[fixed]
duration_s = 10
"population.accounts" = 200

[shock]
drop_fraction = {{distribution = "uniform", low = 0.01, high = 0.05}}
at_s = 1
"""

BACKENDS = (
    ("serial", 1, None),
    ("2 processes", 2, None),
    ("Dask LocalCluster, 2 workers", 2, "local"),
)


def load_average() -> float:
    return os.getloadavg()[0]


def run_once(
    sweep_file: Path, folder: Path, workers: int, scheduler: str | None, outputs: bool
) -> dict:
    from cascadesim.sweep.run import run_sweep

    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    outcome = run_sweep(
        sweep_file, folder, workers=workers, scheduler=scheduler, plots=outputs, report=outputs
    )
    total = time.perf_counter() - started
    chunks = len(list((folder / ".partial").glob("chunk-*.parquet")))
    return {
        "run_s": outcome.wall_s,
        "total_s": total,
        "compute_s": outcome.compute_s,
        "chunks": chunks,
        "tasks": outcome.tasks_computed,
        "paths_bytes": (folder / "paths.parquet").read_bytes(),
    }


def measure(sweep_file: Path, root: Path, repeats: int, outputs: bool) -> dict:
    """Medians per backend; the paths.parquet of every run must be the same bytes."""
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in BACKENDS}
    for repeat in range(repeats):
        for name, workers, scheduler in BACKENDS:
            result = run_once(
                sweep_file,
                root / f"out-{repeat}-{workers}-{scheduler}",
                workers,
                scheduler,
                outputs,
            )
            runs[name].append(result)
            print(
                f"  {name:<30} run {result['run_s']:7.2f} s  total {result['total_s']:7.2f} s"
                f"  computed {result['compute_s']:7.2f} s in {result['chunks']} chunks",
                flush=True,
            )
    reference = runs["serial"][0]["paths_bytes"]
    identical = all(run["paths_bytes"] == reference for group in runs.values() for run in group)
    summary = {}
    for name, _, _ in BACKENDS:
        group = runs[name]
        run_s = statistics.median(r["run_s"] for r in group)
        compute_s = statistics.median(r["compute_s"] for r in group)
        chunks = group[0]["chunks"]
        summary[name] = {
            "run_s": run_s,
            "total_s": statistics.median(r["total_s"] for r in group),
            "compute_s": compute_s,
            "chunks": chunks,
            "tasks": group[0]["tasks"],
        }
    return {"backends": summary, "identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--tiny-paths", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        ensemble_file = root / "ensemble.toml"
        ensemble_file.write_text(
            ENSEMBLE.format(paths=arguments.paths, accounts=arguments.accounts)
        )
        tiny_file = root / "tiny.toml"
        tiny_file.write_text(TINY.format(paths=arguments.tiny_paths))
        start_file = root / "start.toml"
        start_file.write_text(TINY.format(paths=2))
        print(f"cores: {os.cpu_count()}, load average before: {load_average():.2f}")
        from cascadesim.sweep.spec import load_sweep
        from cascadesim.sweep.tasks import point_jobs, warm_up

        warm_s = warm_up(point_jobs(load_sweep(ensemble_file))[0])
        print(f"kernel warm-up in this process: {warm_s:.2f} s")
        print(f"ensemble: {arguments.paths} paths x {arguments.accounts:,} positions, 900 steps")
        ensemble = measure(ensemble_file, root, arguments.repeats, outputs=True)
        print("start-up: 2 tiny tasks")
        start = measure(start_file, root, arguments.repeats, outputs=False)
        print(f"tiny tasks: {arguments.tiny_paths} paths of 10 steps, one per chunk")
        tiny = measure(tiny_file, root, arguments.repeats, outputs=False)
        overhead = {}
        for name, workers, _ in BACKENDS:
            many, two = tiny["backends"][name], start["backends"][name]
            overhead[name] = (
                1e3
                * (
                    (many["run_s"] - two["run_s"]) * workers
                    - (many["compute_s"] - two["compute_s"])
                )
                / (arguments.tiny_paths - 2)
            )
        print(f"load average after: {load_average():.2f}")
        serial = ensemble["backends"]["serial"]["run_s"]
        print(
            "\n| backend | run (s) | total with outputs (s) | speed-up | start-up (s) | "
            "overhead per task (ms) |"
        )
        print("|---|---|---|---|---|---|")
        for name, _, _ in BACKENDS:
            figures = ensemble["backends"][name]
            print(
                f"| {name} | {figures['run_s']:.1f} | {figures['total_s']:.1f} | "
                f"{serial / figures['run_s']:.2f}x | {start['backends'][name]['run_s']:.2f} | "
                f"{overhead[name]:.1f} |"
            )
        per_path = 1e3 * ensemble["backends"]["serial"]["compute_s"] / arguments.paths
        identical = ensemble["identical"] and tiny["identical"] and start["identical"]
        print(
            f"\nserial compute per path (with counterfactual): {per_path:.1f} ms; "
            f"identical paths.parquet across backends: {identical}"
        )
        print(
            json.dumps(
                {
                    "ensemble": ensemble["backends"],
                    "start": start["backends"],
                    "tiny": tiny["backends"],
                    "overhead_per_task_ms": overhead,
                    "identical": identical,
                }
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
