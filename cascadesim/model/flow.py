"""Positions that open during the run: their rates, and the draws made before the run.

A market's opening flow has three parts (see :class:`cascadesim.engine.layout.Flow` for how
the engine turns them into openings):

- **fresh openings** at ``base_rate`` positions per second in a calm market, raised by
  ``activity_gain`` in proportion to how fast the mark moves (volume follows absolute
  returns), long with a probability that ``momentum`` ties to the recent trend (positive:
  shorts are opened into a fall, longs into a rise; negative: dip buying);
- **re-entries**: a share of the notional just liquidated on a side opens again on that side
  (traders topping back in after a liquidation);
- **draws**: per row a unit-exponential arrival increment, a uniform side draw, a USD size
  from the market's size distribution and a leverage from its mix, capped by the venue's
  maximum leverage for that size. All randomness is here, none in the kernels.

Rates are per market, from observables the scenario states (the market's 24-h volume) and
a few global parameters (the share of volume that opens leveraged positions, the gains),
which the event library fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cascadesim._util.errors import invalid

# Rows drawn per market: this many times the expected openings (calm rate at the activity
# below, plus re-entries of every leveraged position), so that the flow runs out only on a
# path far outside the one it was sized for (the run then says so: rows_exhausted). Each row
# costs about 120 bytes in the engine, so the headroom is what memory allows on a day.
ROW_HEADROOM = 2.0
# Activity the sizing assumes: a path whose absolute returns average this many times the
# calm ones over the whole run (a crash hour's 1-s returns average 3-5x calm ones; over a
# whole day the hours around it are calm).
SIZING_ACTIVITY = 2.0


@dataclass
class FlowMarket:
    """Opening flow of one market (rates per second, USD, seconds).

    Parameters
    ----------
    opening_usd_per_s : float, USD of fresh leveraged positions opened per second in a calm
        market
    activity_gain : float, >= 0, rise of the fresh rate per unit of activity (|return| over
        its calm value)
    sigma_step : float, > 0, calm absolute log return of the mark per step
    activity_half_life_s, trend_half_life_s, reentry_half_life_s : float, > 0, s
    trend_scale : float, > 0, log distance from the slow average counted as one unit
    long_bias : float, log-odds of a fresh opening being long in a flat market
    momentum : float, log-odds added per unit of trend
    reentry_share : float, in [0, 1], liquidated notional that opens again on its side
    leverage_values, leverage_weights : float arrays, the leverage mix of new positions
    size_median_usd, size_log_std : float, log-normal size of a new position (USD)
    size_max_usd : float, largest new position (USD)
    tier_floor_usd, tier_max_leverage : float arrays, the venue's tiers: a new position's
        leverage is capped by its notional's tier
    leveraged_usd : float, USD of the market's leveraged positions at the start (sizes the
        re-entry rows)
    """

    opening_usd_per_s: float
    activity_gain: float
    sigma_step: float
    activity_half_life_s: float
    trend_half_life_s: float
    trend_scale: float
    long_bias: float
    momentum: float
    reentry_share: float
    reentry_half_life_s: float
    leverage_values: np.ndarray
    leverage_weights: np.ndarray
    size_median_usd: float
    size_log_std: float
    size_max_usd: float
    tier_floor_usd: np.ndarray
    tier_max_leverage: np.ndarray
    leveraged_usd: float = 0.0

    def check(self, where: str) -> None:
        """One-line errors for values the flow cannot use."""
        positive = (
            "sigma_step",
            "activity_half_life_s",
            "trend_half_life_s",
            "trend_scale",
            "reentry_half_life_s",
            "size_median_usd",
            "size_max_usd",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise invalid(f"{where}.{name}", value, "a finite number > 0")
        for name in ("opening_usd_per_s", "activity_gain", "size_log_std", "leveraged_usd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise invalid(f"{where}.{name}", value, "a finite number >= 0")
        for name in ("long_bias", "momentum"):
            if not math.isfinite(getattr(self, name)):
                raise invalid(f"{where}.{name}", getattr(self, name), "a finite number")
        if not 0 <= self.reentry_share <= 1:
            raise invalid(f"{where}.reentry_share", self.reentry_share, "a share in [0, 1]")

    def mean_notional_usd(self) -> float:
        """Mean of the size draws (USD): the log-normal's mean, capped at the largest size."""
        return min(self.size_median_usd * math.exp(0.5 * self.size_log_std**2), self.size_max_usd)


