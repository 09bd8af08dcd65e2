"""Intervals of sweep figures against cases known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cascadesim._util.intervals import (
    order_statistic_ranks,
    paths_needed,
    percentile_interval,
    probability_interval,
    too_few_paths,
)


def test_no_adl_in_ten_paths_is_still_up_to_31_percent():
    low, high = probability_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 10))  # Clopper-Pearson with k = 0: 0.3085


def test_all_paths_is_at_least_one_minus_the_same():
    low, high = probability_interval(20, 20)
    assert high == 1.0
    assert low == pytest.approx(0.025 ** (1 / 20))


def test_half_of_a_hundred_matches_the_beta_quantiles():
    from scipy import stats

    low, high = probability_interval(50, 100)
    assert low == pytest.approx(stats.beta.ppf(0.025, 50, 51))
    assert high == pytest.approx(stats.beta.ppf(0.975, 51, 50))


def test_the_median_of_ten_values_is_bounded_by_the_second_and_ninth():
    # Binomial(10, 0.5): P(1 < X < 9) = 1 - 2 x 11/1024 >= 95 %: ranks 2 and 9.
    assert order_statistic_ranks(10, 0.5) == (2, 9)
    values = np.arange(1.0, 11.0)[::-1]  # any order
    assert percentile_interval(values, 0.5) == (2.0, 9.0)


def test_a_99th_percentile_from_ten_paths_has_no_upper_end():
    low, high = percentile_interval(np.arange(10.0), 0.99)
    assert high == math.inf
    assert paths_needed(0.99) == 368  # 0.99 ** 368 < 0.025 < 0.99 ** 367
    assert 0.99**368 < 0.025 < 0.99**367
    assert "cannot bound the 99th percentile" in too_few_paths(10, 0.99)
    assert too_few_paths(400, 0.99) is None


def test_the_interval_covers_the_true_quantile_as_often_as_it_promises():
    rng = np.random.default_rng(7)
    true = -math.log(1 - 0.9)  # the 90th percentile of Exp(1)
    covered = [
        (lambda lo_hi: lo_hi[0] <= true <= lo_hi[1])(
            percentile_interval(rng.exponential(size=50), 0.9)
        )
        for _ in range(2000)
    ]
    assert np.mean(covered) >= 0.94


def test_no_values_no_interval():
    assert all(math.isnan(x) for x in percentile_interval([], 0.5))
    assert all(math.isnan(x) for x in probability_interval(0, 0))
