"""Observables in scenario files: ``[markets.NAME.observed]`` and ``[population_model]``.

With a ``[population_model]`` table, every market's leveraged share and long share come from
:mod:`cascadesim.model.observables`: its funding, venue and the ``observed`` figures it
states, with the table's global parameters (the library fits them). Such a scenario may not
also set ``leveraged_share_of_open_interest`` or ``long_share``, globally or per market:
those are the per-event scale parameters the model replaces.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from cascadesim.model.observables import MarketObservables, PopulationModel
from cascadesim.scenario.base import PositiveFloat, StrictModel

SCALE_KEYS = ("leveraged_share_of_open_interest", "long_share")


class Observed(StrictModel):
    """What was observable about a market before the day, with where it was read."""

    open_interest_change_7d: float | None = Field(
        None, ge=-1, le=10, description="fractional change of open interest over 7 days"
    )
    open_interest_change_30d: float | None = Field(
        None, ge=-1, le=10, description="fractional change of open interest over 30 days"
    )
    price_change_7d: float | None = Field(
        None, ge=-1, le=10, description="fractional change of the price over 7 days"
    )
    long_short_account_ratio: PositiveFloat | None = Field(
        None, le=100, description="published long/short account ratio"
    )
    source: str = Field("", description="where each figure was read (article, dashboard, date)")

    @model_validator(mode="after")
    def sourced(self) -> Observed:
        stated = [
            name
            for name in type(self).model_fields
            if name != "source" and getattr(self, name) is not None
        ]
        if stated and not self.source.strip():
            raise ValueError(f"source: where {', '.join(stated)} was read")
        return self


class PopulationModelSettings(StrictModel):
    """Global parameters of the observable-to-population model (estimates until fitted)."""

    base_share_major: float = Field(
        PopulationModel.base_share_major,
        gt=0,
        le=1,
        description="leveraged share of a large exchange's open interest (Binance, OKX, Bybit)",
    )
    base_share_mid: float = Field(
        PopulationModel.base_share_mid,
        gt=0,
        le=1,
        description="the same on a mid-size exchange (BitMEX, Deribit, HTX, Bitget, Gate)",
    )
    base_share_onchain: float = Field(
        PopulationModel.base_share_onchain,
        gt=0,
        le=1,
        description="the same on an on-chain venue (Hyperliquid, dYdX)",
    )
    oi_gain: float = Field(
        PopulationModel.oi_gain,
        ge=-100,
        le=100,
        description="log change of the leveraged share per unit of open-interest growth",
    )
    funding_gain: float = Field(
        PopulationModel.funding_gain,
        ge=-100,
        le=100,
        description="log change of the leveraged share per neutral rate of excess funding",
    )
    funding_skew: float = Field(
        PopulationModel.funding_skew,
        ge=-100,
        le=100,
        description="log-odds of long per neutral rate of excess funding",
    )
    chase: float = Field(
        PopulationModel.chase,
        ge=-100,
        le=100,
        description="log-odds of long per unit of the 7-day price change",
    )
    ratio_weight: float = Field(
        PopulationModel.ratio_weight,
        ge=-100,
        le=100,
        description="log-odds of long per unit of the log long/short account ratio",
    )

    def model(self) -> PopulationModel:
        return PopulationModel(**self.model_dump())


def market_observables(market, funding_interval_s: float) -> MarketObservables:
    """The model's view of a scenario market."""
    observed = market.observed or Observed()
    return MarketObservables(
        venue=market.venue,
        funding_rate=market.funding_rate,
        funding_interval_s=funding_interval_s,
        open_interest_change_7d=observed.open_interest_change_7d,
        open_interest_change_30d=observed.open_interest_change_30d,
        price_change_7d=observed.price_change_7d,
        long_short_account_ratio=observed.long_short_account_ratio,
    )


def check_no_scale_keys(scenario) -> None:
    """With a population model, no table sets the shares the model computes."""
    tables = [("population", scenario.population)] + [
        (f"markets.{name}.population", market.population)
        for name, market in scenario.markets.items()
        if market.population is not None
    ]
    for where, population in tables:
        for key in SCALE_KEYS:
            if key in population.model_fields_set:
                raise ValueError(
                    f"{where}.{key}: set by [population_model] from the observables; "
                    "leave it out (or drop [population_model])"
                )
