"""Simulated against reported: the figures of an event run, their bands and pass marks.

A figure passes when the simulated value is inside its band around the reported one:

============================  ===============================================================
figure                        band
============================  ===============================================================
total, accounts, largest      ratio simulated / reported within [1/1.5, 1.5]
per-venue, per-asset totals   the same factor of 1.5
long share (overall, asset)   within 5 percentage points
"more than X" (long share,    a lower bound: simulated at least X - 5 points (shares) or
venue longs)                  X / 1.5 (USD)
open-interest change          within 3 percentage points of the reported change (shown,
                              unmarked, when the event does not report one)
price low (per asset)         the fall from the price before within 2 percentage points of
                              the reported fall (a reported range: inside it, widened by 2)
============================  ===============================================================

USD figures are compared in the **aggregator view** by default (what the public streams
show, :mod:`cascadesim.events.aggregator`), so that the simulated "reported" total is compared like
with like; ``count="true"`` compares the true totals instead. Accounts are always the true
number of accounts liquidated (the aggregators' trader counts are not derivable from the
throttled streams, and differ between snapshots of the same day by a few percent).
Prices are the spot index (what the press quotes), lowest over the run.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from cascadesim._util.errors import CascadesimInputError
from cascadesim.events.aggregator import aggregator_view
from cascadesim.events.modes import scenario_for_mode
from cascadesim.scenario.checks import group_assets
from cascadesim.sim.driver import simulate

RATIO_BAND = 1.5  # total, accounts, largest single, per venue, per asset
SHARE_BAND = 0.05  # long shares, fraction (5 percentage points)
OPEN_INTEREST_BAND = 0.03  # open-interest change, fraction (3 percentage points)
PRICE_BAND = 0.02  # price falls, fraction of the price before (2 percentage points)
TOLERANCE = 1e-12  # a figure exactly on the edge of its band passes


@dataclass(frozen=True)
class Figure:
    """One compared figure.

    Attributes
    ----------
    name : str, e.g. 'total_usd', 'venue.binance.total_usd', 'price_low.BTC'
    simulated, reported : float or None (USD, share or price)
    ratio : float or None, simulated / reported
    band : str, the band in words
    passed : bool or None (None when there is nothing to compare)
    """

    name: str
    simulated: float | None
    reported: float | None
    ratio: float | None
    band: str
    passed: bool | None
    low: float | None = None  # a reported range's ends (span figures only)
    high: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def safe_ratio(simulated: float | None, reported: float | None) -> float | None:
    """simulated / reported, None when either is missing or the reported is 0."""
    if simulated is None or reported is None or reported == 0:
        return None
    return float(simulated) / float(reported)


def ratio_figure(
    name: str, simulated: float | None, reported: float, factor: float = RATIO_BAND
) -> Figure:
    """Pass when simulated / reported is within [1/factor, factor]."""
    ratio = safe_ratio(simulated, reported)
    passed = None if ratio is None else (1 / factor - TOLERANCE <= ratio <= factor + TOLERANCE)
    return Figure(name, simulated, reported, ratio, f"x{factor:g}", passed)


def span_figure(
    name: str, simulated: float | None, low: float, high: float, factor: float = RATIO_BAND
) -> Figure:
    """A reported range of snapshots: pass when simulated is within [low / factor, high * factor].

    The figure's ``reported`` is the range's geometric middle (its ratio is to that).
    """
    middle = math.sqrt(low * high)
    ratio = safe_ratio(simulated, middle)
    passed = None
    if simulated is not None:
        passed = low / factor * (1 - TOLERANCE) <= simulated <= high * factor * (1 + TOLERANCE)
    band = f"{low:,.4g}-{high:,.4g} x{factor:g}"
    return Figure(name, simulated, middle, ratio, band, passed, float(low), float(high))


def minimum_figure(
    name: str, simulated: float | None, reported_min: float, factor: float = RATIO_BAND
) -> Figure:
    """A reported lower bound ("more than X"): pass when simulated >= X / factor."""
    ratio = safe_ratio(simulated, reported_min)
    passed = None if ratio is None else ratio >= 1 / factor - TOLERANCE
    return Figure(name, simulated, reported_min, ratio, f">= /{factor:g}", passed)


def share_figure(
    name: str,
    simulated: float | None,
    reported: float,
    band: float = SHARE_BAND,
    lower_bound: bool = False,
) -> Figure:
    """Pass when |simulated - reported| <= band (or simulated >= reported - band)."""
    ratio = safe_ratio(simulated, reported)
    if simulated is None:
        passed = None
    elif lower_bound:
        passed = simulated >= reported - band - TOLERANCE
    else:
        passed = abs(simulated - reported) <= band + TOLERANCE
    words = f">= -{100 * band:g}pp" if lower_bound else f"+-{100 * band:g}pp"
    return Figure(name, simulated, reported, ratio, words, passed)


def price_figure(
    name: str,
    simulated_low: float | None,
    reported_low: float,
    before: float,
    band: float = PRICE_BAND,
) -> Figure:
    """Pass when the simulated fall from ``before`` is within ``band`` of the reported fall."""
    ratio = safe_ratio(simulated_low, reported_low)
    passed = None
    if simulated_low is not None:
        gap = abs(simulated_low - reported_low) / before
        passed = gap <= band + TOLERANCE
    return Figure(
        name, simulated_low, reported_low, ratio, f"+-{100 * band:g}pp of {before:,.6g}", passed
    )


def range_figure(
    name: str, simulated_drop: float | None, low: float, high: float, band: float = PRICE_BAND
) -> Figure:
    """A reported range of falls: pass when the simulated fall is inside it, widened by band."""
    middle = 0.5 * (low + high)
    ratio = safe_ratio(simulated_drop, middle)
    passed = None
    if simulated_drop is not None:
        passed = low - band - TOLERANCE <= simulated_drop <= high + band + TOLERANCE
    return Figure(
        name,
        simulated_drop,
        middle,
        ratio,
        f"{100 * low:g}-{100 * high:g}% +-{100 * band:g}pp",
        passed,
    )


def compare(simulated: dict, reported, assets: dict[str, float]) -> list[Figure]:
    """Every reported figure against its simulated counterpart.

    Parameters
    ----------
    simulated : dict from :func:`simulated_figures`
    reported : cascadesim.scenario.event.Reported
    assets : mapping asset name -> start price of the run (USD), in scenario order

    Returns
    -------
    list of Figure, in a fixed order: totals, shares, accounts, largest, venues, assets,
    open-interest change, prices
    """
    out: list[Figure] = []
    total_range = reported.liquidated_total_range_usd
    if total_range is not None:
        out.append(span_figure("total_usd", simulated["total_usd"], *total_range))
    elif reported.liquidated_total_usd is not None:
        out.append(ratio_figure("total_usd", simulated["total_usd"], reported.liquidated_total_usd))
    elif reported.liquidated_total_min_usd is not None:
        out.append(
            minimum_figure(
                "total_usd_min", simulated["total_usd"], reported.liquidated_total_min_usd
            )
        )
    if reported.liquidated_long_usd is not None:
        out.append(ratio_figure("long_usd", simulated["long_usd"], reported.liquidated_long_usd))
    if reported.liquidated_short_usd is not None:
        out.append(ratio_figure("short_usd", simulated["short_usd"], reported.liquidated_short_usd))
    share = reported.long_share()
    if share is not None:
        out.append(share_figure("long_share", simulated["long_share"], share))
    if reported.long_share_min is not None:
        out.append(
            share_figure(
                "long_share_min", simulated["long_share"], reported.long_share_min, lower_bound=True
            )
        )
    if reported.traders_liquidated_range is not None:
        low, high = reported.traders_liquidated_range
        out.append(span_figure("accounts", simulated["accounts"], float(low), float(high)))
    elif reported.traders_liquidated is not None:
        out.append(
            ratio_figure("accounts", simulated["accounts"], float(reported.traders_liquidated))
        )
    elif reported.traders_liquidated_min is not None:
        out.append(
            minimum_figure(
                "accounts_min", simulated["accounts"], float(reported.traders_liquidated_min)
            )
        )
    if reported.largest_single_usd is not None:
        out.append(
            ratio_figure(
                "largest_single_usd", simulated["largest_single_usd"], reported.largest_single_usd
            )
        )
    market = reported.largest_single_market
    if reported.largest_single_usd is not None and market is not None:
        largest = simulated.get("largest_by_market", {}).get(market)
        out.append(ratio_figure(f"largest_single.{market}", largest, reported.largest_single_usd))
    venues = simulated["by_venue"]
    for venue, usd in reported.venue_total_usd.items():
        out.append(
            ratio_figure(
                f"venue.{venue}.total_usd", venues.get(venue, {}).get("total_usd", 0.0), usd
            )
        )
    for venue, usd in reported.venue_long_min_usd.items():
        out.append(
            minimum_figure(
                f"venue.{venue}.long_usd_min", venues.get(venue, {}).get("long_usd", 0.0), usd
            )
        )
    for group, usd in reported.asset_total_usd.items():
        totals = group_totals(simulated["by_asset"], group_assets(reported, group, assets))
        out.append(ratio_figure(f"asset.{group}.total_usd", totals["total_usd"], usd))
    for group, usd in reported.asset_long_usd.items():
        long = group_totals(simulated["by_asset"], group_assets(reported, group, assets))[
            "long_usd"
        ]
        out.append(ratio_figure(f"asset.{group}.long_usd", long, usd))
    for group, usd in reported.asset_short_usd.items():
        totals = group_totals(simulated["by_asset"], group_assets(reported, group, assets))
        out.append(
            ratio_figure(f"asset.{group}.short_usd", totals["total_usd"] - totals["long_usd"], usd)
        )
    for group, share in reported.asset_long_share.items():
        totals = group_totals(simulated["by_asset"], group_assets(reported, group, assets))
        long_share = totals["long_usd"] / totals["total_usd"] if totals["total_usd"] > 0 else None
        out.append(share_figure(f"asset.{group}.long_share", long_share, share))
    change = simulated.get("open_interest_change")
    if reported.open_interest_change is not None:
        out.append(
            share_figure(
                "open_interest_change", change, reported.open_interest_change, OPEN_INTEREST_BAND
            )
        )
    else:
        out.append(Figure("open_interest_change", change, None, None, "not reported", None))
    for group, reported_change in reported.asset_open_interest_change.items():
        members = group_assets(reported, group, assets)
        out.append(
            share_figure(
                f"asset.{group}.open_interest_change",
                open_interest_change_of(simulated.get("open_interest_by_asset", {}), members),
                reported_change,
                OPEN_INTEREST_BAND,
            )
        )
    for venue, usd in reported.venue_adl_usd.items():
        out.append(
            ratio_figure(f"venue.{venue}.adl_usd", simulated["adl_by_venue"].get(venue, 0.0), usd)
        )
    lows = simulated["price_low"]
    for asset, low in reported.price_low_usd.items():
        before = reported.price_before_usd.get(asset, assets[asset])
        out.append(price_figure(f"price_low.{asset}", lows.get(asset), low, before))
    for asset, drop in reported.drop_fraction.items():
        if asset in reported.price_low_usd:
            continue  # the low says it already
        before = reported.price_before_usd.get(asset, assets[asset])
        out.append(price_figure(f"price_low.{asset}", lows.get(asset), before * (1 - drop), before))
    for asset, (low, high) in reported.drop_range.items():
        before = reported.price_before_usd.get(asset, assets[asset])
        drop = None if lows.get(asset) is None else 1.0 - lows[asset] / before
        out.append(range_figure(f"price_drop.{asset}", drop, low, high))
    return out


def open_interest_change_of(by_asset: dict, members: list[str]) -> float | None:
    """Change of the open contracts of a group's assets (valued at their start prices)."""
    before = sum(by_asset.get(name, {}).get("before", 0.0) for name in members)
    after = sum(by_asset.get(name, {}).get("after", 0.0) for name in members)
    return after / before - 1.0 if before > 0 else None


