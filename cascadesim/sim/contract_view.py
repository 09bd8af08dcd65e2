"""A path's outputs in USD: inverse markets turned back from the engine's reciprocal units.

The engine runs an inverse market as the linear market in x = K / price with its money in
the coin (:mod:`cascadesim.model.contracts`). Its events, timeline, positions and book
snapshots come back here as a user reads an inverse market: USD prices, the inverse
contract's own side, quantities in the coin (at the price of the record), notionals as USD
face value (contracts x contract size, how the venues report inverse liquidations) and
coin balances (funds, bad debt) in USD at the mark of the record. Linear markets pass
through untouched; the engine's own arrays are kept for the coin ledger.
"""

from __future__ import annotations

import numpy as np

from cascadesim.engine import layout
from cascadesim.sim.outcome import BookSnapshot, PathOutcome

LIQUIDATION_KINDS = layout.LIQUIDATION_KINDS


def reciprocal(scale, x) -> np.ndarray:
    """USD price of reciprocal price ``x``: K / x (K a number or an array like ``x``); x = 0
    gives inf and x < 0 (no liquidation price in x) gives 0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(x > 0.0, scale / np.where(x > 0.0, x, 1.0), np.where(x == 0, np.inf, 0.0))


def usd_view(outcome: PathOutcome, params: np.recarray) -> PathOutcome:
    """``outcome`` with every inverse market's records in USD (see the module docstring).

    Parameters
    ----------
    outcome : PathOutcome, as the engine left it
    params : record array (markets,), ``market_params_dtype``; ``reciprocal_scale`` > 0
        marks the inverse markets

    Returns
    -------
    PathOutcome; the same object when every market is linear
    """
    scale = np.asarray(params.reciprocal_scale, dtype=np.float64)
    inverse = np.flatnonzero(scale > 0.0)
    if inverse.size == 0:
        return outcome
    events = view_events(outcome.events, scale)
    timeline = view_timeline(outcome.timeline, outcome.events, events, scale, inverse)
    state = outcome.state.copy()
    for m in inverse:
        mark = float(reciprocal(scale[m], state.mark_price[m]))
        state.mark_price[m] = mark
        state.bad_debt_usd[m] = state.bad_debt_usd[m] * mark
    return outcome._replace(
        state=state,
        positions=view_positions(outcome.positions, scale),
        events=events,
        timeline=timeline,
        book_snapshots=[view_snapshot(s, scale, inverse) for s in outcome.book_snapshots],
    )


def view_events(events: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Liquidation events of inverse markets in USD prices, coin quantities, USD face.

    The closed position's figures: ``entry_price`` and ``liquidation_price`` go back to USD
    like the other prices (an x liquidation price of 0, a long in x no price liquidates, is
    a USD short's inf), ``equity_usd`` from the coin to USD at the event's USD mark, and
    ``leverage`` (coin notional over coin margin) stays as it is; NaN stays NaN.
    """
    out = events.copy()
    k = scale[events["market"]]
    rows = k > 0.0
    if not rows.any():
        return out
    k = k[rows]
    part = out[rows]
    face = events["quantity"][rows] * k
    part["side"] = -events["side"][rows]
    part["quantity"] = events["notional"][rows]  # coin: (Q / K) x x at the fill
    part["notional"] = face
    part["fill_price"] = reciprocal(k, events["fill_price"][rows])
    part["bankruptcy_price"] = reciprocal(k, events["bankruptcy_price"][rows])
    part["mark_price"] = reciprocal(k, events["mark_price"][rows])
    # The closed position's figures (NaN for aggregate agents stays NaN).
    for name in ("entry_price", "liquidation_price"):
        x = events[name][rows]
        part[name] = np.where(np.isnan(x), np.nan, reciprocal(k, x))
    part["equity_usd"] = events["equity_usd"][rows] * part["mark_price"]
    out[rows] = part
    return out


def event_steps(timeline: np.ndarray, n_events: int) -> np.ndarray:
    """The step (0-based) in which each event row was written."""
    ends = np.cumsum(timeline["liquidation_events"].sum(axis=1))
    return np.searchsorted(ends, np.arange(n_events), side="right")


