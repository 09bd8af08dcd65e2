"""What collateral did in a path: holders, their liquidations, and the prices that moved."""

from __future__ import annotations

import numpy as np

from cascadesim.engine import layout

LIQUIDATION_KINDS = layout.LIQUIDATION_KINDS


def collateral_summary(result) -> dict | None:
    """Figures of the setup's collateral accounts, or None when it has none.

    ``accounts_liquidated_without_loss`` counts the holders liquidated while none of their
    liquidated positions had lost on the index since the start (the index at the trigger
    against the index at the start, by side): accounts that the value of their collateral,
    not a move of the market, took below maintenance.
    """
    holdings = result.setup.collateral
    if holdings is None:
        return None
    holders = np.unique(holdings.account)
    liquidated = result.engine_outcome.account_liquidated
    events = result.engine_outcome.events
    events = events[np.isin(events["kind"], LIQUIDATION_KINDS)]
    positions = result.engine_initial_positions
    rows = events["position"]
    traders = rows >= 0
    events, rows = events[traders], rows[traders]
    setup = result.setup
    asset = np.asarray(result.params.asset)[events["market"]]
    step = np.clip(np.rint(events["time"] / setup.step_seconds).astype(np.int64), 0, setup.n_steps)
    index = np.asarray(setup.index_path)
    moved = index[step, asset] - index[0, asset]
    # In engine units an inverse market's long is a short of x = K / price: the side flips.
    flip = np.where(np.asarray(result.params.reciprocal_scale)[events["market"]] > 0, -1, 1)
    losing = flip * positions.side[rows] * moved < 0.0
    n_accounts = liquidated.shape[0]
    any_losing = np.zeros(n_accounts, dtype=np.bool_)
    any_losing[events["account"][losing]] = True
    prices = holdings.prices(result.setup.index_path)
    feeds = {}
    for f, name in enumerate(holdings.feeds):
        held = holdings.feed == f
        feeds[name] = {
            "holders": int(np.unique(holdings.account[held]).size),
            "units": float(holdings.units[held].sum()),
            "price_start_usd": float(prices[0, f]),
            "price_min_usd": float(prices[:, f].min()),
        }
    return {
        "accounts": int(holders.size),
        "accounts_liquidated": int(liquidated[holders].sum()),
        "accounts_liquidated_without_loss": int((liquidated[holders] & ~any_losing[holders]).sum()),
        "value_start_usd": float(holdings.start_value(n_accounts, result.setup.index_path).sum()),
        "repriced_usd": float(result.engine_outcome.collateral_repriced_usd),
        "feeds": feeds,
    }
