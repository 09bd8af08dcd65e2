"""The work of a sweep: many paths of one design point, on whichever process runs them.

A unit of work is a chunk of consecutive paths of one design point (:func:`run_chunk`). The
population of a point is built and sorted once per process and kept (the two most recent
points), and every path runs on a copy of its mutable columns: that is what makes a thousand
paths cheap. Everything a path draws comes from its own seed,
``SeedSequence(seed, spawn_key=(point, path))`` (with common random numbers, point 0's key
serves every point), so a result does not depend on how paths are grouped into chunks, which
process runs them or in which order they finish.

These functions are what process pools and Dask workers import and call: module-level, with
picklable arguments (a :class:`PointJob` of plain data) and a pyarrow table as the result.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from cascadesim.model.contracts import engine_space
from cascadesim.model.shocks import (
    add_idiosyncratic_noise,
    jump_factor,
    sell_programme_flow,
    shock_arrays,
    step_times,
)
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import (
    check_start_margins,
    copy_positions,
    market_params,
    run_path,
    sort_population,
    validate_setup,
)
from cascadesim.sim.result import Result, perp_price
from cascadesim.sweep.spec import RandomShock

INTEGER_FIGURES = {"accounts_liquidated", "adl_count"}
SKIPPED_FIGURES = {"markets", "seed", "scenario_hash", "version", "market", "asset", "venue"}
PRICE_PREFIX = "price_path."
CACHED_POINTS = 2
_prepared: OrderedDict[str, PreparedPoint] = OrderedDict()
# A Dask worker may run several threads: the cache is shared, its updates must not interleave.
_prepared_lock = threading.Lock()


@dataclass(frozen=True)
class PointJob:
    """Everything a worker needs to run paths of one design point (plain, picklable data).

    Attributes
    ----------
    point : int, index of the design point
    scenario : dict, the point's scenario (``Scenario.model_dump(exclude_unset=True)``: the
        keys the file set, so that per-market tables and the population model read as
        written)
    source : str or None, the base scenario file (recorded paths are relative to it)
    key : str, the point scenario's hash (the worker's cache key)
    seed : int, the sweep's root seed
    shock : dict or None, the sweep's random shock (``RandomShock.model_dump()``)
    redraw_population, common_random_numbers, counterfactual : bool
    price_sample_s : float, seconds between stored price samples
    """

    point: int
    scenario: dict
    source: str | None
    key: str
    seed: int
    shock: dict | None
    redraw_population: bool
    common_random_numbers: bool
    counterfactual: bool
    price_sample_s: float


def point_jobs(sweep) -> list[PointJob]:
    """One job per design point of a loaded :class:`cascadesim.sweep.spec.Sweep`."""
    spec = sweep.spec
    shock = None if spec.shock is None else spec.shock.model_dump(exclude_unset=True)
    return [
        PointJob(
            point=k,
            scenario=scenario.model_dump(exclude_unset=True),
            source=None if scenario.source is None else str(scenario.source),
            key=scenario.hash(),
            seed=spec.seed,
            shock=shock,
            redraw_population=spec.redraw_population,
            common_random_numbers=spec.common_random_numbers,
            counterfactual=spec.counterfactual,
            price_sample_s=spec.price_sample_s,
        )
        for k, scenario in enumerate(sweep.scenarios)
    ]


def task_sequence(seed: int, point: int, path: int, common: bool) -> np.random.SeedSequence:
    """The seed of task (point, path); with ``common`` the same for every point."""
    return np.random.SeedSequence(seed, spawn_key=(0 if common else point, path))


# --- a prepared design point --------------------------------------------------------------
@dataclass
class PreparedPoint:
    """A point's scenario, its engine setup and its population sorted once."""

    scenario: Any
    shock: Any
    setup: Any
    params: np.recarray
    positions: Any  # layout.Positions, sorted; never modified (paths run on copies)
    groups: Any
    original_row: np.ndarray
    n_accounts: int


def prepared_point(job: PointJob) -> PreparedPoint:
    """The job's point prepared in this process (built on first use, then cached).

    The cache key is the point scenario's hash and the sweep's random shock: two sweeps of
    one scenario with different shocks (run one after the other in one process) must not
    share a prepared point, whose shock the paths draw from.
    """
    key = job.key if job.shock is None else f"{job.key}:{json.dumps(job.shock, sort_keys=True)}"
    with _prepared_lock:
        if key in _prepared:
            _prepared.move_to_end(key)
            return _prepared[key]

    scenario = Scenario.from_data(job.scenario, job.source)
    shock = None if job.shock is None else RandomShock.model_validate(job.shock)
    prepared = sorted_population(scenario, shock, scenario.seed)
    with _prepared_lock:
        _prepared[key] = prepared
        while len(_prepared) > CACHED_POINTS:
            _prepared.popitem(last=False)
    return prepared


