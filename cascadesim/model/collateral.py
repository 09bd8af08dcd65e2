"""Multi-asset collateral of cross accounts: coins held, their prices per venue, haircuts.

:class:`CollateralHoldings` is what :func:`cascadesim.simulate` consumes (on
:class:`~cascadesim.model.market.EngineSetup` ``collateral``): the price path of each feed (one
coin on one venue), each feed's tiered haircut and the coins each account holds. The
positions' margins already contain the counted value of each account's coins at the start;
the engine credits the change of that value step by step
(:mod:`cascadesim.engine.collateral`).

The venues' haircut tables are in :mod:`cascadesim.model.collateral_tables`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cascadesim._util.errors import invalid

# Tiered haircut of one feed: coins where each tier starts (0 first, increasing) and the
# counted fraction inside each tier (a flat haircut is one tier).
Haircut = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass
class CollateralHoldings:
    """Coins held as margin by cross accounts, and the price of each coin on each venue.

    feeds : tuple of str (n_feeds,), names "venue:COIN" (for messages and reports)
    factor : float64 (n_steps + 1, n_feeds), the venue's price of the coin over its reference
        price per step (1: at the reference; 0.65: a depeg to 65 %); row 0 is the start
    feed_asset : tuple of int (n_feeds,), the asset whose index is the coin's reference price
        (a coin that is a simulated asset: BTC collateral moves with the BTC index), or -1
    feed_price : tuple of float (n_feeds,), USD reference price of a coin that is not a
        simulated asset (stablecoins: 1); not read where ``feed_asset`` is set
    haircuts : tuple (n_feeds,) of (floors in coins, ratios): the feed's tiered haircut
    account : int64 (n_holdings,), account id of each holding (a cross account)
    feed : int (n_holdings,), feed of each holding
    units : float64 (n_holdings,), coins held, >= 0

    The counted value of account a's holdings at the start must be inside the margins of
    a's positions (their sum is a's wallet); the rest of the wallet is the settlement coin.
    """

    feeds: tuple[str, ...]
    factor: np.ndarray
    feed_asset: tuple[int, ...]
    feed_price: tuple[float, ...]
    haircuts: tuple[Haircut, ...]
    account: np.ndarray
    feed: np.ndarray
    units: np.ndarray

    def __post_init__(self) -> None:
        self.factor = np.ascontiguousarray(self.factor, dtype=np.float64)
        self.account = np.ascontiguousarray(self.account, dtype=np.int64)
        self.feed = np.ascontiguousarray(self.feed, dtype=np.int32)
        self.units = np.ascontiguousarray(self.units, dtype=np.float64)
        n_feeds = len(self.feeds)
        if self.factor.ndim != 2 or self.factor.shape[1] != n_feeds:
            raise invalid(
                "collateral.factor",
                f"shape {self.factor.shape}",
                f"(n_steps + 1, {n_feeds}): one column per feed",
            )
        bad = ~(np.isfinite(self.factor) & (self.factor > 0))
        if bad.any():
            step, f = (int(x) for x in np.argwhere(bad)[0])
            raise invalid(
                f"collateral.factor[{step}, {self.feeds[f]}]",
                float(self.factor[step, f]),
                "a finite ratio > 0 of the venue's price to the reference",
            )
        for name, values in (
            ("feed_asset", self.feed_asset),
            ("feed_price", self.feed_price),
            ("haircuts", self.haircuts),
        ):
            if len(values) != n_feeds:
                raise invalid(f"collateral.{name}", len(values), f"{n_feeds}: one per feed")
        for name, price in zip(self.feeds, self.feed_price, strict=True):
            if not (math.isfinite(price) and price > 0):
                raise invalid(f"collateral.feed_price.{name}", price, "a finite USD price > 0")
        for name, haircut in zip(self.feeds, self.haircuts, strict=True):
            check_haircut(f"collateral.haircuts.{name}", haircut)
        if not (self.account.shape == self.feed.shape == self.units.shape):
            raise invalid(
                "collateral.units",
                f"{self.account.size} accounts, {self.feed.size} feeds, {self.units.size} units",
                "one account, feed and amount per holding",
            )
        if self.feed.size and (self.feed.min() < 0 or self.feed.max() >= n_feeds):
            raise invalid("collateral.feed", int(self.feed.max()), f"a feed in 0..{n_feeds - 1}")
        bad = ~(np.isfinite(self.units) & (self.units >= 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise invalid(f"collateral.units[{k}]", float(self.units[k]), "a finite amount >= 0")

    @property
    def n_steps(self) -> int:
        return int(self.factor.shape[0]) - 1

    def prices(self, index_path: np.ndarray, rows=slice(None)) -> np.ndarray:
        """USD price of every feed at step ``rows`` of ``index_path`` (n_steps + 1, n_assets),
        as the engine reads it: (rows, n_feeds)."""
        index_path = np.asarray(index_path, dtype=np.float64)
        factor = self.factor[rows]
        reference = np.empty_like(factor)
        for f, (asset, price) in enumerate(zip(self.feed_asset, self.feed_price, strict=True)):
            reference[..., f] = index_path[rows, asset] if asset >= 0 else price
        return factor * reference

    def start_value(self, n_accounts: int, index_path: np.ndarray) -> np.ndarray:
        """Counted USD value of each account's holdings at the start (n_accounts,)."""
        prices = self.prices(index_path, 0)
        out = np.zeros(n_accounts)
        for f, (floors, ratios) in enumerate(self.haircuts):
            rows = self.feed == f
            counted = counted_values(floors, ratios, self.units[rows]) * prices[f]
            np.add.at(out, self.account[rows], counted)
        return out


