"""cascadesim stress: a two-day toy library on a small one-asset scenario."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.events.stress import (
    day_scenario,
    load_library,
    mapped_paths,
    run_stress,
    worst_day,
)
from cascadesim.scenario.models import Scenario
from tests.cli import run_cli

SCENARIO = """
name = "doge_today"
seed = 3
duration_s = 120
[assets.DOGE]
spot_depth_1pct_usd = 5e6
beta = 1.6
[markets.DOGE-binance]
asset = "DOGE"
venue = "binance"
price_usd = 0.4
tick_usd = 0.0001
open_interest_usd = 2e7
depth_1pct_usd = 1e6
insurance_fund_usd = 1e5
[population]
accounts = 400
[shock]
kind = "index_jump"
drop_fraction = 0.05
at_s = 10
"""

# A mild day that has DOGE itself, and a deep one that has only BTC (DOGE follows by beta).
MILD_DAY = """
name = "mild-doge-day"
description = "DOGE -3 %"
[assets.DOGE]
factor_weight = 1
[shock]
kind = "index_path"
[shock.per_asset]
DOGE = [[0, 1], [100, 0.97], [200, 0.98]]
"""
DEEP_DAY = """
name = "deep-btc-day"
description = "BTC -15 %"
[assets.BTC]
factor_weight = 1
[shock]
kind = "index_path"
[shock.per_asset]
BTC = [[0, 1], [60, 0.95], [120, 0.85], [200, 0.9]]
"""

UP_DAY = """
name = "up-day"
[shock]
kind = "index_path"
asset = "BTC"
points = [[0, 1], [100, 1.2]]
"""


@pytest.fixture()
def toy(tmp_path: Path):
    library = tmp_path / "library"
    library.mkdir()
    (library / "1-mild.toml").write_text(MILD_DAY, encoding="utf-8")
    (library / "2-deep.toml").write_text(DEEP_DAY, encoding="utf-8")
    scenario_file = tmp_path / "doge_today.toml"
    scenario_file.write_text(SCENARIO, encoding="utf-8")
    return tmp_path, library, scenario_file


def test_an_asset_the_day_lacks_moves_beta_times_the_factors_log_move(toy):
    _, library, scenario_file = toy
    scenario = Scenario.from_toml(scenario_file)
    mild, deep = load_library(library)
    assert (mild.factor, deep.factor) == ("DOGE", "BTC")
    own, own_mapping = mapped_paths(scenario, mild)
    assert own["DOGE"] == [[0, 1], [100, 0.97], [200, 0.98]]
    assert own_mapping[0].describe() == "DOGE: own path"
    followed, mapping = mapped_paths(scenario, deep)
    assert mapping[0].describe() == "DOGE: BTC path x beta 1.6 (scenario)"
    for (t, value), (t_btc, btc) in zip(followed["DOGE"], deep.paths["BTC"], strict=True):
        assert t == t_btc
        assert math.log(value) == pytest.approx(1.6 * math.log(btc), rel=1e-12, abs=1e-15)
    # By hand: 0.85 ** 1.6 = exp(1.6 ln 0.85) = exp(-0.260030) = 0.771028.
    assert followed["DOGE"][2][1] == pytest.approx(0.771028, abs=1e-6)


def test_the_window_is_the_days_or_squeezed_into_the_scenarios(toy):
    _, library, scenario_file = toy
    scenario = Scenario.from_toml(scenario_file)
    _, deep = load_library(library)
    full = day_scenario(scenario, deep, "full")
    assert full.duration_s == 200 and full.shock.kind == "index_path"
    assert full.shock.per_asset["DOGE"][1][0] == 60
    squeezed = day_scenario(scenario, deep, "compressed")
    assert squeezed.duration_s == 120
    assert [p[0] for p in squeezed.shock.per_asset["DOGE"]] == [0, 36, 72, 120]
    assert squeezed.seed == scenario.seed == 3


def test_one_row_per_day_and_the_deeper_day_flushes_more(toy):
    _, library, scenario_file = toy
    scenario = Scenario.from_toml(scenario_file)
    days = load_library(library)
    serial = run_stress(scenario, days, window="full", workers=1)
    assert [row["day"] for row in serial.rows] == ["mild-doge-day", "deep-btc-day"]
    mild, deep = serial.rows
    assert deep["factor_move"] == pytest.approx(-0.15)
    assert mild["factor_move"] == pytest.approx(-0.03)
    assert deep["liquidated_total_usd"] > mild["liquidated_total_usd"]
    assert deep["liquidated_total_usd"] == pytest.approx(
        deep["liquidated_long_usd"] + deep["liquidated_short_usd"]
    )
    assert worst_day(serial.rows)["day"] == "deep-btc-day"


def test_two_workers_give_the_same_table_as_one(toy):
    _, library, scenario_file = toy
    # A third day, so that two days go to the pool after the first runs here.
    (library / "3-up.toml").write_text(UP_DAY, encoding="utf-8")
    scenario = Scenario.from_toml(scenario_file)
    days = load_library(library)
    serial = run_stress(scenario, days, window="compressed", workers=1)
    parallel = run_stress(scenario, days, window="compressed", workers=2)
    assert len(serial.rows) == 3
    assert serial.rows[2]["liquidated_short_usd"] > 0  # the up day squeezes shorts
    assert pd.DataFrame(parallel.rows).equals(pd.DataFrame(serial.rows))


def test_the_command_writes_table_chart_and_report(toy):
    folder, library, scenario_file = toy
    done = run_cli(
        "stress",
        str(scenario_file),
        "--library",
        str(library),
        "--out",
        "out",
        "--json",
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["day"] for row in rows] == ["mild-doge-day", "deep-btc-day"]
    out = folder / "out"
    table = pd.read_csv(out / "stress.csv")
    assert list(table["day"]) == ["mild-doge-day", "deep-btc-day"]
    assert (out / "stress.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report.index("Worst day: deep-btc-day") < report.index("<table>")
    assert "DOGE: BTC path x beta 1.6 (scenario)" in report


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "--library = "),
        (
            'name = "x"\n[shock]\nkind = "index_jump"\ndrop_fraction = 0.1\nat_s = 1\n',
            "shock.kind = 'index_jump': an index_path shock",
        ),
    ],
)
def test_a_bad_library_is_one_line_and_exit_2(toy, content, expected):
    folder, _, scenario_file = toy
    bad = folder / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "day.toml").write_text(content, encoding="utf-8")
    done = run_cli("stress", str(scenario_file), "--library", str(bad), cwd=folder)
    assert done.returncode == 2
    assert done.stderr.startswith("cascadesim: error: ")
    assert expected in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (folder / "cascadesim-out").exists()


def test_a_bad_window_is_refused(toy):
    folder, library, scenario_file = toy
    done = run_cli(
        "stress", str(scenario_file), "--library", str(library), "--window", "half", cwd=folder
    )
    assert done.returncode == 2
    assert "--window = 'half': full or compressed" in done.stderr


def test_load_library_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CascadesimInputError, match="--library"):
        load_library(tmp_path / "nowhere")
