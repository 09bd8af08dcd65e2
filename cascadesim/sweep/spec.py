"""Sweep files: an ensemble of random shocks crossed with a design over scenario fields.

A sweep file (TOML, validated by pydantic with ``extra="forbid"``) names a base scenario, the
number of paths per design point, a seed, the distribution of the random shock drawn for each
path, optionally a fresh population per path, and a grid or random design over scenario
fields given by dotted paths::

    name = "exchange_tuning"
    scenario = "default"                 # bundled name, or a file relative to this one
    paths = 100
    seed = 7

    [fixed]                              # applied to the base scenario first
    "population.accounts" = 20000

    [shock]                              # drawn once per path
    kind = "index_jump"
    drop_fraction = {distribution = "uniform", low = 0.03, high = 0.12}
    ramp_s = {distribution = "loguniform", low = 30, high = 600}

    [design]
    kind = "grid"
    [design.parameters]
    "markets.*.insurance_fund_usd" = [1e6, 1e7, 1e8]
    "population.leverage.max" = [10, 25, 50, 125]

Dotted paths follow the scenario's tables: ``markets.<name>.<field>`` (``*`` for every market),
``markets.<name>.overrides.<MarketSpec field>``, ``population.leverage.max``,
``assets.<name>.spot_depth_1pct_usd``, and ``venues.<venue>.<market field>`` for every market
on a venue. Every error is one line, ``<file>: <field.path> = <value>: <what is allowed>``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, ValidationError, model_validator

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import is_file
from cascadesim._version import __version__
from cascadesim.scenario.bundled import bundled_directory, resolve_scenario
from cascadesim.scenario.files import (
    allowed_text,
    is_model,
    read_text_file,
    short_repr,
    strip,
    validate_toml,
)
from cascadesim.scenario.files import describe_validation_error as describe_error
from cascadesim.scenario.models import (
    NAME_PATTERN,
    VENUE_NAMES,
    Market,
    PositiveFloat,
    Scenario,
    StrictModel,
)
from cascadesim.sweep.distributions import (
    DISTRIBUTION_ADAPTER,
    DISTRIBUTIONS,
    AnyDistribution,
    Fixed,
    Random,
)

MAX_POINTS = 100_000
# Paths in all (points x paths): the plan alone of more would take minutes and gigabytes.
MAX_TASKS = 10_000_000
# spawn_key of the random design's stream: three words, so it never equals a task's
# two-word (point, path) key.
DESIGN_STREAM = (0x5EED, 0, 0)


def as_names(value: Any) -> Any:
    """A name or a list of names (one is drawn per path)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ValueError("a name, or a non-empty list of names (one drawn per path)")


Names = Annotated[list[str], BeforeValidator(as_names)]


# --- the sweep file -----------------------------------------------------------------------
class RandomShock(StrictModel):
    """The shock of each path, drawn from stated distributions."""

    kind: Literal["index_jump", "sell_programme"] = Field(
        "index_jump",
        description="index_jump: the spot index moves; sell_programme: an "
        "aggressive seller on one market",
    )
    asset: Names = Field(
        ["all"], description="index_jump: asset name, 'all', or a list of names to draw from"
    )
    drop_fraction: Random | None = Field(
        None, description="index_jump: fraction of the start price lost (negative: up)"
    )
    at_s: Random | None = Field(
        None, description="index_jump: seconds before the move starts (default 60)"
    )
    ramp_s: Random | None = Field(
        None, description="index_jump: seconds the move takes; its speed (default 0: one step)"
    )
    market: Names | None = Field(None, description="sell_programme: market name or a list")
    usd: Random | None = Field(None, description="sell_programme: USD sold")
    duration_s: Random | None = Field(None, description="sell_programme: seconds it sells")
    start_s: Random | None = Field(
        None, description="sell_programme: seconds before it starts (default 0)"
    )

    @model_validator(mode="after")
    def fields_of_kind(self) -> RandomShock:
        own = {
            "index_jump": ({"drop_fraction"}, {"asset", "at_s", "ramp_s"}),
            "sell_programme": ({"market", "usd", "duration_s"}, {"start_s"}),
        }
        needed, optional = own[self.kind]
        missing = sorted(needed - self.model_fields_set)
        if missing:
            raise ValueError(f"a {self.kind} shock needs {', '.join(missing)}")
        extra = sorted(self.model_fields_set - needed - optional - {"kind"})
        if extra:
            raise ValueError(f"a {self.kind} shock does not take {', '.join(extra)}")
        if self.kind == "index_jump":
            self.at_s = self.at_s or Fixed(value=60.0)
            self.ramp_s = self.ramp_s or Fixed(value=0.0)
        else:
            self.start_s = self.start_s or Fixed(value=0.0)
        return self


