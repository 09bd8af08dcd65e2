"""Fit the population's free parameters to the event library; write them into a profile.

Parameters (one set for the whole library, never one per event)
    ``leverage_median``, ``leverage_log_std``: the leverage mix over the fixed ladder
    2, 3, 5, 10, 20, 25, 50, 75, 100, 125x has weights proportional to a log-normal density,
    ``exp(-(ln v - ln median)^2 / (2 log_std^2))``;
    ``tail_alpha``: the Pareto exponent of the account-size tail;
    ``spread_fraction``: the dispersion of entries around the pre-event price history;
    ``withdrawal_flow_sensitivity``: how fast market makers pull quotes under one-sided flow.

Loss
    Every event of the library is run in **replay** mode (its observed path imposed) and every
    compared figure (:func:`cascadesim.events.validate.compare`) except the imposed prices adds

    - ``(ln(simulated / reported) / ln 1.5) ** 2`` for USD totals, accounts, largest single,
      per-venue and per-asset totals (a "more than X" bound only when below X);
    - ``((simulated - reported) / 0.05) ** 2`` for long shares;

    so a figure exactly on the edge of its band adds 1. Each term is capped at 4 (two bands
    out), so that one figure the model cannot reach by construction (the November 2025 whale,
    see the README) cannot drag every other parameter after it. The loss is the mean over
    figures.

Method
    Derivative-free: SciPy's Nelder-Mead (``scipy.optimize.minimize(method="Nelder-Mead")``)
    on the parameters in log space, within :data:`BOUNDS` (SciPy clips every trial point to
    them), from the profile's current values. The first simplex steps each parameter by
    :data:`STEP` (0.25 in log space, about 28 %; downward where that would cross the upper
    bound). The fit stops at ``max_evaluations`` library runs or earlier, when SciPy's
    tolerances are both met (every vertex of the simplex within ``xatol`` of the best one in
    every log-parameter, and within ``fatol`` of its loss):

    - ``xatol = 0.05`` (:data:`XATOL`): 5 % of each parameter, about what the loss can
      resolve. Each parameter set places the population differently, which alone moves the
      loss by about +-0.05 (README); on this flat surface a smaller change of one parameter
      is lost in that noise (the stored 40-evaluation fit moved its parameters 4-18 %);
    - ``fatol = 0.02`` (:data:`FATOL`): under half that noise. Once every vertex is this
      close to the best, the simplex's ranking of its vertices is mostly noise, and shrinking
      it further only fits the particular populations drawn.

    Each evaluation runs the whole library (about 25 s for the two events on 2 cores); a
    parameter set is never run twice (the loss of a set is deterministic: the scenarios'
    seeds are fixed), so the start, which SciPy evaluates again, is counted once.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from cascadesim._util.toml import dump_toml
from cascadesim.events.parallel import EventWorkers
from cascadesim.events.validate import OPEN_INTEREST_BAND, validate_event
from cascadesim.scenario.models import Scenario
from cascadesim.scenario.profiles import merge_under

LEVERAGE_LADDER = (2, 3, 5, 10, 20, 25, 50, 75, 100, 125)
PARAMETERS = (
    "leverage_median",
    "leverage_log_std",
    "tail_alpha",
    "spread_fraction",
    "withdrawal_flow_sensitivity",
)
BOUNDS = {
    "leverage_median": (1.5, 60.0),
    "leverage_log_std": (0.3, 3.0),
    "tail_alpha": (0.6, 4.0),
    "spread_fraction": (0.001, 0.1),
    "withdrawal_flow_sensitivity": (0.5, 30.0),
}


def leverage_weights(median: float, log_std: float) -> list[float]:
    """Weights of the leverage ladder from a log-normal shape (sum 1, rounded to 1e-4)."""
    logs = np.log(np.asarray(LEVERAGE_LADDER, dtype=np.float64))
    density = np.exp(-0.5 * ((logs - math.log(median)) / log_std) ** 2)
    weights = np.round(density / density.sum(), 4)
    peak = int(np.argmax(weights))
    weights[peak] = round(float(weights[peak] + 1.0 - weights.sum()), 4)  # sum 1 after rounding
    return [float(w) for w in weights]


TERM_CAP = 4.0  # a figure two bands out or further counts as two bands out


def figure_loss(figure: dict) -> float | None:
    """A figure's squared, band-normalised miss (capped); None for figures the fit ignores."""
    name, simulated, reported = figure["name"], figure["simulated"], figure["reported"]
    if name.startswith("price") or simulated is None or reported is None:
        return None  # imposed in replay
    if name.endswith("_min") and simulated >= reported:
        return 0.0
    if name == "open_interest_change":
        term = ((simulated - reported) / OPEN_INTEREST_BAND) ** 2
    elif "share" in name:
        term = ((simulated - reported) / 0.05) ** 2
    else:
        term = (math.log(max(simulated, 1.0) / reported) / math.log(1.5)) ** 2
    return min(term, TERM_CAP)


