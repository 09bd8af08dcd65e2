"""Tuning: the least restrictive values of a sweep's parameters that meet stated targets.

The search space is the sweep's design: each swept parameter between the smallest and the
largest value a grid lists (a random design: its distribution's support). Each parameter
has a restrictive end (a larger insurance fund, a higher maintenance-margin scale, a lower
leverage cap are stricter) and is normalised to [0, 1] towards it, on a log scale where
it is positive and spans ten times or more; a candidate's *restrictiveness* is the sum of
those positions. Targets (``adl_probability <= 0.01``) are constraints on the figures of the
sweep's points table at the candidate.

Optuna's TPE sampler (seeded by the sweep's seed, the targets set as each trial's
constraints) proposes
candidates in batches of :data:`BATCH_TRIALS`, whatever the number of workers, so that the
trials are the same serially and in parallel; the first batch holds the two corners (all
restrictive ends, all permissive ends). How a batch is evaluated is injected
(:func:`search` takes a function), so the search can be checked on problems whose answer is
known in closed form; :mod:`cascadesim.sweep.candidates` evaluates them with the sweep's
own paths and common random numbers.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import optuna

from cascadesim._util.errors import invalid
from cascadesim._util.intervals import too_few_paths
from cascadesim.sweep.distributions import DISTRIBUTION_ADAPTER
from cascadesim.sweep.run import (
    DISTRIBUTION_FIGURES,
    OTHER_POINT_FIGURES,
    PROBABILITY_FIGURES,
    QUANTILES,
)

BATCH_TRIALS = 4
LOG_SPAN = 10.0
# Parameters whose less restrictive end is known: (dotted-path suffix, end).
KNOWN_DIRECTIONS = (
    ("insurance_fund_usd", "low"),
    ("mmr_scale", "low"),
    ("leverage.max", "high"),
)
TARGET_PATTERN = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=)\s*(\S+)\s*$")
PERCENTILE_PATTERN = re.compile(r"_p(\d+)$")


# --- targets ------------------------------------------------------------------------------
def figure_names() -> dict[str, str]:
    """Every figure a target may name -> its points-table column.

    ``<figure>_mean`` and ``<figure>_p50/_p95/_p99`` of each per-path figure, the
    probabilities, and for USD figures the value at risk ``<stem>_var95_usd`` /
    ``<stem>_var99_usd`` (the 95th / 99th percentile: ``bad_debt_var99_usd`` is
    ``bad_debt_usd_p99``).
    """
    names: dict[str, str] = {}
    for name in DISTRIBUTION_FIGURES:
        names[f"{name}_mean"] = f"{name}_mean"
        for q in QUANTILES:
            column = f"{name}_p{round(100 * q)}"
            names[column] = column
            if name.endswith("_usd") and q > 0.5:
                names[f"{name[: -len('_usd')]}_var{round(100 * q)}_usd"] = column
    for name in (*PROBABILITY_FIGURES, *OTHER_POINT_FIGURES):
        names[name] = name
    return names


@dataclass(frozen=True)
class Target:
    """``figure op value``: a constraint on one column of the points table."""

    text: str
    figure: str
    column: str
    operator: str
    value: float

    def violation(self, estimate: float | None) -> float:
        """How far ``estimate`` is on the wrong side (<= 0: met); an undefined one: inf."""
        if estimate is None or not math.isfinite(estimate):
            return math.inf
        return estimate - self.value if self.operator == "<=" else self.value - estimate

    def met(self, estimate: float | None) -> bool:
        return self.violation(estimate) <= 0


def parse_target(text: str, option: str = "--target") -> Target:
    """``"adl_probability <= 0.01"`` -> Target (one-line errors name the option)."""
    match = TARGET_PATTERN.match(text or "")
    if match is None:
        raise invalid(option, text, '"<figure> <= <number>" or "<figure> >= <number>"')
    figure, operator, number = match.groups()
    names = figure_names()
    if figure not in names:
        raise invalid(option, figure, "a figure of the points table: " + ", ".join(names))
    try:
        value = float(number)
    except ValueError:
        raise invalid(option, text, f"a number after {operator}") from None
    if not math.isfinite(value):
        raise invalid(option, text, f"a finite number after {operator}")
    return Target(
        text=text.strip(), figure=figure, column=names[figure], operator=operator, value=value
    )


def parse_targets(texts: Sequence[str]) -> list[Target]:
    if not texts:
        raise invalid("--target", None, 'at least one, e.g. --target "adl_probability <= 0.01"')
    return [parse_target(text) for text in texts]


# --- the search space ---------------------------------------------------------------------
@dataclass(frozen=True)
class Dimension:
    """One swept parameter between ``low`` and ``high``; ``permissive`` is its less
    restrictive end ('low' or 'high')."""

    key: str
    low: float
    high: float
    permissive: str
    log: bool = False
    integer: bool = False

    def position(self, value: float) -> float:
        """Where ``value`` lies between low (0) and high (1), on the dimension's scale."""
        if self.high == self.low:
            return 0.0
        if self.log:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def restrictiveness(self, value: float) -> float:
        """0 at the permissive end, 1 at the restrictive end."""
        position = self.position(value)
        return position if self.permissive == "low" else 1.0 - position

    def end(self, restrictive: bool) -> float:
        at_high = (self.permissive == "low") == restrictive
        return self.high if at_high else self.low