@dataclass
class OpeningFlow:
    """The flow of every market of a setup: rates (n_markets,) and draws (n_rows,).

    Rows are grouped by market in market order; ``market`` says whose each row is.
    ``arrival`` is the running sum of unit exponentials within each market.
    """

    market: np.ndarray  # int32 (n_rows,)
    arrival: np.ndarray  # float64 (n_rows,)
    side_draw: np.ndarray  # float64 (n_rows,) uniform [0, 1)
    notional_usd: np.ndarray  # float64 (n_rows,)
    leverage: np.ndarray  # float64 (n_rows,)
    base_rate: np.ndarray  # float64 (n_markets,) fresh openings per second
    activity_gain: np.ndarray
    sigma_step: np.ndarray
    activity_half_life_s: np.ndarray
    trend_half_life_s: np.ndarray
    trend_scale: np.ndarray
    long_bias: np.ndarray
    momentum: np.ndarray
    reentry_share: np.ndarray
    reentry_half_life_s: np.ndarray
    mean_notional_usd: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.market.shape[0])


def expected_rows(market: FlowMarket, duration_s: float) -> int:
    """Rows to draw for one market over ``duration_s`` seconds (see :data:`ROW_HEADROOM`)."""
    mean = market.mean_notional_usd()
    fresh = market.opening_usd_per_s / mean * duration_s
    fresh *= 1.0 + market.activity_gain * SIZING_ACTIVITY
    reentries = market.reentry_share * market.leveraged_usd / mean
    expected = fresh + reentries
    return int(math.ceil(ROW_HEADROOM * expected + 8.0 * math.sqrt(expected))) if expected else 0


def capped_leverage(
    leverage: np.ndarray, notional: np.ndarray, floors: np.ndarray, max_leverage: np.ndarray
) -> np.ndarray:
    """Each draw's leverage, capped by the maximum of the tier its notional falls in."""
    tier = np.searchsorted(floors, notional, side="right") - 1
    return np.minimum(leverage, max_leverage[np.clip(tier, 0, len(max_leverage) - 1)])


def draw_flow(
    rng: np.random.Generator, markets: list[FlowMarket], duration_s: float, dt: float
) -> OpeningFlow:
    """Draw every market's flow rows for a run of ``duration_s`` seconds of ``dt`` steps.

    Returns
    -------
    OpeningFlow, rows grouped by market
    """
    parts: dict[str, list[np.ndarray]] = {
        key: [] for key in ("market", "arrival", "side_draw", "notional_usd", "leverage")
    }
    for m, market in enumerate(markets):
        market.check(f"flow[{m}]")
        n = expected_rows(market, duration_s)
        weights = np.asarray(market.leverage_weights, dtype=np.float64)
        values = np.asarray(market.leverage_values, dtype=np.float64)
        notional = np.minimum(
            market.size_median_usd * np.exp(market.size_log_std * rng.standard_normal(n)),
            market.size_max_usd,
        )
        leverage = values[rng.choice(len(values), size=n, p=weights / weights.sum())]
        parts["market"].append(np.full(n, m, dtype=np.int32))
        parts["arrival"].append(np.cumsum(rng.standard_exponential(n)))
        parts["side_draw"].append(rng.random(n))
        parts["notional_usd"].append(notional)
        parts["leverage"].append(
            capped_leverage(
                leverage,
                notional,
                np.asarray(market.tier_floor_usd, dtype=np.float64),
                np.asarray(market.tier_max_leverage, dtype=np.float64),
            )
        )

    def per_market(name: str) -> np.ndarray:
        return np.asarray([float(getattr(market, name)) for market in markets])

    mean = np.asarray([market.mean_notional_usd() for market in markets])
    return OpeningFlow(
        market=np.concatenate(parts["market"]) if markets else np.zeros(0, np.int32),
        arrival=np.concatenate(parts["arrival"]) if markets else np.zeros(0),
        side_draw=np.concatenate(parts["side_draw"]) if markets else np.zeros(0),
        notional_usd=np.concatenate(parts["notional_usd"]) if markets else np.zeros(0),
        leverage=np.concatenate(parts["leverage"]) if markets else np.zeros(0),
        base_rate=per_market("opening_usd_per_s") / mean,
        activity_gain=per_market("activity_gain"),
        sigma_step=per_market("sigma_step"),
        activity_half_life_s=per_market("activity_half_life_s"),
        trend_half_life_s=per_market("trend_half_life_s"),
        trend_scale=per_market("trend_scale"),
        long_bias=per_market("long_bias"),
        momentum=per_market("momentum"),
        reentry_share=per_market("reentry_share"),
        reentry_half_life_s=per_market("reentry_half_life_s"),
        mean_notional_usd=mean,
    )
