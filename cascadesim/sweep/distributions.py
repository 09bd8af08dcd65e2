"""Random numbers of sweep files: one model per distribution, a union tagged by
``distribution``.

A value drawn per path (a shock's size, speed or start) or per design point (random
designs) is a bare number (fixed) or a table such as
``{distribution = "uniform", low = 0.02, high = 0.1}``. Draws come from a
``numpy.random.Generator`` passed in; a fixed value consumes no random numbers, so adding
one never shifts the other draws.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, TypeAdapter, model_validator

from cascadesim.scenario.base import StrictModel

DISTRIBUTIONS = ("fixed", "uniform", "loguniform", "normal", "choice")
# Keys each distribution needs, and the optional ones it also takes.
NEEDED = {
    "fixed": {"value"},
    "uniform": {"low", "high"},
    "loguniform": {"low", "high"},
    "normal": {"mean", "std"},
    "choice": {"values"},
}
OPTIONAL = {"normal": {"low", "high"}, "choice": {"weights"}}


class DistributionModel(StrictModel):
    """Base of the distributions: the keys a table gives are checked before the fields, so a
    table missing a key says which distribution needs it."""

    @model_validator(mode="after")
    def tag_always_dumped(self) -> DistributionModel:
        # The tag is what reads the value back: a dump that leaves unset fields out (a
        # default Fixed, say) must still carry it, or the union cannot tell what it was.
        self.model_fields_set.add("distribution")
        return self

    @model_validator(mode="before")
    @classmethod
    def keys_of_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("distribution") not in NEEDED:
            return data
        kind = data["distribution"]
        given = set(data) - {"distribution"}
        missing = sorted(NEEDED[kind] - given)
        if missing:
            raise ValueError(f"a {kind} distribution needs {', '.join(missing)}")
        extra = sorted(given - NEEDED[kind] - OPTIONAL.get(kind, set()))
        if extra:
            allowed = ", ".join(sorted(NEEDED[kind] | OPTIONAL.get(kind, set())))
            raise ValueError(f"a {kind} distribution takes only {allowed} (not {', '.join(extra)})")
        return data


class Fixed(DistributionModel):
    """Always ``value``."""

    distribution: Literal["fixed"] = "fixed"
    value: float = Field(description="the value")

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def draw(self, rng: np.random.Generator) -> float:
        return float(self.value)

    def describe(self) -> str:
        return f"{self.value:g}"


class Uniform(DistributionModel):
    """Uniform on [low, high]."""

    distribution: Literal["uniform"]
    low: float = Field(description="lower bound")
    high: float = Field(description="upper bound")

    @model_validator(mode="after")
    def ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError("low <= high")
        return self

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def describe(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


class LogUniform(Uniform):
    """log(x) uniform on [log low, log high]: every factor of ten equally likely."""

    distribution: Literal["loguniform"]  # type: ignore[assignment]

    @model_validator(mode="after")
    def positive(self) -> LogUniform:
        if self.low <= 0:
            raise ValueError("loguniform bounds > 0")
        return self

    def draw(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def describe(self) -> str:
        return f"log-uniform({self.low:g}, {self.high:g})"


class Normal(DistributionModel):
    """Normal with ``mean`` and ``std``, values outside [low, high] moved to the bound."""

    distribution: Literal["normal"]
    mean: float = Field(description="mean")
    std: float = Field(ge=0, description="standard deviation")
    low: float | None = Field(None, description="values below are raised to it")
    high: float | None = Field(None, description="values above are lowered to it")

    @model_validator(mode="after")
    def ordered(self) -> Normal:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low <= high")
        return self

    def support(self) -> tuple[float, float]:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if self.std == 0:
            clipped = min(max(self.mean, low), high)
            return clipped, clipped
        return low, high

    def draw(self, rng: np.random.Generator) -> float:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return float(min(max(rng.normal(self.mean, self.std), low), high))

    def describe(self) -> str:
        return f"normal(mean {self.mean:g}, std {self.std:g})"


class Choice(DistributionModel):
    """One of ``values``, with relative ``weights`` (default equal)."""

    distribution: Literal["choice"]
    values: list[float] = Field(min_length=1, description="the values")
    weights: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="relative weights, default equal"
    )

    @model_validator(mode="after")
    def one_weight_each(self) -> Choice:
        if self.weights is not None and (
            len(self.weights) != len(self.values) or sum(self.weights) <= 0
        ):
            raise ValueError("one weight per value, not all zero")
        return self

    def support(self) -> tuple[float, float]:
        return min(self.values), max(self.values)

    def draw(self, rng: np.random.Generator) -> float:
        weights = np.asarray(self.weights or [1.0] * len(self.values), dtype=np.float64)
        return float(self.values[int(rng.choice(len(self.values), p=weights / weights.sum()))])

    def describe(self) -> str:
        return "one of " + ", ".join(f"{v:g}" for v in self.values)


AnyDistribution = Fixed | Uniform | LogUniform | Normal | Choice


def as_distribution(value: Any) -> Any:
    """A bare number is a fixed distribution; anything but a number or a table is refused."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"distribution": "fixed", "value": float(value)}
    if isinstance(value, dict | DistributionModel):
        return value
    raise ValueError(
        'a number, or a table such as {distribution = "uniform", low = 0.02, high = 0.1}'
    )


# A sweep file's random number: a bare number (fixed) or a table tagged by `distribution`.
Random = Annotated[
    AnyDistribution, Field(discriminator="distribution"), BeforeValidator(as_distribution)
]
DISTRIBUTION_ADAPTER: TypeAdapter[AnyDistribution] = TypeAdapter(Random)
