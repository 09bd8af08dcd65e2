"""One global parameter set for the event library, and its leave-one-out error.

The fitted parameters are those of the observable-to-population model and of the opening
flow (:data:`PARAMETERS`); nothing is fitted per event or per market. Each event is run in
replay mode (its observed path imposed) and compared with its ``[reported]`` figures by
:func:`cascadesim.events.validate.compare`.

Method: a response surface
    An event run over the real 24-h clock takes tens of seconds, so the library loss cannot
    be minimised by running the library at every trial point, let alone refitted once per
    left-out event. Instead every event is run once at each point of a scrambled Sobol
    design over the parameter box (``scipy.stats.qmc.Sobol``, plus the starting point), and
    each simulated figure of each event is interpolated over the box by a smoothed
    thin-plate radial basis function with a linear tail (``scipy.interpolate.
    RBFInterpolator``; USD and account figures in logs). The smoothing absorbs the
    population draw's noise (a figure moves a few per cent between seeds).

Loss
    For a set of events, the mean over their figures of :func:`figure_term`: a figure on the
    edge of its band adds 1, inside a reported range or above a reported lower bound 0;
    beyond two bands a term grows linearly in the miss instead of squared (:func:`huber`), so
    that a day the model cannot reach does not drag every parameter after it.
    ``scipy.optimize.minimize`` (L-BFGS-B within the box) minimises the surrogate loss from
    the best design points.

Cross-validation
    The in-sample fit uses every event; for each event the fit is repeated without it (on
    the same runs: the surrogates of the other events do not depend on it) and the event's
    figures are read from its own surface at the parameters fitted without it: the
    prediction of a day the fit has not seen. The design points are chosen without any
    event's figures, so the left-out event's surface carries no information from its
    reported figures; it does carry the surface's interpolation error (its smoothing).

Prediction intervals (90 %)
    From the seeds (the spread of each figure over ``seeds`` populations drawn at the start
    point) and from
    the fitted parameters' uncertainty (the jackknife covariance of the leave-one-out
    parameter sets, propagated through the surrogates), added in quadrature in the
    transformed units. Coverage is the share of reported figures inside their interval.
    The same intervals widened by the model's own error (the root-mean-square leave-one-out
    miss of that kind of figure on the *other* days) are reported beside them.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.optimize import minimize
from scipy.stats import qmc

from cascadesim.events.validate import OPEN_INTEREST_BAND, RATIO_BAND, SHARE_BAND, validate_event
from cascadesim.scenario.models import Scenario

TERM_CAP = 4.0  # beyond two bands out a term grows linearly in the miss (Huber), not squared
SMOOTHING = 0.05  # RBF smoothing (transformed units squared, about the seed noise)
Z90 = 1.6448536269514722  # two-sided 90 % normal quantile
PARAMETER_SAMPLES = 256  # draws of the parameter uncertainty per interval
DESIGN_SEED = 16  # the Sobol design's scrambling seed


@dataclass(frozen=True)
class Parameter:
    """One fitted global parameter: start value, box, and whether it is searched in logs."""

    name: str
    start: float
    low: float
    high: float
    log: bool

    def to_unit(self, value: float) -> float:
        if self.log:
            return (math.log(value) - math.log(self.low)) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return math.exp(math.log(self.low) + u * math.log(self.high / self.low))
        return self.low + u * (self.high - self.low)


# On-chain and mid-size venues keep the ratios of the starting estimates to a large
# exchange's share (0.12 / 0.08 and 0.6 / 0.08): one scale for the three venue kinds.
MID_RATIO = 1.5
ONCHAIN_RATIO = 7.5
PARAMETERS = (
    Parameter("base_share_major", 0.08, 0.005, 0.4, log=True),
    Parameter("opening_share_of_volume", 0.02, 0.001, 0.2, log=True),
    Parameter("momentum", 1.0, 0.0, 4.0, log=False),
    Parameter("funding_skew", 0.35, -1.0, 2.0, log=False),
)


def tables_for(values: dict) -> dict:
    """The ``[population_model]`` and ``[flow]`` keys of a parameter set."""
    major = values["base_share_major"]
    return {
        "population_model": {
            "base_share_major": round(major, 6),
            "base_share_mid": round(min(major * MID_RATIO, 1.0), 6),
            "base_share_onchain": round(min(major * ONCHAIN_RATIO, 1.0), 6),
            "funding_skew": round(values["funding_skew"], 6),
        },
        "flow": {
            "opening_share_of_volume": round(values["opening_share_of_volume"], 6),
            "momentum": round(values["momentum"], 6),
        },
    }


def unit_of(values: dict, parameters: Sequence[Parameter] = PARAMETERS) -> np.ndarray:
    return np.asarray([p.to_unit(values[p.name]) for p in parameters])


def values_of(unit: np.ndarray, parameters: Sequence[Parameter] = PARAMETERS) -> dict:
    return {p.name: p.from_unit(u) for p, u in zip(parameters, unit, strict=True)}


# --- figures and their terms ----------------------------------------------------------------


def is_share(name: str) -> bool:
    """Shares and open-interest changes are compared in points, the rest as ratios."""
    return "share" in name or "open_interest_change" in name


def fitted(figure: dict) -> bool:
    """Figures the fit uses: reported, simulated, not an imposed price."""
    return (
        not figure["name"].startswith("price")
        and figure.get("reported") is not None
        and figure.get("simulated") is not None
    )


def transform(name: str, value: float) -> float:
    return float(value) if is_share(name) else math.log(max(float(value), 1.0))


def untransform(name: str, value: float) -> float:
    return float(value) if is_share(name) else math.exp(value)


def figure_term(figure: dict, simulated: float) -> float:
    """A figure's squared miss in units of its band (Huber beyond two bands); 0 inside a
    reported range or above a reported lower bound."""
    name = figure["name"]
    low, high = reported_bounds(figure)
    if is_share(name):
        band = OPEN_INTEREST_BAND if "open_interest" in name else SHARE_BAND
        gap = low - simulated if simulated < low else max(simulated - high, 0.0)
        term = (gap / band) ** 2
    else:
        simulated = max(simulated, 1.0)
        if simulated < low:
            gap = math.log(low / simulated)
        elif simulated > high:
            gap = math.log(simulated / high)
        else:
            gap = 0.0
        term = (gap / math.log(RATIO_BAND)) ** 2
    return huber(term)


def huber(term: float) -> float:
    """A squared miss, linear in the miss beyond ``TERM_CAP``: one day the model cannot
    reach weighs less than its square, but still pulls (a flat cap would leave no slope)."""
    if term <= TERM_CAP:
        return term
    return TERM_CAP + 2.0 * math.sqrt(TERM_CAP) * (math.sqrt(term) - math.sqrt(TERM_CAP))


def covers(figure: dict, lower: float, upper: float) -> bool:
    """Whether [lower, upper] meets the reported figure (its range, or above its bound)."""
    low, high = reported_bounds(figure)
    return lower <= high and upper >= low


def reported_bounds(figure: dict) -> tuple[float, float]:
    """The reported interval of a figure: its range, a point, or a lower bound to infinity."""
    low, high = figure.get("low"), figure.get("high")
    if low is None or high is None:
        low = high = float(figure["reported"])
    if figure["name"].endswith("_min"):
        high = math.inf  # a lower bound: anything above it is inside
    return float(low), float(high)


# --- runs -----------------------------------------------------------------------------------


def event_data(path: Path, values: dict) -> dict:
    """An event's scenario data with a parameter set in its [population_model] and [flow]."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = tables_for(values)
    for table, keys in tables.items():
        data[table] = {**data.get(table, {}), **keys}
    return data