def library_loss(runs: list[dict]) -> float:
    """Mean band-normalised squared miss over every figure of every event run."""
    terms = [t for run in runs for f in run["figures"] if (t := figure_loss(f)) is not None]
    return float(np.mean(terms)) if terms else 0.0


STEP = 0.25  # first simplex: each log-parameter moved by this much (about 28 %)
XATOL = 0.05  # log-parameter tolerance: 5 % (see the module docstring)
FATOL = 0.02  # loss tolerance: under half the +-0.05 noise of the loss


@dataclass
class Fit:
    """Outcome of a calibration: parameters and losses before and after, how it stopped."""

    start: dict
    best: dict
    loss_start: float
    loss_best: float
    evaluations: int  # library runs (distinct parameter sets evaluated)
    seconds: float
    message: str  # SciPy's stopping reason
    converged: bool  # stopped on the tolerances (not on max_evaluations)
    max_evaluations: int


def profile_data(parameters: dict) -> dict:
    """The profile tables for a parameter set."""
    return {
        "population": {
            "leverage": {
                "values": list(LEVERAGE_LADDER),
                "weights": leverage_weights(
                    parameters["leverage_median"], parameters["leverage_log_std"]
                ),
            },
            "account_size": {"tail_alpha": round(parameters["tail_alpha"], 4)},
            "entry": {"spread_fraction": round(parameters["spread_fraction"], 5)},
        },
        "market_defaults": {
            "withdrawal_flow_sensitivity": round(parameters["withdrawal_flow_sensitivity"], 4)
        },
    }


def stored_loss(event_paths: list[Path]) -> float:
    """Library loss of the events as they stand (each with the profile its file names)."""
    return library_loss(
        [validate_event(Scenario.from_toml(path), "replay") for path in event_paths]
    )


def candidate_run(job: tuple[Path, dict]) -> dict:
    """One event replayed with a candidate parameter set in place of its stored profile."""
    path, parameters = job
    tables = profile_data(parameters)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.pop("profile", None)  # the candidate parameters replace the stored profile
    data["population"] = merge_under(data.get("population", {}), tables["population"])
    data["markets"] = {
        name: merge_under(values, tables["market_defaults"])
        for name, values in data["markets"].items()
    }
    return validate_event(Scenario.from_data(data, path), "replay")


def evaluate(
    parameters: dict, event_paths: list[Path], workers: EventWorkers | None = None
) -> tuple[float, list[dict]]:
    """Library loss of a parameter set (every event in replay mode, on ``workers``)."""
    jobs = [(path, parameters) for path in event_paths]
    runs = (workers or EventWorkers()).map(candidate_run, jobs)
    return library_loss(runs), runs


def to_vector(parameters: dict) -> np.ndarray:
    return np.log(np.asarray([parameters[name] for name in PARAMETERS], dtype=np.float64))


def from_vector(vector: np.ndarray) -> dict:
    values = {}
    for name, x in zip(PARAMETERS, vector, strict=True):
        low, high = BOUNDS[name]
        values[name] = float(min(max(math.exp(x), low), high))
    return values


def log_bounds() -> list[tuple[float, float]]:
    """:data:`BOUNDS` in log space, in :data:`PARAMETERS` order."""
    return [(math.log(BOUNDS[name][0]), math.log(BOUNDS[name][1])) for name in PARAMETERS]


