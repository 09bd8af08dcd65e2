"""Compile and start-up times of the engine, as a new user meets them (issue 14).

Each figure is a fresh Python process, so that nothing compiled stays in memory:

- ``cold``: an empty cache folder, ``cascadesim warmup`` (every kernel compiled);
- ``warm``: the same folder again (every kernel loaded from the cache);
- ``reinstalled``: a copy of the package in another folder (a reinstall, or a second virtual
  environment) with the same cache folder: it must load, not compile;
- ``gentle first run`` / ``default first run``: ``cascadesim run`` of a bundled scenario in a
  warm cache, the time a user waits for the answer.

Usage::

    python benchmarks/bench_compile.py --repeat 3 --json benchmarks/compile_results.json

Run it alone on the machine: two processes compiling at once share the two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cascadesim"


def timed(command: list[str], environment: dict, cwd: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr}")
    return elapsed


def install_copy(folder: Path) -> Path:
    """A copy of the package in ``folder``: what a reinstall elsewhere looks like to numba."""
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PACKAGE, folder / "cascadesim", ignore=skip)
    return folder


def measure(repeat: int, scratch: Path) -> dict:
    python = sys.executable
    warmup = [python, "-m", "cascadesim.cli.commands", "warmup"]
    figures: dict[str, list[float]] = {"cold": [], "warm": [], "reinstalled": []}
    runs = {"gentle": [], "default": []}
    for k in range(repeat):
        cache = scratch / f"cache-{k}"
        first = install_copy(scratch / f"install-{k}-a")
        second = install_copy(scratch / f"install-{k}-b")
        environment = dict(os.environ, CASCADESIM_CACHE_DIR=str(cache), PYTHONPATH=str(first))
        figures["cold"].append(timed(warmup, environment, first))
        figures["warm"].append(timed(warmup, environment, first))
        environment_b = dict(environment, PYTHONPATH=str(second))
        figures["reinstalled"].append(timed(warmup, environment_b, second))
        for name in runs:
            out = scratch / f"out-{k}-{name}"
            command = [python, "-m", "cascadesim.cli.commands", "run", name, "--out", str(out)]
            runs[name].append(timed(command, environment, first))
    result = {name: statistics.median(values) for name, values in figures.items()}
    result.update({f"{name} first run": statistics.median(v) for name, v in runs.items()})
    result["samples"] = {**figures, **{f"{n} first run": v for n, v in runs.items()}}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cascadesim-compile-") as folder:
        result = measure(arguments.repeat, Path(folder))
    result["load_average_before"] = load_before
    result["load_average_after"] = os.getloadavg()
    result["repeats"] = arguments.repeat
    for name in ("cold", "warm", "reinstalled", "gentle first run", "default first run"):
        print(f"{name:>20}: {result[name]:7.1f} s")
    print(f"load average {load_before[0]:.1f} before, {result['load_average_after'][0]:.1f} after")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
