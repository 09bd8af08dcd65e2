"""The engine's collateral accounts from a setup's :class:`CollateralHoldings`.

Holdings are checked against the population (cross accounts, settled in USD, whose margins
hold the basket's counted value at the start) and grouped by cross slot into
:class:`cascadesim.engine.layout.Collateral`.
"""

from __future__ import annotations

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.model.market import EngineSetup

# The basket's counted value may exceed the account's margins by rounding only.
START_VALUE_RELATIVE_SLACK = 1e-9


def check_collateral(setup: EngineSetup, n_accounts: int) -> None:
    """Refuse holdings that the population cannot carry, in one line each."""
    holdings = setup.collateral
    if holdings is None or holdings.units.size == 0:
        return
    if holdings.n_steps != setup.n_steps:
        raise invalid(
            "collateral.factor",
            f"{holdings.factor.shape[0]} rows",
            f"{setup.n_steps + 1}: one per step and the start, like index_path",
        )
    account = holdings.account
    if account.min() < 0 or account.max() >= n_accounts:
        raise invalid(
            "collateral.account", f"range {account.min()}..{account.max()}", f"0..{n_accounts - 1}"
        )
    positions = setup.positions
    cross = (
        np.zeros(len(positions), dtype=np.bool_)
        if positions.cross is None
        else np.asarray(positions.cross, dtype=np.bool_)
    )
    is_cross = np.zeros(n_accounts, dtype=np.bool_)
    is_cross[np.asarray(positions.account)[cross]] = True
    inverse = np.asarray([spec.inverse for spec in setup.markets])
    coin_settled = np.zeros(n_accounts, dtype=np.bool_)
    coin_settled[np.asarray(positions.account)[inverse[np.asarray(positions.market)]]] = True
    for flags, allowed in (
        (~is_cross, "a cross-margin account (multi-asset collateral is cross margin only)"),
        (
            coin_settled,
            "an account of linear (USD-settled) markets: a coin-margined wallet holds its own coin",
        ),
    ):
        bad = flags[account]
        if bad.any():
            k = int(np.argmax(bad))
            raise invalid(f"collateral.account[{k}]", int(account[k]), allowed)
    margin = np.bincount(
        np.asarray(positions.account), weights=np.asarray(positions.margin), minlength=n_accounts
    )
    n_assets = len(setup.assets)
    bad = [a for a in holdings.feed_asset if not -1 <= a < n_assets]
    if bad:
        raise invalid("collateral.feed_asset", bad[0], f"-1 or an asset in 0..{n_assets - 1}")
    value = holdings.start_value(n_accounts, setup.index_path)
    over = value > margin * (1.0 + START_VALUE_RELATIVE_SLACK)
    if over.any():
        a = int(np.argmax(over))
        raise invalid(
            f"collateral: account {a}",
            f"{value[a]:.6g} USD counted",
            f"at most the account's margin ({margin[a]:.6g} USD): the positions' margins "
            "hold the basket's counted value at the start",
        )


def collateral_accounts(
    setup: EngineSetup, crosses: layout.CrossAccounts, n_accounts: int
) -> layout.Collateral:
    """Holdings grouped by collateral account, in ascending cross-slot order."""
    holdings = setup.collateral
    if holdings is None or holdings.units.size == 0:
        return empty_collateral(setup.n_steps)
    slot_of = crosses.slot[holdings.account]
    order = np.argsort(slot_of, kind="stable")
    slots, counts = np.unique(slot_of[order], return_counts=True)
    n_tiers = max(len(floors) for floors, _ in holdings.haircuts)
    floors = np.zeros((len(holdings.feeds), n_tiers))
    ratios = np.zeros((len(holdings.feeds), n_tiers))
    tier_count = np.zeros(len(holdings.feeds), dtype=np.int64)
    for f, (feed_floors, feed_ratios) in enumerate(holdings.haircuts):
        tier_count[f] = len(feed_floors)
        floors[f, : len(feed_floors)] = feed_floors
        ratios[f, : len(feed_ratios)] = feed_ratios
    value = holdings.start_value(n_accounts, setup.index_path)
    accounts = holdings.account[order][np.concatenate(([0], np.cumsum(counts)[:-1]))]
    return layout.Collateral(
        factor=holdings.factor,
        feed_asset=np.asarray(holdings.feed_asset, dtype=np.int64),
        feed_price=np.asarray(holdings.feed_price, dtype=np.float64),
        tier_floor_units=floors,
        tier_ratio=ratios,
        tier_count=tier_count,
        slot=slots.astype(np.int32),
        offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        feed=holdings.feed[order].astype(np.int32),
        units=holdings.units[order],
        value=value[accounts],
        active=np.ones(slots.size, dtype=np.bool_),
        repriced_usd=np.zeros(1),
        feed_now=np.zeros(len(holdings.feeds)),
        feed_moved=np.zeros(len(holdings.feeds), dtype=np.bool_),
    )


def empty_collateral(n_steps: int) -> layout.Collateral:
    """No collateral account: the engine's loop skips the revaluation."""
    return layout.Collateral(
        factor=np.ones((n_steps + 1, 0)),
        feed_asset=np.zeros(0, dtype=np.int64),
        feed_price=np.zeros(0),
        tier_floor_units=np.zeros((0, 1)),
        tier_ratio=np.zeros((0, 1)),
        tier_count=np.zeros(0, dtype=np.int64),
        slot=np.zeros(0, dtype=np.int32),
        offsets=np.zeros(1, dtype=np.int64),
        feed=np.zeros(0, dtype=np.int32),
        units=np.zeros(0),
        value=np.zeros(0),
        active=np.zeros(0, dtype=np.bool_),
        repriced_usd=np.zeros(1),
        feed_now=np.zeros(0),
        feed_moved=np.zeros(0, dtype=np.bool_),
    )


def fresh_collateral(collateral: layout.Collateral) -> layout.Collateral:
    """A copy for one path with the mutable columns at the start (the original, built once
    per population, is never run)."""
    return collateral._replace(
        value=collateral.value.copy(),
        active=np.ones(collateral.slot.shape, dtype=np.bool_),
        repriced_usd=np.zeros(1),
        feed_now=np.zeros_like(collateral.feed_now),
        feed_moved=np.zeros_like(collateral.feed_moved),
    )
