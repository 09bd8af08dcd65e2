"""The sweep report's heatmap over two swept parameters of a grid: one cell per pair of
values, each the mean over that pair's design points of the points table's figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cascadesim.report.sweep_plots import plot_heatmap
from cascadesim.sweep.run import run_sweep
from cascadesim.sweep.spec import load_sweep

GRID = """
name = "grid2"
scenario = "gentle"
paths = 1
seed = 3
chunk_paths = 1

[fixed]
duration_s = 40
"population.accounts" = 100

[shock]
drop_fraction = 0.05
at_s = 5
ramp_s = 10

[design]
[design.parameters]
"population.leverage.max" = [10, 50]
"markets.BTC-binance.depth_1pct_usd" = [5e5, 1e6, 2e6]
"""


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    path = folder / "grid2.toml"
    path.write_text(GRID, encoding="utf-8")
    sweep = load_sweep(path)
    outcome = run_sweep(sweep, folder / "out", plots=False, report=False)
    points = pd.read_parquet(outcome.directory / "points.parquet")
    return sweep, points


def test_the_heatmap_has_one_cell_per_pair_of_values_holding_its_mean(grid_sweep):
    sweep, points = grid_sweep
    rows, columns = "population.leverage.max", "markets.BTC-binance.depth_1pct_usd"
    assert len(points) == 6
    figure = plot_heatmap(sweep, points)
    assert figure is not None
    panels = [axes for axes in figure.axes if axes.images]
    assert len(panels) == 3  # bad debt (or the fund's drawdown), P(ADL), drawdown
    first = "bad_debt_usd_mean" if (points["bad_debt_usd_mean"] > 0).any() else None
    columns_shown = [first or "insurance_fund_drawdown_usd_p99", "adl_probability"]
    columns_shown.append("max_drawdown_p99")
    for axes, figure_column in zip(panels, columns_shown, strict=True):
        shown = np.asarray(axes.images[0].get_array(), dtype=np.float64)
        assert shown.shape == (2, 3)  # leverages up the side, depths across
        assert [t.get_text() for t in axes.get_xticklabels()] == ["$500.0K", "$1.0M", "$2.0M"]
        assert [t.get_text() for t in axes.get_yticklabels()] == ["10", "50"]
        # Each cell: the figure of the one design point with that pair of values.
        for i, leverage in enumerate([10, 50]):
            for j, depth in enumerate([5e5, 1e6, 2e6]):
                row = points[(points[rows] == leverage) & np.isclose(points[columns], depth)]
                assert len(row) == 1
                assert shown[i, j] == pytest.approx(float(row[figure_column].iloc[0]))


def test_no_heatmap_without_two_swept_parameters_of_a_grid(tmp_path):
    one = GRID.replace('"markets.BTC-binance.depth_1pct_usd" = [5e5, 1e6, 2e6]\n', "")
    path = tmp_path / "one.toml"
    path.write_text(one, encoding="utf-8")
    sweep = load_sweep(path)
    assert plot_heatmap(sweep, pd.DataFrame({"population.leverage.max": [10, 50]})) is None


# --- writing outputs: JSON of numpy values, folders that cannot be outputs -----------------
def test_the_summary_json_writes_numpy_values_and_non_finite_as_null():
    import json

    from cascadesim.report.output import json_default, summary_json

    summary = {
        "count": np.int64(3),
        "share": np.float32(0.5),
        "flag": np.bool_(True),
        "series": np.array([1.0, 2.5]),
        "nested": {"gap": float("nan"), "list": [float("inf"), 1.0], "far": np.float64(np.inf)},
    }
    back = json.loads(summary_json(summary))
    assert back == {
        "count": 3,
        "share": 0.5,
        "flag": True,
        "series": [1.0, 2.5],
        "nested": {"gap": None, "list": [None, 1.0], "far": None},
    }
    with pytest.raises(TypeError, match="cannot write object as JSON"):
        json_default(object())


def test_an_output_folder_under_a_file_is_refused_in_one_line(tmp_path):
    from cascadesim._util.errors import CascadesimInputError
    from cascadesim.report.output import check_folder_writable

    (tmp_path / "plain").write_text("a file")
    with pytest.raises(
        CascadesimInputError, match=r"--out = '.*plain': a folder \(this is a file\)"
    ):
        check_folder_writable(tmp_path / "plain", "--out")
    with pytest.raises(CascadesimInputError, match="'.*plain' is a file, not a folder"):
        check_folder_writable(tmp_path / "plain" / "deeper" / "out", "--out")


def test_only_the_staging_folders_of_dead_processes_are_removed(tmp_path):
    import subprocess
    import sys

    from cascadesim.report.output import STAGING_MARK, process_alive, remove_stale_staging

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not process_alive(dead.pid) and process_alive(1)  # pid 1: someone else's
    out = tmp_path / "out"
    names = [f"{dead.pid}-abc", "1-abc", "notapid-abc"]
    for name in names:
        (tmp_path / f".out{STAGING_MARK}{name}").mkdir()
    removed = remove_stale_staging(out)
    assert [p.name for p in removed] == [f".out{STAGING_MARK}{dead.pid}-abc"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(f".out{STAGING_MARK}{name}" for name in names[1:])
    assert remove_stale_staging(tmp_path / "missing" / "out") == []  # no parent folder
