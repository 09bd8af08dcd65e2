"""The base of every scenario table and the field types the tables share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Every profile of cascadesim.model.venues.VENUES (kept literal for the scenario schema; a test
# checks that the two agree).
VENUE_NAMES = (
    "binance",
    "bybit",
    "okx",
    "hyperliquid",
    "dydx",
    "bitmex",
    "htx",
    "bitget",
    "gate",
    "deribit",
)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
TimePoint = Annotated[list[float], Field(min_length=2, max_length=2)]


class StrictModel(BaseModel):
    """Base of every scenario table: unknown keys, NaN/inf and silent coercions rejected."""

    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, validate_default=False
    )


def check_points(
    points: list[list[float]] | None, value_name: str, increasing: bool = True
) -> list[list[float]] | None:
    """Times non-negative and non-decreasing, values > 0 (raises ValueError for pydantic)."""
    if points is None:
        return None
    if len(points) < 2:
        raise ValueError("at least two [seconds, value] points")
    times = [p[0] for p in points]
    if any(t < 0 for t in times):
        raise ValueError("times in seconds >= 0")
    if increasing and any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise ValueError("points in time order (seconds non-decreasing)")
    if any(p[1] <= 0 for p in points):
        raise ValueError(f"{value_name} > 0 at every point")
    return points
