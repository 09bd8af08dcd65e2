"""Recorded price paths read from CSV (each malformed row refused in one line) and the sweep's
normal and choice distributions (their supports, draws and descriptions)."""

from __future__ import annotations

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.model import shocks
from cascadesim.sweep.distributions import DISTRIBUTION_ADAPTER


def write(tmp_path, text: str):
    path = tmp_path / "path.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("time,price\n0,1\n", "line 1: the header must be 'time_s,price_usd'"),
        ("", "line 1: the header must be 'time_s,price_usd'"),
        ("time_s,price_usd\n0,100,7\n", "line 2: two values (time_s, price_usd), got 3"),
        ("time_s,price_usd\n0,100\nten,99\n", "line 3: numbers expected, got 'ten,99'"),
        ("time_s,price_usd\n0,100\n1,-5\n", "line 3: a finite time and a price > 0 USD"),
        ("time_s,price_usd\n0,100\n1,inf\n", "line 3: a finite time and a price > 0 USD"),
        ("time_s,price_usd\n5,100\n4,99\n", "line 3: times must not decrease (4.0 after 5.0)"),
        ("time_s,price_usd\n0,100\n\n", "at least two rows of prices are needed"),
    ],
)
def test_a_malformed_price_csv_is_refused_with_its_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CascadesimInputError) as caught:
        shocks.read_price_csv(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_missing_or_unreadable_price_csv_is_one_line(tmp_path):
    with pytest.raises(CascadesimInputError, match="no such file"):
        shocks.read_price_csv(tmp_path / "absent.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00time")
    with pytest.raises(CascadesimInputError, match="cannot read"):
        shocks.read_price_csv(tmp_path / "binary.csv")


def test_blank_rows_are_skipped_and_the_rows_come_back_as_numbers(tmp_path):
    path = write(tmp_path, " time_s , price_usd \n0,100\n\n , \n60,90.5\n")
    assert shocks.read_price_csv(path).tolist() == [[0.0, 100.0], [60.0, 90.5]]


class RecordedShock:
    """The fields recorded_series reads (a scenario's [shock] with kind = recorded_path)."""

    def __init__(self, points=None, file=None):
        self.points, self.file = points, file


def test_a_recorded_path_is_found_beside_the_scenario_and_scaled(tmp_path):
    write(tmp_path, "time_s,price_usd\n100,50\n160,40\n")
    series = shocks.recorded_series(RecordedShock(file="path.csv"), tmp_path)
    assert series.tolist() == [[100.0, 50.0], [160.0, 40.0]]
    times = np.array([0.0, 30.0, 60.0, 90.0])
    # Relative: the recorded move (50 -> 40, -20 % over 60 s) from the scenario's own price.
    relative = shocks.recorded_factor(times, series, 1000.0, relative=True)
    assert np.allclose(relative, [1.0, 0.9, 0.8, 0.8])
    # Absolute: the recorded prices themselves, as a fraction of the scenario's start price.
    absolute = shocks.recorded_factor(times, series, 100.0, relative=False)
    assert np.allclose(absolute, [0.5, 0.45, 0.4, 0.4])
    inline = shocks.recorded_series(RecordedShock(points=[[0, 10], [5, 11]]), None)
    assert inline.tolist() == [[0.0, 10.0], [5.0, 11.0]]


# --- the sweep's distributions ---------------------------------------------------------------
def distribution(**fields):
    return DISTRIBUTION_ADAPTER.validate_python(fields)


def test_a_normal_is_clipped_to_its_bounds():
    clipped = distribution(distribution="normal", mean=0.5, std=10.0, low=0.0, high=1.0)
    rng = np.random.default_rng(3)
    draws = [clipped.draw(rng) for _ in range(200)]
    assert min(draws) == 0.0 and max(draws) == 1.0  # std 10: most draws hit a bound
    assert clipped.support() == (0.0, 1.0)
    assert clipped.describe() == "normal(mean 0.5, std 10)"
    free = distribution(distribution="normal", mean=2.0, std=1.0)
    assert free.support() == (-np.inf, np.inf)
    # A zero std is a constant: the mean, clipped into the bounds.
    constant = distribution(distribution="normal", mean=5.0, std=0.0, high=3.0)
    assert constant.support() == (3.0, 3.0) and constant.draw(rng) == 3.0


def test_a_normal_with_crossed_bounds_is_refused():
    with pytest.raises(ValueError, match="low <= high"):
        distribution(distribution="normal", mean=0.0, std=1.0, low=2.0, high=1.0)


def test_a_choice_draws_only_its_values_in_proportion_to_the_weights():
    choice = distribution(distribution="choice", values=[1.0, 2.0, 4.0], weights=[0, 1, 3])
    rng = np.random.default_rng(11)
    draws = [choice.draw(rng) for _ in range(4000)]
    assert set(draws) == {2.0, 4.0}  # weight 0: never drawn
    assert abs(draws.count(4.0) / len(draws) - 0.75) < 0.03
    assert choice.support() == (1.0, 4.0)
    assert choice.describe() == "one of 1, 2, 4"
    equal = distribution(distribution="choice", values=[7.0])
    assert equal.draw(rng) == 7.0


@pytest.mark.parametrize("weights", [[1.0], [0.0, 0.0]])
def test_a_choice_needs_one_weight_per_value_not_all_zero(weights):
    with pytest.raises(ValueError, match="one weight per value, not all zero"):
        distribution(distribution="choice", values=[1.0, 2.0], weights=weights)