def event_run(job: tuple[Path, dict, int]) -> dict:
    """One replay of an event with a parameter set and a seed offset: its figures."""
    path, values, offset = job
    scenario = Scenario.from_data(event_data(path, values), path)
    run = validate_event(scenario, "replay", seed=scenario.seed + offset)
    return {
        "event": run["event"],
        "figures": run["figures"],
        "runtime_s": run["runtime_s"],
    }


Mapper = Callable[[Callable, list], list]


def serial_map(function: Callable, items: list) -> list:
    return [function(item) for item in items]


# --- the surrogate --------------------------------------------------------------------------


@dataclass
class EventSurface:
    """Every fitted figure of one event interpolated over the unit parameter box."""

    event: str
    figures: list[dict]  # the reported side of each figure (name, reported, low, high, band)
    surfaces: list[RBFInterpolator]

    def predict(self, units: np.ndarray) -> np.ndarray:
        """Transformed figures at parameter points, shape (n_points, n_figures)."""
        units = np.atleast_2d(units)
        return np.column_stack([surface(units) for surface in self.surfaces])

    def loss_terms(self, unit: np.ndarray) -> list[float]:
        predicted = self.predict(unit)[0]
        return [
            figure_term(figure, untransform(figure["name"], value))
            for figure, value in zip(self.figures, predicted, strict=True)
        ]


