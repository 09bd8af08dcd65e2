"""The command line's layers that the end-to-end tests leave out: ``calibrate
--cross-validate``'s files and tables (on a fit given by hand, so that every figure in them
can be checked against it), its refusals, and the console helpers.

A real cross-validation runs every event day of the library many times (22 min on two cores,
``tests/test_library_fit.py`` checks the fit itself); here ``cross_validate`` is replaced by
one that returns a known :class:`CrossValidation`, so what is checked is what the command
does with a fit: the profile it writes, the JSON record, the Markdown tables, the runs cache.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from cascadesim.cli import cross_validate as command
from cascadesim.events.library_fit import PARAMETERS, CrossValidation, Prediction
from tests.cli import run_cli

EVENTS = ["2022-11-08-ftx-crisis", "2024-04-13-iran-attack"]
START = {p.name: p.start for p in PARAMETERS}
FITTED = {
    "base_share_major": 0.1234567,
    "opening_share_of_volume": 0.03,
    "momentum": 1.5,
    "funding_skew": 0.25,
}


def figures(total: float, passed: bool) -> list[dict]:
    return [
        {
            "name": "total_usd",
            "reported": None,
            "low": 200e6,
            "high": 300e6,
            "simulated": total,
            "interval_90": [total * 0.5, total * 2.0],
            "passed": passed,
        },
        {
            "name": "long_share",
            "reported": 0.7,
            "simulated": 0.66,
            "interval_90": [0.6, 0.8],
            "passed": True,
        },
        {
            "name": "accounts_min",
            "reported": 120_000.0,
            "simulated": 150_000.0,
            "interval_90": [100_000.0, 200_000.0],
            "passed": True,
        },
    ]


def marks(total: int, long: int, accounts: int, coverage: float | None) -> dict:
    return {
        "total": {"passed": total, "of": 2},
        "long_share": {"passed": long, "of": 2},
        "accounts": {"passed": accounts, "of": 2},
        "coverage": coverage,
        "coverage_with_model_error": 0.9,
    }


def known_fit() -> CrossValidation:
    held_out = {
        EVENTS[0]: {**FITTED, "momentum": 1.2},
        EVENTS[1]: {**FITTED, "momentum": 1.9},
    }
    return CrossValidation(
        events=list(EVENTS),
        design=[START, FITTED],
        start_values=START,
        in_sample_values=FITTED,
        start_loss=2.345678,
        in_sample_loss=1.2,
        leave_one_out_values=held_out,
        in_sample=[Prediction(e, FITTED, figures(250e6, True)) for e in EVENTS],
        leave_one_out=[Prediction(e, held_out[e], figures(400e6, False)) for e in EVENTS],
        runs=12,
        seconds=3.0,
        summary={"in_sample": marks(2, 2, 1, 0.75), "leave_one_out": marks(0, 1, 2, None)},
    )


@pytest.fixture
def fake_fit(monkeypatch):
    """cross_validate replaced by a known fit; records what the command asked of it."""
    calls: list[dict] = []

    def fake(paths, *, design_size, seeds, mapper, report, cache):
        calls.append({"paths": paths, "design_size": design_size, "seeds": seeds})
        report("fitting (a line on stderr)")
        if cache is not None:
            cache["run-key"] = {"total_usd": 1.0}
        return known_fit()

    monkeypatch.setattr(command, "cross_validate", fake)
    return calls


def test_cross_validation_writes_the_profile_record_tables_and_cache(fake_fit, tmp_path):
    result = run_cli(
        "calibrate",
        "--cross-validate",
        *EVENTS,
        "--design-points",
        "3",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--out",
        "fitted.toml",
        "--report",
        "record.json",
        "--markdown",
        "tables.md",
        "--runs-cache",
        "runs.json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert fake_fit[0]["design_size"] == 3 and fake_fit[0]["seeds"] == 1
    assert [p.stem for p in fake_fit[0]["paths"]] == EVENTS
    assert "fitting (a line on stderr)" in result.stderr

    profile = tomllib.loads((tmp_path / "fitted.toml").read_text(encoding="utf-8"))
    assert profile["population_model"]["base_share_major"] == 0.123457  # rounded to 6
    assert profile["population_model"]["funding_skew"] == 0.25
    assert profile["flow"]["momentum"] == 1.5
    calibration = profile["calibration"]
    assert calibration["events"] == 2 and calibration["runs"] == 12
    assert calibration["loss_start"] == 2.3457 and calibration["loss_fitted"] == 1.2
    assert calibration["fitted_base_share_major"] == 0.123457

    record = json.loads((tmp_path / "record.json").read_text(encoding="utf-8"))
    assert record["events"] == EVENTS and record["runs"] == 12
    assert record["leave_one_out"][1]["values"]["momentum"] == 1.9
    assert record["summary"]["leave_one_out"]["coverage"] is None
    assert json.loads((tmp_path / "runs.json").read_text()) == {"run-key": {"total_usd": 1.0}}

    tables = (tmp_path / "tables.md").read_text(encoding="utf-8")
    assert "| total within its band | 2 of 2 (100 %) | 0 of 2 (0 %) | 75 % |" in tables
    assert "| long_share within its band | 2 of 2 (100 %) | 1 of 2 (50 %) | 75 % |" in tables
    assert "| 90 % intervals (seeds, parameters) covering | 75 % | n/a | 70 % |" in tables
    assert "| momentum | 1 | 1.5 | 1.2-1.9 |" in tables
    # One row per day and figure: reported band, in-sample, held out, its interval, pass.
    assert (
        f"| {EVENTS[0]} | total_usd | 200 M-300 M | 250 M | 400 M | 200 M-800 M | FAIL |" in tables
    )
    assert f"| {EVENTS[1]} | long_share | 70 % | 66 % | 66 % | 60 %-80 % | pass |" in tables
    assert f"| {EVENTS[1]} | accounts_min | >120 k | 150 k | 150 k | 100 k-200 k | pass |" in tables

    # The console gets the summary and the parameters, not the long per-figure table.
    assert "| momentum | 1 | 1.5 | 1.2-1.9 |" in result.stdout
    assert "total_usd | 200 M-300 M" not in result.stdout
    assert "profile written to fitted.toml (12 event runs, 3 s)" in result.stdout


def test_cross_validation_json_prints_the_summary_only(fake_fit, tmp_path):
    result = run_cli(
        "calibrate", "--cross-validate", *EVENTS, "--workers", "1", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == known_fit().summary
    assert result.stderr == ""  # the progress lines are for people, not for --json
    assert (tmp_path / command.DEFAULT_LIBRARY_OUT).is_file()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([EVENTS[0]], "scenarios = 1: at least two events to leave one out"),
        ([*EVENTS, "--design-points", "0"], "--design-points = 0: an integer from 1 to 4,096"),
        ([*EVENTS, "--seeds", "0"], "--seeds = 0: an integer from 1 to 100"),
        ([*EVENTS, "--workers", "0"], "--workers = 0: an integer >= 1"),
        ([*EVENTS, "--out", "."], "a file to write, not a folder"),
        ([*EVENTS, "--report", "missing/record.json"], "a file in an existing folder"),
        (["not-an-event", EVENTS[0]], "not-an-event: no such file, and not an event"),
    ],
)
def test_cross_validation_refuses_bad_arguments_before_any_run(
    fake_fit, tmp_path, arguments, message
):
    result = run_cli("calibrate", "--cross-validate", *arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert fake_fit == []  # refused before the fit started
    assert not (tmp_path / command.DEFAULT_LIBRARY_OUT).exists()


def test_cross_validation_never_writes_into_the_bundled_files(fake_fit, tmp_path):
    bundled = command.profile_directory() / "library.toml"
    result = run_cli("calibrate", "--cross-validate", *EVENTS, "--out", str(bundled), cwd=tmp_path)
    assert result.returncode == 2
    assert "a file outside the installed package's bundled files" in result.stderr
    assert fake_fit == []


def test_a_runs_cache_that_is_not_json_is_one_line_error(fake_fit, tmp_path):
    (tmp_path / "runs.json").write_text("{half a file", encoding="utf-8")
    result = run_cli(
        "calibrate", "--cross-validate", *EVENTS, "--runs-cache", "runs.json", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "runs.json: --runs-cache: not a runs file written by calibrate" in result.stderr
    assert result.stderr.count("\n") == 1 and fake_fit == []


def test_a_runs_cache_is_read_back_and_kept_when_the_fit_fails(monkeypatch, tmp_path):
    (tmp_path / "runs.json").write_text(json.dumps({"earlier": {"total_usd": 2.0}}))
    seen = []

    def failing(paths, *, design_size, seeds, mapper, report, cache):
        seen.append(dict(cache))
        cache["later"] = {"total_usd": 3.0}
        raise KeyboardInterrupt  # stopped half-way: the runs so far must be kept

    monkeypatch.setattr(command, "cross_validate", failing)
    result = run_cli(
        "calibrate", "--cross-validate", *EVENTS, "--runs-cache", "runs.json", cwd=tmp_path
    )
    assert result.returncode == 130
    assert seen == [{"earlier": {"total_usd": 2.0}}]
    kept = json.loads((tmp_path / "runs.json").read_text())
    assert kept == {"earlier": {"total_usd": 2.0}, "later": {"total_usd": 3.0}}
    assert not (tmp_path / command.DEFAULT_LIBRARY_OUT).exists()


def test_figures_are_written_in_the_units_of_their_name():
    assert command.format_figure("total_usd", 1_716e6) == "1,716 M"
    assert command.format_figure("long_share", 0.256) == "26 %"
    assert command.format_figure("open_interest_change", -0.12) == "-12 %"
    assert command.format_figure("accounts", 1_234_567) == "1,235 k"
    assert command.format_figure("total_usd", None) == "n/a"
    assert command.format_figure("total_usd", float("nan")) == "n/a"
    assert command.reported_text({"name": "largest_single_usd", "reported": 5e6}) == "5 M"


# --- liqprice: an inverse position as a table ----------------------------------------------
INVERSE = ["liqprice", "--venue", "bybit", "--entry", "8000", "--quantity", "10000"]
INVERSE += ["--mmr", "0.005", "--contract", "inverse"]


def table_rows(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        label, _, value = line.partition("  ")
        rows[label.strip()] = value.strip()
    return rows


def test_liqprice_prints_an_inverse_position_as_a_table(tmp_path):
    # The figures of tests/test_inverse_margin.py's cross long: bankruptcy where the 0.5 BTC
    # margin is lost (10,000 / 8,000 - 10,000 / P = 0.5, P = 5,714.29 plus the closing
    # fee), liquidation 0.5 % of the position's value above it.
    done = run_cli(
        *INVERSE, "--side", "long", "--margin", "0.5", "--margin-mode", "cross", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert rows["venue"] == "bybit (inverse, cross)"
    assert rows["position"] == "long 10,000 contracts x 1 USD = 10,000.00 USD at 8,000.00"
    assert rows["value at entry"] == "1.25 BTC" and rows["margin"] == "0.5 BTC"
    assert rows["liquidation price"] == "5,739.08 USD"
    assert rows["bankruptcy price"] == "5,718.57 USD"


def test_an_inverse_short_with_more_margin_than_its_value_is_never_liquidated(tmp_path):
    # A short's coin loss is capped at 10,000 / 8,000 = 1.25 BTC however high the price goes.
    done = run_cli(*INVERSE, "--side", "short", "--margin", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert rows["liquidation price"] == "never" and rows["bankruptcy price"] == "never"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--contract", "linear", "--contract-size", "100"], "only with --contract inverse"),
        (["--contract", "inverse", "--max-leverage", "20"], "none for an inverse contract"),
        (["--margin-mode", "portfolio"], "margin_mode = 'portfolio'"),
        (["--contract", "quanto"], "contract = 'quanto'"),
    ],
)
def test_liqprice_refuses_options_that_do_not_fit_the_contract(tmp_path, options, message):
    base = ["liqprice", "--venue", "bybit", "--side", "long", "--entry", "8000"]
    done = run_cli(*base, "--quantity", "1", "--leverage", "10", *options, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


# --- validate: the tables of event runs ----------------------------------------------------
def event_run(seeds: list[int], passed: bool, share: float | None) -> dict:
    return {
        "event": "2022-11-08-ftx-crisis",
        "mode": "calibrated",
        "count": "true",
        "seeds": seeds,
        "runtime_s": 41.6,
        "passed": passed,
        "figures": [
            {
                "name": "total_usd",
                "simulated": 812.5e6,
                "reported": 700e6,
                "ratio": 812.5 / 700,
                "band": "0.67-1.5x",
                "passed": True,
                "pass_rate": 2 / 3,
            },
            {
                "name": "long_share",
                "simulated": 0.615,
                "reported": None,
                "ratio": None,
                "band": "-",
                "passed": None,
                "pass_rate": None,
            },
        ],
        "reporting": {
            "true_total_usd": 812.5e6,
            "true_orders": 12_345,
            "visible_total_usd": 609.4e6,
            "visible_orders": 9_000,
            "gap_usd": 203.1e6,
            "visible_share": share,
        },
    }


def test_validate_prints_one_table_per_event_run_and_the_reporting_gap(capsys):
    from cascadesim.cli.validate import print_tables

    print_tables([event_run([1, 2, 3], True, 0.75), event_run([7], False, None)])
    out = capsys.readouterr().out
    assert "2022-11-08-ftx-crisis (calibrated, true count, median of 3 seeds, 42 s)" in out
    assert "2022-11-08-ftx-crisis (calibrated, true count, seed 7, 42 s)" in out
    assert "812.5 M" in out and "700.0 M" in out and "1.16" in out and "61.5 %" in out
    assert "67 %" in out  # the pass rate column, only where several seeds ran
    assert out.count("pass rate") == 1
    assert (
        "reporting model: true 812.5 M USD in 12,345 orders; visible to aggregators 609.4 M "
        "USD in 9,000 orders; gap 203.1 M USD (25.0 % unseen)"
    ) in " ".join(out.split())
    assert "gap 203.1 M USD\n" in out  # no share known: no unseen part
    assert out.rstrip().endswith("1 of 2 event runs pass every figure")


def test_validate_formats_each_figure_by_its_kind():
    from cascadesim.cli.validate import format_value

    assert format_value("total_usd", 1_716e6) == "1,716.0 M"
    assert format_value("largest_single_usd_min", 5e6) == "5.0 M"
    assert format_value("long_share", 0.256) == "25.6 %"
    assert format_value("price_drop_btc", 0.1) == "10.0 %"
    assert format_value("open_interest_change", -0.05) == "-5.0 %"
    assert format_value("accounts", 1_234_567.0) == "1,234,567"
    assert format_value("perp_low", 25_123.456) == "25,123.5"
    assert format_value("total_usd", None) == "n/a"


# --- the console helpers every command shares ----------------------------------------------
def test_the_progress_bar_appears_on_a_terminal_after_its_delay_and_goes_on_close():
    import io
    import time

    from rich.console import Console

    from cascadesim.cli.console import DelayedProgress

    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    bar = DelayedProgress(terminal, delay_s=0.01)
    bar.update("simulating", 30, 120)
    deadline = time.monotonic() + 10
    while bar.task is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with bar.lock:  # the timer thread has started it with what it was told so far
        assert bar.progress is not None
        task = bar.progress.tasks[0]
    assert (task.description, task.completed, task.total) == ("simulating", 30, 120)
    bar.update("writing outputs", 2, 5)
    assert (task.description, task.completed, task.total) == ("writing outputs", 2, 5)
    bar.close()
    assert bar.progress is None and bar.timer is None
    bar.start()  # a late timer after close shows nothing
    assert bar.progress is None


def test_the_progress_bar_never_shows_off_a_terminal():
    import io
    import time

    from rich.console import Console

    from cascadesim.cli.console import DelayedProgress

    piped = Console(file=io.StringIO(), force_terminal=False)
    bar = DelayedProgress(piped, delay_s=0.01)
    bar.update("simulating", 1, 2)
    time.sleep(0.1)
    assert bar.progress is None and piped.file.getvalue() == ""
    bar.close()


def test_an_interrupt_is_recognised_through_the_exceptions_it_caused():
    from cascadesim.cli.console import interrupted

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as cause:
            raise SystemError("returned a result with an exception set") from cause
    except SystemError as error:
        assert interrupted(error)
    assert not interrupted(SystemError("a real one"))
    assert not interrupted(ValueError("bad"))


def test_deferred_interrupts_wait_for_the_check_and_a_second_one_stops_at_once():
    import os
    import signal

    from cascadesim.cli.console import deferred_interrupts

    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupts() as check:
        check()  # nothing arrived yet
        os.kill(os.getpid(), signal.SIGTERM)  # deferred: the run goes on to its next check
        with pytest.raises(KeyboardInterrupt):
            check()
        with pytest.raises(KeyboardInterrupt):  # asked twice: at once, without a check
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the previous handlers are back


def test_deferred_interrupts_leave_signals_alone_off_the_main_thread():
    import signal
    import threading

    from cascadesim.cli.console import deferred_interrupts

    before = signal.getsignal(signal.SIGINT)
    seen = []

    def body():
        with deferred_interrupts() as check:
            check()
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]


def test_os_errors_are_one_line_with_a_long_name_shortened():
    from cascadesim.cli.console import describe_os_error

    assert describe_os_error(OSError(28, "No space left on device")) == "No space left on device"
    long = "/" + "a" * 100 + "/summary.json"
    text = describe_os_error(FileNotFoundError(2, "No such file or directory", long))
    name = text.split("'")[1]
    assert len(name) == 79 and name.startswith("/aaa") and name.endswith("a/summary.json")
    assert "..." in name and text.endswith(": No such file or directory")
    assert describe_os_error(PermissionError(13, "denied", "out\nput")) == "'out\\nput': denied"


def test_a_command_line_error_without_a_command_is_one_line(capsys):
    import click

    from cascadesim.cli.console import report_command_line_error

    error = click.ClickException("two\nlines")
    error.exit_code = 3
    assert report_command_line_error(error) == 3
    assert capsys.readouterr().err == "cascadesim: error: two\\nlines\n"


# --- explain and explore on a result folder ------------------------------------------------
def small_result_folder(folder, summary: dict | str):
    """A result folder as `cascadesim run` leaves it, as far as explain reads one: the
    scenario it ran (gentle, one calm minute, 100 accounts) and its summary."""
    from cascadesim.scenario.bundled import bundled_scenarios

    text = bundled_scenarios()["gentle"].read_text(encoding="utf-8")
    text = text.replace("duration_s = 1800", "duration_s = 60")
    text = text.replace("accounts = 1000 ", "accounts = 100 ")
    folder.mkdir()
    (folder / "scenario.toml").write_text(text, encoding="utf-8")
    body = summary if isinstance(summary, str) else json.dumps(summary)
    (folder / "summary.json").write_text(body, encoding="utf-8")
    return folder


def test_explain_warns_when_the_run_again_differs_from_the_summary(tmp_path):
    small_result_folder(tmp_path / "r", {"seed": 1, "liquidated_total_usd": -5.0})
    done = run_cli("explain", "r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("cascadesim: warning: the run again liquidated ")
    assert "r/summary.json says -5 (a different cascadesim version?)" in done.stderr
    assert done.stdout.startswith("The cascade of gentle:\n")


@pytest.mark.parametrize(
    "summary, message",
    [
        ("{half a file", "summary.json: not a readable summary ("),
        ({"seed": 1, "book": {"file": "gone.csv"}}, "book = 'gone.csv': the position book"),
    ],
)
def test_explain_refuses_a_result_folder_it_cannot_run_again(tmp_path, summary, message):
    small_result_folder(tmp_path / "r", summary)
    done = run_cli("explain", "r", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_explain_refuses_a_folder_that_is_no_result(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_cli("explain", "empty", cwd=tmp_path)
    assert done.returncode == 2
    assert "RESULT_DIR = 'empty': a folder written by `cascadesim run`" in done.stderr


def test_explore_writes_only_html_and_says_so_before_running(monkeypatch, tmp_path):
    from cascadesim.cli import explain

    def no_run(setup):
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(explain, "simulate", no_run)
    small_result_folder(tmp_path / "r", {"seed": 1})
    done = run_cli("explore", "r", "--out", "page.txt", cwd=tmp_path)
    assert done.returncode == 2
    assert "--out = 'page.txt': an .html file" in done.stderr
    assert not (tmp_path / "page.txt").exists()


# --- run: the console summary of a run over several venues --------------------------------
TWO_VENUES = """
name = "two_venues"
duration_s = 60
seed = 4
[assets.BTC]
spot_depth_1pct_usd = 50e6
[markets.BTC-binance]
asset = "BTC"
venue = "binance"
price_usd = 100000
tick_usd = 10
open_interest_usd = 5e6
depth_1pct_usd = 1e6
[markets.BTC-bybit]
asset = "BTC"
venue = "bybit"
price_usd = 100000
tick_usd = 10
open_interest_usd = 5e6
depth_1pct_usd = 1e6
[population]
accounts = 200
[shock]
kind = "index_jump"
drop_fraction = 0.06
at_s = 10
ramp_s = 20
"""


def test_the_summary_of_several_venues_has_a_row_per_venue_and_the_extras(capsys):
    from pathlib import Path

    from cascadesim._util.formatting import format_usd
    from cascadesim.cli.console import table_console
    from cascadesim.cli.run import print_summary
    from cascadesim.scenario.models import Scenario
    from cascadesim.sim.driver import simulate

    summary = dict(simulate(Scenario.from_toml_text(TWO_VENUES, "two_venues")).summary)
    venues = summary["by_venue"]
    assert sorted(venues) == ["binance", "bybit"]
    # What a run with collateral, a position book and market data adds (given here).
    summary["collateral"] = {
        "accounts": 40,
        "accounts_liquidated": 7,
        "accounts_liquidated_without_loss": 2,
    }
    summary["book"] = {
        "file": "/data/book.csv",
        "positions_run": 1234,
        "below_maintenance_at_start": 5,
        "by_account_tier": [
            {
                "tier": "< 10K",
                "accounts": 1000,
                "liquidated_long_usd": 2e6,
                "liquidated_short_usd": 5e5,
                "accounts_liquidated": 31,
                "shortfall_usd": 1.5e4,
                "bad_debt_usd": 0.0,
                "adl_closes": 3,
            }
        ],
    }
    summary["estimates"] = ["depth of bybit from its order book"]
    summary["snapshot"] = {
        "data": "live",
        "taken_utc": "2026-01-02T03:04:05Z",
        "sources": {"a": 1, "b": 2, "c": 3},
        "estimates": {"markets.BTC-bybit.depth_1pct_usd": "no order book"},
    }
    print_summary(table_console(), summary, "two_venues", Path("o"), ["x", "y"])
    out = capsys.readouterr().out
    assert "cascadesim run: two_venues (all 2 markets)" in out
    assert (
        "collateral accounts liquidated" in out and "7 of 40 (2 with no loss on the index)" in out
    )
    lines = out.splitlines()
    for venue, group in venues.items():
        row = next(line for line in lines if line.strip("│ ").startswith(venue))
        assert format_usd(group["liquidated_long_usd"]) in row
        assert f"-{100 * group['max_drawdown']:.1f} %" in row
    assert "book.csv: 1,234 positions run, 5 below maintenance at the start" in out
    tier_row = next(line for line in lines if "< 10K" in line)
    for cell in ("1,000", "$2.5M", "31", "$15.0K", "$0", "3"):
        assert cell in tier_row
    assert "estimate: depth of bybit from its order book" in out
    assert (
        "inputs: live market data of 2026-01-02T03:04:05Z: 3 values read (venue, endpoint, "
        "time in summary.json), 1 estimated"
    ) in " ".join(out.split())
    assert "estimate: markets.BTC-bybit.depth_1pct_usd: no order book" in out
    assert out.rstrip().endswith("2 files in o/ (open report.html)")


# --- warmup: what it says it did -----------------------------------------------------------
@pytest.mark.parametrize(
    "jit_off, was_cached, said",
    [
        (0, False, "engine compiled in 12.3 s; cache: /cache/engine-x"),
        (0, True, "engine loaded from the cache in 12.3 s; cache: /cache/engine-x"),
        (
            1,
            False,
            "engine run as Python in 12.3 s (NUMBA_DISABLE_JIT is set: nothing compiled); "
            "cache: /cache/engine-x",
        ),
    ],
)
def test_warmup_says_whether_it_compiled_loaded_or_ran_as_python(
    monkeypatch, tmp_path, jit_off, was_cached, said
):
    from numba.core import config as numba_config

    from cascadesim.cli import run
    from cascadesim.sweep.warmup import WarmupReport

    monkeypatch.setattr(numba_config, "DISABLE_JIT", jit_off)
    monkeypatch.setattr(run, "compile_notice", lambda: None)
    monkeypatch.setattr(run, "warm_up", lambda: WarmupReport(12.34, was_cached, "/cache/engine-x"))
    done = run_cli("warmup", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == said + "\n"


# --- validate and stress: options refused before any event runs ------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        (["--count", "exact"], "--count = 'exact': aggregator or true"),
        (["--seed", "-1"], "--seed = -1: an integer >= 0"),
        (["--seeds", "0"], "--seeds = 0: an integer >= 1"),
        (["GENTLE"], "reported: an event scenario needs a [reported] table"),
    ],
)
def test_validate_refuses_bad_options_in_one_line(tmp_path, options, message):
    from cascadesim.scenario.bundled import bundled_scenarios

    gentle = str(bundled_scenarios()["gentle"])  # a scenario file, but no event's
    done = run_cli("validate", *[gentle if o == "GENTLE" else o for o in options], cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_stress_refuses_a_blank_scheduler(tmp_path):
    done = run_cli("stress", "gentle", "--scheduler", " ", cwd=tmp_path)
    assert done.returncode == 2
    assert "--scheduler = ' ': 'local' or a scheduler address" in done.stderr


def test_a_scenario_path_that_is_a_folder_is_one_line(tmp_path):
    (tmp_path / "folder.toml").mkdir()
    done = run_cli("run", "folder.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert "folder.toml: a folder, not a scenario file" in done.stderr


def test_sigterm_stops_like_ctrl_c_and_only_from_the_main_thread():
    import os
    import signal
    import threading

    from cascadesim.cli.commands import stop_like_ctrl_c

    before = signal.getsignal(signal.SIGTERM)
    try:
        worker = threading.Thread(target=stop_like_ctrl_c)  # an embedding application's thread
        worker.start()
        worker.join()
        assert signal.getsignal(signal.SIGTERM) is before  # left alone there
        stop_like_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
