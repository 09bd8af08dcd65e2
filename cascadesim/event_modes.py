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

from pydantic import TypeAdapter, ValidationError

from cascadesim.errors import CascadesimInputError, invalid
from cascadesim.event_spec import MODES


def check_event(scenario) -> None:
    """Cross-checks of ``[event]``, ``[reported]`` and ``[reporting]`` against the scenario."""
    event, reported, reporting = scenario.event, scenario.reported, scenario.reporting
    assets, markets = set(scenario.assets), set(scenario.markets)
    if event is not None and event.trigger is not None:
        trigger_shock(scenario)  # raises a one-line error when the table is not a shock
    if reported is not None:
        for table in ("price_before_usd", "price_low_usd", "drop_fraction", "drop_range"):
            for name in getattr(reported, table):
                if name not in assets:
                    raise invalid(f"reported.{table}.{name}", name,
                                  "an asset of [assets]: " + ", ".join(scenario.assets))
        for group, members in reported.asset_groups.items():
            for name in members:
                if name not in assets:
                    raise invalid(f"reported.asset_groups.{group}", name,
                                  "asset names of [assets]: " + ", ".join(scenario.assets))
        for group in {*reported.asset_total_usd, *reported.asset_long_share}:
            if not group_assets(reported, group, assets):
                raise invalid(f"reported.asset_total_usd.{group}", group,
                              "an asset group of reported.asset_groups, or an asset name "
                              "(any case)")
        market = reported.largest_single_market
        if market is not None and market not in markets:
            raise invalid("reported.largest_single_market", market,
                          "a market of [markets]: " + ", ".join(scenario.markets))
    if reporting is not None:
        for table in ("symbols_per_market", "market_venue"):
            for name in getattr(reporting, table):
                if name not in markets:
                    raise invalid(f"reporting.{table}.{name}", name,
                                  "a market of [markets]: " + ", ".join(scenario.markets))


def group_assets(reported, group: str, assets) -> list[str]:
    """Scenario assets that a reported asset group stands for."""
    if group in reported.asset_groups:
        return list(reported.asset_groups[group])
    return [name for name in assets if name.lower() == group.lower()]


def trigger_shock(scenario):
    """The validated ``[event.trigger]`` as a shock model, or None."""
    from cascadesim.scenario import Shock

    trigger = scenario.event.trigger if scenario.event is not None else None
    if trigger is None:
        return None
    try:
        shock = TypeAdapter(Shock).validate_python(trigger)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"] if p not in (
            "index_jump", "index_path", "sell_programme", "recorded_path"))
        raise CascadesimInputError(f"event.trigger.{where} = {first.get('input')!r}: "
                                   f"{first['msg']}") from None
    return shock


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
            raise CascadesimInputError(f"{where}: event.trigger: shock mode needs an "
                                       "[event.trigger] table")
        data["shock"] = dict(scenario.event.trigger)
    copy = type(scenario).model_validate(data)
    copy._source = scenario.source
    return copy