def sorted_population(scenario, shock, seed: int) -> PreparedPoint:
    """Build a scenario's setup with a population seed, validate it and sort it."""
    setup = scenario.build(seed=seed)
    n_accounts = validate_setup(setup)
    setup = engine_space(setup)
    params = market_params(setup.markets, setup.assets)
    check_start_margins(setup, params)
    positions, groups, original_row = sort_population(setup.positions, params)
    return PreparedPoint(
        scenario=scenario,
        shock=shock,
        setup=setup,
        params=params,
        positions=positions,
        groups=groups,
        original_row=original_row,
        n_accounts=n_accounts,
    )


def warm_up(job: PointJob) -> float:
    """Load (or compile) the engine kernels in this process; returns the seconds it took.

    Prepares the job's point (so the first chunk finds it cached) and runs two steps with
    and without liquidations: the record dtypes are the point's, so the very specialisations
    the paths use are loaded.
    """
    started = time.perf_counter()
    prepared = prepared_point(job)
    setup = dataclasses.replace(
        prepared.setup, index_path=prepared.setup.index_path[:3], taker_flow_usd=None
    )
    for enabled in (False, True):
        run_path(
            setup,
            prepared.params,
            copy_positions(prepared.positions),
            prepared.groups._replace(pointer=prepared.groups.start.copy()),
            prepared.n_accounts,
            enabled,
            chunk_steps=setup.n_steps,
        )
    return time.perf_counter() - started


# --- shocks -------------------------------------------------------------------------------
def draw_shock(shock, scenario, rng: np.random.Generator) -> tuple[np.ndarray, Any, dict]:
    """A path's index path and taker flow from the sweep's shock distribution.

    Returns
    -------
    index_path : float64 (n_steps + 1, n_assets), USD
    taker_flow_usd : float64 (n_steps, n_markets) or None, signed USD per step
    drawn : dict, ``shock_<field>`` -> the value drawn (the columns of paths.parquet)
    """
    n_steps, step_s = scenario.n_steps, scenario.step_s
    assets = list(scenario.assets)
    start = np.asarray(scenario.start_index(), dtype=np.float64)
    factors = np.ones((n_steps + 1, len(assets)))
    if shock.kind == "index_jump":
        asset = (
            shock.asset[int(rng.integers(len(shock.asset)))]
            if len(shock.asset) > 1
            else shock.asset[0]
        )
        drawn = {
            "shock_asset": asset,
            "shock_drop_fraction": shock.drop_fraction.draw(rng),
            "shock_at_s": shock.at_s.draw(rng),
            "shock_ramp_s": shock.ramp_s.draw(rng),
        }
        times = step_times(n_steps, step_s)
        for k, name in enumerate(assets):
            if asset in ("all", name):
                factors[:, k] = jump_factor(
                    times, drawn["shock_drop_fraction"], drawn["shock_at_s"], drawn["shock_ramp_s"]
                )
        return factors * start[None, :], None, drawn
    market = (
        shock.market[int(rng.integers(len(shock.market)))]
        if len(shock.market) > 1
        else shock.market[0]
    )
    drawn = {
        "shock_market": market,
        "shock_usd": shock.usd.draw(rng),
        "shock_duration_s": shock.duration_s.draw(rng),
        "shock_start_s": shock.start_s.draw(rng),
    }
    flow = np.zeros((n_steps, len(scenario.markets)))
    flow[:, list(scenario.markets).index(market)] = sell_programme_flow(
        n_steps, step_s, drawn["shock_usd"], drawn["shock_start_s"], drawn["shock_duration_s"]
    )
    return factors * start[None, :], flow, drawn


def index_noise(scenario) -> list[float]:
    """Each asset's idiosyncratic index volatility (fraction per sqrt(second)), 0 if none."""
    return [
        float(getattr(asset, "idiosyncratic_volatility", 0.0) or 0.0)
        for asset in scenario.assets.values()
    ]


def noiseless_index(scenario) -> np.ndarray:
    """The scenario's own index path without its noise (USD, (n_steps + 1, n_assets))."""
    index_path, _ = shock_arrays(
        scenario.shock,
        scenario.n_steps,
        scenario.step_s,
        list(scenario.assets),
        scenario.start_index(),
        list(scenario.markets),
        scenario.base_dir,
    )
    return index_path


# --- running paths ------------------------------------------------------------------------
def run_chunk(job: PointJob, first_path: int, stop_path: int):
    """Paths ``first_path .. stop_path - 1`` of the job's point.

    Returns
    -------
    table : pyarrow.Table, one row per path (see :func:`path_row` for the columns)
    seconds : float, time spent computing (excluding the wait for the job and the transfer)
    """
    started = time.perf_counter()
    prepared = prepared_point(job)
    rows = [path_row(job, prepared, path) for path in range(first_path, stop_path)]
    return rows_table(rows), time.perf_counter() - started