def initial_simplex(start: np.ndarray, step: float = STEP) -> np.ndarray:
    """``start`` and one vertex per parameter moved by ``step`` (down near the upper bound)."""
    vertices = [start.copy()]
    for k, (_, high) in enumerate(log_bounds()):
        vertex = start.copy()
        vertex[k] += step if start[k] + step <= high else -step
        vertices.append(vertex)
    return np.asarray(vertices)


def calibrate(
    event_paths: list[Path],
    start: dict,
    max_evaluations: int = 40,
    report: Callable[[int, float, dict], None] | None = None,
    *,
    xatol: float = XATOL,
    fatol: float = FATOL,
    workers: int = 1,
) -> Fit:
    """Fit the parameters to the library by SciPy's Nelder-Mead from ``start``.

    At most ``max_evaluations`` library runs (the start's included); fewer when the
    tolerances ``xatol`` (log-parameters) and ``fatol`` (loss) are met first. ``report`` is
    called after each run with its number, loss and parameters. ``workers`` processes share
    each evaluation's event runs (the same fit as one process: each run is deterministic).
    """
    with EventWorkers(workers) as pool:
        return fit_on(event_paths, start, max_evaluations, report, xatol, fatol, pool)


def fit_on(event_paths, start, max_evaluations, report, xatol, fatol, pool) -> Fit:
    """:func:`calibrate` with its worker pool open."""
    began = time.perf_counter()
    losses: dict[tuple[float, ...], float] = {}

    def objective(vector: np.ndarray) -> float:
        key = tuple(float(x) for x in vector)
        if key not in losses:  # deterministic: a parameter set is run once
            parameters = from_vector(vector)
            losses[key], _ = evaluate(parameters, event_paths, pool)
            if report is not None:
                report(len(losses), losses[key], parameters)
        return losses[key]

    bounds = log_bounds()
    lows, highs = zip(*bounds, strict=True)
    start_vector = np.clip(to_vector(start), lows, highs)
    loss_start = objective(start_vector)
    result = minimize(
        objective,
        start_vector,
        method="Nelder-Mead",
        bounds=bounds,
        options={
            "maxfev": max_evaluations,
            "xatol": xatol,
            "fatol": fatol,
            "initial_simplex": initial_simplex(start_vector),
        },
    )
    # SciPy's calls include the start again (not run twice): its count bounds the runs.
    best, loss_best = (result.x, float(result.fun))
    if not loss_best < loss_start:
        best, loss_best = start_vector, loss_start
    return Fit(
        start=from_vector(start_vector),
        best=from_vector(best),
        loss_start=loss_start,
        loss_best=loss_best,
        evaluations=len(losses),
        seconds=round(time.perf_counter() - began, 1),
        message=str(result.message),
        converged=bool(result.success),
        max_evaluations=max_evaluations,
    )


PROFILE_HEADER = """\
# Population profile fitted to event scenarios by `cascadesim calibrate` (the loss is
# described in cascadesim/events/calibrate.py). A scenario adopts it with
# `profile = "<path to this file>"` (absolute, or relative to the scenario's folder): its
# values fill in the keys the scenario leaves unset.
"""


def write_profile(path: Path, fit: Fit, loss_stored: float | None = None) -> None:
    """Write the fitted parameters as a profile TOML, with the fit's record."""
    stored = {} if loss_stored is None else {"loss_stored_profile": round(loss_stored, 4)}
    record = {
        "status": "fitted by `cascadesim calibrate`",
        **stored,
        "loss_before": round(fit.loss_start, 4),
        "loss_after": round(fit.loss_best, 4),
        "evaluations": fit.evaluations,
        "max_evaluations": fit.max_evaluations,
        "stopping": fit.message,
        "converged": fit.converged,
        "seconds": fit.seconds,
        "fitted_utc": datetime.now(UTC).strftime("%Y-%m-%d"),
        **{name: round(value, 5) for name, value in fit.best.items()},
        **{f"start_{name}": round(value, 5) for name, value in fit.start.items()},
    }
    text = PROFILE_HEADER + dump_toml({"calibration": record, **profile_data(fit.best)})
    path.write_text(text, encoding="utf-8")
