"""The ``[snapshot]`` table: where a scenario built from market data read each value.

``cascadesim snapshot`` writes it; a run copies it into ``summary.json`` (under
``snapshot``), so a result says which venue, endpoint and UTC time each input came from and
which inputs were estimates.
"""

from __future__ import annotations

from pydantic import Field

from cascadesim.scenario.base import StrictModel


class SnapshotProvenance(StrictModel):
    """How a scenario was built from market data."""

    taken_utc: str = Field(max_length=40, description="when the data was read (ISO 8601, UTC)")
    command: str = Field("", max_length=2000, description="the command that wrote the file")
    data: str = Field(
        "live",
        pattern="^(live|files)$",
        description="live: the venues' public APIs through ccxt; files: the exchanges' "
        "published data files",
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="field path -> 'venue endpoint at UTC time' of every value read",
    )
    estimates: dict[str, str] = Field(
        default_factory=dict,
        description="field path -> why the value is an estimate (not read from the venue)",
    )
    problems: list[str] = Field(
        default_factory=list,
        description="what could not be read, one line each (unreachable venues, missing fields)",
    )

    def summary(self) -> dict:
        """The table as summary.json carries it."""
        return self.model_dump()
