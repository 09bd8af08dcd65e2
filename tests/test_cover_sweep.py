"""Sweep files refused in one line before anything runs: bad names, a random design's bad
distribution, a sell programme on a market the scenario lacks, and a random design drawn
from its distributions and lists."""

from __future__ import annotations

import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.sweep.spec import load_sweep

HEAD = """
name = "s"
scenario = "gentle"
paths = 2
seed = 5

[fixed]
duration_s = 120
"""


def load(tmp_path, text: str):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return load_sweep(path)


def refused(tmp_path, text: str) -> str:
    with pytest.raises(CascadesimInputError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "s.toml") + ": ") and "\n" not in message
    return message


GRID = '[design]\n[design.parameters]\n"population.leverage.max" = [10, 50]\n'


def test_a_random_design_draws_its_points_from_lists_and_distributions(tmp_path):
    sweep = load(
        tmp_path,
        HEAD
        + '[design]\nkind = "random"\npoints = 6\n[design.parameters]\n'
        + '"population.leverage.max" = [10, 20, 50]\n'
        + '"population.long_share" = {distribution = "uniform", low = 0.4, high = 0.6}\n',
    )
    assert sweep.parameters == ["population.leverage.max", "population.long_share"]
    assert len(sweep.point_values) == 6
    for values in sweep.point_values:
        assert values["population.leverage.max"] in (10, 20, 50)
        assert 0.4 <= values["population.long_share"] <= 0.6
    assert len({v["population.long_share"] for v in sweep.point_values}) == 6
    again = load(tmp_path, (tmp_path / "s.toml").read_text())
    assert again.point_values == sweep.point_values  # the sweep's seed fixes the design


@pytest.mark.parametrize(
    "design, message",
    [
        (
            '"population.long_share" = {distribution = "uniform", low = 0.6, high = 0.4}',
            'design.parameters."population.long_share"',
        ),
        (
            '"population.long_share" = {distribution = "normal", mean = 0.5}',
            "std",
        ),
        (
            '"population.long_share" = "half"',
            'design.parameters."population.long_share"',
        ),
        (
            '"population.long_share" = {distribution = "uniform", low = 0.2, high = 1.5}',
            "population.long_share",
        ),
    ],
)
def test_a_random_designs_bad_parameter_is_named(tmp_path, design, message):
    text = HEAD + '[design]\nkind = "random"\npoints = 3\n[design.parameters]\n' + design + "\n"
    assert message in refused(tmp_path, text)


@pytest.mark.parametrize(
    "design, message",
    [
        ('[design]\nkind = "random"\n[design.parameters]\n"seed" = [1, 2]\n', "needs points"),
        ('[design]\npoints = 3\n[design.parameters]\n"seed" = [1, 2]\n', "points only with"),
        ('[design]\n[design.parameters]\n"population.leverage.max" = 10\n', "a non-empty list"),
    ],
)
def test_a_design_that_contradicts_its_kind_is_refused(tmp_path, design, message):
    assert message in refused(tmp_path, HEAD + design)


def test_a_sell_programme_on_a_market_the_scenario_lacks_is_refused(tmp_path):
    shock = '[shock]\nkind = "sell_programme"\nmarket = "ETH-binance"\nusd = 1e6\n'
    shock += "duration_s = 30\n"
    message = refused(tmp_path, HEAD + shock + GRID)
    assert "shock.market = 'ETH-binance': a market of the scenario: BTC-binance" in message


def test_a_sell_programme_needs_a_positive_amount(tmp_path):
    shock = '[shock]\nkind = "sell_programme"\nmarket = "BTC-binance"\nusd = 0\n'
    shock += "duration_s = 30\n"
    assert "shock.usd = 0.0: every draw USD > 0" in refused(tmp_path, HEAD + shock + GRID)


def test_a_shock_after_the_end_of_the_run_is_refused(tmp_path):
    shock = "[shock]\ndrop_fraction = 0.1\nat_s = 500\n"
    message = refused(tmp_path, HEAD + shock + GRID)
    assert (
        "shock.at_s = 500.0: every draw seconds >= 0 and before the end of the run (120 s)"
    ) in message