def restrictiveness(dimensions: Sequence[Dimension], values: dict) -> float:
    """The sum of each parameter's normalised position towards its restrictive end."""
    return float(sum(d.restrictiveness(float(values[d.key])) for d in dimensions))


def parse_prefer(items: Sequence[str], parameters: Sequence[str]) -> dict[str, str]:
    """``["PARAM=low", ...]`` -> {PARAM: 'low'}; PARAM must be a swept parameter."""
    preferences = {}
    for item in items:
        key, separator, end = (item or "").partition("=")
        key, end = key.strip(), end.strip()
        if not separator or end not in ("low", "high"):
            raise invalid("--prefer", item, "PARAM=low or PARAM=high")
        if key not in parameters:
            raise invalid(
                "--prefer", key, "a swept parameter of the sweep: " + ", ".join(parameters)
            )
        preferences[key] = end
    return preferences


def permissive_end(key: str, preferences: dict[str, str]) -> str:
    if key in preferences:
        return preferences[key]
    for suffix, end in KNOWN_DIRECTIONS:
        if key.endswith(suffix):
            return end
    raise invalid(
        "--prefer",
        key,
        f"the less restrictive end of {key} is not known: add --prefer '{key}=low' or '{key}=high'",
    )


def parameter_range(spec, key: str) -> tuple[float, float, bool]:
    """(low, high, integer) of a swept parameter from the sweep file's design."""
    raw = spec.design.parameters[key]
    if isinstance(raw, list):
        values = raw
    elif spec.design.kind == "random":
        low, high = DISTRIBUTION_ADAPTER.validate_python(raw).support()
        values = [low, high]
    else:
        values = []
    if not values or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise invalid(f"design.parameters.{key}", raw, "numbers with finite bounds to search")
    integer = all(isinstance(v, int) for v in values)
    return float(min(values)), float(max(values)), integer


def search_space(sweep, preferences: dict[str, str]) -> list[Dimension]:
    """The swept parameters as dimensions (a parameter with one value is not searched)."""
    if sweep.spec.design is None or not sweep.parameters:
        raise invalid("design", None, "a sweep with design parameters to tune")
    dimensions = []
    for key in sweep.parameters:
        low, high, integer = parameter_range(sweep.spec, key)
        end = permissive_end(key, preferences)
        if high > low:
            log = low > 0 and high / low >= LOG_SPAN
            dimensions.append(Dimension(key, low, high, end, log=log, integer=integer))
    if not dimensions:
        raise invalid("design", None, "a swept parameter with two different values")
    return dimensions


# --- the search ---------------------------------------------------------------------------
@dataclass
class TrialRecord:
    """One evaluated candidate: its values, figures, restrictiveness and feasibility."""

    number: int
    values: dict
    figures: dict
    restrictiveness: float
    violations: list[float]
    feasible: bool


@dataclass
class SearchResult:
    """Every trial, the answer (least restrictive feasible trial) or the closest trial."""

    trials: list[TrialRecord]
    answer: TrialRecord | None
    closest: TrialRecord
    targets: list[Target] = field(default_factory=list)


Evaluate = Callable[[list[dict]], list[dict]]


