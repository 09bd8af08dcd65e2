"""Run the engine: validate a setup, build the state, step it in chunks, collect the result.

The public entry point is :func:`simulate`. It checks the inputs, computes every position's
tier-aware liquidation price, sorts the population once into (market, side, tier, price)
groups, runs the liquidation-free counterfactual and the real path through the jitted step
loop in chunks (so that a progress callback can report), and wraps the outputs in a
:class:`cascadesim.sim.result.Result`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from cascadesim.engine import layout
from cascadesim.engine.step import TOTAL_COLUMNS, run_steps
from cascadesim.model.contracts import engine_space
from cascadesim.model.market import EngineSetup, market_params
from cascadesim.model.resources import MemoryEstimate, RunBudget, check_memory
from cascadesim.sim.collateral_state import (
    check_collateral,
    collateral_accounts,
    fresh_collateral,
)
from cascadesim.sim.flow_state import check_flow, empty_flow, fresh_flow, insert_flow_rows
from cascadesim.sim.outcome import BookSnapshot, PathOutcome
from cascadesim.sim.result import Result
from cascadesim.sim.state import (
    INITIAL_EVENT_CAPACITY,
    check_start_margins,
    copy_positions,
    cross_accounts,
    engine_inputs,
    fresh_cross_accounts,
    sort_population,
    validate_setup,
)

ProgressCallback = Callable[[int, int], None]  # (steps done, steps total)
# (steps done, market state, positions, cross-account wallets, collateral, opening flow);
# sees the live arrays
ChunkObserver = Callable[
    [int, np.recarray, layout.Positions, np.ndarray, layout.Collateral, layout.Flow], None
]


def run_path(
    setup: EngineSetup,
    params: np.recarray,
    positions: layout.Positions,
    groups: layout.Groups,
    n_accounts: int,
    liquidations_enabled: bool,
    progress: ProgressCallback | None = None,
    chunk_steps: int | None = None,
    crosses: layout.CrossAccounts | None = None,
    observe: ChunkObserver | None = None,
    collateral: layout.Collateral | None = None,
    flow: layout.Flow | None = None,
) -> PathOutcome:
    """Step one path to the end; returns the raw arrays of its outcome.

    ``crosses`` (from :func:`cross_accounts`, built once per population) is reset before
    use; None builds it from ``positions``; ``collateral`` (from
    :func:`collateral_accounts`) likewise. ``observe`` is called after every chunk with the
    live state (the ledger tests audit the books step by step with ``chunk_steps=1``).
    """
    n_steps = setup.n_steps
    n_markets = len(setup.markets)
    crosses = (
        cross_accounts(positions, n_accounts, setup.markets)
        if crosses is None
        else fresh_cross_accounts(crosses)
    )
    collateral = fresh_collateral(
        collateral_accounts(setup, crosses, n_accounts) if collateral is None else collateral
    )
    state, assets, watchlist, scratch = engine_inputs(setup, params, positions, n_accounts)
    flow = fresh_flow(empty_flow(n_markets) if flow is None else flow, state.mark_price.copy())
    index_path = np.ascontiguousarray(setup.index_path, dtype=np.float64)
    taker_flow = (
        np.zeros((n_steps, n_markets))
        if setup.taker_flow_usd is None
        else np.ascontiguousarray(setup.taker_flow_usd, dtype=np.float64)
    )
    events = np.zeros(INITIAL_EVENT_CAPACITY, dtype=layout.LIQUIDATION_EVENT_DTYPE)
    event_count = np.zeros(1, dtype=np.int64)
    timeline = np.zeros((n_steps, n_markets), dtype=layout.TIMELINE_DTYPE)
    walk_out = np.zeros(5)
    flags = np.zeros(1, dtype=np.int64)
    step_totals = np.zeros((n_markets, TOTAL_COLUMNS))
    chunk = chunk_steps or max(1, n_steps // 100)
    snapshots = [book_snapshot(0, state, params)]
    for first in range(0, n_steps, chunk):
        last = min(n_steps, first + chunk)
        events = run_steps(
            first,
            last,
            setup.step_seconds,
            liquidations_enabled,
            setup.iteration_cap,
            params,
            assets,
            index_path,
            taker_flow,
            positions,
            groups,
            state,
            watchlist,
            scratch,
            crosses,
            collateral,
            flow,
            events,
            event_count,
            timeline,
            walk_out,
            flags,
            step_totals,
        )
        snapshots.append(book_snapshot(last, state, params))
        if observe is not None:
            observe(last, state, positions, scratch.account_wallet, collateral, flow)
        if progress is not None:
            progress(last, n_steps)
    return PathOutcome(
        state=state,
        assets=assets,
        positions=positions,
        events=events[: event_count[0]].copy(),
        timeline=timeline,
        flags=int(flags[0]),
        account_liquidated=scratch.account_liquidated,
        account_wallet=scratch.account_wallet,
        watchlist_size=int(np.count_nonzero(positions.status == layout.STATUS_WATCHED)),
        book_snapshots=snapshots,
        collateral_repriced_usd=float(collateral.repriced_usd[0]),
        collateral_value_usd=collateral.value.copy(),
        flow_deposited_usd=float(flow.deposited_usd[0]),
        flow_opened_time=flow.opened_time,
    )


def book_snapshot(step: int, state: np.recarray, params: np.recarray) -> BookSnapshot:
    """Resting depth of every market after ``step`` steps: prices (USD) and quantities."""
    n_levels = int(state.book_levels[0])
    prices = (state.origin_tick[:, None] + np.arange(n_levels)[None, :]) * params.tick_size[:, None]
    return BookSnapshot(
        step, prices, state.bids[:, :n_levels].copy(), state.asks[:, :n_levels].copy()
    )


def simulate(
    setup,
    *,
    counterfactual: bool = True,
    progress: ProgressCallback | None = None,
    seed: int | None = None,
    budget: RunBudget | None = None,
) -> Result:
    """Simulate one path of a setup (or a scenario) and return a :class:`Result`.

    Parameters
    ----------
    setup : EngineSetup or cascadesim.scenario.models.Scenario
    counterfactual : bool, also run the path with liquidations disabled (for amplification)
    progress : callable(steps_done, steps_total), called after each chunk of steps
    seed : int, overrides a scenario's seed (ignored for an EngineSetup)
    budget : cascadesim.model.resources.RunBudget or None, engine steps (refused before the run)
        and seconds (the run stops between chunks) it may take

    Raises
    ------
    CascadesimInputError
        bad inputs, or a run that would not fit in memory (before the engine allocates)
    cascadesim.model.resources.BudgetExhausted
        the run needs more steps than ``budget.max_steps``, or ran out of its time budget
    """
    if not isinstance(setup, EngineSetup):
        setup = setup.build(seed=seed)
    n_accounts = validate_setup(setup)
    check_collateral(setup, n_accounts)
    check_flow(setup.flow, len(setup.markets), [spec.inverse for spec in setup.markets])
    setup = engine_space(setup)  # inverse markets as the linear markets the engine runs
    total = setup.n_steps * (2 if counterfactual else 1)
    # The population exists already; what is checked is what the engine will add to it.
    check_memory(
        MemoryEstimate(
            positions=len(setup.positions) + (0 if setup.flow is None else setup.flow.n_rows),
            steps=setup.n_steps,
            markets=len(setup.markets),
            assets=len(setup.assets),
            levels=setup.n_levels,
            paths=2 if counterfactual else 1,
        ),
        "the run",
    )
    if budget is not None:
        budget.check_steps(total)
        started = time.perf_counter()
        user_progress = progress

        def progress(done: int, steps: int) -> None:
            if user_progress is not None:
                user_progress(done, steps)
            budget.check_time(time.perf_counter() - started, done, steps)

    params = market_params(setup.markets, setup.assets)
    check_start_margins(setup, params)
    positions, groups, original_row = sort_population(setup.positions, params)
    positions, groups, original_row, flow, n_accounts = insert_flow_rows(
        positions,
        groups,
        original_row,
        setup.flow,
        len(setup.markets),
        n_accounts,
        setup.step_seconds,
    )
    crosses = cross_accounts(positions, n_accounts, setup.markets)
    collateral = collateral_accounts(setup, crosses, n_accounts)
    initial_positions = copy_positions(positions)
    baseline = None
    if counterfactual:
        first_half = None if progress is None else (lambda done, _: progress(done, total))
        baseline = run_path(
            setup,
            params,
            copy_positions(positions),
            groups._replace(pointer=groups.start.copy()),
            n_accounts,
            False,
            first_half,
            crosses=crosses,
            collateral=collateral,
            flow=flow,
        )
    offset = total - setup.n_steps
    second_half = None if progress is None else (lambda done, _: progress(offset + done, total))
    outcome = run_path(
        setup,
        params,
        positions,
        groups,
        n_accounts,
        True,
        second_half,
        crosses=crosses,
        collateral=collateral,
        flow=flow,
    )
    return Result(
        setup=setup,
        params=params,
        initial_positions=initial_positions,
        outcome=outcome,
        counterfactual=baseline,
        original_row=original_row,
        provenance=setup.labels.get("provenance"),
    )