class Design(StrictModel):
    """Design points over scenario fields: every combination of a grid, or random draws."""

    kind: Literal["grid", "random"] = Field(
        "grid",
        description="grid: every combination of the listed values (first parameter "
        "slowest); random: `points` points drawn from distributions",
    )
    points: int | None = Field(
        None, ge=1, le=MAX_POINTS, description="random: number of design points"
    )
    parameters: dict[str, Any] = Field(
        min_length=1,
        description="dotted scenario path -> list of values (grid), or a "
        "distribution table or list to choose from (random)",
    )

    @model_validator(mode="after")
    def points_for_random(self) -> Design:
        if self.kind == "random" and self.points is None:
            raise ValueError("a random design needs points (how many to draw)")
        if self.kind == "grid" and self.points is not None:
            raise ValueError('points only with kind = "random" (a grid has every combination)')
        return self


class SweepFile(StrictModel):
    """A sweep: base scenario, ensemble size, seed, random shock, design."""

    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=80,
        description="short name, also the default output folder",
    )
    description: str = Field("", description="one line shown in the report")
    scenario: str = Field(
        description="base scenario: a file relative to the sweep file, or "
        "the name of a bundled scenario"
    )
    paths: int = Field(ge=1, le=1_000_000, description="paths per design point")
    seed: int = Field(ge=0, description="root seed of every random draw of the sweep")
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="dotted scenario path -> value, for every point"
    )
    shock: RandomShock | None = Field(
        None, description="random shock per path; default: the scenario's own shock"
    )
    redraw_population: bool = Field(
        False,
        description="draw a fresh population for every path (slower: a build and a "
        "sort per path) instead of one per design point",
    )
    common_random_numbers: bool = Field(
        True,
        description="path k draws the same shock (and population seed) at every design "
        "point, so that differences between points come from the parameters",
    )
    counterfactual: bool = Field(
        True, description="also run each path with liquidations off (for amplification)"
    )
    price_sample_s: PositiveFloat = Field(
        10.0, description="seconds between the stored samples of each path's price"
    )
    chunk_paths: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="paths per unit of work and per saved chunk "
        "(default: chosen from the size of the sweep)",
    )
    design: Design | None = Field(
        None, description="design over scenario fields; default: one point, the base scenario"
    )


