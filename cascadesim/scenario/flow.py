"""The opening flow in scenario files: the ``[flow]`` table and the engine's draws.

A scenario with a ``[flow]`` table opens new leveraged positions during the run on every
market that states its traded volume (``volume_24h_usd``, the observable the rate is tied
to). Fresh openings per second in a calm market are

    opening_share_of_volume * volume_24h_usd / 86,400 / (mean new position, USD)

and rise with the mark's activity; their side follows the trend (``momentum``) about a
bias set by funding, as the population's long share is; a share of the notional just
liquidated re-enters on its side. Sizes are the market population's log-normal body and its
leverage mix, capped by the venue's tiers. The gains are global parameters that the event
library fits (``cascadesim calibrate``); their defaults are estimates and say so.

The flow's draws come from their own random stream (seed, 3), so that adding a flow never
changes the population's draws or the index noise.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from cascadesim.model.flow import FlowMarket, OpeningFlow, draw_flow
from cascadesim.scenario.base import NonNegativeFloat, PositiveFloat, StrictModel

SECONDS_PER_DAY = 86_400.0
# E|x| of a normal with standard deviation 1: the calm absolute return per step.
MEAN_ABSOLUTE_NORMAL = math.sqrt(2.0 / math.pi)


class FlowSettings(StrictModel):
    """How new leveraged positions open during the run (global, fitted on the library)."""

    opening_share_of_volume: float = Field(
        0.02,
        ge=0,
        le=1,
        description="fraction of a market's 24-h traded volume that opens new leveraged "
        "positions in a calm market (estimate until calibrated)",
    )
    activity_gain: NonNegativeFloat = Field(
        1.0,
        description="rise of the opening rate per unit of activity: the mark's average "
        "absolute return over its calm value (volume follows absolute returns)",
    )
    activity_half_life_s: PositiveFloat = Field(
        60.0, description="half-life of the activity average, s"
    )
    trend_half_life_s: PositiveFloat = Field(
        1_800.0, description="half-life of the slow average the trend is measured from, s"
    )
    trend_scale: PositiveFloat = Field(
        0.01, description="log distance of the mark from its slow average counted as 1 trend"
    )
    momentum: float = Field(
        1.0,
        ge=-20,
        le=20,
        description="log-odds of a long opening added per unit of trend: positive opens "
        "shorts into a fall and longs into a rise, negative buys the dip",
    )
    reentry_share: float = Field(
        0.2, ge=0, le=1, description="fraction of the liquidated notional that opens again"
    )
    reentry_half_life_s: PositiveFloat = Field(
        300.0, description="half-life of the re-entries after a liquidation, s"
    )


def flow_markets(scenario, specs, inputs) -> list[FlowMarket]:
    """Each market's opening flow (a zero rate where the market states no volume).

    ``inputs`` are the markets' population inputs (``MarketPopulation``, from
    :func:`cascadesim.scenario.build.market_population`): new positions take their leverage
    mix, size body, tiers and long share from there.
    """
    settings = scenario.flow
    markets = []
    for spec, population, market in zip(specs, inputs, scenario.markets.values(), strict=True):
        sizes = population.sizes
        flow_market = FlowMarket(
            opening_usd_per_s=0.0,
            activity_gain=settings.activity_gain,
            sigma_step=spec.baseline_volatility * math.sqrt(scenario.step_s) * MEAN_ABSOLUTE_NORMAL,
            activity_half_life_s=settings.activity_half_life_s,
            trend_half_life_s=settings.trend_half_life_s,
            trend_scale=settings.trend_scale,
            long_bias=log_odds(population.long_share),
            momentum=settings.momentum,
            reentry_share=settings.reentry_share,
            reentry_half_life_s=settings.reentry_half_life_s,
            leverage_values=population.leverage_values,
            leverage_weights=population.leverage_weights,
            size_median_usd=sizes.median_usd,
            size_log_std=sizes.body_log_std,
            size_max_usd=sizes.max_usd,
            tier_floor_usd=population.tier_floor_usd,
            tier_max_leverage=population.tier_max_leverage,
            leveraged_usd=population.open_interest_usd * population.leveraged_share,
        )
        if market.volume_24h_usd is None:
            flow_market.reentry_share = 0.0  # no flow at all where no volume is stated
        else:
            flow_market.opening_usd_per_s = (
                settings.opening_share_of_volume * market.volume_24h_usd / SECONDS_PER_DAY
            )
        markets.append(flow_market)
    return markets


def log_odds(share: float) -> float:
    """Log-odds of a fresh opening being long in a flat market: the population's long share
    (stated, or implied by funding) clipped to 1-99 %."""
    share = min(max(share, 0.01), 0.99)
    return math.log(share / (1.0 - share))


def estimated_flow(scenario) -> list[str]:
    """Estimate lines for the ``[flow]`` gains the scenario leaves at their defaults."""
    if scenario.flow is None:
        return []
    unset = [
        name for name in FlowSettings.model_fields if name not in scenario.flow.model_fields_set
    ]
    if not unset:
        return []
    return [
        "flow: " + ", ".join(unset) + " at their defaults, estimates not fitted to the event "
        "library"
    ]


def check_flow(scenario) -> None:
    """A stated volume is on a linear market (the flow is sized in USD of linear contracts)."""
    for name, market in scenario.markets.items():
        if market.volume_24h_usd is not None and market.contract == "inverse":
            raise ValueError(
                f"markets.{name}.volume_24h_usd: the opening flow runs on linear markets "
                "only; leave it out on an inverse market"
            )


def opening_flow(scenario, specs, inputs, seed: int) -> OpeningFlow | None:
    """The scenario's drawn flow, or None without a ``[flow]`` table or any stated volume."""
    if scenario.flow is None:
        return None
    if all(market.volume_24h_usd is None for market in scenario.markets.values()):
        return None
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    markets = flow_markets(scenario, specs, inputs)
    return draw_flow(rng, markets, scenario.duration_s, scenario.step_s)
