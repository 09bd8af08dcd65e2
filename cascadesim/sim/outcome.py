"""What one engine path returns: typed containers of its raw arrays."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cascadesim.engine import layout


class BookSnapshot(NamedTuple):
    """Resting depth of every market after ``step`` steps.

    Attributes
    ----------
    step : int, steps done when it was taken
    price : float64 array (markets, levels), USD price of each level
    bids, asks : float64 arrays (markets, levels), resting quantity per level, base units
    """

    step: int
    price: np.ndarray
    bids: np.ndarray
    asks: np.ndarray


class PathOutcome(NamedTuple):
    """The raw arrays one path leaves behind (see :mod:`cascadesim.engine.layout` dtypes).

    Attributes
    ----------
    state : record array (markets,), MARKET_STATE_DTYPE, the final market state
    assets : record array (assets,), the final index and factor state
    positions : layout.Positions, the sorted position columns after the path
    events : structured array (events,), LIQUIDATION_EVENT_DTYPE, the event log
    timeline : structured array (steps, markets), TIMELINE_DTYPE
    flags : int, STATUS_FLAG_* bits raised during the path (iteration cap, book exhausted)
    account_liquidated : bool array (accounts,), accounts with at least one liquidation
    account_wallet : float64 array (accounts,), cross accounts' final wallets, USD
    watchlist_size : int, positions on the watch list at the end
    book_snapshots : list of BookSnapshot, about 100 through the path
    collateral_repriced_usd : float, USD that collateral prices credited to the traders
        (negative: taken), the ledger's outside source
    collateral_value_usd : float64 array (collateral accounts,), each basket's counted USD
        value when it was last revalued (in ascending cross-slot order)
    flow_deposited_usd : float, margin the opening flow's new positions brought in (USD),
        the ledger's second outside source
    flow_opened_time : float64 array (flow rows,), s, when each draw opened (NaN: never)
    """

    state: np.recarray
    assets: np.recarray
    positions: layout.Positions
    events: np.ndarray
    timeline: np.ndarray
    flags: int
    account_liquidated: np.ndarray
    account_wallet: np.ndarray
    watchlist_size: int
    book_snapshots: list[BookSnapshot]
    collateral_repriced_usd: float = 0.0
    collateral_value_usd: np.ndarray = np.zeros(0)
    flow_deposited_usd: float = 0.0
    flow_opened_time: np.ndarray = np.zeros(0)

    @property
    def flow_opened(self) -> int:
        """Positions the opening flow opened."""
        return int(np.isfinite(self.flow_opened_time).sum())
