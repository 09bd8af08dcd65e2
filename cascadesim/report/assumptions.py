"""The assumptions a run's figures rest on, for the box every report carries.

A committee signs a figure only knowing what it was built from: which population profile
and when it was fitted, which tier tables are the venues' published ones and which are
estimates, what came from market data and what was estimated, and which of the model's known
limits bear on this run. Each entry is (heading, plain text); the report escapes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cascadesim.model.venues import VENUES
from cascadesim.scenario.build import profile_record

# Shown whatever the run: what the model leaves out by construction (docs/model.md).
STANDING_LIMITS = (
    "Liquidation prices come from the venues' published margin rules; the traders' "
    "positions behind them are not observed: leverage, size and entry are drawn from the "
    "population model (or read from a position book, where one was given).",
    "The counterfactual replays the same shock with the liquidation engine off; the market "
    "makers follow the same rules in both, so the gap measures the forced orders, not a "
    "change of the makers' minds.",
    "One price path per run: a single run is one outcome of the seed, not a distribution "
    "(a sweep gives the spread).",
)


def profile_assumption(profile: dict | None) -> str:
    """The population profile the scenario adopted and when it was fitted."""
    if not profile:
        return (
            "No fitted profile: the population follows the scenario's own [population] "
            "table and the package defaults (estimates, not fitted to any real day)."
        )
    record = profile.get("calibration", {})
    fitted = record.get("fitted_utc", "date not recorded")
    status = record.get("status", "no calibration record")
    events = record.get("events")
    on = f" on {events} real days" if events else ""
    name = profile["name"]
    return f'Profile "{name}": {status}{on}, fitted {fitted}.'


def tier_assumption(markets) -> str:
    """Which markets' tier tables are published and which are estimates (with the source).

    ``markets``: the MarketSpecs of a setup or of a scenario (``Scenario.market_specs``).
    """
    published, estimated = [], []
    for spec in markets:
        profile = VENUES.get(spec.venue)
        if profile is None:
            estimated.append(f"{spec.name} (venue without a profile)")
            continue
        table = profile.tiers(spec.asset)
        if table.is_estimate or not profile.has_own_tiers(spec.asset):
            estimated.append(f"{spec.name} ({table.source})")
        else:
            published.append(spec.name)
    parts = []
    if published:
        parts.append("published by the venue: " + ", ".join(published))
    if estimated:
        parts.append("estimates: " + "; ".join(estimated))
    return "Tier tables " + ". ".join(parts) + " (sources in docs/model.md)."


def data_assumption(summary: dict) -> str:
    """What was imported from market data or a position book, and what was estimated."""
    snapshot = summary.get("snapshot")
    if snapshot:
        estimates = [f"{path}: {why}" for path, why in snapshot["estimates"].items()]
        listed = "; ".join(estimates[:6]) + ("; ..." if len(estimates) > 6 else "")
        parts = [
            f"Market data of {snapshot['taken_utc']} ({snapshot['data']}): "
            f"{len(snapshot['sources'])} values read from the venues, "
            f"{len(estimates)} estimated" + (f" ({listed})" if estimates else "") + "."
        ]
    else:
        parts = [
            "No market data imported: open interest, depth, funding and prices are the "
            "scenario file's stated values."
        ]
    if "book" in summary:
        book = summary["book"]
        parts.append(
            f"Positions from the book {Path(book['file']).name} ({book['positions_run']:,} run)."
        )
    for note in summary.get("estimates", []):
        parts.append(f"Estimate: {note}.")
    return " ".join(parts)


def run_limits(result) -> list[str]:
    """The model's known limits that bear on this particular run."""
    summary = result.summary
    notes = list(STANDING_LIMITS)
    if "flow" not in summary:
        notes.append(
            "No positions open during the run (no [flow] table): every liquidated position "
            "existed before the shock, so shorts are liquidated only above the start price."
        )
    cross = result.setup.positions.cross
    if cross is not None and bool(np.any(cross)):
        notes.append(
            "Cross-margin accounts: a position's liquidation price moves with the account's "
            "other positions, so the liquidation maps (drawn at the start) place some of them "
            "on the side of the start price where an isolated position would not be."
        )
    if any(spec.inverse for spec in result.setup.markets):
        notes.append(
            "Inverse (coin-margined) markets: their margin and funds are in the coin and are "
            "shown in USD at the mark price."
        )
    if len({spec.venue for spec in result.setup.markets}) > 1:
        notes.append(
            "Venues interact only through the shared index and the spot arbitrage; no "
            "trader moves margin between venues during the run."
        )
    return notes + cap_notes(summary)


def cap_notes(summary: dict) -> list[str]:
    """One sentence per engine cap the run reached (the CLI prints them as warnings)."""
    notes = []
    if summary.get("iteration_cap_hit"):
        notes.append("The liquidation fixed point hit its cap: some liquidations waited a step.")
    if summary.get("book_exhausted"):
        notes.append("The book window was exhausted: the lowest prices are a floor.")
    if summary.get("walk_cap_hit"):
        notes.append(
            "An order hit the walk cap (32 empty book windows): the fills beyond it are missing."
        )
    if summary.get("index_bound_hit"):
        notes.append(
            "An index reached an engine bound (spot impact of 100 times, or 1e6 times its "
            "start) and was held there: the spot depth or the betas are beyond what the model "
            "represents, and that asset's figures are not meaningful."
        )
    return notes


def run_assumptions(result) -> list[tuple[str, str]]:
    """(heading, text) of every assumption of a run, in the order the report shows them."""
    summary = result.summary
    rows = [
        ("Population", profile_assumption(result.setup.labels.get("profile"))),
        ("Margin rules", tier_assumption(result.setup.markets)),
        ("Data", data_assumption(summary)),
    ]
    rows.extend(("Limit", note) for note in run_limits(result))
    return rows


def sweep_assumptions(sweep, paths_per_point: int) -> list[tuple[str, str]]:
    """(heading, text) of what a sweep's figures rest on: its base scenario and its paths."""
    base = sweep.base
    return [
        ("Population", profile_assumption(profile_record(base))),
        ("Margin rules", tier_assumption(base.market_specs())),
        (
            "Data",
            "The base scenario's stated open interest, depth, funding and prices; the shock "
            "of each path is drawn as the sweep file states.",
        ),
        *(("Limit", note) for note in STANDING_LIMITS[:2]),
        (
            "Limit",
            f"Percentiles, VaR and probabilities come from {paths_per_point:,} paths per point: "
            "their intervals are in the points table and points.parquet.",
        ),
    ]
