"""cascadesim tune: the search on closed-form toys, target parsing, one small real run."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.intervals import probability_interval
from cascadesim.sweep.spec import load_sweep
from cascadesim.sweep.tune import (
    Dimension,
    figure_error,
    parse_prefer,
    parse_target,
    parse_targets,
    search,
    search_space,
)
from tests.cli import run_cli

SCALE = 1e6  # USD: P(ADL) = exp(-fund / SCALE)
PATHS = 20_000


def common_draws(paths: int = PATHS, seed: int = 1) -> np.ndarray:
    """One uniform per path, the same for every candidate (common random numbers)."""
    return np.random.default_rng(seed).uniform(size=paths)


def adl_figures(events: np.ndarray) -> dict:
    """The points-table figures of a probability estimated from per-path events."""
    count, n = int(events.sum()), events.size
    low, high = probability_interval(count, n)
    return {"adl_probability": count / n, "adl_probability_low": low, "adl_probability_high": high}


def test_the_least_fund_meeting_the_target_is_scale_times_ln_100():
    draws = common_draws()

    def evaluate(candidates):
        return [
            adl_figures(draws < math.exp(-c["markets.*.insurance_fund_usd"] / SCALE))
            for c in candidates
        ]

    fund = Dimension("markets.*.insurance_fund_usd", 1e5, 1e8, "low", log=True)
    target = parse_target("adl_probability <= 0.01")
    result = search([fund], [target], evaluate, trials=60, seed=3)
    assert result.answer is not None and len(result.trials) == 60
    answer = result.answer.values[fund.key]
    exact = SCALE * math.log(100)  # 4.605 M USD
    # The answer meets the target on its own draws, and the true probability there is the
    # target within the Monte Carlo error of 20,000 paths (3 standard errors) plus the
    # optimiser's resolution (2 % of the fund: exp(-0.02 x 4.6) ~ 9 % of the probability).
    assert result.answer.figures["adl_probability"] <= 0.01
    assert abs(answer - exact) / exact < 0.02 + 3 * math.sqrt(0.01 * 0.99 / PATHS) / 0.01 / 4.6
    assert all(
        record.restrictiveness >= result.answer.restrictiveness
        for record in result.trials
        if record.feasible
    )


def test_two_parameters_the_answer_lies_on_the_known_frontier():
    # P(ADL) = exp(-fund / s) x exp((leverage - 10) / 10): a higher cap is riskier, a larger
    # fund safer. The frontier P = 0.01 is fund = s (ln 100 + (leverage - 10) / 10). With the
    # fund on a linear scale over [2, 15] M USD (span < 10x) and leverage on a log scale over
    # [10, 100], restrictiveness along the frontier is
    #   r(l) = (fund(l) - 2e6) / 13e6 + 1 - ln(l / 10) / ln 10,
    # least where dr/dl = s / (10 x 13e6) - 1 / (l ln 10) = 0: l* = 13e7 / (s ln 10) = 56.46,
    # fund* = s (4.6052 + 4.6459) = 9.2511 M, r* = 0.55777 + 1 - 0.75175 = 0.80602; both
    # corners of the frontier are worse (l = 10: 1.2004; l = 100: 0.8927).
    draws = common_draws()

    def evaluate(candidates):
        return [
            adl_figures(
                draws
                < math.exp(-c["markets.*.insurance_fund_usd"] / SCALE)
                * math.exp((c["population.leverage.max"] - 10) / 10)
            )
            for c in candidates
        ]

    fund = Dimension("markets.*.insurance_fund_usd", 2e6, 15e6, "low")
    leverage = Dimension("population.leverage.max", 10.0, 100.0, "high", log=True)
    best = fund.restrictiveness(9.2511e6) + leverage.restrictiveness(56.46)
    assert best == pytest.approx(0.80602, abs=1e-4)  # the hand arithmetic above
    target = parse_target("adl_probability <= 0.01")
    result = search([fund, leverage], [target], evaluate, trials=80, seed=5)
    assert result.answer is not None
    f = result.answer.values[fund.key]
    lev = result.answer.values[leverage.key]
    truth = math.exp(-f / SCALE) * math.exp((lev - 10) / 10)
    # Feasible up to the Monte Carlo error of 20,000 paths (3 standard errors of 0.01).
    assert truth <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / PATHS)
    # Not better than the optimum beyond that error (2 % of the fund's scale: 0.002), and
    # within the optimiser's resolution of it; clearly better than the better corner.
    assert best - 0.005 <= result.answer.restrictiveness <= best + 0.05 < 0.8927


def test_the_same_seed_gives_the_same_trials_and_none_feasible_gives_the_closest():
    draws = common_draws(2000)

    def evaluate(candidates):
        return [adl_figures(draws < math.exp(-c["f"] / SCALE)) for c in candidates]

    fund = Dimension("f", 1e5, 1e6, "low", log=True)
    target = parse_target("adl_probability <= 0.01")  # needs 4.6 M: above the range
    first = search([fund], [target], evaluate, trials=8, seed=2)
    again = search([fund], [target], evaluate, trials=8, seed=2)
    assert [r.values for r in first.trials] == [r.values for r in again.trials]
    assert first.answer is None
    assert first.closest.values["f"] == pytest.approx(1e6)  # the restrictive corner


@pytest.mark.parametrize(
    ("text", "column", "operator", "value"),
    [
        ("adl_probability <= 0.01", "adl_probability", "<=", 0.01),
        ("bad_debt_var99_usd<=1e6", "bad_debt_usd_p99", "<=", 1e6),
        ("  max_drawdown_p95 >= 0.02 ", "max_drawdown_p95", ">=", 0.02),
    ],
)
def test_targets_parse(text, column, operator, value):
    target = parse_target(text)
    assert (target.column, target.operator, target.value) == (column, operator, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("adl_prob <= 0.01", "--target = 'adl_prob': a figure of the points table: "),
        ("adl_probability < 0.01", '"<figure> <= <number>"'),
        ("adl_probability <= lots", "a number after <="),
        ("adl_probability <= nan", "a finite number"),
    ],
)
def test_bad_targets_are_one_line_errors(text, message):
    with pytest.raises(CascadesimInputError) as caught:
        parse_target(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    if "figure of the points table" in message:
        assert "adl_probability" in str(caught.value) and "bad_debt_var99_usd" in str(caught.value)


def test_no_target_is_refused():
    with pytest.raises(CascadesimInputError, match="--target"):
        parse_targets([])


def test_prefer_parses_and_refuses():
    assert parse_prefer(["a.b=high"], ["a.b"]) == {"a.b": "high"}
    with pytest.raises(CascadesimInputError, match="PARAM=low or PARAM=high"):
        parse_prefer(["a.b=up"], ["a.b"])
    with pytest.raises(CascadesimInputError, match="a swept parameter"):
        parse_prefer(["c=low"], ["a.b"])


def test_interval_straddling_the_target_and_too_few_paths_are_warned():
    target = parse_target("adl_probability <= 0.05")
    low, high = probability_interval(2, 40)
    figures = {"adl_probability": 0.05, "adl_probability_low": low, "adl_probability_high": high}
    error = figure_error(target, figures, 40)
    assert error["met"] and "not established at 40 paths" in error["warnings"][0]
    percentile = parse_target("bad_debt_usd_p99 <= 1e6")
    error = figure_error(
        percentile,
        {"bad_debt_usd_p99": 0.0, "bad_debt_usd_p99_low": 0.0, "bad_debt_usd_p99_high": math.inf},
        40,
    )
    assert error["warnings"][0].startswith("too_few_paths: 40 paths per point cannot bound")


TINY_SWEEP = """
name = "tiny_tune"
scenario = "gentle"
paths = 8
seed = 4