# --- the loaded sweep ---------------------------------------------------------------------
@dataclass
class Sweep:
    """A validated sweep with its design points resolved into scenarios.

    Attributes
    ----------
    spec : SweepFile
    source : Path or None, the sweep file
    text : str, the sweep file's text
    base : Scenario, the base scenario with ``[fixed]`` applied
    parameters : list of str, the swept dotted paths, in design order
    point_values : list of dict, per point: dotted path -> value
    scenarios : list of Scenario, per point
    """

    spec: SweepFile
    source: Path | None
    text: str
    base: Scenario
    parameters: list[str]
    point_values: list[dict]
    scenarios: list[Scenario] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def n_points(self) -> int:
        return len(self.scenarios)

    def hash(self) -> str:
        """Short hex sha256 of what the results depend on (not ``paths``, name or chunking).

        Path k of point p has the same seed whatever the number of paths, so a finished sweep
        can be extended with more paths into the same folder.
        """
        spec = self.spec
        canonical = {
            "points": [scenario.hash() for scenario in self.scenarios],
            "values": [
                {key: json_value(v) for key, v in values.items()} for values in self.point_values
            ],
            "shock": None if spec.shock is None else spec.shock.model_dump(mode="json"),
            "seed": spec.seed,
            "redraw_population": spec.redraw_population,
            "common_random_numbers": spec.common_random_numbers,
            "counterfactual": spec.counterfactual,
            "price_sample_s": spec.price_sample_s,
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def provenance(self, paths: int | None = None) -> dict:
        """Sweep hash, seed, name, paths and version, for the outputs' metadata."""
        return {
            "sweep": self.name,
            "sweep_hash": self.hash(),
            "seed": self.spec.seed,
            "paths": self.spec.paths if paths is None else int(paths),
            "points": self.n_points,
            "version": __version__,
        }


def json_value(value: Any) -> Any:
    """A design value as plain JSON (numpy scalars become Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- reading ------------------------------------------------------------------------------
def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and resolve its design points.

    Raises
    ------
    CascadesimInputError
        one line ``<file>: <field.path> = <value>: <what is allowed>``
    """
    path = Path(path)
    text = read_text_file(path, "sweep")
    spec = validate_toml(SweepFile, text, str(path))
    try:
        return resolve_sweep(spec, path, text)
    except CascadesimInputError as error:
        message = str(error)
        raise CascadesimInputError(
            message if message.startswith(f"{path}: ") else f"{path}: {message}"
        ) from None


def resolve_sweep(spec: SweepFile, source: Path | None, text: str) -> Sweep:
    """Base scenario, [fixed] paths, shock checks and the design points, as a Sweep."""
    location = source.parent if source is not None else Path(".")
    candidate = Path(spec.scenario)
    if not candidate.is_absolute() and is_file(location / candidate):
        candidate = location / candidate
    else:
        candidate = resolve_scenario(spec.scenario)
    if not is_file(candidate):
        raise invalid(
            "scenario",
            spec.scenario,
            "a scenario file (relative to the sweep file) or a bundled scenario name",
        )
    original = Scenario.from_toml(candidate)
    data = original.model_dump(exclude_unset=True)
    for key, value in spec.fixed.items():
        where = f"fixed.{quoted(key)}"
        set_path(data, key, value, where)
    base = validated(data, original, lambda message: f"fixed: {message}")
    check_shock(spec.shock, base)
    parameters, point_values, trials = design_points(spec)
    # Before a scenario per point is validated: 1e5 points take a while to validate.
    check_task_count(len(point_values), spec.paths, "paths")
    scenarios = [base]
    if parameters:
        check_each_value(base, trials)
        scenarios = [
            point_scenario(data, values, original, f"design point {k}")
            for k, values in enumerate(point_values)
        ]
    return Sweep(
        spec=spec,
        source=source,
        text=text,
        base=base,
        parameters=parameters,
        point_values=point_values,
        scenarios=scenarios,
    )


def point_scenario(data: dict, values: dict, original: Scenario, label: str) -> Scenario:
    """The scenario of one design point: ``data`` with ``values`` set at their dotted paths.

    Errors read ``<label> (<key> = <value>, ...): <message>``.
    """
    point = copy.deepcopy(data)
    for key, value in values.items():
        set_path(point, key, value, f"design.parameters.{quoted(key)}")
    described = ", ".join(f"{key} = {short_repr(v)}" for key, v in values.items())
    return validated(point, original, lambda message: f"{label} ({described}): {message}")


def check_task_count(points: int, paths: int, where: str) -> None:
    """Refuse a sweep of more than ``MAX_TASKS`` paths in all (points x paths)."""
    if points * paths > MAX_TASKS:
        raise invalid(
            where,
            paths,
            f"at most {MAX_TASKS:,} paths in all ({points:,} design "
            f"points x {paths:,} paths = {points * paths:,})",
        )


def quoted(key: str) -> str:
    """A TOML key as written in the file (dotted keys are quoted)."""
    return json.dumps(key) if "." in key or "*" in key else key


def validated(data: dict, original: Scenario, describe) -> Scenario:
    """Scenario of modified data; keeps the original's file (for recorded paths)."""
    try:
        scenario = Scenario.from_data(data, original.source)
    except ValidationError as error:
        raise CascadesimInputError(describe(describe_error(error, Scenario))) from None
    except CascadesimInputError as error:
        raise CascadesimInputError(describe(str(error))) from None
    return scenario


def check_each_value(base: Scenario, trials: list[tuple[str, str, Any]]) -> None:
    """Each design value alone on the base, so that a bad value is named by its place.

    trials : (dotted path, where in the sweep file, value), from :func:`design_points`
    """
    data = base.model_dump(exclude_unset=True)
    for key, where, value in trials:
        trial = copy.deepcopy(data)
        set_path(trial, key, value, where)
        validated(
            trial,
            base,
            lambda message, where=where, value=value: (
                f"{where} = {short_repr(value)}: gives {message}"
            ),
        )


# --- the design ---------------------------------------------------------------------------
def design_points(spec: SweepFile) -> tuple[list[str], list[dict], list[tuple]]:
    """Swept paths, per point their values (grid: first parameter slowest), and the single
    values to check one by one: (dotted path, where in the file, value)."""
    design = spec.design
    if design is None:
        return [], [{}], []
    parameters = list(design.parameters)
    trials = []
    if design.kind == "grid":
        lists = []
        for key in parameters:
            values = design.parameters[key]
            where = f"design.parameters.{quoted(key)}"
            if not isinstance(values, list) or not values:
                raise invalid(
                    where, values, "a non-empty list of values (a grid takes every combination)"
                )
            lists.append(values)
            trials += [(key, f"{where}[{k}]", value) for k, value in enumerate(values)]
        count = math.prod(len(values) for values in lists)
        if count > MAX_POINTS:
            raise invalid("design.parameters", f"{count:,} points", f"at most {MAX_POINTS:,}")
        return (
            parameters,
            [
                dict(zip(parameters, combination, strict=True))
                for combination in itertools.product(*lists)
            ],
            trials,
        )
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=DESIGN_STREAM))
    points = design.points
    assert points is not None  # a random design states its points (Design's own check)
    draws = {}
    for key in parameters:
        raw = design.parameters[key]
        where = f"design.parameters.{quoted(key)}"
        if isinstance(raw, list) and raw:
            trials += [(key, f"{where}[{k}]", value) for k, value in enumerate(raw)]
            draws[key] = [raw[int(k)] for k in rng.integers(0, len(raw), size=points)]
            continue
        try:
            distribution = DISTRIBUTION_ADAPTER.validate_python(raw)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            # The union's tag (the distribution's name) is not a key of the file.
            inner = ".".join(str(part) for part in first["loc"] if part not in DISTRIBUTIONS)
            allowed = allowed_text(first["type"], first["msg"], first.get("ctx") or {})
            raise invalid(
                f"{where}.{inner}" if inner else where, first["input"] if inner else raw, allowed
            ) from None
        except ValueError as error:
            raise invalid(where, raw, str(error)) from None
        low, high = distribution.support()
        trials += [
            (key, where, bound) for bound in dict.fromkeys((low, high)) if math.isfinite(bound)
        ]
        draws[key] = [distribution.draw(rng) for _ in range(points)]
    return (
        parameters,
        [{key: draws[key][k] for key in parameters} for k in range(points)],
        trials,
    )


