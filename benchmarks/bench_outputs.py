"""Writing a run's outputs (issue 14): every figure, the PNGs, report.html and the whole folder.

Runs the default scenario once to warm up (numba loads or compiles its kernels, matplotlib
loads its fonts), then, ``--repeat`` times in the same process:

- ``simulate``: the run itself, counterfactual included (what the outputs are made from);
- ``tables``: the Result's lazily built frames and summary, which the first writer pays for;
- each figure: building it and saving it as PNG into memory, as ``write_plots`` saves it;
- ``all PNGs``: :func:`cascadesim.report.figures.write_plots` into a fresh folder;
- ``report.html``: :func:`cascadesim.report.run_report.write_report` from those PNGs;
- ``PNGs + report``: the two together, the figure the target (< 1 s) is about;
- ``write_outputs``: the whole output folder (summary, Parquet files, PNGs, report), tables
  already built; ``outputs total`` adds ``tables`` to it, which is what ``cascadesim run``
  pays after the simulation.

A process pays more for its first figures (fonts loaded, caches filled) than a warm one, and
``cascadesim run`` draws its figures once per process, so ``--fresh N`` (default 3) also
starts N new processes that each import the plotting module (timed), simulate once and then
time ``PNGs + report`` once: the ``first in a fresh process`` rows.

Prints medians (and the spread) and writes them with the machine's load average to
``--json``. Run:

    python benchmarks/bench_outputs.py [--repeat 5] [--json benchmarks/outputs_results.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.scenario.bundled import resolve_scenario  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim.driver import simulate  # noqa: E402

# Imported here, after the engine, and timed: a fresh process's import of the plots module
# (matplotlib with it) is part of what ``cascadesim run`` pays for its figures.
IMPORT_START = time.perf_counter()
from cascadesim.report import figures, plots  # noqa: E402
from cascadesim.report.output import write_outputs  # noqa: E402
from cascadesim.report.run_report import write_report  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - IMPORT_START


def render_png(figure) -> bytes:
    """A figure's PNG bytes, saved the way ``write_plots`` saves it.

    Uses the module's own PNG helper where it has one, so that the same figure costs the same
    here as in the files; otherwise a plain ``savefig`` at the module's resolution.
    """
    helper = getattr(plots, "png_bytes", None)
    if helper is not None:
        return helper(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=plots.PNG_DPI)
    return buffer.getvalue()


def build_tables(result) -> None:
    """Touch every lazily built table the writers read, so it is built now."""
    _ = result.summary, result.timeline, result.liquidations, result.counterfactual_timeline


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children.

    On a shared machine the wall-clock time of the same work varies with the load; the CPU
    time much less, so the two together say whether a change or the neighbours moved it.
    """
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


def timed(function: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def one_repeat(setup, scenario_toml: str, figure_stems: list[str]) -> dict[str, float]:
    """Seconds of every measured part, for one fresh simulation of ``setup``."""
    seconds: dict[str, float] = {}
    start, cpu_start = time.perf_counter(), cpu_seconds()
    result = simulate(setup)
    seconds["simulate"] = time.perf_counter() - start
    seconds["simulate, CPU"] = cpu_seconds() - cpu_start
    seconds["tables"] = timed(lambda: build_tables(result))
    functions = dict(figures.PLOTS + figures.SEVERAL_MARKET_PLOTS)
    for stem in figure_stems:
        seconds[f"figure {stem}"] = timed(lambda stem=stem: render_png(functions[stem](result)))
    with tempfile.TemporaryDirectory(prefix="bench_outputs_") as folder:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        paths = figures.write_plots(result, Path(folder) / "plots")
        seconds["all PNGs"] = time.perf_counter() - start
        seconds["report.html"] = timed(
            lambda: write_report(result, Path(folder) / "plots", scenario_toml, paths)
        )
        seconds["PNGs + report"] = seconds["all PNGs"] + seconds["report.html"]
        seconds["PNGs + report, CPU"] = cpu_seconds() - cpu_start
        seconds["write_outputs"] = timed(
            lambda: write_outputs(result, Path(folder) / "out", scenario_toml)
        )
    seconds["outputs total"] = seconds["tables"] + seconds["write_outputs"]
    return seconds


def first_in_process(setup, scenario_toml: str) -> dict[str, float]:
    """Seconds of the first PNGs and report of this process (after one simulation)."""
    result = simulate(setup)
    build_tables(result)
    with tempfile.TemporaryDirectory(prefix="bench_outputs_") as folder:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        paths = figures.write_plots(result, Path(folder))
        write_report(result, Path(folder), scenario_toml, paths)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    return {
        "import plots (fresh process)": IMPORT_SECONDS,
        "PNGs + report, first in a fresh process": wall,
        "PNGs + report, first in a fresh process, CPU": cpu,
    }


def fresh_processes(scenario: str, count: int) -> list[dict[str, float]]:
    """:func:`first_in_process` in ``count`` new processes, one after the other."""
    runs = []
    for _ in range(count):
        command = [sys.executable, __file__, "--scenario", scenario, "--first-only"]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(output.splitlines()[-1]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="default", help="bundled name or file")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=3, help="fresh processes to time")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--first-only", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    scenario = Scenario.from_toml(resolve_scenario(arguments.scenario))
    scenario_toml = scenario.to_toml_text()
    setup = scenario.build()
    stems = [stem for stem, _ in figures.PLOTS]
    if len(setup.markets) > 1:
        stems += [stem for stem, _ in figures.SEVERAL_MARKET_PLOTS]
    if arguments.first_only:  # the child of fresh_processes: one JSON line on stdout
        print(json.dumps(first_in_process(setup, scenario_toml)))
        return

    load_before = os.getloadavg()
    warm_up = time.perf_counter()
    one_repeat(setup, scenario_toml, stems)
    warm_up = time.perf_counter() - warm_up
    runs = [one_repeat(setup, scenario_toml, stems) for _ in range(arguments.repeat)]
    fresh = fresh_processes(arguments.scenario, arguments.fresh)
    load_after = os.getloadavg()

    names = list(runs[0])
    medians = {name: statistics.median(run[name] for run in runs) for name in names}
    fresh_names = list(fresh[0]) if fresh else []
    medians |= {name: statistics.median(run[name] for run in fresh) for name in fresh_names}
    print(
        f"{arguments.scenario}: {arguments.repeat} repeats after a warm-up of {warm_up:.1f} s; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print(f"{'part':<46} {'median':>9} {'min':>9} {'max':>9}")
    for name in names:
        values = [run[name] for run in runs]
        print(f"{name:<46} {medians[name]:>8.3f}s {min(values):>8.3f}s {max(values):>8.3f}s")
    if fresh:
        print(f"{len(fresh)} fresh processes:")
    for name in fresh_names:
        values = [run[name] for run in fresh]
        print(f"{name:<46} {medians[name]:>8.3f}s {min(values):>8.3f}s {max(values):>8.3f}s")

    if arguments.json is not None:
        import matplotlib  # only for the version it records

        report = {
            "scenario": arguments.scenario,
            "repeat": arguments.repeat,
            "warm_up_s": warm_up,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "matplotlib": matplotlib.__version__,
            "median_s": medians,
            "fresh": arguments.fresh,
            "runs_s": runs,
            "fresh_runs_s": fresh,
        }
        arguments.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