@pytest.mark.parametrize("asset", ["[]", "[1, 2]", "3"])
def test_a_shocks_asset_is_a_name_or_a_list_of_names(tmp_path, asset):
    text = HEAD + f"[shock]\ndrop_fraction = 0.1\nasset = {asset}\n" + GRID
    assert "a name, or a non-empty list of names (one drawn per path)" in refused(tmp_path, text)


def test_a_shocks_asset_must_be_one_of_the_scenario(tmp_path):
    text = HEAD + '[shock]\ndrop_fraction = 0.1\nasset = ["BTC", "DOGE"]\n' + GRID
    assert "'all' or an asset of the scenario: BTC" in refused(tmp_path, text)


# --- the sweep command ------------------------------------------------------------------------
SMALL = """
name = "small"
scenario = "gentle"
paths = 1
seed = 5
chunk_paths = 1

[fixed]
duration_s = 40
"population.accounts" = 100

[design]
[design.parameters]
"population.leverage.max" = [10, 50]
"""


def test_the_sweep_json_counts_its_tasks_and_a_second_run_reuses_them(tmp_path):
    import json

    from tests.cli import run_cli

    (tmp_path / "small.toml").write_text(SMALL, encoding="utf-8")
    first = run_cli("sweep", "small.toml", "--out", "s", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert (outcome["tasks_total"], outcome["tasks_computed"], outcome["tasks_reused"]) == (
        2,
        2,
        0,
    )
    assert outcome["points"] == 2 and outcome["paths"] == 1
    assert [p["population.leverage.max"] for p in outcome["points_table"]] == [10, 50]
    again = json.loads(run_cli("sweep", "small.toml", "--out", "s", "--json", cwd=tmp_path).stdout)
    assert (again["tasks_computed"], again["tasks_reused"]) == (0, 2)
    assert again["points_table"] == outcome["points_table"]  # the saved chunks, not new runs


def test_a_scheduler_without_dask_installed_is_one_line(monkeypatch, tmp_path):
    import sys

    from tests.cli import run_cli

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    (tmp_path / "small.toml").write_text(SMALL, encoding="utf-8")
    done = run_cli("sweep", "small.toml", "--scheduler", "local", cwd=tmp_path)
    assert done.returncode == 2
    assert "--scheduler needs Dask distributed: pip install 'cascadesim[dask]'" in done.stderr
    assert not (tmp_path / "cascadesim-out").exists()


def test_undefined_figures_are_null_in_json():
    import math

    import numpy as np

    from cascadesim.cli.sweep import finite

    assert finite(math.nan) is None and finite(np.float64(math.inf)) is None
    assert finite(np.int64(7)) == 7 and finite("text") == "text" and finite(0.5) == 0.5


def test_a_sweep_is_not_changed_by_an_earlier_sweep_of_the_same_scenario(tmp_path):
    """The prepared-point cache was keyed by the point scenario's hash alone: a sweep run
    after another of the same points with a random shock ran with that shock."""
    import pandas as pd

    from cascadesim.sweep import tasks
    from cascadesim.sweep.run import run_sweep

    shocked = SMALL.replace("[design]", "[shock]\ndrop_fraction = 0.08\nat_s = 5\n\n[design]")
    for name, text in (("shocked", shocked), ("plain", SMALL)):
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")

    runs = []

    def points(name: str) -> pd.DataFrame:
        runs.append(name)
        sweep = load_sweep(tmp_path / f"{name}.toml")
        out = tmp_path / f"out-{len(runs)}"
        return run_sweep(sweep, out, plots=False, report=False).points

    tasks._prepared.clear()
    alone = points("plain")
    tasks._prepared.clear()
    points("shocked")  # the same two point scenarios, prepared with a shock of its own
    after = points("plain")
    pd.testing.assert_frame_equal(after, alone)
