"""The base of every scenario table and the field types the tables share."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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

# Text of any field (descriptions, sources, notes) and names of assets and markets: a file's
# cost stays bounded by its size, and names stay printable in one line of a table.
MAX_TEXT_CHARS = 10_000
MAX_NAME_CHARS = 100
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
# Any number of a scenario is 0 or of magnitude within these: a subnormal (5e-324) or a
# near-overflow value (1e308) is never a real figure, and arithmetic on it loses every digit
# or overflows to inf inside the population draw or the engine.
MIN_MAGNITUDE = 1e-300
MAX_MAGNITUDE = 1e300


def check_magnitudes(value: Any) -> Any:
    """Raise ValueError for a float (also inside lists and dicts) that is subnormal or huge."""
    if isinstance(value, float):
        if value != 0.0 and not MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE:
            raise ValueError(f"0 or a number of magnitude {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_MAGNITUDE:
            raise ValueError(f"a number of magnitude at most {MAX_MAGNITUDE:g}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_magnitudes(item)
    elif isinstance(value, dict):
        for item in value.values():
            check_magnitudes(item)
    return value


class StrictModel(BaseModel):
    """Base of every scenario table: unknown keys, NaN/inf, subnormal and near-overflow
    numbers, text over ``MAX_TEXT_CHARS`` and silent coercions rejected."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        validate_default=False,
        str_max_length=MAX_TEXT_CHARS,
    )

    @field_validator("*", mode="after")
    @classmethod
    def finite_magnitudes(cls, value: Any) -> Any:
        return check_magnitudes(value)


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
