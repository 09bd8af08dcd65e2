"""Multi-market scaling (issue 4): the same number of positions over 1, 10 and 50 markets.

Builds scenarios of 5 venues x N assets (BTC on binance alone for 1 market), one hour of
one-second steps, a 6 % shock to the market factor that every asset follows with its beta,
and the total open interest fixed so the population size stays the same. The venues' rules
and the betas (1.0 to 1.9) make that a larger cascade than the single market's, so the
engine's own cost of many markets is measured on "replicas" as well: 50 binance markets
with beta 1, each with 1/50 of the book depth (and each asset 1/10 of the spot depth), so
that every market is a scaled copy of the single one and liquidates the same share.
Also measures the per-step cost of quiet markets: 50 markets with no positions and no
shock. Run:

    python benchmarks/bench_markets.py [--accounts 1e7] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascadesim.model.market import market_params  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim import driver, state  # noqa: E402

VENUES = ["binance", "okx", "bybit", "hyperliquid", "dydx"]
MEAN_POSITION_USD = 8_617.0  # mean of the default size distribution (see population.py)


def scenario_text(
    n_venues: int,
    n_assets: int,
    accounts: float,
    duration_s: int,
    drop: float,
    replicas: bool = False,
) -> str:
    """TOML of a venues x assets scenario with about ``accounts`` accounts in total;
    ``replicas`` makes every market a scaled copy of the single binance market."""
    n_markets = n_venues * n_assets
    # leveraged notional = 2 x share x OI; accounts = leveraged notional / mean size
    open_interest = accounts * MEAN_POSITION_USD / (2 * 0.5) / n_markets
    spot_depth = 300e6 / n_assets if replicas else 300e6
    depth = 50e6 / n_markets if replicas else 50e6
    lines = [
        f'name = "scaling-{n_markets}"',
        'description = "benchmark"',
        "seed = 1",
        f"duration_s = {duration_s}",
        "step_s = 1",
        "",
    ]
    for a in range(n_assets):
        beta = 1.0 if replicas else 1.0 + 0.1 * a
        lines += [
            f"[assets.A{a}]",
            f"spot_depth_1pct_usd = {spot_depth}",
            f"factor_weight = {1.0 if a == 0 else 0.0}",
            f"beta = {beta}",
            "",
        ]
    for a in range(n_assets):
        for venue in VENUES[:n_venues]:
            lines += [
                f"[markets.A{a}-{venue}]",
                f'asset = "A{a}"',
                f'venue = "{"binance" if replicas else venue}"',
                "price_usd = 100",
                f"open_interest_usd = {open_interest}",
                "funding_rate = 0.0003",
                f"depth_1pct_usd = {depth}",
                f"insurance_fund_usd = {1e8 / n_markets if replicas else 1e8}",
                f"backstop_usd = {1e8 / n_markets if replicas else 1e8}",
                "",
            ]
    lines += [
        "[population]",
        "leveraged_share_of_open_interest = 0.5",
        f"max_accounts = {int(accounts * 2) + 10}",
        "",
        "[population.leverage]",
        "values = [2, 5, 10, 20, 50]",
        "weights = [0.2, 0.3, 0.3, 0.15, 0.05]",
        "",
    ]
    if drop:
        lines += [
            "[shock]",
            'kind = "index_jump"',
            'asset = "A0"',
            f"drop_fraction = {drop}",
            "at_s = 300",
            "ramp_s = 300",
        ]
    else:
        lines += [
            "[shock]",
            'kind = "index_jump"',
            'asset = "A0"',
            "drop_fraction = 0.0",
            "at_s = 0",
        ]
    return "\n".join(lines) + "\n"


def time_run(text: str, repeat: int) -> dict:
    """Median seconds of build, sort and the cascade loop (liquidations on)."""
    scenario = Scenario.from_toml_text(text)
    rows = []
    for _ in range(repeat):
        start = time.perf_counter()
        setup = scenario.build()
        built = time.perf_counter()
        n_accounts = state.validate_setup(setup)
        params = market_params(setup.markets, setup.assets)
        positions, groups, _ = state.sort_population(setup.positions, params)
        sorted_at = time.perf_counter()
        outcome = driver.run_path(setup, params, positions, groups, n_accounts, True)
        done = time.perf_counter()
        rows.append(
            {
                "positions": len(positions.quantity),
                "liquidated_accounts": int(outcome.account_liquidated.sum()),
                "events": int(outcome.events.size),
                "population_s": built - start,
                "prices_and_sort_s": sorted_at - built,
                "cascade_loop_s": done - sorted_at,
                "total_s": done - start,
            }
        )
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=float, default=1e7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args()
    time_run(scenario_text(1, 1, 1e4, 600, 0.06), 1)  # compile before timing
    report = {}
    for n_venues, n_assets, replicas in (
        (1, 1, False),
        (5, 2, False),
        (5, 10, False),
        (5, 10, True),
    ):
        key = f"{n_venues * n_assets}_{'replicas' if replicas else 'markets'}"
        report[key] = time_run(
            scenario_text(n_venues, n_assets, arguments.accounts, 3600, 0.06, replicas),
            arguments.repeat,
        )
        print(key, json.dumps(report[key]), flush=True)
    quiet = time_run(scenario_text(5, 10, 50, 3600, 0.0), arguments.repeat)
    quiet["per_market_step_us"] = quiet["cascade_loop_s"] / (50 * 3600) * 1e6
    report["50_quiet_markets"] = quiet
    print("50 quiet markets", json.dumps(quiet), flush=True)
    for key in ("50_markets", "50_replicas"):
        report[f"ratio_{key}_to_1"] = report[key]["total_s"] / report["1_markets"]["total_s"]
        print(f"ratio {key} / 1 market:", report[f"ratio_{key}_to_1"])
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
