"""What the opening flow did in a path: positions opened, by side, and how many of them
were liquidated before the end."""

from __future__ import annotations

import numpy as np

from cascadesim.engine import layout


def flow_summary(result) -> dict | None:
    """Figures of the setup's opening flow, or None when it has none.

    ``liquidated_*`` count the liquidations (book, insurance, backstop, ADL of the rest) of
    positions that opened during the run, in USD of their fills, by the side closed.
    """
    flow = result.setup.flow
    if flow is None:
        return None
    outcome = result.engine_outcome
    opened = np.isfinite(outcome.flow_opened_time)
    n_population = len(result.setup.positions)
    # Flow rows lie in the order of their draws (grouped by market, as the draws are).
    rows = np.flatnonzero(result.original_row >= n_population)
    side = outcome.positions.side[rows]
    notional = flow.notional_usd
    events = outcome.events
    events = events[np.isin(events["kind"], layout.LIQUIDATION_KINDS) & (events["position"] >= 0)]
    from_flow = result.original_row[events["position"]] >= n_population
    events = events[from_flow]
    long_events = events["side"] > 0
    return {
        "rows_drawn": int(flow.n_rows),
        "positions_opened": int(opened.sum()),
        "opened_long_usd": float(notional[opened & (side > 0)].sum()),
        "opened_short_usd": float(notional[opened & (side < 0)].sum()),
        "margin_deposited_usd": float(outcome.flow_deposited_usd),
        "positions_liquidated": int(np.unique(events["position"]).size),
        "liquidated_long_usd": float(events["notional"][long_events].sum()),
        "liquidated_short_usd": float(events["notional"][~long_events].sum()),
        "rows_exhausted": bool(outcome.flags & layout.STATUS_FLAG_FLOW_EXHAUSTED),
    }
