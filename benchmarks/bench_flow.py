"""Positions opening during the run against none (issue 16): the default scenario, one hour
and a whole day of one-second steps.

Builds the bundled ``default`` scenario (about 550,000 accounts on BTC/Binance, a 6 % slide)
three ways: without a flow, with a ``[flow]`` table at Binance-like BTC volume (20 B USD a
day, 2 % of it opening leveraged positions: tens of thousands of openings in the hour), and
with ten times that rate. Each is run once to warm up, then ``--repeat`` times alternating,
``simulate(setup, counterfactual=False)``. ``--day`` adds the same three over 86,400 steps
(the real clock of an event window), once each. Prints medians, openings and liquidations;
``--json`` writes them.

    python benchmarks/bench_flow.py [--repeat 3] [--day] [--json benchmarks/flow_results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.scenario.bundled import bundled_scenarios  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim.driver import simulate  # noqa: E402

VOLUME_USD = 20e9  # Binance BTCUSDT perpetual, a busy day in 2024-2025: 15-30 B USD


def variant(share: float | None, duration_s: float | None = None) -> Scenario:
    path = bundled_scenarios()["default"]
    data = tomllib.loads(path.read_text())
    if duration_s is not None:
        data["duration_s"] = duration_s
    if share is not None:
        data["flow"] = {"opening_share_of_volume": share}
        for market in data["markets"].values():
            market["volume_24h_usd"] = VOLUME_USD
    return Scenario.from_data(data, path)


def measure(setups: dict, repeat: int) -> dict:
    times: dict[str, list[float]] = {name: [] for name in setups}
    figures = {}
    for name, setup in setups.items():  # warm up: load (or compile) the kernels
        summary = simulate(setup, counterfactual=False).summary
        figures[name] = {
            "accounts_liquidated": int(summary["accounts_liquidated"]),
            "liquidated_long_usd": float(summary["liquidated_long_usd"]),
            "liquidated_short_usd": float(summary["liquidated_short_usd"]),
            "opened": int(summary.get("flow", {}).get("positions_opened", 0)),
            "opened_liquidated": int(summary.get("flow", {}).get("positions_liquidated", 0)),
            "flow_rows": int(0 if setup.flow is None else setup.flow.n_rows),
        }
    for _ in range(repeat):
        for name, setup in setups.items():
            started = time.perf_counter()
            simulate(setup, counterfactual=False)
            times[name].append(time.perf_counter() - started)
    return {
        name: {"median_s": statistics.median(values), **figures[name]}
        for name, values in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--day", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    hour = {
        "no_flow": variant(None).build(),
        "flow_2pct": variant(0.02).build(),
        "flow_20pct": variant(0.2).build(),
    }
    result = {
        "positions": len(hour["no_flow"].positions),
        "hour": measure(hour, args.repeat),
        "repeat": args.repeat,
        "load_average": os.getloadavg()[0],
    }
    if args.day:
        day = {
            "no_flow": variant(None, 86_400).build(),
            "flow_2pct": variant(0.02, 86_400).build(),
            "flow_20pct": variant(0.2, 86_400).build(),
        }
        result["day"] = measure(day, 1)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
