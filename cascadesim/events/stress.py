"""Historical stress: the library's real days replayed against a scenario's market today.

Each day of the library (an event file whose ``[shock]`` is an ``index_path`` with
``per_asset`` paths, or one ``asset`` and its ``points``) gives relative moves of its assets
over its window. A scenario asset the day has follows its own path; one the day does not
have follows the day's factor asset (the asset with ``factor_weight = 1``, else BTC) by the
scenario's beta: log move = beta x the factor's log move, i.e. ``fraction ** beta`` at every
point of the path. The scenario is then run with its ``[shock]`` replaced by that
``index_path`` (and its own seed, so that every day meets the same population): one row of
figures per day, taken from the run's summary.

Only the event files' ``name``, ``description``, ``[assets]`` (for the factor) and
``[shock]`` are read, so a library of small hand-written files works as well as the bundled
one.

Window: ``full`` runs the day's whole path (its last time, usually 86,400 s) with the
scenario's step; ``compressed`` squeezes the path's times into the scenario's
``duration_s`` (the moves are the same, their speed is not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import is_dir
from cascadesim._util.toml import load_toml
from cascadesim.events.parallel import EventWorkers
from cascadesim.scenario.bundled import bundled_directory
from cascadesim.scenario.models import Scenario
from cascadesim.scenario.shock import IndexPath
from cascadesim.sim.driver import simulate

WINDOWS = ("full", "compressed")
FACTOR_FALLBACK = "BTC"
# The summary's own figures copied into each row (see cascadesim.sim.result.Result.summary).
SUMMARY_FIGURES = (
    "liquidated_total_usd",
    "liquidated_long_usd",
    "liquidated_short_usd",
    "accounts_liquidated",
    "bad_debt_usd",
    "adl_count",
    "adl_notional_usd",
    "insurance_fund_change_usd",
    "max_drawdown",
    "counterfactual_max_drawdown",
    "amplification",
)


@dataclass(frozen=True)
class LibraryDay:
    """One real day: its name, description, factor asset and index paths.

    Attributes
    ----------
    name, description : str, from the event file
    source : str, the event file
    factor : str, the asset whose moves other assets follow by beta
    paths : dict of asset -> list of [seconds, fraction of the start price]
    """

    name: str
    description: str
    source: str
    factor: str
    paths: dict[str, list[list[float]]]

    @property
    def end_s(self) -> float:
        """The day's window: the last time of its paths, seconds."""
        return max(points[-1][0] for points in self.paths.values())

    @property
    def factor_move(self) -> float:
        """The factor's move from the start to its low, a fraction (negative: a fall)."""
        return min(value for _, value in self.paths[self.factor]) - 1.0


@dataclass(frozen=True)
class AssetMapping:
    """How one scenario asset gets its path from a day.

    ``beta`` is None when the day has the asset's own path.
    """

    asset: str
    followed: str
    beta: float | None

    def describe(self) -> str:
        if self.beta is None:
            return f"{self.asset}: own path"
        return f"{self.asset}: {self.followed} path x beta {self.beta:g} (scenario)"


# --- the library ------------------------------------------------------------------------
def bundled_library() -> Path:
    """The bundled event files' folder."""
    return bundled_directory() / "events"


def load_library(
    directory: str | Path | None = None, option: str = "--library"
) -> list[LibraryDay]:
    """Every ``*.toml`` day of ``directory`` (default: the bundled events), by file name.

    Raises
    ------
    CascadesimInputError
        a folder that is missing or holds no event file, or a file without an index path
    """
    folder = bundled_library() if directory is None else Path(directory)
    if not is_dir(folder):
        raise invalid(option, str(folder), "a folder of event TOML files")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise invalid(option, str(folder), "a folder holding at least one event .toml file")
    return [read_day(path) for path in files]


def read_day(path: Path) -> LibraryDay:
    """One event file's day (only name, description, [assets] and [shock] are read)."""
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CascadesimInputError(f"{path}: not a readable TOML file ({error})") from None
    shock = data.get("shock")
    if not isinstance(shock, dict) or shock.get("kind") != "index_path":
        kind = shock.get("kind") if isinstance(shock, dict) else None
        raise CascadesimInputError(
            f"{path}: shock.kind = {kind!r}: an index_path shock (the day's moves) is needed"
        )
    try:
        validated = IndexPath.model_validate(shock)
    except ValueError as error:
        first = str(error).splitlines()
        reason = first[-1].strip() if first else "invalid"
        raise CascadesimInputError(f"{path}: shock: {reason}") from None
    if validated.per_asset is not None:
        paths = {name: [list(p) for p in points] for name, points in validated.per_asset.items()}
    else:
        assert validated.points is not None  # exactly one of them (IndexPath's own check)
        paths = {validated.asset: [list(p) for p in validated.points]}
    if any(points[0][0] != 0 for points in paths.values()):
        raise CascadesimInputError(f"{path}: shock.per_asset: every path starts at 0 s")
    return LibraryDay(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")),
        source=str(path),
        factor=factor_asset(data.get("assets") or {}, paths, path),
        paths=paths,
    )


