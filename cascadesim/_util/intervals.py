"""Monte Carlo error of a sweep's figures: intervals for probabilities and percentiles.

- A probability estimated from ``k`` of ``n`` paths gets the exact (Clopper-Pearson)
  binomial interval, :func:`probability_interval` (``scipy.stats.binomtest``).
- A percentile gets the distribution-free interval of order statistics,
  :func:`percentile_interval`: with the paths' values sorted, ``[x_(l), x_(u)]`` covers the
  true ``q``-quantile with probability at least ``level``, where ``l`` and ``u`` are the
  ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of Binomial(n, q). When ``u`` would be
  past the largest path the interval is not bounded above (returned as +inf): too few paths
  for that percentile, which :func:`too_few_paths` says in words.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

LEVEL = 0.95


def probability_interval(successes: int, trials: int, level: float = LEVEL) -> tuple[float, float]:
    """Exact binomial interval of a probability seen ``successes`` times in ``trials``.

    Returns
    -------
    (low, high), fractions; (nan, nan) for no trials
    """
    if trials <= 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=level, method="exact"
    )
    return float(ci.low), float(ci.high)


def order_statistic_ranks(n: int, q: float, level: float = LEVEL) -> tuple[int, int]:
    """1-based ranks (l, u) of the order statistics bounding the q-quantile of n values.

    P(x_(l) <= quantile <= x_(u)) >= level; l = 0 means unbounded below, u = n + 1
    unbounded above.
    """
    alpha = 1.0 - level
    low = int(stats.binom.ppf(alpha / 2, n, q))
    high = int(stats.binom.ppf(1 - alpha / 2, n, q)) + 1
    return low, high


def percentile_interval(values, q: float, level: float = LEVEL) -> tuple[float, float]:
    """Distribution-free interval of the q-quantile of the finite ``values``.

    Returns
    -------
    (low, high) in the values' unit; -inf / +inf where too few values bound that side;
    (nan, nan) without values
    """
    finite = np.sort(np.asarray(values, dtype=np.float64))
    finite = finite[np.isfinite(finite)]
    n = finite.size
    if n == 0:
        return math.nan, math.nan
    low_rank, high_rank = order_statistic_ranks(n, q, level)
    low = -math.inf if low_rank < 1 else float(finite[low_rank - 1])
    high = math.inf if high_rank > n else float(finite[high_rank - 1])
    return low, high


def paths_needed(q: float, level: float = LEVEL) -> int:
    """Fewest paths whose largest bounds the q-quantile from above at ``level``."""
    # The largest of n values is above the q-quantile with probability 1 - q**n.
    return int(math.ceil(math.log(1 - (1 + level) / 2) / math.log(q)))


def too_few_paths(paths: int, q: float, level: float = LEVEL) -> str | None:
    """A sentence when ``paths`` cannot bound the q-th percentile from above, else None."""
    needed = paths_needed(q, level)
    if paths >= needed:
        return None
    return (
        f"{paths} paths per point cannot bound the {round(100 * q)}th percentile: it is one of "
        f"the few largest paths, and its {round(100 * level)} % interval has no upper end "
        f"(at least {needed} paths give one)"
    )