def group_totals(by_asset: dict, members: list[str]) -> dict:
    """Long and total USD summed over the assets of a group."""
    long = sum(by_asset.get(name, {}).get("long_usd", 0.0) for name in members)
    total = sum(by_asset.get(name, {}).get("total_usd", 0.0) for name in members)
    return {"long_usd": long, "total_usd": total}


def simulated_figures(result, scenario, count: str = "aggregator") -> dict:
    """The figures of one run that :func:`compare` needs, plus the true/visible gap.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    scenario : the Scenario the result was run from (its [reporting] table is used)
    count : 'aggregator' (USD figures as the public streams show them) or 'true'

    Returns
    -------
    dict: total_usd, long_usd, short_usd, long_share, accounts, largest_single_usd,
    by_venue, by_asset, price_low (per asset, USD), perp_low (per asset, USD),
    reporting (true and visible figures, gap_usd, visible_share)
    """
    reporting = scenario.reporting
    venues = {
        name: (reporting.market_venue.get(name, market.venue) if reporting else market.venue)
        for name, market in scenario.markets.items()
    }
    assets = {name: market.asset for name, market in scenario.markets.items()}
    throttled = reporting.throttled_venues if reporting else ["binance"]
    symbols = reporting.symbols_per_market if reporting else {}
    view = aggregator_view(
        result.liquidations, venues, assets, throttled, symbols, step_s=scenario.step_s
    )
    chosen = view["visible" if count == "aggregator" else "true"]
    timeline = result.timeline
    price_low, perp_low = {}, {}
    for asset in scenario.assets:
        markets = [name for name, market in scenario.markets.items() if market.asset == asset]
        rows = timeline[timeline["market"].isin(markets)]
        if len(rows):
            price_low[asset] = float(rows["index_price"].min())
            perp_low[asset] = float(np.minimum(rows["mid_price"], rows["last_price"]).min())
    open_interest: dict[str, dict[str, float]] = {}
    adl_by_venue: dict[str, float] = {}
    largest_by_market: dict[str, float] = {}
    for row in result.summary["markets"]:
        book = open_interest.setdefault(row["asset"], {"before": 0.0, "after": 0.0})
        book["before"] += row["open_interest_before_contracts"] * row["price_start"]
        book["after"] += row["open_interest_after_contracts"] * row["price_start"]
        label = venues.get(row["market"], row["venue"])
        adl_by_venue[label] = adl_by_venue.get(label, 0.0) + row["adl_notional_usd"]
        largest_by_market[row["market"]] = row["largest_liquidation_usd"]
    return {
        "total_usd": chosen["total_usd"],
        "long_usd": chosen["long_usd"],
        "short_usd": chosen["short_usd"],
        "long_share": chosen["long_share"],
        "accounts": int(result.summary["accounts_liquidated"]),
        # A position liquidated in steps (tier step-down, 20 % chunks) is one liquidation in
        # the press's sense; the model's chunks are its own, so the figure is per position.
        "largest_single_usd": float(result.summary["largest_liquidation_usd"]),
        "by_venue": chosen["by_venue"],
        "by_asset": chosen["by_asset"],
        "price_low": price_low,
        "perp_low": perp_low,
        # Contracts, all markets: what the venues' open-interest series show (true figure;
        # aggregators read it from the venues, not from the liquidation streams).
        "open_interest_change": float(result.summary["open_interest_change"]),
        "open_interest_by_asset": open_interest,
        "adl_by_venue": adl_by_venue,
        "largest_by_market": largest_by_market,
        "reporting": {
            "true_total_usd": view["true"]["total_usd"],
            "visible_total_usd": view["visible"]["total_usd"],
            "gap_usd": view["gap_usd"],
            "visible_share": view["visible_share"],
            "true_orders": view["true"]["orders"],
            "visible_orders": view["visible"]["orders"],
            "true_long_share": view["true"]["long_share"],
            "true_largest_order_usd": view["true"]["largest_order_usd"],
        },
    }


