"""Replay and shock: the two ways to drive an event scenario, and the event tables' checks.

Replay
    The scenario's ``[shock]`` (the observed index path of every asset) is imposed as it was.
    The observed path already contains everything that moved the index on the day,
    including the spot selling of the arbitrageurs who absorbed the liquidations, so replay
    switches off what would move it a second time: every market's ``spot_impact_share`` is 0
    and every asset's ``factor_weight`` and ``beta`` are 0. The question replay answers: given
    this path, do the population and the margin rules liquidate what was reported?
Shock
    ``[event.trigger]`` replaces ``[shock]``; the spot impact and the market factor stay as the
    scenario states them. Only the trigger is imposed; liquidation selling, arbitrage hedges
    on spot and the factor coupling make the rest of the move. The question: does the low
    come out right too?
"""

from __future__ import annotations

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.scenario.event import MODES


def scenario_for_mode(scenario, mode: str):
    """A copy of an event scenario set up to be driven in ``mode`` ('replay' or 'shock').

    Raises
    ------
    CascadesimInputError
        an unknown mode, or shock mode without an ``[event.trigger]``
    """
    if mode not in MODES:
        raise invalid("--mode", mode, "replay or shock")
    # Only the keys the file set: a per-market [population] must stay a partial override.
    data = scenario.model_dump(mode="json", exclude_unset=True)
    if mode == "replay":
        for asset in data["assets"].values():
            asset["factor_weight"] = 0.0
            asset["beta"] = 0.0
        for market in data["markets"].values():
            market.setdefault("overrides", {})["spot_impact_share"] = 0.0
    else:
        if scenario.event is None or scenario.event.trigger is None:
            where = scenario.source or scenario.name
            raise CascadesimInputError(
                f"{where}: event.trigger: shock mode needs an [event.trigger] table"
            )
        data["shock"] = dict(scenario.event.trigger)
    return scenario.derived(data)
