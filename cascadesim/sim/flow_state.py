"""The opening flow's rows in the engine's arrays, and its state reset for each path.

Market m's flow rows are placed right after market m's sorted rows, outside every sorted
group (the group pointers never read them; an opened row is on the watch list, and the ADL
queue reads the rows between a market's last group and the next market's first). Each row
is an account of its own (an isolated position), numbered after the population's accounts.
"""

from __future__ import annotations

import math

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.model.flow import OpeningFlow


def insert_flow_rows(
    positions: layout.Positions,
    groups: layout.Groups,
    original_row: np.ndarray,
    flow: OpeningFlow | None,
    n_markets: int,
    n_accounts: int,
    dt: float,
) -> tuple[layout.Positions, layout.Groups, np.ndarray, layout.Flow, int]:
    """Sorted positions with each market's pending flow rows after its own rows.

    Parameters
    ----------
    positions, groups, original_row : from :func:`cascadesim.sim.state.sort_population`
    flow : the setup's opening flow, or None
    n_markets, n_accounts : int, the setup's markets and the population's accounts
    dt : float, s per step (the averages' weights are per step)

    Returns
    -------
    positions, groups : with the flow rows inserted and the groups shifted past them
    original_row : int64 (n,), a flow row's entry is ``n_population + k`` for its draw k
    template : layout.Flow, the flow in the engine's form (reset per path by
        :func:`fresh_flow`)
    n_accounts : int, the population's accounts plus one per flow row
    """
    if flow is None or flow.n_rows == 0:
        return positions, groups, original_row, empty_flow(n_markets), n_accounts
    n_population = positions.quantity.shape[0]
    rows_per_market = np.bincount(flow.market, minlength=n_markets).astype(np.int64)
    market_end = np.searchsorted(positions.market, np.arange(n_markets), side="right")
    # Market m's first draw: the flow rows of the markets before it, which is also how far
    # they shift market m's rows; its own rows follow its sorted ones.
    draw_first = np.concatenate(([0], np.cumsum(rows_per_market)[:-1])).astype(np.int64)
    flow_start = market_end + draw_first
    old_rows = np.arange(n_population) + draw_first[positions.market]
    n = n_population + flow.n_rows
    draw_market = flow.market.astype(np.int64)
    new_rows = flow_start[draw_market] + np.arange(flow.n_rows) - draw_first[draw_market]

    def spread(column: np.ndarray, fill) -> np.ndarray:
        out = np.empty(n, dtype=column.dtype)
        out[old_rows] = column
        out[new_rows] = fill
        return out

    inserted = layout.Positions(
        market=spread(positions.market, flow.market.astype(positions.market.dtype)),
        account=spread(positions.account, n_accounts + np.arange(flow.n_rows)),
        side=spread(positions.side, 1),
        quantity=spread(positions.quantity, 0.0),
        entry_price=spread(positions.entry_price, 0.0),
        margin=spread(positions.margin, 0.0),
        liquidation_price=spread(positions.liquidation_price, np.nan),
        tier=spread(positions.tier, 0),
        status=spread(positions.status, layout.STATUS_PENDING),
        cross=spread(positions.cross, False),
    )
    group_market = np.arange(groups.start.shape[0]) // (groups.start.shape[0] // n_markets)
    moved = draw_first[group_market]
    shifted = layout.Groups(
        start=groups.start + moved, end=groups.end + moved, pointer=groups.pointer + moved
    )
    rows = spread(original_row, n_population + np.arange(flow.n_rows))
    template = engine_flow(flow, flow_start, rows_per_market, draw_first, dt)
    return inserted, shifted, rows, template, n_accounts + flow.n_rows


def keep_per_step(half_life_s: np.ndarray, dt: float) -> np.ndarray:
    """Weight of the old value in a per-step average with the given half-life (s)."""
    return np.power(0.5, dt / np.asarray(half_life_s, dtype=np.float64))