def path_row(job: PointJob, prepared: PreparedPoint, path: int) -> dict:
    """Run one path (and its counterfactual) and return its row of figures.

    Columns: point, path, the shock drawn (``shock_*``), every numeric figure of
    :attr:`cascadesim.sim.result.Result.summary` (per market as ``<market>.<figure>`` when there
    are several), ``insurance_fund_drawdown_usd``, ``largest_sample_drop`` and the sampled
    perp price of each market (``price_path.<market>``, USD, every ``price_sample_s``).
    """
    shock_sequence, population_sequence, noise_sequence = task_sequence(
        job.seed, job.point, path, job.common_random_numbers
    ).spawn(3)
    if job.redraw_population:
        # The top bit is dropped so the seed also fits a signed 64-bit parquet column.
        population_seed = int(population_sequence.generate_state(1, np.uint64)[0] >> 1)
        prepared = sorted_population(prepared.scenario, prepared.shock, population_seed)
    setup = prepared.setup
    drawn: dict = {}
    if prepared.shock is not None:
        index_path, flow, drawn = draw_shock(
            prepared.shock, prepared.scenario, np.random.default_rng(shock_sequence)
        )
        setup = dataclasses.replace(setup, index_path=index_path, taker_flow_usd=flow)
    volatility = index_noise(prepared.scenario)
    if any(volatility):
        # Each path its own index noise (the scenario's seed would give every path the same).

        base = (
            setup.index_path if prepared.shock is not None else noiseless_index(prepared.scenario)
        )
        setup = dataclasses.replace(
            setup,
            index_path=add_idiosyncratic_noise(
                base, volatility, prepared.scenario.step_s, np.random.default_rng(noise_sequence)
            ),
        )
    baseline = None
    if job.counterfactual:
        baseline = run_path(
            setup,
            prepared.params,
            copy_positions(prepared.positions),
            prepared.groups._replace(pointer=prepared.groups.start.copy()),
            prepared.n_accounts,
            False,
            chunk_steps=setup.n_steps,
        )
    outcome = run_path(
        setup,
        prepared.params,
        copy_positions(prepared.positions),
        prepared.groups._replace(pointer=prepared.groups.start.copy()),
        prepared.n_accounts,
        True,
        chunk_steps=setup.n_steps,
    )
    result = Result(
        setup=setup,
        params=prepared.params,
        initial_positions=prepared.positions,
        outcome=outcome,
        counterfactual=baseline,
        original_row=prepared.original_row,
    )
    row = {"point": job.point, "path": path, **drawn}
    if job.redraw_population:
        row["population_seed"] = population_seed
    row.update(figures(result.summary))
    row.update(path_extras(result, job.price_sample_s))
    return row


def is_figure(key: str, value) -> bool:
    """A number (or an undefined one, None), and not an identifier such as the seed."""
    return key not in SKIPPED_FIGURES and (
        value is None or isinstance(value, bool | int | float | np.number)
    )


def figures(summary: dict) -> dict:
    """The numeric figures of a summary; per market too when there are several markets.

    Tables, lists and text (breakdowns by venue, names, the hash) are left out: the
    per-market figures carry the same numbers.
    """
    row = {key: value for key, value in summary.items() if is_figure(key, value)}
    markets = summary["markets"]
    if len(markets) > 1:
        for market in markets:
            row.update(
                {
                    f"{market['market']}.{key}": value
                    for key, value in market.items()
                    if is_figure(key, value)
                }
            )
    return row


def path_extras(result, price_sample_s: float) -> dict:
    """Insurance-fund drawdown, the largest fall between price samples, the sampled prices."""
    timeline = result.outcome.timeline
    start_fund = np.asarray([spec.insurance_fund_usd for spec in result.setup.markets])
    lowest_fund = np.minimum(timeline["insurance_fund_usd"].min(axis=0), start_fund)
    every = max(1, int(round(price_sample_s / result.setup.step_seconds)))
    rows = np.arange(every - 1, timeline.shape[0], every)
    extras: dict = {"insurance_fund_drawdown_usd": float((start_fund - lowest_fund).sum())}
    largest_drop = 0.0
    for m, spec in enumerate(result.setup.markets):
        samples = np.concatenate(([spec.price], perp_price(timeline[:, m])[rows]))
        extras[PRICE_PREFIX + spec.name] = samples
        largest_drop = max(
            largest_drop, float(np.max(1.0 - samples[1:] / samples[:-1], initial=0.0))
        )
    extras["largest_sample_drop"] = largest_drop
    return extras


def rows_table(rows: list[dict]):
    """Rows of :func:`path_row` as a pyarrow table with fixed column types.

    Types are fixed by the column (never by the values of one chunk), so that chunks written
    at different times concatenate and compare exactly.
    """
    columns = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        short = name.rsplit(".", 1)[-1]
        if name.startswith(PRICE_PREFIX):
            array = pa.array(
                [np.asarray(v, dtype=np.float64) for v in values], type=pa.list_(pa.float64())
            )
        elif isinstance(values[0], str):
            array = pa.array(values, type=pa.string())
        elif isinstance(values[0], bool | np.bool_):
            array = pa.array(values, type=pa.bool_())
        elif name in ("point", "path", "population_seed") or short in INTEGER_FIGURES:
            array = pa.array(values, type=pa.int64())
        else:
            array = pa.array([np.nan if v is None else float(v) for v in values], type=pa.float64())
        columns[name] = array
    return pa.table(columns)