def haircut_problem(floors, ratios) -> tuple[str, str] | None:
    """What is wrong with a haircut table, as (field, what is allowed), or None.

    Floors (coins) start at 0 and strictly increase; one ratio in [0, 1] per floor.
    """
    floors, ratios = list(floors), list(ratios)
    if (
        not floors
        or floors[0] != 0
        or any(b <= a for a, b in zip(floors, floors[1:], strict=False))
        or not all(math.isfinite(x) for x in floors)
    ):
        return "floors", "0 first, then strictly increasing finite amounts of the coin"
    if len(ratios) != len(floors):
        return "ratios", f"{len(floors)} ratios, one per floor"
    if any(not (0.0 <= r <= 1.0) for r in ratios):
        return "ratios", "fractions in [0, 1]"
    return None


def check_haircut(where: str, haircut: Haircut) -> None:
    """Refuse a bad haircut table in one line naming ``where``."""
    problem = haircut_problem(*haircut)
    if problem is not None:
        field, allowed = problem
        raise invalid(f"{where}.{field}", list(haircut[0 if field == "floors" else 1]), allowed)


def counted_values(floors, ratios, units: np.ndarray) -> np.ndarray:
    """Coins counted out of ``units`` held under one tiered haircut (vectorised).

    The same sum as :func:`cascadesim.engine.collateral.counted_units`: the part of the
    amount inside each tier times that tier's ratio.
    """
    units = np.asarray(units, dtype=np.float64)
    bounds = np.append(np.asarray(floors, dtype=np.float64), np.inf)
    total = np.zeros_like(units)
    for k, ratio in enumerate(ratios):
        inside = np.clip(units, bounds[k], bounds[k + 1]) - bounds[k]
        total += inside * ratio
    return total


def basket_units(
    shares: np.ndarray,
    prices: np.ndarray,
    haircuts: list[Haircut],
    counted: np.ndarray,
    where: str,
) -> np.ndarray:
    """Coins of each kind such that a basket split by ``shares`` counts ``counted`` USD.

    Parameters
    ----------
    shares : float64 (n_coins,), fraction of each account's basket (at market value) per coin
    prices : float64 (n_coins,), the venue's USD price of each coin at the start
    haircuts : the coins' tiered haircuts (floors in coins)
    counted : float64 (n_accounts,), the counted USD value each account's basket must have
    where : field path named when a basket cannot count that much

    Returns
    -------
    float64 (n_accounts, n_coins), coins held

    The counted value is increasing in the basket's size, so the size is found by bisection
    (to 1e-12 relative), for all accounts at once.
    """
    counted = np.asarray(counted, dtype=np.float64)

    def counted_of(size: np.ndarray) -> np.ndarray:
        total = np.zeros_like(size)
        for share, price, (floors, ratios) in zip(shares, prices, haircuts, strict=True):
            if share > 0:
                total += price * counted_values(floors, ratios, share * size / price)
        return total

    # The best ratio bounds the size from below; doubling finds an upper bound.
    low = np.zeros_like(counted)
    high = np.maximum(counted, 1e-300)
    with np.errstate(over="ignore", invalid="ignore"):  # a basket that never counts enough
        for _ in range(2000):
            short = counted_of(high) < counted
            if not short.any():
                break
            high[short] *= 2.0
            if not np.isfinite(high).all():
                break
        unreachable = (counted_of(high) < counted * (1 - 1e-12)).any()
    if unreachable or not np.isfinite(high).all():
        raise invalid(
            where,
            {str(k): float(s) for k, s in enumerate(shares)},
            "a basket whose haircut value can carry the accounts' margins (the coins held "
            "count for too little at any size)",
        )
    for _ in range(200):
        middle = 0.5 * (low + high)
        above = counted_of(middle) >= counted
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
        if (high - low <= 1e-12 * high).all():
            break
    # The lower end: a basket a hair short of the margin, whose rest is the settlement coin.
    value = low[:, None] * np.asarray(shares, dtype=np.float64)[None, :]
    return value / np.asarray(prices, dtype=np.float64)[None, :]
