"""Sweeps: bit-identical backends, resume, one-line validation errors, dotted paths, seeding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.model.venues import VENUES
from cascadesim.sweep.run import PARTIAL_FOLDER, run_sweep
from cascadesim.sweep.spec import load_sweep
from tests.cli import run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("paths.parquet", "points.parquet", "price_paths.parquet")

TINY = """
name = "tiny"
scenario = "gentle"
paths = 3
seed = 5
chunk_paths = 1

[fixed]
duration_s = 120
"population.accounts" = 1000

[shock]
drop_fraction = {distribution = "uniform", low = 0.02, high = 0.1}
at_s = 10
ramp_s = {distribution = "loguniform", low = 5, high = 60}

[design]
[design.parameters]
"population.leverage.max" = [10, 50]
"""

TWO_MARKETS = """
name = "two_markets"
duration_s = 60
[assets.BTC]
spot_depth_1pct_usd = 50e6
[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100000
tick_usd = 10
open_interest_usd = 5e6
depth_1pct_usd = 2e6
[markets."BTC.bybit"]
asset = "BTC"
venue = "bybit"
price_usd = 100000
tick_usd = 10
open_interest_usd = 5e6
depth_1pct_usd = 2e6
[population]
accounts = 200
[shock]
kind = "index_jump"
drop_fraction = 0.03
at_s = 10
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_same_outputs(first: Path, second: Path) -> None:
    """The parquet outputs are the same tables and the same bytes."""
    for name in OUTPUTS:
        assert pq.read_table(first / name).equals(pq.read_table(second / name)), name
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    sweep_file = write(folder, "tiny.toml", TINY)
    outcome = run_sweep(sweep_file, folder / "serial", plots=False, report=False)
    return sweep_file, outcome


# --- equivalence of the backends ----------------------------------------------------------
def test_serial_equals_two_processes(serial_run, tmp_path):
    sweep_file, serial = serial_run
    parallel = run_sweep(sweep_file, tmp_path / "processes", workers=2, plots=False, report=False)
    assert parallel.backend == "processes" and parallel.tasks_computed == 6
    assert_same_outputs(serial.directory, parallel.directory)


def test_serial_equals_dask_local_cluster(serial_run, tmp_path):
    pytest.importorskip("distributed")
    sweep_file, serial = serial_run
    clustered = run_sweep(
        sweep_file, tmp_path / "dask", workers=2, scheduler="local", plots=False, report=False
    )
    assert clustered.backend == "dask"
    assert_same_outputs(serial.directory, clustered.directory)


def test_results_do_not_depend_on_chunking(serial_run):
    from cascadesim.sweep.tasks import point_jobs, run_chunk

    sweep_file, _ = serial_run
    job = point_jobs(load_sweep(sweep_file))[1]
    whole, _ = run_chunk(job, 0, 3)
    first, _ = run_chunk(job, 0, 1)
    rest, _ = run_chunk(job, 1, 3)
    assert whole.slice(0, 1).equals(first) and whole.slice(1, 2).equals(rest)


def test_paths_table_has_figures_design_and_shock(serial_run):
    _, outcome = serial_run
    paths = outcome.paths
    assert list(paths.columns[:3]) == ["point", "path", "population.leverage.max"]
    for column in (
        "liquidated_total_usd",
        "bad_debt_usd",
        "amplification",
        "max_drawdown",
        "adl_count",
        "shock_drop_fraction",
        "shock_ramp_s",
        "insurance_fund_drawdown_usd",
    ):
        assert column in paths.columns
    assert paths[["point", "path"]].to_numpy().tolist() == [
        [p, k] for p in range(2) for k in range(3)
    ]
    # common random numbers: path k draws the same shock at every point
    shocks = paths.pivot(index="path", columns="point", values="shock_drop_fraction")
    assert (shocks[0] == shocks[1]).all()
    assert ((paths.shock_drop_fraction >= 0.02) & (paths.shock_drop_fraction <= 0.1)).all()
    points = outcome.points
    for column in (
        "liquidated_total_usd_p99",
        "bad_debt_usd_p95",
        "amplification_p50",
        "adl_probability",
        "insurance_fund_drawdown_usd_mean",
    ):
        assert column in points.columns
    metadata = pq.read_schema(outcome.directory / "paths.parquet").metadata
    assert (
        metadata[b"cascadesim.sweep_hash"].decode()
        == load_sweep(outcome.directory / "sweep.toml").hash()
    )
    assert metadata[b"cascadesim.seed"] == b"5"


# --- resuming -----------------------------------------------------------------------------
def test_resume_after_interruption_gives_the_same_files(serial_run, tmp_path):
    sweep_file, serial = serial_run
    out = tmp_path / "interrupted"

    def stop_after_two(chunks: int) -> None:
        if chunks == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_file, out, on_chunk=stop_after_two, plots=False, report=False)
    assert not (out / "paths.parquet").exists()
    assert len(list((out / PARTIAL_FOLDER).glob("chunk-*.parquet"))) == 2
    resumed = run_sweep(sweep_file, out, plots=False, report=False)
    assert resumed.tasks_reused == 2 and resumed.tasks_computed == 4
    assert_same_outputs(serial.directory, out)