def suggested(trial, dimension: Dimension):
    if dimension.integer:
        return trial.suggest_int(
            dimension.key, int(dimension.low), int(dimension.high), log=dimension.log
        )
    return trial.suggest_float(dimension.key, dimension.low, dimension.high, log=dimension.log)


def search(
    dimensions: Sequence[Dimension],
    targets: Sequence[Target],
    evaluate: Evaluate,
    trials: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Minimise restrictiveness subject to the targets over ``trials`` candidates.

    Parameters
    ----------
    dimensions : the search space (:func:`search_space`)
    targets : constraints on the figures ``evaluate`` returns
    evaluate : callable(list of {key: value}) -> list of {column: figure}, one per candidate
    trials : int >= 2, candidates evaluated in all
    seed : the sampler's seed (the same seed gives the same trials)
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 2:
        raise invalid("--trials", trials, "an integer >= 2")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The constraints are set on each trial (Trial.set_constraint); TPE ranks feasible
    # trials by restrictiveness and infeasible ones by their summed violation.
    sampler = optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=min(10, max(2, trials // 4)), multivariate=True
    )
    study = optuna.create_study(direction="minimize", sampler=sampler)
    for restrictive in (True, False):  # the corners: is anything feasible, is everything?
        study.enqueue_trial({d.key: d.end(restrictive) for d in dimensions})
    records: list[TrialRecord] = []
    while len(records) < trials:
        with warnings.catch_warnings():
            # multivariate TPE is marked experimental: a warning per trial otherwise.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            asked = [study.ask() for _ in range(min(BATCH_TRIALS, trials - len(records)))]
            values = [{d.key: suggested(trial, d) for d in dimensions} for trial in asked]
        figures = evaluate(values)
        for trial, candidate, found in zip(asked, values, figures, strict=True):
            violations = [target.violation(found.get(target.column)) for target in targets]
            score = restrictiveness(dimensions, candidate)
            for k, violation in enumerate(violations):  # finite: inf would break its sort
                trial.set_constraint(f"target {k}", min(violation, 1e300))
            study.tell(trial, score)
            records.append(
                TrialRecord(
                    number=len(records),
                    values=candidate,
                    figures=found,
                    restrictiveness=score,
                    violations=violations,
                    feasible=all(v <= 0 for v in violations),
                )
            )
        if progress is not None:
            progress(len(records), trials)
    feasible = [record for record in records if record.feasible]
    answer = min(feasible, key=lambda r: (r.restrictiveness, r.number)) if feasible else None
    closest = answer or min(records, key=lambda r: (relative_shortfall(r, targets), r.number))
    return SearchResult(trials=records, answer=answer, closest=closest, targets=list(targets))


def relative_shortfall(record: TrialRecord, targets: Sequence[Target]) -> float:
    """Summed violations, each relative to its target's size (to rank infeasible trials)."""
    return float(
        sum(
            max(0.0, v) / max(abs(t.value), 1e-12)
            for v, t in zip(record.violations, targets, strict=True)
        )
    )


# --- the answer's figures and their Monte Carlo error --------------------------------------
def figure_error(target: Target, figures: dict, paths: int) -> dict:
    """A target's estimate at a trial, its 95 % interval and what it does not establish."""
    column = target.column
    estimate = figures.get(column)
    low, high = figures.get(f"{column}_low"), figures.get(f"{column}_high")
    warnings_: list[str] = []
    if column in PROBABILITY_FIGURES:
        method = "exact binomial (Clopper-Pearson) 95 % interval"
    elif PERCENTILE_PATTERN.search(column):
        method = "distribution-free order-statistic 95 % interval"
        q = int(PERCENTILE_PATTERN.search(column).group(1)) / 100  # type: ignore[union-attr]
        few = too_few_paths(paths, q)
        if few is not None:
            warnings_.append(f"too_few_paths: {few}")
    else:
        method, low, high = "no interval (not a probability or a percentile)", None, None
    if low is not None and high is not None and low <= target.value <= high:
        warnings_.append(
            f"the interval [{low:.6g}, {high:.6g}] contains the target {target.value:g}: "
            f"whether {target.text} holds is not established at {paths} paths"
        )
    return {
        "target": target.text,
        "figure": target.figure,
        "column": column,
        "estimate": estimate,
        "low": low,
        "high": high,
        "interval": method,
        "met": target.met(estimate),
        "warnings": warnings_,
    }
