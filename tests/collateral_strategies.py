"""Hypothesis strategies: random engine setups with hedge-mode pairs and collateral baskets.

Built on :func:`tests.engine_strategies.engine_setups` with cross margin: some cross shorts
join the account of a cross long of their market (hedge mode; every market then liquidates
pairs as Binance or as Bybit does), and some cross accounts hold a basket of coins whose
prices move (one coin follows an asset's index, the others are stablecoins that depeg).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from cascadesim.model.collateral import CollateralHoldings, basket_units
from cascadesim.model.shocks import piecewise_factor, step_times
from tests.engine_strategies import engine_setups


def pair_shorts(rng, positions, n_markets, share):
    """Move ``share`` of each market's cross shorts into the accounts of cross longs."""
    account = np.asarray(positions.account).copy()
    cross = np.asarray(positions.cross)
    for m in range(n_markets):
        rows = np.flatnonzero(cross & (np.asarray(positions.market) == m))
        longs = rows[np.asarray(positions.side)[rows] > 0]
        shorts = rows[np.asarray(positions.side)[rows] < 0]
        pairs = int(round(share * min(longs.size, shorts.size)))
        if pairs:
            chosen = rng.choice(longs, size=pairs, replace=False)
            account[rng.choice(shorts, size=pairs, replace=False)] = account[chosen]
    return dataclasses.replace(positions, account=account)


def random_haircut(rng, typical_units: float):
    """One to three tiers in coins around ``typical_units``, ratios falling from <= 1."""
    n = int(rng.integers(1, 4))
    floors = np.concatenate(([0.0], np.sort(rng.uniform(0.2, 3.0, n - 1)) * typical_units))
    ratios = np.sort(rng.uniform(0.3, 1.0, n))[::-1]
    return (tuple(float(x) for x in floors), tuple(float(x) for x in ratios))


@st.composite
def collateral_setups(draw, hedge=True, collateral=True, **kwargs):
    """A cross-margin setup with hedge pairs and/or collateral baskets (see module doc)."""
    kwargs.setdefault("cross_margin", (True,))
    setup = draw(engine_setups(**kwargs))
    assume(setup.positions.cross is not None)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_markets = len(setup.markets)
    if hedge:
        rule = draw(st.sampled_from(["each_side", "net_first"]))
        setup = dataclasses.replace(
            setup,
            markets=[dataclasses.replace(s, hedge_liquidation=rule) for s in setup.markets],
            positions=pair_shorts(rng, setup.positions, n_markets, rng.uniform(0.2, 1.0)),
        )
    if not collateral:
        return setup
    positions = setup.positions
    n_accounts = int(setup.n_accounts)
    margin = np.bincount(positions.account, weights=positions.margin, minlength=n_accounts)
    cross_accounts = np.unique(np.asarray(positions.account)[np.asarray(positions.cross)])
    holders = cross_accounts[rng.random(cross_accounts.size) < rng.uniform(0.3, 1.0)]
    assume(holders.size > 0)
    n_feeds = int(rng.integers(1, 4))
    times = step_times(setup.n_steps, setup.step_seconds)
    duration = float(times[-1])
    factor = np.ones((setup.n_steps + 1, n_feeds))
    feed_asset = []
    for f in range(n_feeds):
        # Feed 0 follows asset 0's index (BTC collateral on a BTC market); the others are
        # stablecoins at 1 USD that depeg and recover, or not.
        feed_asset.append(0 if f == 0 and rng.random() < 0.5 else -1)
        low = float(rng.uniform(0.3, 1.0))
        start, bottom = sorted(rng.uniform(0.0, duration, 2))
        factor[:, f] = piecewise_factor(
            times, [[0.0, 1.0], [start, 1.0], [bottom, low], [duration, rng.uniform(low, 1.0)]]
        )
    start_price = np.asarray(
        [
            factor[0, f] * (setup.index_path[0, a] if a >= 0 else 1.0)
            for f, a in enumerate(feed_asset)
        ]
    )
    shares = rng.dirichlet(np.ones(n_feeds))
    counted = margin[holders] * rng.uniform(0.3, 1.0, holders.size)
    typical = np.median(counted) * shares / start_price
    haircuts = [random_haircut(rng, float(typical[f])) for f in range(n_feeds)]
    units = basket_units(shares, start_price, haircuts, counted, "collateral")
    holdings = CollateralHoldings(
        feeds=tuple(f"venue:C{f}" for f in range(n_feeds)),
        factor=factor,
        feed_asset=tuple(feed_asset),
        feed_price=(1.0,) * n_feeds,
        haircuts=tuple(haircuts),
        account=np.repeat(holders, n_feeds),
        feed=np.tile(np.arange(n_feeds), holders.size),
        units=units.reshape(-1),
    )
    return dataclasses.replace(setup, collateral=holdings)
