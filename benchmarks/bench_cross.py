"""Cross margin near isolated (issue 14): the liquidation path of ``contagion``, half cross.

Builds the bundled ``contagion`` scenario twice, with ``population.isolated_share`` 1.0 (all
isolated) and 0.5 (half the positions in cross-margin accounts, as bundled), runs each once
to warm up (numba loads or compiles its kernels), then times ``--repeat`` runs of
``simulate(setup, counterfactual=False)`` for both, alternating so that a change in the
machine's load falls on both alike. Prints the medians, their ratio (the target is <= 2) and
the load average; ``--json`` writes them.

    python benchmarks/bench_cross.py [--repeat 3] [--json benchmarks/cross_results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.scenario.bundled import bundled_scenarios  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim.driver import simulate  # noqa: E402

SHARES = (1.0, 0.5)


def build(share: float):
    """The contagion setup with ``isolated_share`` set to ``share``."""
    scenario = Scenario.from_toml(bundled_scenarios()["contagion"])
    population = scenario.population.model_copy(update={"isolated_share": share})
    return scenario.model_copy(update={"population": population}).build()


def main() -> None:
    """Time both setups and print (and optionally write) the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    load_before = os.getloadavg()
    setups = {share: build(share) for share in SHARES}
    facts: dict[float, dict] = {}
    for share, setup in setups.items():
        result = simulate(setup, counterfactual=False)  # warm-up: loads or compiles
        facts[share] = {
            "positions": len(setup.positions),
            "accounts_liquidated": int(result.summary["accounts_liquidated"]),
        }
    times: dict[float, list[float]] = {share: [] for share in SHARES}
    for _ in range(args.repeat):
        for share, setup in setups.items():
            started = time.perf_counter()
            simulate(setup, counterfactual=False)
            times[share].append(time.perf_counter() - started)
    load_after = os.getloadavg()

    medians = {share: statistics.median(times[share]) for share in SHARES}
    ratio = medians[0.5] / medians[1.0]
    for share in SHARES:
        spread = ", ".join(f"{t:.3f}" for t in times[share])
        print(
            f"isolated_share {share}: median {medians[share]:.3f} s of {args.repeat} "
            f"({spread}); {facts[share]['accounts_liquidated']:,} accounts liquidated"
        )
    print(f"ratio half cross / all isolated: {ratio:.2f} (target <= 2)")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    if args.json is not None:
        record = {
            "scenario": "contagion",
            "repeat": args.repeat,
            "runs": {
                str(share): {"median_s": medians[share], "times_s": times[share], **facts[share]}
                for share in SHARES
            },
            "ratio": ratio,
            "load_before": list(load_before),
            "load_after": list(load_after),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
