"""Checks of a scenario that span several tables; each error names the field path."""

from __future__ import annotations

import math

from pydantic import TypeAdapter, ValidationError

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.model.market import check_book_levels, check_start_price, check_tick_size
from cascadesim.model.resources import MAX_STEPS
from cascadesim.scenario.build import long_share, market_spec
from cascadesim.scenario.collateral import check_collateral
from cascadesim.scenario.shock import Shock


def check_scenario(scenario) -> None:
    """Checks spanning several tables; raises CascadesimInputError naming the field path."""
    steps = scenario.duration_s / scenario.step_s
    if not math.isfinite(steps) or steps > MAX_STEPS:  # not a count any run could reach
        raise invalid(
            "duration_s",
            scenario.duration_s,
            f"at most {MAX_STEPS:,} steps of step_s = {scenario.step_s:g} seconds",
        )
    if abs(steps - round(steps)) > 1e-9 * max(steps, 1.0) or round(steps) < 1:
        raise invalid(
            "duration_s",
            scenario.duration_s,
            f"a whole multiple (>= 1) of step_s = {scenario.step_s:g} seconds",
        )
    check_book_levels("book_levels", scenario.book_levels)
    for name, market in scenario.markets.items():
        if market.asset not in scenario.assets:
            raise invalid(
                f"markets.{name}.asset",
                market.asset,
                "an asset of [assets]: " + ", ".join(scenario.assets),
            )
    for name, asset in scenario.assets.items():
        if asset.price_usd is None and not any(m.asset == name for m in scenario.markets.values()):
            raise invalid(
                f"assets.{name}",
                name,
                "an asset traded by at least one market (or one with price_usd)",
            )
    start = dict(zip(scenario.assets, scenario.start_index(), strict=True))
    for name, market in scenario.markets.items():
        check_market(scenario, name, market, start[market.asset])
    check_shock(scenario)
    check_collateral(scenario)


def check_market(scenario, name: str, market, index_usd: float) -> None:
    """Price near the index, book window, funding within the cap, population fits."""
    where = f"markets.{name}"
    check_start_price(f"{where}.price_usd", market.price_usd, index_usd, f"the {market.asset}")
    if market.tick_usd is not None:
        check_tick_size(
            f"{where}.tick_usd",
            market.tick_usd,
            market.price_usd,
            scenario.book_levels,
            "price_usd",
        )
    spec = market_spec(name, market)
    if abs(market.funding_rate) > spec.funding_cap + 1e-15:
        raise invalid(
            f"{where}.funding_rate",
            market.funding_rate,
            f"within +-{spec.funding_cap:g} per {spec.funding_interval_s:g} s "
            f"({market.venue}'s cap for {market.asset})",
        )
    population = scenario.population_for(name)
    share = long_share(population, spec)
    crowded = 2.0 * population.leveraged_share_of_open_interest * max(share, 1.0 - share)
    if crowded > 1.0 + 1e-12:
        own = market.population is not None and (
            {"leveraged_share_of_open_interest", "long_share"} & market.population.model_fields_set
        )
        prefix = f"{where}.population" if own else "population"
        limit = 1.0 / (2.0 * max(share, 1.0 - share))
        raise invalid(
            f"{prefix}.leveraged_share_of_open_interest",
            population.leveraged_share_of_open_interest,
            f"at most {limit:.4g} for market {name} (long share {share:.3g}): the "
            "leveraged crowded side cannot exceed the open interest",
        )


def check_shock(scenario) -> None:
    """The shock names existing assets and markets and starts inside the run."""
    shock = scenario.shock
    assets = list(scenario.assets)
    if shock.kind == "sell_programme":
        if shock.market not in scenario.markets:
            raise invalid(
                "shock.market",
                shock.market,
                "a market of [markets]: " + ", ".join(scenario.markets),
            )
        if shock.start_s >= scenario.duration_s:
            raise invalid(
                "shock.start_s",
                shock.start_s,
                f"before the end of the run (duration_s = {scenario.duration_s:g})",
            )
        return
    if shock.kind == "index_path" and shock.per_asset is not None:
        for asset in shock.per_asset:
            if asset not in scenario.assets:
                raise invalid(
                    f"shock.per_asset.{asset}", asset, "an asset of [assets]: " + ", ".join(assets)
                )
        return
    if shock.asset != "all" and shock.asset not in scenario.assets:
        raise invalid(
            "shock.asset", shock.asset, "'all' or an asset of [assets]: " + ", ".join(assets)
        )
    if shock.kind == "index_jump" and shock.at_s >= scenario.duration_s:
        raise invalid(
            "shock.at_s",
            shock.at_s,
            f"before the end of the run (duration_s = {scenario.duration_s:g})",
        )


# --- event tables ------------------------------------------------------------------------
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
                    raise invalid(
                        f"reported.{table}.{name}",
                        name,
                        "an asset of [assets]: " + ", ".join(scenario.assets),
                    )
        for group, members in reported.asset_groups.items():
            for name in members:
                if name not in assets:
                    raise invalid(
                        f"reported.asset_groups.{group}",
                        name,
                        "asset names of [assets]: " + ", ".join(scenario.assets),
                    )
        for group in {*reported.asset_total_usd, *reported.asset_long_share}:
            if not group_assets(reported, group, assets):
                raise invalid(
                    f"reported.asset_total_usd.{group}",
                    group,
                    "an asset group of reported.asset_groups, or an asset name (any case)",
                )
        market = reported.largest_single_market
        if market is not None and market not in markets:
            raise invalid(
                "reported.largest_single_market",
                market,
                "a market of [markets]: " + ", ".join(scenario.markets),
            )
    if reporting is not None:
        for table in ("symbols_per_market", "market_venue"):
            for name in getattr(reporting, table):
                if name not in markets:
                    raise invalid(
                        f"reporting.{table}.{name}",
                        name,
                        "a market of [markets]: " + ", ".join(scenario.markets),
                    )


def group_assets(reported, group: str, assets) -> list[str]:
    """Scenario assets that a reported asset group stands for."""
    if group in reported.asset_groups:
        return list(reported.asset_groups[group])
    return [name for name in assets if name.lower() == group.lower()]


def trigger_shock(scenario):
    """The validated ``[event.trigger]`` as a shock model, or None."""
    trigger = scenario.event.trigger if scenario.event is not None else None
    if trigger is None:
        return None
    try:
        shock = TypeAdapter(Shock).validate_python(trigger)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(
            str(p)
            for p in first["loc"]
            if p not in ("index_jump", "index_path", "sell_programme", "recorded_path")
        )
        raise CascadesimInputError(
            f"event.trigger.{where} = {first.get('input')!r}: {first['msg']}"
        ) from None
    return shock