def factor_asset(assets: dict, paths: dict, path: Path) -> str:
    """The day's factor: its asset with factor_weight 1 that has a path, else BTC."""
    weighted = [
        name
        for name, table in assets.items()
        if isinstance(table, dict) and table.get("factor_weight") == 1 and name in paths
    ]
    if weighted:
        return weighted[0]
    if FACTOR_FALLBACK in paths:
        return FACTOR_FALLBACK
    raise CascadesimInputError(
        f"{path}: assets: no factor asset (factor_weight = 1, or a BTC path) for the assets "
        "the day lacks to follow"
    )


# --- a day on the scenario --------------------------------------------------------------
def mapped_paths(scenario, day: LibraryDay) -> tuple[dict[str, list[list[float]]], list]:
    """Each scenario asset's path on ``day`` and how it was made (:class:`AssetMapping`)."""
    paths, mappings = {}, []
    for name, asset in scenario.assets.items():
        if name in day.paths:
            paths[name] = [list(p) for p in day.paths[name]]
            mappings.append(AssetMapping(name, name, None))
        else:
            beta = float(asset.beta)
            # log(f') = beta log(f): the asset moves beta times the factor's log move.
            paths[name] = [[t, value**beta] for t, value in day.paths[day.factor]]
            mappings.append(AssetMapping(name, day.factor, beta))
    return paths, mappings


def windowed(paths: dict, window: str, duration_s: float, end_s: float) -> dict:
    """The paths as run: as they are (full) or their times scaled into ``duration_s``."""
    if window == "full":
        return paths
    scale = duration_s / end_s
    return {name: [[t * scale, value] for t, value in points] for name, points in paths.items()}


def day_scenario(scenario, day: LibraryDay, window: str = "full"):
    """The scenario with its ``[shock]`` replaced by the day's mapped index paths.

    ``full`` sets ``duration_s`` to the day's window; ``compressed`` keeps the scenario's.
    """
    if window not in WINDOWS:
        raise invalid("--window", window, "full or compressed")
    paths, _ = mapped_paths(scenario, day)
    data = scenario.model_dump(mode="json", exclude_unset=True)
    duration = day.end_s if window == "full" else scenario.duration_s
    data["duration_s"] = duration
    data["shock"] = {
        "kind": "index_path",
        "per_asset": windowed(paths, window, scenario.duration_s, day.end_s),
    }
    return scenario.derived(data)


@dataclass(frozen=True)
class DayJob:
    """A day's scenario as plain data (picklable for process pools and Dask)."""

    day: str
    scenario: dict
    source: str | None


def run_day(job: DayJob) -> dict:
    """Run one day's scenario (with its liquidation-free counterfactual); its summary."""
    scenario = Scenario.from_data(job.scenario, job.source)
    return simulate(scenario, counterfactual=True).summary


def stress_row(day: LibraryDay, summary: dict, mappings: list[AssetMapping]) -> dict:
    """A day's row: its move, the summary's figures, the most amplified market."""
    row: dict = {
        "day": day.name,
        "description": day.description,
        "factor_asset": day.factor,
        "factor_move": day.factor_move,
    }
    row.update({key: summary.get(key) for key in SUMMARY_FIGURES})
    change = summary.get("insurance_fund_change_usd") or 0.0
    row["insurance_fund_drawdown_usd"] = max(0.0, -float(change))
    amplified = [m for m in summary["markets"] if m.get("amplification") is not None]
    top = max(amplified, key=lambda m: m["amplification"], default=None)
    row["most_amplified_market"] = None if top is None else top["market"]
    row["most_amplified_amplification"] = None if top is None else top["amplification"]
    row["mapping"] = "; ".join(mapping.describe() for mapping in mappings)
    return {
        key: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for key, v in row.items()
    }


@dataclass
class StressOutcome:
    """Rows (one per day, library order), the mapping notes and the window used."""

    rows: list[dict]
    mappings: dict[str, list[str]]
    window: str
    durations_s: dict[str, float]


def run_stress(
    scenario,
    days: list[LibraryDay],
    *,
    window: str = "full",
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StressOutcome:
    """Run every day of ``days`` on ``scenario``; the same rows whatever the workers.

    The first day runs in this process before the others go to the pool, so that the
    kernels are compiled (or loaded) into the cache once, never by several processes at once.
    """
    jobs, mappings, durations = [], {}, {}
    for day in days:
        variant = day_scenario(scenario, day, window)
        jobs.append(
            DayJob(
                day=day.name,
                scenario=variant.model_dump(mode="json", exclude_unset=True),
                source=None if scenario.source is None else str(scenario.source),
            )
        )
        mappings[day.name] = [m.describe() for m in mapped_paths(scenario, day)[1]]
        durations[day.name] = float(variant.duration_s)
    summaries = [run_day(jobs[0])]
    if progress is not None:
        progress(1, len(jobs))
    with EventWorkers(workers, scheduler) as pool:
        summaries += pool.map(run_day, jobs[1:])
    if progress is not None:
        progress(len(jobs), len(jobs))
    rows = [
        stress_row(day, summary, mapped_paths(scenario, day)[1])
        for day, summary in zip(days, summaries, strict=True)
    ]
    return StressOutcome(rows=rows, mappings=mappings, window=window, durations_s=durations)


def worst_day(rows: list[dict]) -> dict:
    """The row that flushed most (ties: the larger bad debt, then the earlier day)."""
    return max(
        rows, key=lambda row: (row["liquidated_total_usd"] or 0.0, row["bad_debt_usd"] or 0.0)
    )
