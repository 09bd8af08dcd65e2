"""Loading an exchange's book of positions (issue 17): 1e7 rows from CSV and from Parquet.

Writes a synthetic book for the bundled ``default`` scenario (BTC on Binance at 100,000 USD):
``--rows`` positions of distinct accounts, lognormal notionals around 2,500 USD, leverage 2x
to 20x, entries within about 1 % of the price, a quarter of the accounts cross-margined.
Then, in a fresh process per file (so that peak memory is the load's own), times
``read_position_book`` (parse and check every row) and ``place_book`` (engine rows, the
start check against maintenance margin), and reads the process's peak resident memory.
``--run`` also simulates the placed book once (no counterfactual).

    python benchmarks/bench_positions.py [--rows 1e7] [--run] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def synthetic_book(rows: int, seed: int = 17) -> pa.Table:
    rng = np.random.default_rng(seed)
    price = 100_000.0
    notional = np.exp(rng.normal(np.log(2_500.0), 1.2, rows)).clip(20.0, 5e7)
    leverage = rng.choice([2.0, 3.0, 5.0, 10.0, 20.0], rows)
    entry = price * (1.0 + rng.normal(0.0, 0.01, rows))
    side = rng.random(rows) < 0.6
    names = pc.binary_join_element_wise("acct", pa.array(np.arange(rows)).cast(pa.string()), "")
    return pa.table(
        {
            "account": names,
            "market": pa.array(np.full(rows, "BTC-binance", dtype=object), pa.string()),
            "side": pa.array(np.where(side, "long", "short").astype(object), pa.string()),
            "quantity": notional / entry,
            "entry_price": entry,
            "margin": notional / leverage,
            "margin_mode": pa.array(
                np.where(rng.random(rows) < 0.25, "cross", "isolated").astype(object), pa.string()
            ),
            "leverage": leverage,
        }
    )


def measure(path: str, run: bool) -> dict:
    """In this (fresh) process: load, place and optionally run one book file."""
    sys.path.insert(0, str(ROOT))
    from cascadesim.marketdata.positions_file import read_position_book
    from cascadesim.model.position_book import place_book
    from cascadesim.scenario.bundled import resolve_scenario
    from cascadesim.scenario.models import Scenario
    from cascadesim.sim.driver import simulate

    scenario = Scenario.from_toml(resolve_scenario("default"))
    setup = scenario.build()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    book = read_position_book(path, list(scenario.markets), setup.markets)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    placement = place_book(setup, book, replace=True)
    place_s = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {
        "file": Path(path).name,
        "file_bytes": os.path.getsize(path),
        "rows": len(book),
        "read_and_check_s": read_s,
        "place_s": place_s,
        "below_maintenance_at_start": len(placement.breached),
        "peak_rss_mib": peak_rss / 1024,
        "peak_rss_above_scenario_mib": (peak_rss - base_rss) / 1024,
    }
    if run:
        started = time.perf_counter()
        summary = simulate(placement.setup, counterfactual=False).summary
        figures["simulate_s"] = time.perf_counter() - started
        figures["accounts_liquidated"] = int(summary["accounts_liquidated"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(arguments.measure, arguments.run)))
        return
    rows = int(arguments.rows)
    results = {"rows": rows, "load_average": os.getloadavg()[0], "files": []}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        table = synthetic_book(rows)
        csv_path, parquet_path = Path(folder) / "book.csv", Path(folder) / "book.parquet"
        pcsv.write_csv(table, csv_path)
        pq.write_table(table, parquet_path)
        del table
        results["write_s"] = time.perf_counter() - started
        for path in (csv_path, parquet_path):
            command = [sys.executable, __file__, "--measure", str(path)]
            if arguments.run:
                command.append("--run")
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            results["files"].append(figures)
            print(json.dumps(figures))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
