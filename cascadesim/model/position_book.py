"""Real positions in place of (or beside) the synthetic population.

An exchange's own book (``cascadesim run --positions``) replaces the generated population;
the large accounts a venue publishes per address (``[[named_positions]]`` of a snapshot) are
added to it. Both arrive as a :class:`PositionBook` in the venue's terms (USD prices; coin
quantities on linear markets, USD face on inverse ones) and become engine rows here.

Engine accounts are one wallet each, so an account of the book becomes one engine account
per margin mode, venue and settlement currency (an exchange's account that holds isolated
positions beside its cross wallet is two wallets at the venue too). Positions already at
or below maintenance margin at the start price are returned apart, to be listed: the engine
would liquidate them in the first step at a price no shock made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from cascadesim.engine.margin import maintenance_requirements
from cascadesim.model.contracts import settlement_currency, to_reciprocal
from cascadesim.model.market import EngineSetup, MarketSpec, PositionArrays, market_params

# Account tiers of the exposure report: an account's notional at the start, USD.
ACCOUNT_TIER_FLOORS_USD = (0.0, 1e4, 1e5, 1e6, 1e7)
ACCOUNT_TIER_NAMES = ("< 10k", "10k-100k", "100k-1M", "1M-10M", ">= 10M")


@dataclass
class PositionBook:
    """Positions as a venue holds them, one row each.

    account : int64 (n,), index into ``account_names``
    account_names : list of str, the book's account identifiers
    market : int32 (n,), index into the scenario's markets
    side : int8 (n,), +1 long / -1 short
    quantity : float64 (n,), coin (linear) or USD face value (inverse)
    entry_price : float64 (n,), USD
    margin : float64 (n,), USD (linear) or coin (inverse): isolated margin, or the
        position's share of its cross wallet
    cross : bool (n,)
    leverage : float64 (n,), the book's leverage where given, else NaN
    row : int64 (n,), the row's line in its file (1: the first row after the header)
    source : str, the file (or table) the rows came from
    """

    account: np.ndarray
    account_names: list[str]
    market: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    entry_price: np.ndarray
    margin: np.ndarray
    cross: np.ndarray
    leverage: np.ndarray
    row: np.ndarray
    source: str = "positions"

    def __len__(self) -> int:
        return int(self.quantity.shape[0])

    def subset(self, keep: np.ndarray) -> PositionBook:
        """The rows where ``keep`` is True."""
        columns = ("account", "market", "side", "quantity", "entry_price", "margin")
        values = {name: getattr(self, name)[keep] for name in columns}
        return dataclasses.replace(
            self,
            **values,
            cross=self.cross[keep],
            leverage=self.leverage[keep],
            row=self.row[keep],
        )

    def notional_usd(self, markets: list[MarketSpec]) -> np.ndarray:
        """Each row's notional at the start price, USD (an inverse row's face value)."""
        price = np.asarray([spec.price for spec in markets], dtype=np.float64)[self.market]
        inverse = np.asarray([spec.inverse for spec in markets], dtype=bool)[self.market]
        return np.where(inverse, self.quantity, self.quantity * price)

    def account_tiers(self, markets: list[MarketSpec]) -> np.ndarray:
        """Tier of each book account (index into ``ACCOUNT_TIER_NAMES``) by its notional."""
        per_account = np.bincount(
            self.account, weights=self.notional_usd(markets), minlength=len(self.account_names)
        )
        return np.searchsorted(ACCOUNT_TIER_FLOORS_USD, per_account, side="right") - 1


def engine_accounts(book: PositionBook, markets: list[MarketSpec], first: int = 0):
    """Engine account id of each row: one per (account, margin mode, venue, currency).

    Returns
    -------
    (ids int64 (n,) numbered from ``first``, owner int64 (n_ids,): the book account of each
    engine account)
    """
    wallet = [f"{spec.venue}:{settlement_currency(spec)}" for spec in markets]
    wallet_code = {key: k for k, key in enumerate(sorted(set(wallet)))}
    wallet_of_row = np.asarray([wallet_code[key] for key in wallet], dtype=np.int64)[book.market]
    key = (book.account.astype(np.int64) * 2 + book.cross) * len(wallet_code) + wallet_of_row
    # Keys are bounded by twice the accounts times the wallets: numbering the keys present
    # by a running count is linear, where np.unique would sort 1e7 rows.
    present = np.zeros(int(key.max()) + 1 if key.size else 0, dtype=bool)
    present[key] = True
    number = np.cumsum(present, dtype=np.int64) - 1
    owner = np.flatnonzero(present) // len(wallet_code) // 2
    return number[key] + first, owner


def engine_rows(book: PositionBook, markets: list[MarketSpec], first_account: int = 0):
    """The book as engine position arrays (inverse markets in reciprocal units).

    ``markets`` are the engine's specs (an inverse market's ``reciprocal_scale`` set, as
    the scenario layer builds them).

    Returns
    -------
    (PositionArrays, owner): owner maps each engine account (from ``first_account``) to its
    book account
    """
    side = book.side.astype(np.int8).copy()
    quantity = book.quantity.astype(np.float64).copy()
    entry = book.entry_price.astype(np.float64).copy()
    for m, spec in enumerate(markets):
        if not spec.reciprocal_scale:
            continue
        rows = book.market == m
        side[rows], quantity[rows], entry[rows] = to_reciprocal(
            spec.reciprocal_scale, book.side[rows], book.quantity[rows], book.entry_price[rows]
        )
    account, owner = engine_accounts(book, markets, first_account)
    positions = PositionArrays(
        market=book.market.astype(np.int32),
        account=account,
        side=side,
        quantity=quantity,
        entry_price=entry,
        margin=book.margin.astype(np.float64).copy(),
        cross=book.cross.astype(bool).copy(),
    )
    return positions, owner


def start_breaches(
    setup: EngineSetup, positions: PositionArrays, params: np.recarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions at or below their maintenance margin at the start price.

    Positions are in engine units (see :func:`engine_rows`); the venue's tiers and
    maintenance rules are the engine's own
    (:func:`cascadesim.engine.margin.maintenance_requirements`).

    Returns
    -------
    (breached bool (n,), required float64 (n,): maintenance margin at the start, the
    margin's unit)
    """
    if not len(positions):
        return np.zeros(0, dtype=bool), np.zeros(0)
    if params is None:
        params = market_params(setup.markets, setup.assets)
    start_price = np.asarray([spec.price for spec in setup.markets])[positions.market]
    equity = positions.margin + positions.side * positions.quantity * (
        start_price - positions.entry_price
    )
    required = np.empty(len(positions), dtype=np.float64)
    maintenance_requirements(
        np.ascontiguousarray(positions.market, dtype=np.int32),
        np.ascontiguousarray(positions.quantity, dtype=np.float64),
        np.ascontiguousarray(positions.entry_price, dtype=np.float64),
        np.ascontiguousarray(start_price, dtype=np.float64),
        params,
        required,
    )
    return equity <= required, required