def build_surface(event: str, design: np.ndarray, runs: list[dict]) -> EventSurface:
    """Interpolate an event's figures over the design points (one run per point)."""
    names = [f["name"] for f in runs[0]["figures"] if fitted(f)]
    by_name = [{f["name"]: f for f in run["figures"]} for run in runs]
    figures, surfaces = [], []
    for name in names:
        rows = [run[name] for run in by_name if run.get(name, {}).get("simulated") is not None]
        if len(rows) < len(runs):
            continue  # a figure some design point did not simulate has no surface
        y = np.asarray([transform(name, row["simulated"]) for row in rows])
        surfaces.append(
            RBFInterpolator(design, y, kernel="thin_plate_spline", degree=1, smoothing=SMOOTHING)
        )
        figures.append({k: rows[0].get(k) for k in ("name", "reported", "low", "high", "band")})
    return EventSurface(event, figures, surfaces)


def surrogate_loss(surfaces: list[EventSurface], unit: np.ndarray) -> float:
    terms = [t for surface in surfaces for t in surface.loss_terms(unit)]
    return float(np.mean(terms)) if terms else 0.0


def fit_unit(surfaces: list[EventSurface], starts: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimise the surrogate loss over the unit box from each start; the best point."""
    best, best_loss = starts[0], math.inf
    bounds = [(0.0, 1.0)] * starts.shape[1]
    for start in starts:
        result = minimize(
            lambda u: surrogate_loss(surfaces, u), start, method="L-BFGS-B", bounds=bounds
        )
        if result.fun < best_loss:
            best, best_loss = np.clip(result.x, 0.0, 1.0), float(result.fun)
    return best, best_loss


def best_starts(surfaces: list[EventSurface], design: np.ndarray, count: int = 3) -> np.ndarray:
    losses = [surrogate_loss(surfaces, point) for point in design]
    return design[np.argsort(losses)[:count]]


# --- the whole procedure --------------------------------------------------------------------


@dataclass
class Prediction:
    """One event's figures at a parameter set, from its surface, with 90 % intervals."""

    event: str
    values: dict
    figures: list[dict] = field(default_factory=list)


def design_points(n_points: int, start: dict, seed: int = DESIGN_SEED) -> np.ndarray:
    """The starting point and ``n_points`` scrambled Sobol points of the unit box."""
    sobol = qmc.Sobol(d=len(PARAMETERS), scramble=True, seed=seed)
    points = sobol.random(n_points) if n_points > 0 else np.empty((0, len(PARAMETERS)))
    return np.vstack([unit_of(start)[None, :], points])


def jackknife_covariance(units: list[np.ndarray]) -> np.ndarray:
    """(n - 1) / n times the scatter of the leave-one-out parameter sets."""
    stacked = np.asarray(units)
    n = stacked.shape[0]
    centred = stacked - stacked.mean(axis=0)
    return (n - 1) / n * centred.T @ centred


def seed_spread(surface: EventSurface, repeats: list[dict]) -> dict[str, float]:
    """Standard deviation of each transformed figure over populations drawn at one point."""
    spread = {}
    for figure in surface.figures:
        name = figure["name"]
        values = [
            transform(name, f["simulated"])
            for run in repeats
            for f in run["figures"]
            if f["name"] == name and f.get("simulated") is not None
        ]
        spread[name] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return spread


def predict_event(
    surface: EventSurface, unit: np.ndarray, covariance: np.ndarray, seed_sd: dict[str, float]
) -> Prediction:
    """An event's figures at a parameter set, and the spread from seeds and parameters."""
    rng = np.random.default_rng(DESIGN_SEED)
    draws = np.clip(
        rng.multivariate_normal(unit, covariance, size=PARAMETER_SAMPLES, method="eigh"), 0, 1
    )
    centre = surface.predict(unit)[0]
    spread = surface.predict(draws).std(axis=0)
    prediction = Prediction(surface.event, values_of(unit))
    for k, figure in enumerate(surface.figures):
        name = figure["name"]
        row = dict(figure)
        row["transformed"] = float(centre[k])
        row["simulated"] = untransform(name, centre[k])
        row["seed_sd"] = seed_sd.get(name, 0.0)
        row["parameter_sd"] = float(spread[k])
        row["term"] = figure_term(row, row["simulated"])
        row["passed"] = row["term"] <= 1.0 + 1e-9
        prediction.figures.append(row)
    return prediction


def interval(row: dict, model_sd: float = 0.0) -> tuple[float, float]:
    """The 90 % interval of a predicted figure (seeds, parameters and ``model_sd``)."""
    sd = math.sqrt(row["seed_sd"] ** 2 + row["parameter_sd"] ** 2 + model_sd**2)
    centre = row["transformed"]
    name = row["name"]
    return untransform(name, centre - Z90 * sd), untransform(name, centre + Z90 * sd)


def figure_kind(name: str) -> str:
    """Figures pooled for the model-error estimate: the last part of the name."""
    return name.split(".")[-1].removesuffix("_min")


def residual(row: dict) -> float:
    """Transformed prediction minus transformed reported (0 inside a range or bound)."""
    name = row["name"]
    low, high = reported_bounds(row)
    value = row["transformed"]
    lo = transform(name, low)
    hi = math.inf if math.isinf(high) else transform(name, high)
    if value < lo:
        return value - lo
    if value > hi:
        return value - hi
    return 0.0


@dataclass
class CrossValidation:
    """Everything the fit measured: design, fits, predictions, pass rates and coverage."""

    events: list[str]
    design: list[dict]
    start_values: dict
    in_sample_values: dict
    start_loss: float
    in_sample_loss: float
    leave_one_out_values: dict[str, dict]
    in_sample: list[Prediction]
    leave_one_out: list[Prediction]
    runs: int
    seconds: float
    summary: dict = field(default_factory=dict)


def run_key(job: tuple[Path, dict, int]) -> str:
    path, values, offset = job
    numbers = ",".join(f"{values[p.name]:.6g}" for p in PARAMETERS)
    return f"{Path(path).name}|{numbers}|{offset}"


def cached_map(mapper: Mapper, jobs: list, cache: dict | None) -> list:
    """``mapper(event_run, jobs)`` for the jobs ``cache`` does not hold; the cache updated."""
    if cache is None:
        return mapper(event_run, jobs)
    todo = [job for job in jobs if run_key(job) not in cache]
    for job, run in zip(todo, mapper(event_run, todo) if todo else [], strict=True):
        cache[run_key(job)] = run
    return [cache[run_key(job)] for job in jobs]


def cross_validate(
    paths: list[Path],
    *,
    design_size: int = 4,
    seeds: int = 2,
    start: dict | None = None,
    mapper: Mapper = serial_map,
    report: Callable[[str], None] | None = None,
    cache: dict | None = None,
) -> CrossValidation:
    """Fit the library's global parameters on ``paths`` and measure the out-of-sample error.

    Parameters
    ----------
    paths : event scenario files (at least two)
    design_size : Sobol points besides the start; runs: (design_size + seeds) x events
    seeds : populations drawn at the start point, for the seed spread (>= 1)
    start : parameter values of the design's first point (default: each one's start)
    mapper : ``map``-like callable running :func:`event_run` jobs (processes, Dask)
    report : called with one line of progress at each stage
    cache : run key -> run; runs found there are not run again (a fit resumed)
    """
    began = time.perf_counter()
    say = report or (lambda line: None)
    start = start or {p.name: p.start for p in PARAMETERS}
    design = design_points(design_size, start)
    n_events = len(paths)
    say(f"design: {len(design)} parameter sets x {n_events} events, {seeds} seeds at the start")
    jobs = [(path, values_of(point), 0) for point in design for path in paths]
    jobs += [(path, values_of(design[0]), k) for k in range(1, seeds) for path in paths]
    runs = cached_map(mapper, jobs, cache)
    by_event = [[runs[p * n_events + e] for p in range(len(design))] for e in range(n_events)]
    repeats = [
        [runs[e]] + [runs[len(design) * n_events + (k - 1) * n_events + e] for k in range(1, seeds)]
        for e in range(n_events)
    ]
    names = [event_runs[0]["event"] for event_runs in by_event]
    surfaces = [build_surface(names[e], design, by_event[e]) for e in range(n_events)]
    spreads = [seed_spread(surfaces[e], repeats[e]) for e in range(n_events)]
    start_loss = surrogate_loss(surfaces, design[0])
    unit, loss = fit_unit(surfaces, best_starts(surfaces, design))
    say(f"in-sample fit: loss {start_loss:.3f} at the start, {loss:.3f} fitted")
    held_out = {}
    for e in range(n_events):
        others = [s for k, s in enumerate(surfaces) if k != e]
        held_out[e], _ = fit_unit(others, best_starts(others, design))
    covariance = jackknife_covariance(list(held_out.values()))
    in_sample = [predict_event(surfaces[e], unit, covariance, spreads[e]) for e in range(n_events)]
    out_of_sample = [
        predict_event(surfaces[e], held_out[e], covariance, spreads[e]) for e in range(n_events)
    ]
    result = CrossValidation(
        events=names,
        design=[values_of(point) for point in design],
        start_values=values_of(design[0]),
        in_sample_values=values_of(unit),
        start_loss=start_loss,
        in_sample_loss=loss,
        leave_one_out_values={names[e]: values_of(u) for e, u in held_out.items()},
        in_sample=in_sample,
        leave_one_out=out_of_sample,
        runs=len(jobs),
        seconds=round(time.perf_counter() - began, 1),
    )
    result.summary = {
        "in_sample": summarise(in_sample),
        "leave_one_out": summarise(out_of_sample),
    }
    return result


HEADLINE = {
    "total": ("total_usd", "total_usd_min"),
    "long_share": ("long_share", "long_share_min"),
    "accounts": ("accounts", "accounts_min"),
}


def summarise(predictions: list[Prediction]) -> dict:
    """Pass rates of the headline figures over days, and interval coverage."""
    out: dict = {"days": len(predictions)}
    for label, names in HEADLINE.items():
        marks = [
            row["passed"]
            for prediction in predictions
            for row in prediction.figures
            if row["name"] in names
        ]
        out[label] = {"passed": int(sum(marks)), "of": len(marks)}
    rows = [(p.event, row) for p in predictions for row in p.figures]
    covered = covered_model = 0
    for event, row in rows:
        # The model's own error for this kind of figure, from the other days' misses.
        others = [
            residual(other)
            for other_event, other in rows
            if other_event != event and figure_kind(other["name"]) == figure_kind(row["name"])
        ]
        model_sd = float(np.sqrt(np.mean(np.square(others)))) if others else 0.0
        row["interval_90"] = list(interval(row))
        row["covered"] = covers(row, *row["interval_90"])
        row["model_sd"] = model_sd
        row["interval_90_with_model_error"] = list(interval(row, model_sd))
        row["covered_with_model_error"] = covers(row, *row["interval_90_with_model_error"])
        covered += row["covered"]
        covered_model += row["covered_with_model_error"]
    out["figures"] = len(rows)
    out["coverage"] = covered / len(rows) if rows else None
    out["coverage_with_model_error"] = covered_model / len(rows) if rows else None
    return out