[fixed]
duration_s = 120
"population.accounts" = 600

[shock]
kind = "index_jump"
drop_fraction = {distribution = "uniform", low = 0.05, high = 0.2}
at_s = 10
ramp_s = 5

[design]
kind = "grid"
[design.parameters]
"markets.*.insurance_fund_usd" = [1e2, 1e8]
"""


def test_the_space_comes_from_the_design_and_unknown_directions_need_prefer(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP, encoding="utf-8")
    sweep = load_sweep(tmp_path / "tiny.toml")
    (fund,) = search_space(sweep, {})
    assert (fund.low, fund.high, fund.log, fund.permissive) == (1e2, 1e8, True, "low")
    other = TINY_SWEEP.replace('"markets.*.insurance_fund_usd"', '"markets.*.depth_1pct_usd"')
    other = other.replace("[1e2, 1e8]", "[1e6, 5e6]")
    (tmp_path / "other.toml").write_text(other, encoding="utf-8")
    sweep = load_sweep(tmp_path / "other.toml")
    with pytest.raises(CascadesimInputError, match="--prefer"):
        search_space(sweep, {})
    (depth,) = search_space(sweep, {"markets.*.depth_1pct_usd": "high"})
    assert not depth.log and depth.restrictiveness(5e6) == 0.0


def test_the_command_finds_a_feasible_answer_and_repeats_it(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP, encoding="utf-8")
    arguments = ("tune", "tiny.toml", "--target", "adl_probability <= 0.5", "--trials", "8")
    done = run_cli(*arguments, "--out", "first", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Answer (trial ")
    out = tmp_path / "first"
    answer = json.loads((out / "answer.json").read_text())
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 8 and answer["feasible"]
    assert (out / "report.html").read_text(encoding="utf-8").index("Least restrictive") < (
        out / "report.html"
    ).read_text(encoding="utf-8").index("<h2>Trials</h2>")
    row = trials[trials["trial"] == answer["trial"]].iloc[0]
    assert row["adl_probability"] <= 0.5 and bool(row["feasible"])
    # The answer is the least restrictive feasible trial, and with a $100 fund (the
    # permissive corner, trial 1) auto-deleveraging is needed on these shocks.
    feasible = trials[trials["feasible"]]
    assert row["restrictiveness"] == feasible["restrictiveness"].min()
    assert not bool(trials.iloc[1]["feasible"])
    # Again, on two processes: the same trials and the same answer.
    again = run_cli(*arguments, "--workers", "2", "--out", "second", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    repeated = json.loads((tmp_path / "second" / "answer.json").read_text())
    assert repeated["values"] == answer["values"] and repeated["figures"] == answer["figures"]
    assert pd.read_csv(tmp_path / "second" / "trials.csv").equals(trials)


def test_the_command_refuses_an_unknown_figure_in_one_line(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP, encoding="utf-8")
    done = run_cli("tune", "tiny.toml", "--target", "adl <= 0.1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("cascadesim: error: --target = 'adl': a figure of the points")
    assert len(done.stderr.splitlines()) == 1


def test_no_feasible_trial_exits_1_and_still_writes_the_closest(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP, encoding="utf-8")
    # Every path of this shock liquidates someone: a mean of zero cannot be met.
    done = run_cli(
        "tune",
        "tiny.toml",
        "--target",
        "liquidated_total_usd_mean <= 0",
        "--trials",
        "2",
        "--out",
        "none",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("No trial of 2 met every target; the closest was trial ")
    answer = json.loads((tmp_path / "none" / "answer.json").read_text())
    assert not answer["feasible"] and not answer["figures"][0]["met"]
    assert not pd.read_csv(tmp_path / "none" / "trials.csv")["feasible"].any()
