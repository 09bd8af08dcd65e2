"""`cascadesim run` end to end, the output files, provenance, and all-or-nothing writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cascadesim.report import output
from cascadesim.report.output import read_provenance, write_outputs
from cascadesim.scenario.bundled import bundled_scenarios
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate
from tests.cli import run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]

SUMMARY_KEYS = {
    "liquidated_long_usd",
    "liquidated_short_usd",
    "liquidated_total_usd",
    "accounts_liquidated",
    "largest_liquidation_usd",
    "open_interest_before_usd",
    "open_interest_after_usd",
    "price_start",
    "price_min",
    "max_drawdown",
    "counterfactual_max_drawdown",
    "amplification",
    "insurance_fund_change_usd",
    "bad_debt_usd",
    "adl_count",
    "adl_notional_usd",
    "markets",
    "seed",
    "scenario_hash",
    "version",
}
MARKET_KEYS = SUMMARY_KEYS - {"markets", "seed", "scenario_hash", "version"} | {"asset", "venue"}
OUTPUT_FILES = {
    "summary.json",
    "timeline.parquet",
    "liquidations.parquet",
    "report.html",
    "explorer.html",
    "scenario.toml",
}


def is_compile_notice(line: str) -> bool:
    """The one line a run prints before it compiles the engine (a cold cache only)."""
    return line.startswith("cascadesim: compiling the engine (once per install")


@pytest.fixture(scope="module")
def gentle_run(tmp_path_factory):
    """`cascadesim run gentle` into a fresh folder (the default --out path)."""
    folder = tmp_path_factory.mktemp("gentle")
    result = run_cli("run", "gentle", cwd=folder, fresh_process=True)  # the real console path
    assert result.returncode == 0, result.stderr
    return folder / "cascadesim-out" / "gentle", result


def test_run_writes_every_output(gentle_run):
    directory, result = gentle_run
    names = {path.name for path in directory.iterdir()}
    assert OUTPUT_FILES <= names
    assert any(name.endswith(".png") for name in names)
    assert not [n for n in os.listdir(directory.parent) if n.startswith(".")]  # no staging left
    assert "accounts liquidated" in result.stdout and "gentle" in result.stdout


def test_summary_has_the_issue_keys_and_provenance(gentle_run):
    directory, _ = gentle_run
    summary = json.loads((directory / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["seed"] == 1
    scenario = Scenario.from_toml(bundled_scenarios()["gentle"])
    assert summary["scenario_hash"] == scenario.hash()
    assert summary["version"]
    assert len(summary["markets"]) == 1 and MARKET_KEYS <= set(summary["markets"][0])
    assert summary["markets"][0]["venue"] == "binance"


def test_parquet_files_carry_the_provenance(gentle_run):
    directory, _ = gentle_run
    summary = json.loads((directory / "summary.json").read_text())
    for name in ("timeline.parquet", "liquidations.parquet"):
        provenance = read_provenance(directory / name)
        assert provenance["scenario_hash"] == summary["scenario_hash"]
        assert provenance["seed"] == 1
        assert provenance["scenario"] == "gentle"
        assert provenance["version"] == summary["version"]
    timeline = pd.read_parquet(directory / "timeline.parquet")
    assert len(timeline) == 1800
    liquidations = pd.read_parquet(directory / "liquidations.parquet")
    assert len(liquidations) > 0


def test_json_output_is_exactly_one_object(tmp_path):
    result = run_cli(
        "run", "gentle", "--json", "--seed", "5", "--out", str(tmp_path / "o"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert isinstance(summary, dict) and SUMMARY_KEYS <= set(summary)
    assert summary["seed"] == 5
    written = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert written == summary


@pytest.fixture(scope="module")
def gentle_result():
    return simulate(Scenario.from_toml(bundled_scenarios()["gentle"]))


def test_simulate_accepts_a_scenario_and_fills_provenance(gentle_result):
    assert gentle_result.summary["seed"] == 1
    assert gentle_result.provenance["scenario"] == "gentle"


def test_interrupted_write_leaves_nothing(gentle_result, tmp_path, monkeypatch):
    calls = []

    def failing_parquet(frame, path, provenance):
        calls.append(path.name)
        path.write_bytes(b"PAR1 half a file")  # a partial file, then the failure
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "write_parquet", failing_parquet)
    target = tmp_path / "runs" / "gentle"
    with pytest.raises(KeyboardInterrupt):
        write_outputs(gentle_result, target, "", plots=False, report=False)
    assert calls == ["timeline.parquet"]
    assert not target.exists()
    assert os.listdir(tmp_path / "runs") == []  # the staging folder is gone too


def test_interrupted_rewrite_keeps_the_previous_complete_files(
    gentle_result, tmp_path, monkeypatch
):
    target = tmp_path / "gentle"
    write_outputs(gentle_result, target, "", plots=False, report=False, explorer=False)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    assert set(before) == {"summary.json", "timeline.parquet", "liquidations.parquet"}

    def failing_parquet(frame, path, provenance):
        raise OSError("disk full")

    monkeypatch.setattr(output, "write_parquet", failing_parquet)
    with pytest.raises(OSError):
        write_outputs(gentle_result, target, "", plots=False, report=False, explorer=False)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [n for n in os.listdir(tmp_path) if n != "gentle"] == []


# --- event scenarios run as validate runs them ----------------------------------------------
def tiny_event(tmp_path: Path) -> Path:
    from tests.test_validate import TINY_EVENT

    path = tmp_path / "tiny_event.toml"
    path.write_text(TINY_EVENT, encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", [None, "shock", "as-written"])
def test_an_event_file_runs_in_its_mode_and_says_so(tmp_path, mode):
    from cascadesim.events.modes import scenario_for_mode

    path = tiny_event(tmp_path)
    arguments = ["run", str(path), "--json", "--out", str(tmp_path / "out")]
    result = run_cli(*arguments, *([] if mode is None else ["--mode", mode]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    expected_mode = mode or "replay"  # the file's event.mode
    assert summary["event_mode"] == expected_mode
    notes = [line for line in result.stderr.splitlines() if not is_compile_notice(line)]
    assert len(notes) == 1 and "tiny-event is an event scenario" in notes[0]
    scenario = Scenario.from_toml(path)
    driven = (
        scenario if expected_mode == "as-written" else scenario_for_mode(scenario, expected_mode)
    )
    direct = simulate(driven.build()).summary
    assert summary["liquidated_total_usd"] == pytest.approx(direct["liquidated_total_usd"])
    assert summary["scenario_hash"] == driven.hash()


def test_replay_and_as_written_differ_on_an_event_file(tmp_path):
    # The point of running in replay: the as-written file moves its imposed path again.
    scenario = Scenario.from_toml(tiny_event(tmp_path))
    from cascadesim.events.modes import scenario_for_mode

    replay = simulate(scenario_for_mode(scenario, "replay").build(), counterfactual=False)
    written = simulate(scenario.build(), counterfactual=False)
    assert replay.summary["price_min"] != written.summary["price_min"]


def test_mode_on_a_file_without_an_event_is_refused_in_one_line(tmp_path):
    result = run_cli("run", "gentle", "--mode", "replay", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "cascadesim: error: --mode = 'replay': only for event scenarios (a file with [event])"
    )
    assert not (tmp_path / "cascadesim-out").exists()


def test_an_unknown_mode_is_refused_in_one_line(tmp_path):
    result = run_cli("run", str(tiny_event(tmp_path)), "--mode", "both", cwd=tmp_path)
    assert result.returncode == 2
    assert "--mode = 'both': replay, shock or as-written" in result.stderr