def renumbered(rows: PositionArrays, keep: np.ndarray, owner: np.ndarray, first: int):
    """The kept rows, their engine accounts numbered again from ``first`` without gaps (an
    account whose only rows were dropped disappears), and the owners of those accounts."""
    account = rows.account[keep] - first
    present = np.bincount(account, minlength=owner.size) > 0
    number = np.cumsum(present, dtype=np.int64) - 1
    kept = PositionArrays(
        market=rows.market[keep],
        account=number[account] + first,
        side=rows.side[keep],
        quantity=rows.quantity[keep],
        entry_price=rows.entry_price[keep],
        margin=rows.margin[keep],
        cross=None if rows.cross is None else rows.cross[keep],
    )
    return kept, owner[present]


def concatenate(first: PositionArrays, second: PositionArrays) -> PositionArrays:
    """Rows of ``first`` then ``second`` (cross flags False where one side has none)."""

    def flags(positions: PositionArrays) -> np.ndarray:
        if positions.cross is None:
            return np.zeros(len(positions), dtype=bool)
        return np.asarray(positions.cross, dtype=bool)

    columns = ("market", "account", "side", "quantity", "entry_price", "margin")
    joined = {
        name: np.concatenate([getattr(first, name), getattr(second, name)]) for name in columns
    }
    return PositionArrays(**joined, cross=np.concatenate([flags(first), flags(second)]))


@dataclass
class BookPlacement:
    """A setup with a book's positions in it, and what was kept out.

    setup : EngineSetup to simulate
    owner : int64 (n_engine_accounts,), the book account of each engine account; -1 for the
        synthetic population's accounts
    breached : PositionBook, rows already at or below maintenance at the start (not run)
    placed : PositionBook, the rows that run, in the order of their engine rows
    first_row : int, engine row of the first placed position
    """

    setup: EngineSetup
    owner: np.ndarray
    breached: PositionBook
    placed: PositionBook
    first_row: int


def place_book(setup: EngineSetup, book: PositionBook, replace: bool) -> BookPlacement:
    """Put a book's positions into a setup.

    Parameters
    ----------
    setup : EngineSetup built from the scenario (its population synthetic)
    book : PositionBook, market indices into ``setup.markets``
    replace : bool, True: the book is the whole population (an exchange's own positions;
        the synthetic population, its collateral baskets and per-account wallets are
        dropped); False: the book's accounts join the synthetic ones (named large accounts)

    Returns
    -------
    BookPlacement
    """
    first_account = 0 if replace else int(setup.n_accounts or 0)
    rows, owner = engine_rows(book, setup.markets, first_account)
    breached, _ = start_breaches(setup, rows)
    placed = book
    if breached.any():
        keep = ~breached
        placed = book.subset(keep)
        rows, owner = renumbered(rows, keep, owner, first_account)
    if replace:
        positions, first_row = rows, 0
        n_accounts = first_account + owner.size
        owners = owner
        collateral = None
    else:
        positions = concatenate(setup.positions, rows)
        first_row = len(setup.positions)
        n_accounts = first_account + owner.size
        owners = np.concatenate([np.full(first_account, -1, dtype=np.int64), owner])
        collateral = setup.collateral
    placed_setup = dataclasses.replace(
        setup, positions=positions, n_accounts=max(n_accounts, 1), collateral=collateral
    )
    return BookPlacement(
        setup=placed_setup,
        owner=owners,
        breached=book.subset(breached),
        placed=placed,
        first_row=first_row,
    )
