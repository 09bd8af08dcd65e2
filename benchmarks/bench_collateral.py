"""Multi-asset collateral against the settlement coin alone (issue 15): ``stablecoin_depeg``.

Builds the bundled ``stablecoin_depeg`` setup and a copy without its collateral baskets (the
same positions and margins: every wallet in USDT), runs each once to warm up, then times
``--repeat`` runs of ``simulate(setup, counterfactual=False)`` for both, alternating so that a
change in the machine's load falls on both alike. With baskets, every step revalues the
holders (about 2,400 accounts) while the depeg moves and liquidates the ones it takes below
maintenance; without, nothing is liquidated. Prints the medians and their ratio; ``--json``
writes them.

    python benchmarks/bench_collateral.py [--repeat 5] [--json benchmarks/collateral_results.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.scenario.bundled import bundled_scenarios  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim.driver import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with_baskets = Scenario.from_toml(bundled_scenarios()["stablecoin_depeg"]).build()
    setups = {
        "with_collateral": with_baskets,
        "settlement_coin_only": dataclasses.replace(with_baskets, collateral=None),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    liquidated = {}
    for name, setup in setups.items():  # warm up: load (or compile) the kernels
        liquidated[name] = int(simulate(setup, counterfactual=False).summary["accounts_liquidated"])
    for _ in range(args.repeat):
        for name, setup in setups.items():
            started = time.perf_counter()
            simulate(setup, counterfactual=False)
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "positions": len(with_baskets.positions),
        "collateral_accounts": int(len(set(with_baskets.collateral.account.tolist()))),
        "steps": with_baskets.n_steps,
        "median_s": medians,
        "accounts_liquidated": liquidated,
        "ratio": medians["with_collateral"] / medians["settlement_coin_only"],
        "repeat": args.repeat,
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