# --- shocks -------------------------------------------------------------------------------
def check_shock(shock: RandomShock | None, scenario: Scenario) -> None:
    """The random shock's names exist and its draws stay inside the run and the price range."""
    if shock is None:
        return
    duration = scenario.duration_s
    if shock.kind == "index_jump":
        for name in shock.asset:
            if name != "all" and name not in scenario.assets:
                raise invalid(
                    "shock.asset",
                    name,
                    "'all' or an asset of the scenario: " + ", ".join(scenario.assets),
                )
        within(
            "shock.drop_fraction",
            shock.drop_fraction,
            -0.99,
            0.99,
            "between -0.99 and 0.99 (a fraction of the start price)",
        )
        within(
            "shock.at_s",
            shock.at_s,
            0.0,
            duration * (1 - 1e-12),
            f"seconds >= 0 and before the end of the run ({duration:g} s)",
        )
        within("shock.ramp_s", shock.ramp_s, 0.0, math.inf, "seconds >= 0")
        return
    for name in shock.market or []:
        if name not in scenario.markets:
            raise invalid(
                "shock.market", name, "a market of the scenario: " + ", ".join(scenario.markets)
            )
    within("shock.usd", shock.usd, 1e-9, math.inf, "USD > 0")
    within("shock.duration_s", shock.duration_s, 1e-9, math.inf, "seconds > 0")
    within(
        "shock.start_s",
        shock.start_s,
        0.0,
        duration * (1 - 1e-12),
        f"seconds >= 0 and before the end of the run ({duration:g} s)",
    )


def within(
    where: str, distribution: AnyDistribution | None, low: float, high: float, allowed: str
) -> None:
    """Every draw of ``distribution`` (set: the shock's own checks ran) lies in [low, high]."""
    assert distribution is not None
    smallest, largest = distribution.support()
    if smallest < low or largest > high:
        shown = (
            distribution.value
            if isinstance(distribution, Fixed)
            else f"{distribution.distribution} over [{smallest:g}, {largest:g}]"
        )
        raise invalid(where, shown, f"every draw {allowed}")