def test_more_paths_extend_a_finished_sweep(tmp_path):
    sweep_file = write(tmp_path, "tiny.toml", TINY)
    run_sweep(sweep_file, tmp_path / "grown", paths=2, plots=False, report=False)
    grown = run_sweep(sweep_file, tmp_path / "grown", paths=3, plots=False, report=False)
    assert grown.tasks_reused == 4
    direct = run_sweep(sweep_file, tmp_path / "direct", paths=3, plots=False, report=False)
    assert_same_outputs(direct.directory, grown.directory)


def test_another_sweep_refuses_to_resume_into_the_folder(serial_run, tmp_path):
    sweep_file, serial = serial_run
    other = write(tmp_path, "other.toml", TINY.replace("seed = 5", "seed = 6"))
    with pytest.raises(CascadesimInputError, match="another sweep"):
        run_sweep(other, serial.directory, plots=False, report=False)


@pytest.mark.slow
def test_resume_after_killing_the_command(tmp_path):
    sweep_file = write(tmp_path, "tiny.toml", TINY.replace("paths = 3", "paths = 12"))
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    command = [
        sys.executable,
        "-m",
        "cascadesim.cli.commands",
        "sweep",
        str(sweep_file),
        "--out",
        str(tmp_path / "killed"),
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    partial = tmp_path / "killed" / PARTIAL_FOLDER
    deadline = time.monotonic() + 300
    while len(list(partial.glob("chunk-*.parquet"))) < 3 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = len(list(partial.glob("chunk-*.parquet")))
    assert 3 <= saved < 24 and not (tmp_path / "killed" / "paths.parquet").exists()
    resumed = run_cli(
        "sweep", str(sweep_file), "--out", str(tmp_path / "killed"), "--json", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    whole = run_cli("sweep", str(sweep_file), "--out", str(tmp_path / "whole"), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert_same_outputs(tmp_path / "whole", tmp_path / "killed")


@pytest.mark.slow
def test_a_lost_dask_worker_is_retried_with_identical_results(serial_run, tmp_path):
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    sweep_file, serial = serial_run
    killed = []

    def kill_a_worker(chunks: int) -> None:
        if killed:
            return
        # LocalCluster's nannies live in this process; its workers are spawned children.
        workers = [
            child
            for child in psutil.Process().children()
            if any("spawn_main" in part for part in child.cmdline())
        ]
        if workers:
            workers[0].kill()
            killed.append(workers[0].pid)

    lost = run_sweep(
        sweep_file,
        tmp_path / "lost",
        workers=2,
        scheduler="local",
        on_chunk=kill_a_worker,
        plots=False,
        report=False,
    )
    assert killed and lost.tasks_computed == 6
    assert_same_outputs(serial.directory, lost.directory)


# --- the command line ---------------------------------------------------------------------
def test_cli_writes_plots_and_report(tmp_path):
    sweep_file = write(tmp_path, "tiny.toml", TINY)
    result = run_cli("sweep", str(sweep_file), "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "cascadesim-out" / "tiny"
    names = {path.name for path in out.iterdir()}
    assert {
        "paths.parquet",
        "points.parquet",
        "price_paths.parquet",
        "report.html",
        "sweep.toml",
        "fan_chart.png",
        "loss_distributions.png",
        "drawdown_tails.png",
        "adl_probability.png",
    } <= names
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and "<script" not in report
    assert "Traceback" not in result.stderr


BAD_SWEEPS = [
    ("paths = 3\n", 'paths = "many"\n', "paths = 'many': a whole number"),
    ("seed = 5\n", "seed = 5\nworkers = 2\n", "workers = 2: not a field here"),
    ("low = 0.02, high = 0.1", "low = 0.2, high = 0.1", "shock.drop_fraction = "),
    (
        '{distribution = "uniform", low = 0.02, high = 0.1}',
        '{distribution = "cauchy"}',
        "shock.drop_fraction.distribution = 'cauchy': one of",
    ),
    (
        '{distribution = "uniform", low = 0.02, high = 0.1}',
        '{distribution = "uniform"}',
        "a uniform distribution needs high, low",
    ),
    (
        '{distribution = "uniform", low = 0.02, high = 0.1}',
        "1.5",
        "shock.drop_fraction = 1.5: every draw between -0.99 and 0.99",
    ),
    (
        '"population.leverage.max" = [10, 50]',
        '"population.leverage.maximum" = [10, 50]',
        "'maximum' is not a field of population.leverage (did you mean 'max'?)",
    ),
    (
        '"population.leverage.max" = [10, 50]',
        '"markets.ETH.depth_1pct_usd" = [1e6]',
        "a name of markets (or *): BTC-binance",
    ),
    (
        '"population.leverage.max" = [10, 50]',
        '"population.leverage.max" = [10, "x"]',
        "design.parameters.\"population.leverage.max\"[1] = 'x': gives "
        "population.leverage.max = 'x': a number",
    ),
    (
        '"population.leverage.max" = [10, 50]',
        '"markets.*.insurance_fund_usd" = [-1]',
        'design.parameters."markets.*.insurance_fund_usd"[0] = -1',
    ),
    (
        '"population.accounts" = 1000',
        '"population.accounts" = 1.5',
        "fixed: population.accounts = 1.5: a whole number",
    ),
    ('scenario = "gentle"', 'scenario = "no_such_scenario"', "not a bundled scenario"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_SWEEPS)
def test_sweep_file_errors_are_one_line(tmp_path, old, new, expected):
    assert old in TINY
    sweep_file = write(tmp_path, "bad.toml", TINY.replace(old, new, 1))
    with pytest.raises(CascadesimInputError) as error:
        load_sweep(sweep_file)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{sweep_file}: ")
    assert expected in message


def test_cli_validation_error_exit_2_without_traceback(tmp_path):
    sweep_file = write(tmp_path, "bad.toml", TINY.replace("paths = 3", "paths = 0"))
    result = run_cli("sweep", str(sweep_file), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "paths = 0: a number >= 1" in result.stderr
    result = run_cli("sweep", str(write(tmp_path, "ok.toml", TINY)), "--workers", "0", cwd=tmp_path)
    assert result.returncode == 2 and "--workers = 0" in result.stderr


# --- dotted paths -------------------------------------------------------------------------
def test_dotted_paths_and_wildcards_apply(tmp_path):
    write(tmp_path, "two_markets.toml", TWO_MARKETS)
    sweep_file = write(
        tmp_path,
        "paths.toml",
        """
name = "dotted"
scenario = "two_markets.toml"
paths = 1
seed = 1
[fixed]
"markets.BTC.bybit.overrides.liquidation_fee_rate" = 0.002
"venues.binance.partial_liquidation" = false
[design]
[design.parameters]
"markets.*.insurance_fund_usd" = [1e6, 2e6]
"venues.bybit.mmr_scale" = [1.5]
"population.leverage.max" = [20]
""",
    )
    sweep = load_sweep(sweep_file)
    assert sweep.n_points == 2
    for scenario, fund in zip(sweep.scenarios, (1e6, 2e6), strict=True):
        binance, bybit = scenario.market_specs()
        assert binance.insurance_fund_usd == bybit.insurance_fund_usd == fund
        assert binance.partial_mode == "none" and bybit.partial_mode != "none"
        assert bybit.liquidation_fee_rate == 0.002
        venue_rates = VENUES["bybit"].tiers("BTC").mmr
        assert bybit.tier_mmr == pytest.approx(tuple(1.5 * rate for rate in venue_rates))
        assert binance.tier_mmr == pytest.approx(tuple(VENUES["binance"].tiers("BTC").mmr))
        assert scenario.population.leverage.max == 20
    setup = sweep.scenarios[0].build()
    positions = setup.positions
    leverage_at_entry = positions.quantity * positions.entry_price / positions.margin
    assert leverage_at_entry.max() <= 20 * (1 + 1e-9)


def test_random_design_is_reproducible(tmp_path):
    text = TINY.replace(
        '"population.leverage.max" = [10, 50]',
        '"markets.*.insurance_fund_usd" = {distribution = "loguniform", low = 1e5, high = 1e7}',
    ).replace("[design]", '[design]\nkind = "random"\npoints = 4')
    first = load_sweep(write(tmp_path, "random.toml", text))
    again = load_sweep(tmp_path / "random.toml")
    values = [v["markets.*.insurance_fund_usd"] for v in first.point_values]
    assert values == [v["markets.*.insurance_fund_usd"] for v in again.point_values]
    assert len(set(values)) == 4 and all(1e5 <= v <= 1e7 for v in values)
    assert first.hash() == again.hash()


def test_redrawn_populations_differ_per_path(tmp_path):
    from cascadesim.sweep.tasks import point_jobs, run_chunk

    text = TINY.replace("chunk_paths = 1", "chunk_paths = 1\nredraw_population = true")
    job = point_jobs(load_sweep(write(tmp_path, "redraw.toml", text)))[0]
    table, _ = run_chunk(job, 0, 3)
    seeds = table["population_seed"].to_pylist()
    assert len(set(seeds)) == 3
    again, _ = run_chunk(job, 2, 3)
    assert table.slice(2).equals(again)
    assert np.unique(table["open_interest_after_usd"].to_numpy()).size == 3


@pytest.mark.parametrize(
    "shock",
    [
        {"drop_fraction": {"distribution": "uniform", "low": 0.01, "high": 0.05}, "at_s": 1},
        {"drop_fraction": 0.03, "ramp_s": {"distribution": "fixed", "value": 0.0}},
    ],
)
def test_a_random_shock_reads_back_from_the_dump_a_worker_receives(shock):
    # A worker rebuilds the shock from model_dump(exclude_unset=True): a default or fixed
    # distribution in it must keep its tag (the bench's sweep without ramp_s failed here).
    from cascadesim.sweep.spec import RandomShock

    original = RandomShock.model_validate(shock)
    sent = original.model_dump(exclude_unset=True)
    assert RandomShock.model_validate(sent) == original


LEAK_SWEEP = """
name = "history"
scenario = "default"
paths = 6
seed = 3

[fixed]
duration_s = 600
"population.accounts" = 5000

[shock]
drop_fraction = {distribution = "uniform", low = 0.06, high = 0.10}
at_s = 30
ramp_s = 60
"""


def test_a_path_does_not_depend_on_the_paths_run_before_it_in_the_process(tmp_path):
    # The watch list rewrites a row's threshold and tier; a path that reused the point's
    # sorted population after another path had run saw those rows moved (serial and
    # two-process sweeps then differed on a path in ten).
    from cascadesim.sweep import tasks

    job = tasks.point_jobs(load_sweep(write(tmp_path, "history.toml", LEAK_SWEEP)))[0]
    alone = []
    for path in range(6):
        tasks._prepared.clear()  # as if in a fresh worker process
        alone.append(tasks.run_chunk(job, path, path + 1)[0])
    tasks._prepared.clear()
    together, _ = tasks.run_chunk(job, 0, 6)
    for path, table in enumerate(alone):
        assert together.slice(path, 1).equals(table), f"path {path} changed by the paths before it"


def test_a_sweep_keeps_per_market_tables_and_the_population_model_as_written(tmp_path):
    """A point's scenario is the file's keys, not every default: a market's own
    [population] table must not bring default leverage mixes over the profile's."""
    from cascadesim.scenario.bundled import bundled_directory
    from cascadesim.scenario.models import Scenario
    from cascadesim.sweep.spec import load_sweep
    from cascadesim.sweep.tasks import point_jobs

    event = bundled_directory() / "events" / "2025-09-22-monday-long-flush.toml"
    text = event.read_text() + "\n[markets.BTC-binance.population.entry]\nspread_fraction = 0.02\n"
    (tmp_path / "event.toml").write_text(text)
    (tmp_path / "s.toml").write_text(
        'name = "s"\nscenario = "event.toml"\npaths = 1\nseed = 1\n\n[fixed]\nduration_s = 7200\n'
        '\n[design]\nkind = "grid"\n[design.parameters]\n"markets.*.mmr_scale" = [1.0, 1.5]\n'
    )
    original = Scenario.from_toml(tmp_path / "event.toml")
    sweep = load_sweep(tmp_path / "s.toml")
    job = point_jobs(sweep)[1]
    rebuilt = Scenario.from_data(job.scenario, tmp_path / "event.toml")
    for name in original.markets:
        assert rebuilt.population_for(name) == original.population_for(name), name
    assert rebuilt.population_for("BTC-binance").entry.spread_fraction == 0.02
    assert rebuilt.markets["ETH-binance"].mmr_scale == 1.5


def test_points_carry_intervals_and_few_paths_are_said(serial_run, tmp_path):
    from cascadesim._util.intervals import percentile_interval, probability_interval

    _, outcome = serial_run
    paths = pd.read_parquet(outcome.directory / "paths.parquet")
    points = pd.read_parquet(outcome.directory / "points.parquet")
    for _, row in points.iterrows():
        mine = paths[paths["point"] == row["point"]]
        adl = int((mine["adl_count"] > 0).sum())
        assert (row["adl_probability_low"], row["adl_probability_high"]) == pytest.approx(
            probability_interval(adl, len(mine))
        )
        low, high = percentile_interval(mine["liquidated_total_usd"].to_numpy(), 0.99)
        assert row["liquidated_total_usd_p99_low"] == pytest.approx(low)
        assert row["liquidated_total_usd_p99_high"] == high == float("inf")  # 3 paths
    done = run_cli("sweep", str(write(tmp_path, "tiny.toml", TINY)), "--out", "s", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: 3 paths per point cannot bound the 99th percentile" in done.stdout
    report = (tmp_path / "s" / "report.html").read_text()
    assert "P(ADL), 95 % interval" in report and "unbounded (too few paths)" in report
    assert 'class="warning">3 paths per point cannot bound the 99th percentile' in report
