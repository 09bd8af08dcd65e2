"""The leveraged population from what could be observed before the day.

A scenario that states observables instead of a per-market leveraged share gets both the
leveraged share and the long share from this model, with a few global parameters that the
event library fits (never one per event or per market).

Observables of one market (each optional but open interest, which every market states):

- ``funding_rate`` per funding interval and the interval (the premium traders pay to hold
  longs), read as an 8-hour rate's excess over the 0.01 % neutral rate, in units of it;
- ``open_interest_change_7d`` / ``_30d``: fractional change of the market's open interest
  over the 7 and 30 days before (new open interest is mostly new directional leverage:
  basis trades grow slowly, leverage builds in runs);
- ``price_change_7d``: fractional change of the price over the 7 days before (traders
  chase: a rally leaves late longs, a slide late shorts);
- ``long_short_account_ratio``: a venue's published long/short account ratio, where given.

Model, with ``z_f = (8-h funding - 0.0001) / 0.0001``:

    leveraged share = base[venue kind]
                      * exp(oi_gain * mean(stated open-interest changes))
                      * exp(funding_gain * z_f),  capped at ``MAX_SHARE``
    long share      = logistic(funding_skew * z_f + chase * price_change_7d
                               + ratio_weight * ln(long_short_account_ratio))

The venue kind sets the base: on a large centralised exchange most open interest is hedged
(basis trades, market makers, funds), on a mid-size one less, on an on-chain venue most is
directional leverage. A missing observable adds nothing (its term is zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cascadesim._util.errors import invalid

NEUTRAL_FUNDING_8H = 0.0001  # the 0.01 % per 8 h interest floor most venues quote around
EIGHT_HOURS_S = 8 * 3600.0
MAX_SHARE = 0.95
MIN_SHARE = 1e-4
# Venue kinds: which base share a venue's open interest starts from.
VENUE_KINDS = {
    "binance": "major",
    "okx": "major",
    "bybit": "major",
    "bitmex": "mid",
    "deribit": "mid",
    "htx": "mid",
    "bitget": "mid",
    "gate": "mid",
    "hyperliquid": "onchain",
    "dydx": "onchain",
}


@dataclass(frozen=True)
class PopulationModel:
    """Global parameters of the observable-to-population model (see the module docstring).

    Defaults are estimates until the library fit replaces them: a base leveraged share of
    8 % of a major exchange's open interest (the two calibration days needed 6.5-18 % across
    markets with the earlier per-market fits), 12 % on a mid-size venue, 60 % on-chain.
    """

    base_share_major: float = 0.08
    base_share_mid: float = 0.12
    base_share_onchain: float = 0.6
    oi_gain: float = 1.0
    funding_gain: float = 0.1
    funding_skew: float = 0.35
    chase: float = 3.0
    ratio_weight: float = 1.0

    def check(self, where: str = "population_model") -> None:
        for name in ("base_share_major", "base_share_mid", "base_share_onchain"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise invalid(f"{where}.{name}", value, "a share in (0, 1]")
        for name in ("oi_gain", "funding_gain", "funding_skew", "chase", "ratio_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and abs(value) <= 100):
                raise invalid(f"{where}.{name}", value, "a finite number within +-100")


@dataclass(frozen=True)
class MarketObservables:
    """What was observable about one market before the day (see the module docstring)."""

    venue: str
    funding_rate: float = NEUTRAL_FUNDING_8H
    funding_interval_s: float = EIGHT_HOURS_S
    open_interest_change_7d: float | None = None
    open_interest_change_30d: float | None = None
    price_change_7d: float | None = None
    long_short_account_ratio: float | None = None


def funding_excess(observed: MarketObservables) -> float:
    """The 8-hour funding rate's excess over neutral, in units of the neutral rate."""
    rate_8h = observed.funding_rate * EIGHT_HOURS_S / observed.funding_interval_s
    return (rate_8h - NEUTRAL_FUNDING_8H) / NEUTRAL_FUNDING_8H


def venue_kind(venue: str) -> str:
    """``major``, ``mid`` or ``onchain`` for a venue profile's name."""
    if venue not in VENUE_KINDS:
        raise invalid("venue", venue, "one of " + ", ".join(VENUE_KINDS))
    return VENUE_KINDS[venue]


def leveraged_share(model: PopulationModel, observed: MarketObservables) -> float:
    """Fraction of the market's position notional held by leveraged, liquidatable traders."""
    base = getattr(model, f"base_share_{venue_kind(observed.venue)}")
    changes = [
        change
        for change in (observed.open_interest_change_7d, observed.open_interest_change_30d)
        if change is not None
    ]
    growth = sum(changes) / len(changes) if changes else 0.0
    exponent = model.oi_gain * growth + model.funding_gain * funding_excess(observed)
    return min(max(base * math.exp(min(exponent, 50.0)), MIN_SHARE), MAX_SHARE)


def long_share(model: PopulationModel, observed: MarketObservables) -> float:
    """Fraction of the leveraged notional held long."""
    score = model.funding_skew * funding_excess(observed)
    if observed.price_change_7d is not None:
        score += model.chase * observed.price_change_7d
    if observed.long_short_account_ratio is not None:
        score += model.ratio_weight * math.log(observed.long_short_account_ratio)
    return 1.0 / (1.0 + math.exp(-min(max(score, -50.0), 50.0)))