# --- dotted paths -------------------------------------------------------------------------
def set_path(data: dict, path: str, value: Any, where: str) -> None:
    """Set every scenario field a dotted path names (``*`` and ``venues.<venue>`` fan out).

    Raises CascadesimInputError naming ``where`` for an unknown path; the value's type and
    range are checked when the modified scenario is validated.
    """
    if not isinstance(value, bool | int | float | str | list | dict):
        raise invalid(where, value, "a number, true/false, text, a list or a table")
    for keys in expand_path(path, data, where):
        target = data
        for depth, key in enumerate(keys[:-1]):
            if target.get(key) is None:
                # A market's own population starts from the global one, so that setting one
                # of its fields leaves the others as they were.
                inherit = depth == 2 and keys[0] == "markets" and key == "population"
                target[key] = copy.deepcopy(data["population"]) if inherit else {}
            target = target[key]
        target[keys[-1]] = copy.deepcopy(value)


def expand_path(path: str, data: dict, where: str) -> list[list[str]]:
    """The concrete key lists a dotted path names in the scenario's data."""
    if not isinstance(path, str) or not path or path.startswith(".") or path.endswith("."):
        raise invalid(where.rsplit(".", 1)[0], path, "a dotted path to a scenario field")
    if path.startswith("venues."):
        rest = path[len("venues.") :]
        venue, _, field_path = rest.partition(".")
        if venue not in VENUE_NAMES or not field_path:
            raise invalid(
                where,
                path,
                "venues.<venue>.<market field> with a venue of " + ", ".join(VENUE_NAMES),
            )
        markets = [name for name, market in data["markets"].items() if market["venue"] == venue]
        if not markets:
            raise invalid(where, path, f"a venue with a market in the scenario (none on {venue})")

        return [
            keys
            for name in markets
            for keys in walk_path(
                Market, data["markets"][name], ["markets", name], field_path, where, path
            )
        ]
    return walk_path(Scenario, data, [], path, where, path)


def walk_path(model, node, prefix: list[str], rest: str, where: str, path: str) -> list[list[str]]:
    """Resolve ``rest`` below the model class ``model`` whose data is ``node``."""
    head, _, tail = rest.partition(".")
    fields = model.model_fields
    if head not in fields:
        close = difflib.get_close_matches(head, list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        inside = ".".join(prefix) or "the scenario"
        raise invalid(
            where, path, f"{head!r} is not a field of {inside}{hint}; fields: " + ", ".join(fields)
        )
    keys = [*prefix, head]
    if not tail:
        return [keys]
    annotation = strip(fields[head].annotation)
    child = node.get(head) if isinstance(node, dict) else None
    if is_model(annotation):
        return walk_path(annotation, child or {}, keys, tail, where, path)
    if typing.get_origin(annotation) is dict:
        value_type = strip(typing.get_args(annotation)[1])
        if not is_model(value_type):  # a free-form table (overrides): the rest is one key
            return [[*keys, tail]]
        entries = child or {}
        if tail == "*" or tail.startswith("*."):
            names = list(entries)
            remainder = tail[2:]
        else:
            matches = [name for name in entries if tail == name or tail.startswith(name + ".")]
            if not matches:
                raise invalid(
                    where, path, f"a name of {'.'.join(keys)} (or *): " + ", ".join(entries)
                )
            names = [max(matches, key=len)]  # names may contain dots: the longest wins
            remainder = tail[len(names[0]) + 1 :]
        if not remainder:
            raise invalid(
                where, path, f"a field of {'.'.join(keys)}.{names[0]}, not the whole table"
            )
        return [
            found
            for name in names
            for found in walk_path(value_type, entries[name], [*keys, name], remainder, where, path)
        ]
    raise invalid(where, path, f"{'.'.join(keys)} is a value, not a table")


# --- bundled sweeps -----------------------------------------------------------------------
def bundled_sweeps() -> dict[str, Path]:
    """Bundled sweep files by name: ``cascadesim/scenario/bundled/sweeps/*.toml``."""
    directory = bundled_directory() / "sweeps"
    return (
        {path.stem: path for path in sorted(directory.glob("*.toml"))} if directory.is_dir() else {}
    )


def resolve_sweep_file(argument: str) -> Path:
    """A sweep argument (file path or bundled sweep name) -> a file path."""
    path = Path(argument)
    if is_file(path) or path.suffix == ".toml" or "/" in argument or "\\" in argument:
        return path
    bundled = bundled_sweeps()
    if argument in bundled:
        return bundled[argument]
    raise CascadesimInputError(
        f"{argument}: no such file, and not a bundled sweep "
        f"(bundled: {', '.join(bundled) or 'none found'})"
    )
