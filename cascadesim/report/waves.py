"""Waves of a cascade: bursts of liquidations separated by quiet spells.

A wave is a run of steps in which liquidations happen, where no quiet spell inside it lasts
longer than ``quiet_s``; a step counts as active when it liquidates more than
``floor_share`` of the busiest step (so that a stray small liquidation in a calm minute
does not glue two waves together). Waves holding less than ``min_share`` of everything
liquidated are counted as minor, not listed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

QUIET_S = 30.0
FLOOR_SHARE = 0.01
MIN_SHARE = 0.02


@dataclass(frozen=True)
class Wave:
    """One wave of liquidations (times in seconds from the start, money in USD)."""

    number: int
    start_s: float
    end_s: float
    peak_s: float
    long_usd: float
    short_usd: float
    peak_usd_per_s: float
    steps: int

    @property
    def total_usd(self) -> float:
        return self.long_usd + self.short_usd

    def to_dict(self) -> dict:
        return {**asdict(self), "total_usd": self.total_usd}


def detect_waves(
    time_s: np.ndarray,
    long_usd: np.ndarray,
    short_usd: np.ndarray,
    *,
    quiet_s: float = QUIET_S,
    floor_share: float = FLOOR_SHARE,
    min_share: float = MIN_SHARE,
) -> tuple[list[Wave], int]:
    """The waves of a run's per-step liquidations.

    Parameters
    ----------
    time_s : float64 array (steps,), end of each step, seconds, increasing
    long_usd, short_usd : float64 arrays (steps,), USD liquidated in each step (all markets)
    quiet_s : float, longest quiet spell inside one wave, seconds
    floor_share : float, a step is active above this share of the busiest step
    min_share : float, waves below this share of the total are minor

    Returns
    -------
    (waves in time order, numbered from 1; the number of minor waves left out)
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    total = np.asarray(long_usd, dtype=np.float64) + np.asarray(short_usd, dtype=np.float64)
    if not total.size or not (total > 0).any():
        return [], 0
    step_s = float(np.median(np.diff(time_s))) if time_s.size > 1 else 1.0
    active = np.flatnonzero(total > floor_share * total.max())
    breaks = np.flatnonzero(np.diff(time_s[active]) > quiet_s + step_s / 2) + 1
    groups = np.split(active, breaks)
    grand = float(total.sum())
    waves: list[Wave] = []
    minor = 0
    for group in groups:
        first, last = int(group[0]), int(group[-1])
        span = slice(first, last + 1)
        amount = float(total[span].sum())
        if amount < min_share * grand:
            minor += 1
            continue
        peak = first + int(np.argmax(total[span]))
        waves.append(
            Wave(
                number=len(waves) + 1,
                start_s=float(time_s[first] - step_s),
                end_s=float(time_s[last]),
                peak_s=float(time_s[peak]),
                long_usd=float(np.sum(long_usd[span])),
                short_usd=float(np.sum(short_usd[span])),
                peak_usd_per_s=float(total[peak] / step_s),
                steps=last - first + 1,
            )
        )
    return waves, minor


def run_waves(result) -> tuple[list[Wave], int]:
    """The waves of a :class:`cascadesim.sim.result.Result`, over all its markets."""
    timeline = result.outcome.timeline  # (steps, markets)
    return detect_waves(
        timeline["time"][:, 0],
        timeline["liquidated_long_usd"].sum(axis=1),
        timeline["liquidated_short_usd"].sum(axis=1),
    )