def median_figures(runs: list[dict]) -> dict:
    """Element-wise median of several :func:`simulated_figures` dicts (nested dicts too).

    A key missing from some runs (a venue with no liquidation) counts as 0 there.
    """
    first = runs[0]
    merged: dict = {}
    for key in set().union(*(run.keys() for run in runs)):
        values = [run.get(key) for run in runs]
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, dict):
            merged[key] = median_figures([v if isinstance(v, dict) else {} for v in values])
        elif isinstance(sample, int | float) and not isinstance(sample, bool):
            numbers = [0.0 if v is None else float(v) for v in values]
            merged[key] = float(np.median(numbers))
        else:
            merged[key] = first.get(key)
    return merged


def validate_event(
    scenario,
    mode: str | None = None,
    count: str = "aggregator",
    seed: int | None = None,
    seeds: int = 1,
) -> dict:
    """Run one event scenario in a mode and compare it with its ``[reported]`` table.

    Parameters
    ----------
    scenario : Scenario with a [reported] table
    mode : 'replay', 'shock' or None (the scenario's [event] mode, default replay)
    count : 'aggregator' or 'true', see :func:`simulated_figures`
    seed : int or None, replaces the scenario's seed (the first seed with ``seeds`` > 1)
    seeds : int, populations drawn (seeds seed, seed + 1, ...): each figure is the median
        over them, and ``pass_rate`` says in how many of them it passed on its own

    Returns
    -------
    dict: event, scenario, mode, count, seeds, passed (bool), figures (list of dicts, with
    pass_rate), reporting (median over seeds), perp_low, runtime_s
    """
    if scenario.reported is None:
        where = scenario.source or scenario.name
        raise CascadesimInputError(
            f"{where}: reported: an event scenario needs a [reported] table to validate against"
        )
    mode = mode or (scenario.event.mode if scenario.event is not None else "replay")
    started = time.perf_counter()
    driven = scenario_for_mode(scenario, mode)
    first_seed = scenario.seed if seed is None else int(seed)
    starts = dict(zip(scenario.assets, scenario.start_index(), strict=True))
    per_seed = []
    for k in range(max(int(seeds), 1)):
        result = simulate(driven.build(seed=first_seed + k), counterfactual=False)
        per_seed.append(simulated_figures(result, driven, count))
        del result
    simulated = per_seed[0] if len(per_seed) == 1 else median_figures(per_seed)
    figures = compare(simulated, scenario.reported, starts)
    single = [compare(run, scenario.reported, starts) for run in per_seed]
    rows = []
    for position, figure in enumerate(figures):
        marks = [run[position].passed for run in single]
        known = [mark for mark in marks if mark is not None]
        rate = sum(known) / len(known) if known else None
        rows.append({**figure.to_dict(), "pass_rate": rate})
    return {
        "event": scenario.event.id
        if scenario.event is not None and scenario.event.id
        else scenario.name,
        "scenario": str(scenario.source) if scenario.source else scenario.name,
        "mode": mode,
        "count": count,
        "seeds": [first_seed + k for k in range(len(per_seed))],
        "passed": all(f.passed is not False for f in figures),
        "figures": rows,
        "reporting": simulated["reporting"],
        "perp_low": simulated["perp_low"],
        "runtime_s": round(time.perf_counter() - started, 2),
    }


def finite(value):
    """JSON-safe number: NaN and inf become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
