"""The ``[shock]`` table: what moves the index (or the book) during a run.

``Shock`` is a union discriminated by ``kind``; :mod:`cascadesim.model.shocks` turns a
validated shock into the engine's index path and taker flow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from cascadesim.scenario.base import (
    Name,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    TimePoint,
    check_points,
)
from cascadesim.scenario.collateral import CollateralMove


class ShockBase(StrictModel):
    """What every shock kind may add: collateral prices that move on one venue or on all."""

    collateral: list[CollateralMove] = Field(
        default_factory=list,
        description="[[shock.collateral]] moves of a collateral coin's price on a venue "
        "(a depeg of that venue's own price)",
    )

    @model_serializer(mode="wrap")
    def omit_no_collateral(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A shock without collateral moves dumps as before the key existed (hashes unchanged).
        data = handler(self)
        if data.get("collateral", ...) == []:
            del data["collateral"]
        return data


class IndexJump(ShockBase):
    """The index of one asset (or all) drops by a fraction at a time, at once or over a ramp."""

    kind: Literal["index_jump"]
    asset: Name = Field("all", description="asset name, or 'all'")
    drop_fraction: float = Field(
        gt=-1, lt=1, description="fraction of the start price lost (negative: a jump up)"
    )
    at_s: NonNegativeFloat = Field(description="seconds after the start when the move begins")
    ramp_s: NonNegativeFloat = Field(0.0, description="seconds over which the move happens")


class IndexPath(ShockBase):
    """A piecewise-linear index path as a fraction of the start price."""

    kind: Literal["index_path"]
    asset: Name = Field("all", description="asset name, or 'all' (with points)")
    points: list[TimePoint] | None = Field(
        None, description="[[seconds, fraction of the start price], ...]"
    )
    per_asset: dict[Name, list[TimePoint]] | None = Field(
        None, description="points per asset name, instead of asset and points"
    )

    @field_validator("points")
    @classmethod
    def valid_points(cls, points):
        return check_points(points, "fraction of the start price")

    @field_validator("per_asset")
    @classmethod
    def valid_per_asset(cls, per_asset):
        for points in (per_asset or {}).values():
            check_points(points, "fraction of the start price")
        return per_asset

    @model_validator(mode="after")
    def exactly_one(self) -> IndexPath:
        if (self.points is None) == (self.per_asset is None):
            raise ValueError("exactly one of points or per_asset")
        return self


class SellProgramme(ShockBase):
    """An aggressive seller: ``usd`` of market sells spread evenly over a window."""

    kind: Literal["sell_programme"]
    market: Name = Field(description="name of a market in [markets]")
    usd: PositiveFloat = Field(description="total USD sold")
    duration_s: PositiveFloat = Field(description="seconds over which it is sold")
    start_s: NonNegativeFloat = Field(0.0, description="seconds after the start")


class RecordedPath(ShockBase):
    """A recorded index path: a CSV file (time_s, price_usd) or inline points."""

    kind: Literal["recorded_path"]
    asset: Name = Field("all", description="asset name, or 'all'")
    file: str | None = Field(
        None, description="CSV with header time_s,price_usd, relative to the scenario file"
    )
    points: list[TimePoint] | None = Field(None, description="[[seconds, price USD], ...]")
    relative: bool = Field(
        True,
        description="replay as moves relative to the first price "
        "(true) or as absolute USD prices (false)",
    )

    @field_validator("points")
    @classmethod
    def valid_points(cls, points):
        return check_points(points, "price_usd")

    @model_validator(mode="after")
    def exactly_one(self) -> RecordedPath:
        if (self.file is None) == (self.points is None):
            raise ValueError("exactly one of file or points")
        return self


Shock = Annotated[IndexJump | IndexPath | SellProgramme | RecordedPath, Field(discriminator="kind")]