def engine_flow(
    flow: OpeningFlow,
    start: np.ndarray,
    count: np.ndarray,
    first: np.ndarray,
    dt: float,
) -> layout.Flow:
    """The engine's tuple for ``flow`` with rows at ``start[m]:start[m] + count[m]``."""
    n_markets = start.shape[0]
    zeros = np.zeros(n_markets)
    return layout.Flow(
        start=start.astype(np.int64),
        end=(start + count).astype(np.int64),
        pointer=start.astype(np.int64).copy(),
        first=first.astype(np.int64),
        arrival=np.ascontiguousarray(flow.arrival, dtype=np.float64),
        side_draw=np.ascontiguousarray(flow.side_draw, dtype=np.float64),
        notional_usd=np.ascontiguousarray(flow.notional_usd, dtype=np.float64),
        leverage=np.ascontiguousarray(flow.leverage, dtype=np.float64),
        opened_time=np.full(flow.n_rows, np.nan),
        base_rate=np.asarray(flow.base_rate, dtype=np.float64),
        activity_gain=np.asarray(flow.activity_gain, dtype=np.float64),
        sigma_step=np.asarray(flow.sigma_step, dtype=np.float64),
        activity_keep=keep_per_step(flow.activity_half_life_s, dt),
        trend_keep=keep_per_step(flow.trend_half_life_s, dt),
        trend_scale=np.asarray(flow.trend_scale, dtype=np.float64),
        long_bias=np.asarray(flow.long_bias, dtype=np.float64),
        momentum=np.asarray(flow.momentum, dtype=np.float64),
        reentry_share=np.asarray(flow.reentry_share, dtype=np.float64),
        reentry_keep=keep_per_step(flow.reentry_half_life_s, dt),
        mean_notional_usd=np.asarray(flow.mean_notional_usd, dtype=np.float64),
        intensity=zeros,
        activity=zeros.copy(),
        trend_level=zeros.copy(),
        last_log_mark=zeros.copy(),
        reentry_long_usd=zeros.copy(),
        reentry_short_usd=zeros.copy(),
        deposited_usd=np.zeros(1),
    )


def fresh_flow(template: layout.Flow, start_mark: np.ndarray) -> layout.Flow:
    """The flow reset for a new path that starts at ``start_mark`` (USD per market).

    The activity average starts at its calm value, ``sigma_step``, and the trend at zero.
    """
    log_mark = np.log(np.asarray(start_mark, dtype=np.float64))
    n_markets = log_mark.shape[0]
    return template._replace(
        pointer=template.start.copy(),
        opened_time=np.full(template.opened_time.shape, np.nan),
        intensity=np.zeros(n_markets),
        activity=template.sigma_step.copy(),
        trend_level=log_mark.copy(),
        last_log_mark=log_mark.copy(),
        reentry_long_usd=np.zeros(n_markets),
        reentry_short_usd=np.zeros(n_markets),
        deposited_usd=np.zeros(1),
    )


def empty_flow(n_markets: int) -> layout.Flow:
    """A flow with no rows: the engine opens nothing (and skips the flow's kernels)."""
    index = np.zeros(n_markets, dtype=np.int64)
    ones = np.ones(n_markets)
    zeros = np.zeros(n_markets)
    empty = OpeningFlow(
        market=np.zeros(0, dtype=np.int32),
        arrival=np.zeros(0),
        side_draw=np.zeros(0),
        notional_usd=np.zeros(0),
        leverage=np.zeros(0),
        base_rate=zeros,
        activity_gain=zeros,
        sigma_step=ones,
        activity_half_life_s=ones,
        trend_half_life_s=ones,
        trend_scale=ones,
        long_bias=zeros,
        momentum=zeros,
        reentry_share=zeros,
        reentry_half_life_s=ones,
        mean_notional_usd=ones,
    )
    return engine_flow(empty, index, index, index, 1.0)


def check_flow(flow: OpeningFlow | None, n_markets: int, inverse: list[bool]) -> None:
    """One-line errors for a flow the engine cannot run."""
    if flow is None:
        return
    for name in ("base_rate", "activity_gain", "sigma_step", "mean_notional_usd"):
        values = np.asarray(getattr(flow, name), dtype=np.float64)
        if values.shape != (n_markets,):
            raise invalid(
                f"flow.{name}", f"shape {values.shape}", f"one value per market ({n_markets})"
            )
    if flow.n_rows and (np.diff(flow.market) < 0).any():
        raise invalid("flow.market", "unsorted", "rows grouped by market in market order")
    if flow.n_rows and not (0 <= flow.market.min() and flow.market.max() < n_markets):
        raise invalid("flow.market", int(flow.market.max()), f"a market index below {n_markets}")
    for m in np.unique(flow.market):
        if inverse[int(m)]:
            raise invalid(
                f"flow.market[{int(m)}]",
                "inverse",
                "linear markets: the opening flow is sized in USD of linear contracts",
            )
    if flow.n_rows:
        bad = ~(np.isfinite(flow.notional_usd) & (flow.notional_usd > 0))
        bad |= ~(np.isfinite(flow.leverage) & (flow.leverage >= 1))
        if bad.any():
            k = int(np.argmax(bad))
            raise invalid(
                f"flow row {k}",
                f"notional {flow.notional_usd[k]}, leverage {flow.leverage[k]}",
                "notional > 0 USD and leverage >= 1",
            )
    if not math.isfinite(float(np.sum(flow.arrival))):
        raise invalid("flow.arrival", "not finite", "finite cumulative arrivals")
