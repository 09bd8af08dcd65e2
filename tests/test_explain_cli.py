"""cascadesim explain and explore on a result folder and on a scenario."""

from __future__ import annotations

import json

import pytest

from tests.cli import run_cli


@pytest.fixture(scope="module")
def gentle_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    done = run_cli("run", "gentle", "--out", "gentle", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_explain_tells_a_result_folder_as_a_numbered_story(gentle_folder):
    done = run_cli("explain", "gentle", cwd=gentle_folder)  # the folder, not the bundled name
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "The cascade of gentle:"
    assert [line.split(".")[0] for line in lines[1:]] == [str(k) for k in range(1, len(lines))]
    assert any(line.split(". ", 1)[1].startswith("Wave 1, ") for line in lines[1:])
    assert "warning" not in done.stderr  # the run again matched summary.json


def test_explain_json_lists_the_waves_and_they_add_up_to_at_most_the_total(gentle_folder):
    done = run_cli("explain", "gentle", "--json", cwd=gentle_folder)
    assert done.returncode == 0, done.stderr
    told = json.loads(done.stdout)
    summary = json.loads((gentle_folder / "gentle" / "summary.json").read_text())
    assert told["waves"] and told["story"][0].startswith("1. ")
    total = sum(wave["total_usd"] for wave in told["waves"])
    assert (
        0.9 * summary["liquidated_total_usd"]
        <= total
        <= summary["liquidated_total_usd"] * (1 + 1e-9)
    )
    assert [w["number"] for w in told["waves"]] == list(range(1, len(told["waves"]) + 1))


def test_explore_writes_the_page_for_a_result_folder(gentle_folder):
    done = run_cli("explore", "gentle", "--out", "again.html", cwd=gentle_folder)
    assert done.returncode == 0, done.stderr
    page = (gentle_folder / "again.html").read_text(encoding="utf-8")
    assert "Bokeh" in page and "data-name" in page
    assert '<script src="http' not in page and '<script type="text/javascript" src=' not in page


def test_explain_refuses_a_folder_that_is_no_result(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_cli("explain", "empty", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("cascadesim: error: RESULT_DIR = 'empty': a folder written by")
    assert len(done.stderr.splitlines()) == 1
