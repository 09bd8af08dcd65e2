"""Engine benchmarks for issue 2: one market, one hour of one-second steps.

Measures, for 1e6 and 1e7 isolated accounts (the default BTC scenario with its open interest
scaled), the time to synthesise the population, to compute liquidation prices and sort it,
and to run the cascade loop; the time to read the position arrays once (the memory-speed
floor the loop is compared with, in the same process); the peak memory per position; and,
in fresh processes, the cold compile against the warm (cached) start. Timings are medians of
``--repeat`` runs. Run:

    python benchmarks/bench_engine.py [--sizes 1e6 1e7] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.model.market import market_params  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim import driver, state  # noqa: E402

DEFAULT = ROOT / "cascadesim/scenario/bundled" / "default.toml"


@njit(cache=True)
def read_positions_once(quantity, entry_price, margin, threshold, market, side, status, account):
    """Touch every byte of the position columns once (the streaming floor)."""
    total = 0.0
    for i in range(quantity.shape[0]):
        total += quantity[i] + entry_price[i] + margin[i] + threshold[i]
        total += market[i] + side[i] + status[i] + account[i]
    return total


def scenario_with_accounts(accounts: float, whole_market: bool = False) -> Scenario:
    """The default scenario, open interest scaled to ``accounts`` accounts, an 8 % drop.

    With ``whole_market`` the book depth, the insurance fund, the arbitrage capacity and the
    spot depth are scaled with the open interest, so that every size is the same cascade
    (like for like). Without it only the open interest grows: at 1e7 accounts it is 18x the
    default's against the same book and fund, the fund runs dry and auto-deleveraging closes
    millions of positions, which measures a different, larger cascade.
    """
    scenario = Scenario.from_toml(DEFAULT)
    reference = len(scenario.build().positions)
    market = next(iter(scenario.markets.values()))
    factor = accounts / reference
    market.open_interest_usd *= factor
    if whole_market:
        market.depth_1pct_usd *= factor
        market.insurance_fund_usd *= factor
        market.overrides["arbitrage_capacity_usd_per_s"] *= factor
        for asset in scenario.assets.values():
            asset.spot_depth_1pct_usd *= factor
    scenario.population.max_accounts = int(accounts * 2)
    # The issue asks for a shock that liquidates at least 10 % of the accounts.
    scenario.shock.drop_fraction = 0.08
    return scenario


def measure_size(accounts: float, repeat: int, whole_market: bool = False) -> dict:
    """Median timings and peak memory for one population size."""
    scenario = scenario_with_accounts(accounts, whole_market)
    runs = []
    for _ in range(repeat):
        tracemalloc.start()
        start = time.perf_counter()
        setup = scenario.build()
        built = time.perf_counter()
        n_accounts = state.validate_setup(setup)
        params = market_params(setup.markets, setup.assets)
        positions, groups, _ = state.sort_population(setup.positions, params)
        sorted_at = time.perf_counter()
        del setup.positions
        outcome = driver.run_path(setup, params, positions, groups, n_accounts, True)
        finished = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reads = []
        for _ in range(5):
            t0 = time.perf_counter()
            read_positions_once(
                positions.quantity,
                positions.entry_price,
                positions.margin,
                positions.liquidation_price,
                positions.market,
                positions.side,
                positions.status,
                positions.account,
            )
            reads.append(time.perf_counter() - t0)
        n = positions.quantity.shape[0]
        liquidated = int(outcome.account_liquidated.sum())
        runs.append(
            {
                "positions": n,
                "liquidated_accounts": liquidated,
                "liquidated_fraction": liquidated / n,
                "population_s": built - start,
                "prices_and_sort_s": sorted_at - built,
                "cascade_loop_s": finished - sorted_at,
                "total_s": finished - start,
                "read_positions_once_s": min(reads),
                "peak_bytes_per_position": peak / n,
            }
        )
        del outcome, positions, groups
    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    summary["loop_over_read"] = summary["cascade_loop_s"] / summary["read_positions_once_s"]
    summary["repeat"] = repeat
    return summary


COMPILE_PROBE = """
import time, sys
start = time.perf_counter()
sys.path.insert(0, {root!r})
import cascadesim
from cascadesim.scenario.models import Scenario
result = cascadesim.simulate(Scenario.from_toml({gentle!r}))
print(time.perf_counter() - start)
"""


def measure_compile() -> dict:
    """Seconds to the first result in a fresh process: empty cache, then warm cache."""
    probe = COMPILE_PROBE.format(
        root=str(ROOT), gentle=str(ROOT / "cascadesim/scenario/bundled" / "gentle.toml")
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
            )
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return {"cold_start_s": times[0], "warm_start_s": times[1]}


def measure_reference_speedup(accounts: float = 1e4, duration_s: int = 600) -> dict:
    """The numba engine against the pure-Python reference on the same setup (one path)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from reference.engine_reference import reference_run

    scenario = scenario_with_accounts(accounts)
    scenario.duration_s = duration_s
    setup = scenario.build()
    driver.simulate(setup, counterfactual=False)  # compiled and warm
    start = time.perf_counter()
    result = driver.simulate(setup, counterfactual=False)
    engine_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = reference_run(setup)
    reference_s = time.perf_counter() - start
    return {
        "positions": len(setup.positions),
        "steps": setup.n_steps,
        "liquidation_events": int(len(result.liquidations)),
        "reference_events": int(len(reference["events"])),
        "engine_s": engine_s,
        "reference_s": reference_s,
        "speedup": reference_s / engine_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--whole-market",
        action="store_true",
        help="scale depth, insurance fund, arbitrage and spot depth with the open interest",
    )
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args()
    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if not arguments.skip_compile:
        report["compile"] = measure_compile()
        print("compile:", report["compile"], flush=True)
    driver.simulate(scenario_with_accounts(1e4))  # compile every kernel before timing
    for size in arguments.sizes:
        report[f"{size:.0e}"] = measure_size(size, arguments.repeat, arguments.whole_market)
        print(f"{size:.0e}:", json.dumps(report[f"{size:.0e}"], indent=1), flush=True)
    if not arguments.skip_reference:
        report["reference"] = measure_reference_speedup()
        print("reference:", report["reference"], flush=True)
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
