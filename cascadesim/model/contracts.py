"""Inverse (coin-margined) contracts as the linear markets the engine runs.

An inverse contract pays ``Q x (1/entry - 1/price)`` coin on a long of ``Q`` USD face value
(contracts x contract size), with margin, fees, maintenance and insurance funds in the coin.
Written in the reciprocal price ``x = K / price`` that is ``(Q / K) x (x_entry - x)``: the
PnL of a **short** of ``Q / K`` units in a linear market priced in x, settled in the coin.
Every other rule carries over unchanged: the position's value ``(Q / K) x x = Q / price``
is its coin notional, on which the venues set maintenance margin, tiers (in coin, as BitMEX,
Binance COIN-M and Bybit publish them), fees and funding. So an inverse market is run as
the linear market in x with sides swapped and its money in the coin, and the engine's
kernels stay the same code for both (the kernels convert only the index, the spot hedge and
the scenario's taker flow, :func:`cascadesim.engine.market.market_index`).

``K = price**2`` (the market's start price squared) makes ``x = price`` at the start, so
the book's tick, its window and the start checks read the same numbers as for a linear
market. The one approximation is the book's grid: levels are evenly spaced in x, not in the
USD price (a level 10 % below the start is 0.91 % of a tick off the venue's grid).

:func:`engine_space` converts specs and positions; :mod:`cascadesim.sim.contract_view`
converts a run's outputs back to USD at the mark.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cascadesim.model.market import EngineSetup, MarketSpec

# USD amounts of a spec that become coin amounts at the start price in the engine.
MONEY_FIELDS = (
    "depth_1pct_usd",
    "arbitrage_capacity_usd_per_s",
    "chunk_min_notional_usd",
    "fund_unwind_usd_per_s",
    "insurance_fund_usd",
    "backstop_usd",
)


def reciprocal_scale(spec: MarketSpec) -> float:
    """K of an inverse market's reciprocal units: its start price squared (USD^2)."""
    return spec.price * spec.price


def reciprocal_spec(spec: MarketSpec) -> MarketSpec:
    """The linear market in x = K / price that runs inverse market ``spec``.

    Parameters
    ----------
    spec : MarketSpec, ``contract = "inverse"``, figures in USD

    Returns
    -------
    MarketSpec with ``reciprocal_scale = K``: money (funds, depth, capacities, tier floors
    and amounts, open interest) in the coin at the start price; the funding rate and the
    interest component negated, since its longs are the inverse market's shorts.
    """
    if not spec.inverse or spec.reciprocal_scale > 0.0:
        return spec
    price = spec.price
    values = {name: getattr(spec, name) / price for name in MONEY_FIELDS}
    if spec.open_interest_usd is not None:
        values["open_interest_usd"] = spec.open_interest_usd / price
    values["tier_floor_usd"] = tuple(floor / price for floor in spec.tier_floor_usd)
    if spec.tier_maintenance_amount is not None:
        values["tier_maintenance_amount"] = tuple(a / price for a in spec.tier_maintenance_amount)
    # A fund shared by linear markets is in USD: an inverse market's is its own, in its coin.
    if spec.fund_pool:
        values["fund_pool"] = f"{spec.fund_pool}:{spec.asset}-inverse"
    if spec.backstop_pool:
        values["backstop_pool"] = f"{spec.backstop_pool}:{spec.asset}-inverse"
    return dataclasses.replace(
        spec,
        **values,
        funding_rate_initial=-spec.funding_rate_initial,
        funding_interest_rate=-spec.funding_interest_rate,
        reciprocal_scale=reciprocal_scale(spec),
    )


def to_reciprocal(
    scale: float,
    side: np.ndarray,
    face_usd: np.ndarray,
    entry_usd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse positions in the engine's units.

    Parameters
    ----------
    scale : float, K (USD^2)
    side : int array (n,), +1 long / -1 short of the inverse contract
    face_usd : float64 array (n,), USD face value (contracts x contract size)
    entry_usd : float64 array (n,), USD entry price

    Returns
    -------
    side (int8, swapped), quantity (float64, ``face / K``), entry (float64, ``K / entry``)
    """
    return (
        (-np.asarray(side)).astype(np.int8),
        np.asarray(face_usd, dtype=np.float64) / scale,
        scale / np.asarray(entry_usd, dtype=np.float64),
    )


def engine_space(setup: EngineSetup) -> EngineSetup:
    """The setup the engine runs: inverse markets (and their positions) in reciprocal units.

    A market already in reciprocal units (``reciprocal_scale > 0``, as the scenario layer
    builds them) and every linear market is left as it is, so the call is idempotent.
    Positions of a converted market go from (USD face, USD entry, coin margin) to the
    linear short or long in x; their margins are coin amounts in both.
    """
    pending = [
        m for m, spec in enumerate(setup.markets) if spec.inverse and not spec.reciprocal_scale
    ]
    if not pending:
        return setup
    markets = list(setup.markets)
    old = setup.positions
    side = np.array(old.side, dtype=np.int8, copy=True)
    quantity = np.array(old.quantity, dtype=np.float64, copy=True)
    entry = np.array(old.entry_price, dtype=np.float64, copy=True)
    for m in pending:
        markets[m] = reciprocal_spec(markets[m])
        rows = np.asarray(old.market) == m
        side[rows], quantity[rows], entry[rows] = to_reciprocal(
            markets[m].reciprocal_scale, old.side[rows], old.quantity[rows], old.entry_price[rows]
        )
    positions = dataclasses.replace(old, side=side, quantity=quantity, entry_price=entry)
    return dataclasses.replace(setup, markets=markets, positions=positions)


def settlement_currency(spec: MarketSpec) -> str:
    """What a market's money is counted in: "USD" (linear), or its coin (inverse)."""
    return spec.asset.upper() if spec.inverse else "USD"