def view_timeline(
    timeline: np.ndarray,
    raw_events: np.ndarray,
    events: np.ndarray,
    scale: np.ndarray,
    inverse: np.ndarray,
) -> np.ndarray:
    """Timeline rows of inverse markets in USD; liquidations summed from the USD events."""
    out = timeline.copy()
    n_steps = timeline.shape[0]
    steps = event_steps(timeline, raw_events.shape[0])
    for m in inverse:
        k = scale[m]
        raw = timeline[:, m]
        row = out[:, m]
        mark_usd = reciprocal(k, raw["mark_price"])
        for name in ("index_price", "mark_price", "last_price"):
            row[name] = reciprocal(k, raw[name])
        row["best_bid"] = reciprocal(k, raw["best_ask"])  # an x ask is a USD bid
        row["best_ask"] = reciprocal(k, raw["best_bid"])
        # Coin within 1 % of the x mid is within about 1 % of the USD mid, on the other side.
        row["bid_depth_1pct_usd"] = raw["ask_depth_1pct_usd"] * mark_usd
        row["ask_depth_1pct_usd"] = raw["bid_depth_1pct_usd"] * mark_usd
        x_mark = raw["mark_price"]
        row["long_open_interest"] = raw["short_open_interest"] * x_mark
        row["short_open_interest"] = raw["long_open_interest"] * x_mark
        row["trader_long_open_interest"] = raw["trader_short_open_interest"] * x_mark
        row["trader_short_open_interest"] = raw["trader_long_open_interest"] * x_mark
        row["insurance_fund_usd"] = raw["insurance_fund_usd"] * mark_usd
        row["backstop_usd"] = raw["backstop_usd"] * mark_usd
        row["funding_rate"] = -raw["funding_rate"]
        mine = events["market"] == m
        liquidated = mine & np.isin(events["kind"], LIQUIDATION_KINDS)
        for name, side in (("liquidated_long_usd", 1), ("liquidated_short_usd", -1)):
            chosen = liquidated & (events["side"] == side)
            row[name] = np.bincount(
                steps[chosen], weights=events["notional"][chosen], minlength=n_steps
            )[:n_steps]
        adl = mine & (events["kind"] == layout.KIND_ADL_COUNTERPARTY)
        row["adl_notional_usd"] = np.bincount(
            steps[adl], weights=events["notional"][adl], minlength=n_steps
        )[:n_steps]
        out[:, m] = row
    return out


def view_positions(positions: layout.Positions, scale: np.ndarray) -> layout.Positions:
    """Positions of inverse markets as the inverse contract: side, USD prices, coin sizes.

    ``quantity`` is the coin value of the face at entry (Q / entry), so that quantity x
    entry is the USD face; margins stay in the coin.
    """
    k = scale[positions.market]
    rows = k > 0.0
    if not rows.any():
        return positions
    side = positions.side.copy()
    quantity = positions.quantity.copy()
    entry = positions.entry_price.copy()
    liquidation = positions.liquidation_price.copy()
    kr = k[rows]
    side[rows] = -positions.side[rows]
    quantity[rows] = positions.quantity[rows] * positions.entry_price[rows]
    entry[rows] = reciprocal(kr, positions.entry_price[rows])
    liquidation[rows] = reciprocal(kr, positions.liquidation_price[rows])
    return positions._replace(
        side=side, quantity=quantity, entry_price=entry, liquidation_price=liquidation
    )


def view_snapshot(snapshot: BookSnapshot, scale: np.ndarray, inverse: np.ndarray) -> BookSnapshot:
    """A book snapshot with inverse markets' levels in ascending USD price and coin sizes."""
    price = snapshot.price.copy()
    bids = snapshot.bids.copy()
    asks = snapshot.asks.copy()
    for m in inverse:
        x = snapshot.price[m]
        price[m] = reciprocal(scale[m], x)[::-1]
        # An x ask is a USD bid; q_x units at x are (q_x x x) coin.
        bids[m] = (snapshot.asks[m] * x)[::-1]
        asks[m] = (snapshot.bids[m] * x)[::-1]
    return snapshot._replace(price=price, bids=bids, asks=asks)
