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
    Derivative-free: Nelder-Mead (written out below: no SciPy dependency) on the parameters in
    log space, from the profile's current values, for a fixed number of evaluations. Each
    evaluation runs the whole library (about 25 s for the two events on 2 cores).
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascadesim._util.toml import dump_toml
from cascadesim.events.validate import validate_event
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
    if "share" in name:
        term = ((simulated - reported) / 0.05) ** 2
    else:
        term = (math.log(max(simulated, 1.0) / reported) / math.log(1.5)) ** 2
    return min(term, TERM_CAP)


def library_loss(runs: list[dict]) -> float:
    """Mean band-normalised squared miss over every figure of every event run."""
    terms = [t for run in runs for f in run["figures"] if (t := figure_loss(f)) is not None]
    return float(np.mean(terms)) if terms else 0.0


@dataclass
class Fit:
    """Outcome of a calibration: parameters and losses before and after."""

    start: dict
    best: dict
    loss_start: float
    loss_best: float
    evaluations: int
    seconds: float


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


def evaluate(parameters: dict, event_paths: list[Path]) -> tuple[float, list[dict]]:
    """Library loss of a parameter set (every event in replay mode)."""
    tables = profile_data(parameters)
    runs = []
    for path in event_paths:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        data.pop("profile", None)  # the candidate parameters replace the stored profile
        data["population"] = merge_under(data.get("population", {}), tables["population"])
        data["markets"] = {
            name: merge_under(values, tables["market_defaults"])
            for name, values in data["markets"].items()
        }
        scenario = Scenario.from_data(data, path)
        runs.append(validate_event(scenario, "replay"))
    return library_loss(runs), runs


def to_vector(parameters: dict) -> np.ndarray:
    return np.log(np.asarray([parameters[name] for name in PARAMETERS], dtype=np.float64))


def from_vector(vector: np.ndarray) -> dict:
    values = {}
    for name, x in zip(PARAMETERS, vector, strict=True):
        low, high = BOUNDS[name]
        values[name] = float(min(max(math.exp(x), low), high))
    return values


def nelder_mead(
    function: Callable[[np.ndarray], float],
    start: np.ndarray,
    step: float,
    max_evaluations: int,
    start_value: float | None = None,
) -> tuple[np.ndarray, float, int]:
    """Minimise ``function`` from ``start`` (standard coefficients 1, 2, 0.5, 0.5).

    ``start_value``, when given, is ``function(start)`` already known (not re-evaluated).

    Returns
    -------
    best point, its value, evaluations used (of ``function``)
    """
    n = start.size
    points = [start.copy()] + [start + step * np.eye(n)[k] for k in range(n)]
    values = [function(start) if start_value is None else start_value]
    values += [function(p) for p in points[1:]]
    used = len(points) - (start_value is not None)
    while used < max_evaluations:
        order = np.argsort(values)
        points = [points[k] for k in order]
        values = [values[k] for k in order]
        centroid = np.mean(points[:-1], axis=0)
        reflected = centroid + (centroid - points[-1])
        value_reflected = function(reflected)
        used += 1
        if value_reflected < values[0] and used < max_evaluations:
            expanded = centroid + 2.0 * (centroid - points[-1])
            value_expanded = function(expanded)
            used += 1
            points[-1], values[-1] = (
                (expanded, value_expanded)
                if value_expanded < value_reflected
                else (reflected, value_reflected)
            )
        elif value_reflected < values[-2]:
            points[-1], values[-1] = reflected, value_reflected
        else:
            contracted = centroid + 0.5 * (points[-1] - centroid)
            value_contracted = function(contracted)
            used += 1
            if value_contracted < values[-1]:
                points[-1], values[-1] = contracted, value_contracted
            else:  # shrink toward the best point
                for k in range(1, n + 1):
                    if used >= max_evaluations:
                        break
                    points[k] = points[0] + 0.5 * (points[k] - points[0])
                    values[k] = function(points[k])
                    used += 1
    best = int(np.argmin(values))
    return points[best], float(values[best]), used


def calibrate(
    event_paths: list[Path],
    start: dict,
    max_evaluations: int = 40,
    report: Callable[[int, float, dict], None] | None = None,
) -> Fit:
    """Fit the parameters to the library by Nelder-Mead from ``start``."""
    began = time.perf_counter()
    count = 0

    def objective(vector: np.ndarray) -> float:
        nonlocal count
        parameters = from_vector(vector)
        loss, _ = evaluate(parameters, event_paths)
        count += 1
        if report is not None:
            report(count, loss, parameters)
        return loss

    start_vector = to_vector(start)
    loss_start = objective(start_vector)
    best, loss_best, _ = nelder_mead(
        objective,
        start_vector,
        step=0.25,
        max_evaluations=max(max_evaluations - 1, 1),
        start_value=loss_start,
    )
    if loss_best >= loss_start:
        best, loss_best = start_vector, loss_start
    return Fit(
        start=from_vector(start_vector),
        best=from_vector(best),
        loss_start=loss_start,
        loss_best=loss_best,
        evaluations=count,
        seconds=round(time.perf_counter() - began, 1),
    )


def write_profile(path: Path, fit: Fit, loss_stored: float | None = None) -> None:
    """Write the fitted parameters as a profile TOML, with the fit's record."""
    stored = {} if loss_stored is None else {"loss_stored_profile": round(loss_stored, 4)}
    record = {
        "status": "fitted by `cascadesim calibrate`",
        **stored,
        "loss_before": round(fit.loss_start, 4),
        "loss_after": round(fit.loss_best, 4),
        "evaluations": fit.evaluations,
        "seconds": fit.seconds,
        **{name: round(value, 5) for name, value in fit.best.items()},
        **{f"start_{name}": round(value, 5) for name, value in fit.start.items()},
    }
    text = (
        "# Population profile fitted to the event library (scenarios/events/) by `cascadesim\n"
        "# calibrate` (see cascadesim/calibrate.py for the loss). Scenarios adopt it with\n"
        '# `profile = "calibrated"`: its values fill in the keys they leave unset.\n'
        + dump_toml({"calibration": record, **profile_data(fit.best)})
    )
    path.write_text(text, encoding="utf-8")
