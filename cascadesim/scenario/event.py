"""The tables of an event scenario: ``[event]``, ``[reported]`` and ``[reporting]``.

An event scenario (``bundled/events/*.toml``) is an ordinary scenario plus three optional
tables:

``[event]``
    How to drive the event. The scenario's own ``[shock]`` is the **replay**: the observed
    index path of every asset, imposed as it was (the spot impact of arbitrage hedges and the
    market-factor coupling are switched off in replay, since the observed path already
    contains them). ``[event.trigger]`` is the **shock**: only the trigger is imposed and the
    cascade, through arbitrage hedges on spot and the market factor, makes the rest of the
    move. ``mode`` is the default way ``cascadesim validate`` drives it.
``[reported]``
    The published figures of the day (the keys of ``shared/events/events.toml``). Every
    figure is optional: a figure that was not reported is not compared.
``[reporting]``
    How the public aggregators counted the liquidations of that day: which venues' public
    streams show at most one liquidation order per second per symbol, and how many real
    symbols each simulated market stands for (see :mod:`cascadesim.events.aggregator`).

The models reject unknown keys, NaN and non-positive USD figures with the scenario's usual
one-line errors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveUsd = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]
DropFraction = Annotated[float, Field(gt=0, lt=1)]
MODES = ("replay", "shock")


class EventModel(BaseModel):
    """Strict base: unknown keys, NaN/inf and silent coercions are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Reported(EventModel):
    """Published figures of a liquidation day (24 h, all venues, USD)."""

    source: str = Field("", description="where the figures come from")
    liquidated_total_usd: PositiveUsd | None = Field(None, description="total liquidated, USD")
    liquidated_long_usd: PositiveUsd | None = Field(None, description="longs liquidated, USD")
    liquidated_short_usd: PositiveUsd | None = Field(None, description="shorts liquidated, USD")
    long_share_min: Share | None = Field(
        None, description="lower bound on the long share, when only 'over X %' was reported"
    )
    liquidated_total_range_usd: list[PositiveUsd] | None = Field(
        None,
        description="[low, high] of the total over the day's snapshots, USD (the "
        "aggregators' 24-h windows roll: snapshots hours apart differ)",
    )
    liquidated_total_min_usd: PositiveUsd | None = Field(
        None, description="lower bound on the total, when only 'more than X' was reported"
    )
    traders_liquidated: int | None = Field(None, ge=1, description="accounts liquidated")
    traders_liquidated_range: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="[low, high] of the accounts liquidated over the day's snapshots"
    )
    traders_liquidated_min: int | None = Field(
        None, ge=1, description="lower bound on the accounts liquidated ('more than X')"
    )
    largest_single_usd: PositiveUsd | None = Field(
        None, description="largest single liquidation order, USD"
    )
    largest_single_market: str | None = Field(
        None, description="scenario market where the largest single liquidation happened"
    )
    venue_total_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="total liquidated per venue label, USD"
    )
    venue_long_min_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="'more than X' long liquidations per venue, USD"
    )
    asset_total_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="total liquidated per asset group, USD"
    )
    asset_long_share: dict[str, Share] = Field(
        default_factory=dict, description="long share of liquidations per asset group"
    )
    asset_long_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="longs liquidated per asset group, USD"
    )
    asset_short_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="shorts liquidated per asset group, USD"
    )
    asset_open_interest_change: dict[str, Annotated[float, Field(ge=-1, le=1)]] = Field(
        default_factory=dict,
        description="change of open interest per asset group over the event, fraction",
    )
    venue_adl_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="auto-deleveraging fills per venue label, USD"
    )
    asset_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="reported asset group -> scenario asset names "
        "(default: the group's name in upper case)",
    )
    price_before_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict,
        description="price before the move per scenario asset, USD "
        "(default: the asset's start price)",
    )
    price_low_usd: dict[str, PositiveUsd] = Field(
        default_factory=dict, description="lowest price of the day per scenario asset, USD"
    )
    drop_fraction: dict[str, DropFraction] = Field(
        default_factory=dict,
        description="reported fall per scenario asset (when no low is "
        "given), fraction of the price before",
    )
    open_interest_change: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="change of open interest (contracts, all markets) over the event, "
        "fraction: -0.08 for an 8 % flush",
    )
    drop_range: dict[str, list[DropFraction]] = Field(
        default_factory=dict,
        description="reported fall as a [low, high] range per scenario asset, fractions",
    )

    @field_validator("liquidated_total_range_usd", "traders_liquidated_range")
    @classmethod
    def ordered_range(cls, pair: list | None) -> list | None:
        if pair is not None and (len(pair) != 2 or pair[0] > pair[1]):
            raise ValueError("[low, high] with low <= high")
        return pair

    @field_validator("drop_range")
    @classmethod
    def ordered_ranges(cls, ranges: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, pair in ranges.items():
            if len(pair) != 2 or pair[0] > pair[1]:
                raise ValueError(f"[low, high] with low <= high for {name}")
        return ranges

    @model_validator(mode="after")
    def consistent(self) -> Reported:
        total, long, short = (
            self.liquidated_total_usd,
            self.liquidated_long_usd,
            self.liquidated_short_usd,
        )
        if total is not None and long is not None and long > total * (1 + 1e-9):
            raise ValueError("liquidated_long_usd at most liquidated_total_usd")
        if total is not None and short is not None and short > total * (1 + 1e-9):
            raise ValueError("liquidated_short_usd at most liquidated_total_usd")
        for name, low in self.price_low_usd.items():
            before = self.price_before_usd.get(name)
            if before is not None and low >= before:
                raise ValueError(f"price_low_usd.{name} below price_before_usd.{name}")
        return self

    def long_share(self) -> float | None:
        """Reported long share: longs / (longs + shorts), else longs / total, else None.

        Longs and shorts are read from one snapshot where both are given; a total may be
        another snapshot's (the headline), so it is only the fallback.
        """
        long = self.liquidated_long_usd
        if long is None:
            return None
        if self.liquidated_short_usd is not None:
            return long / (long + self.liquidated_short_usd)
        if self.liquidated_total_usd is not None:
            return long / self.liquidated_total_usd
        return None


class Reporting(EventModel):
    """How the public aggregators saw the liquidations of this day."""

    throttled_venues: list[str] = Field(
        default_factory=lambda: ["binance"],
        description="venue labels whose public liquidation stream shows at most one order "
        "per second per symbol (Binance's <symbol>@forceOrder does)",
    )
    symbols_per_market: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="real symbols a simulated market stands for "
        "(default 1): each can show one order per second",
    )
    market_venue: dict[str, str] = Field(
        default_factory=dict,
        description="venue label of a market when it is not the "
        "market's venue profile (e.g. HTX on OKX rules)",
    )


class Event(EventModel):
    """How an event is driven: the replay ([shock]) or the trigger ([event.trigger])."""

    id: str = Field("", description="event id in shared/events/events.toml")
    mode: Literal[MODES] = Field(  # type: ignore[valid-type]
        "replay", description="default mode of `cascadesim validate`"
    )
    trigger: dict | None = Field(
        None, description="shock table used in shock mode (same keys as [shock])"
    )
