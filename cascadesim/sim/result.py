"""The outcome of one simulated path: tidy tables, the summary and the money ledger."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cascadesim._version import __version__
from cascadesim.engine import layout
from cascadesim.model.contracts import settlement_currency
from cascadesim.model.market import EngineSetup
from cascadesim.sim.collateral_summary import collateral_summary
from cascadesim.sim.contract_view import usd_view, view_positions
from cascadesim.sim.flow_summary import flow_summary
from cascadesim.sim.outcome import PathOutcome
from cascadesim.sim.state import initial_state

LIQUIDATION_KINDS = layout.LIQUIDATION_KINDS

# Bad debt below a dollar is floating-point residue of the engine's ledger (about 1e-9 USD
# where ADL covered the whole shortfall), not a loss anybody would report.
BAD_DEBT_TOLERANCE_USD = 1.0


def perp_price(timeline: np.ndarray) -> np.ndarray:
    """Perp price per step (USD): the mid where both sides quote, else the last trade."""
    bid = timeline["best_bid"]
    ask = timeline["best_ask"]
    both = (bid > 0) & np.isfinite(ask)
    return np.where(both, 0.5 * (bid + np.where(both, ask, 0.0)), timeline["last_price"])


def lowest_price(timeline: np.ndarray) -> float:
    """Lowest perp price of a path (USD): the lower of each step's mid and last trade."""
    return float(np.minimum(perp_price(timeline), timeline["last_price"]).min())


def ledger_value(
    positions: layout.Positions,
    state: np.recarray,
    wallet: float,
    price: np.ndarray,
    funding: np.ndarray,
    markets: np.ndarray | None = None,
) -> dict[str, Any]:
    """Value held by each kind of participant, at ``price`` per market.

    Parameters
    ----------
    positions : the traders' positions (margin, quantity, entry in the engine's units)
    state : market state records (``market_state_dtype``), one per market
    wallet : money released to the traders' wallets (closed positions' remaining margin)
    price : float64 (n_markets,), per base unit at which inventories are valued
    funding : float64 (n_markets,), per base unit of funding paid by longs so far
    markets : bool array (n_markets,) or None, the markets counted (one settlement
        currency; their funds' pool leaders among them); None: all

    Returns
    -------
    dict of money per holder (``traders``, the aggregate agents, ``uncovered`` = minus the
    bad debt), ``total`` (their sum, conserved by the engine) and ``net_quantity`` per market
    (base units, zero when every contract has two sides); in USD for linear markets, in the
    coin for inverse ones
    """
    n_markets = state.shape[0]
    counted = np.ones(n_markets, dtype=np.bool_) if markets is None else markets
    rows = counted[positions.market]
    p = price[positions.market]
    trader_value = positions.margin + positions.side * positions.quantity * (
        p - positions.entry_price - funding[positions.market]
    )
    ledger: dict[str, Any] = {"traders": float(trader_value[rows].sum()) + wallet}
    for holder in ("maker", "passive", "taker", "fund", "backstop"):
        cash = getattr(state, f"{holder}_cash")
        quantity = getattr(state, f"{holder}_quantity")
        ledger[holder] = float((cash + quantity * price)[counted].sum())
    # The loss nothing absorbed: the exchange (or socialised loss) stands behind it.
    ledger["uncovered"] = -float(state.bad_debt_usd[counted].sum())
    ledger["total"] = sum(ledger.values())
    net = np.bincount(
        positions.market, weights=positions.side * positions.quantity, minlength=n_markets
    )
    for holder in ("maker", "passive", "taker", "fund", "backstop"):
        net = net + getattr(state, f"{holder}_quantity")
    ledger["net_quantity"] = [float(x) for x in net]
    return ledger


def with_outside_money(
    ledger: dict[str, Any], repriced_usd: float | None, deposited_usd: float | None
) -> dict[str, Any]:
    """The USD ledger with the money that came from outside the market counted as holders:
    ``collateral_repricing`` (minus what collateral prices added to the traders) when the
    setup has collateral, ``flow_deposits`` (minus the margin new positions brought in) when
    it has an opening flow (each None when the setup has none)."""
    for name, value in (("collateral_repricing", repriced_usd), ("flow_deposits", deposited_usd)):
        if value is not None:
            ledger[name] = -value
            ledger["total"] -= value
    return ledger


SUMMED_FIGURES = (
    "liquidated_long_usd",
    "liquidated_short_usd",
    "liquidated_total_usd",
    "accounts_liquidated",
    "open_interest_before_usd",
    "open_interest_after_usd",
    "bad_debt_usd",
    "adl_count",
    "adl_notional_usd",
)
# The move a group's headline quotes: that of its market with the most open interest.
PRICE_FIGURES = (
    "price_start",
    "price_min",
    "max_drawdown",
    "counterfactual_max_drawdown",
    "amplification",
)


def breakdown(markets: list[dict], key: str) -> dict:
    """The figures of the markets that share ``key`` ('venue' or 'asset'), one group each.

    Liquidations (USD, by side), accounts (counted per market: an account liquidated on two
    of the group's markets counts twice), open interest, bad debt and ADL are summed. The
    insurance-fund change counts each fund once; it is None for a group holding only part
    of a shared fund's markets (``fund_shared_with`` names the others), since a shared
    fund's loss is not split by market. ``price_market`` is the group's market with the most
    open interest before the run, and the price figures are its own; ``most_amplified_market``
    the market with the largest amplification. A group's first cascade time is the earliest
    of its markets'.
    """
    groups: dict[str, dict] = {}
    members: dict[str, list[dict]] = {}
    for row in markets:
        members.setdefault(row[key], []).append(row)
    pools: dict[str, set[str]] = {}
    for row in markets:
        pools.setdefault(row["fund_pool"], set()).add(row["market"])
    for name, rows in members.items():
        group: dict = {figure: sum(row[figure] for row in rows) for figure in SUMMED_FIGURES}
        names = {row["market"] for row in rows}
        group["markets"] = [row["market"] for row in rows]
        shared = sorted(set().union(*(pools[row["fund_pool"]] for row in rows)) - names)
        group["insurance_fund_change_usd"] = (
            None
            if shared
            else sum(
                row["insurance_fund_change_usd"]
                for row in rows
                if row["fund_pool"] == row["market"]
            )
        )
        group["fund_shared_with"] = shared
        total = group["liquidated_total_usd"]
        group["long_share"] = group["liquidated_long_usd"] / total if total > 0 else None
        starts = [row["cascade_start_s"] for row in rows if row["cascade_start_s"] is not None]
        group["cascade_start_s"] = min(starts) if starts else None
        biggest = max(rows, key=lambda row: row["open_interest_before_usd"])
        group["price_market"] = biggest["market"]
        for figure in PRICE_FIGURES:
            group[figure] = biggest[figure]
        amplified = [row for row in rows if row["amplification"] is not None]
        group["most_amplified_market"] = (
            max(amplified, key=lambda row: row["amplification"])["market"] if amplified else None
        )
        groups[name] = group
    return groups


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: undefined ratios become None."""
    return float(value) if math.isfinite(value) else None


class Result:
    """One path's outcome.

    Attributes
    ----------
    timeline : pandas.DataFrame, one row per step and market (prices USD, depth USD,
        open interest in base units and USD, liquidations USD)
    liquidations : pandas.DataFrame, the event log, one row per liquidation event
    summary : dict, the headline figures (see :meth:`summary`)
    """

    def __init__(
        self,
        setup: EngineSetup,
        params: np.recarray,
        initial_positions: layout.Positions,
        outcome: PathOutcome,
        counterfactual: PathOutcome | None,
        original_row: np.ndarray,
        provenance: dict | None = None,
    ):
        self.setup = setup
        self.params = params
        # The engine's own arrays (inverse markets in reciprocal units, money in the coin),
        # which the ledger audits; everything else reads the USD view of them.
        self.engine_initial_positions = initial_positions
        self.engine_outcome = outcome
        scale = np.asarray(params.reciprocal_scale, dtype=np.float64)
        self.initial_positions = view_positions(initial_positions, scale)
        self.outcome = usd_view(outcome, params)
        self.counterfactual_outcome = (
            None if counterfactual is None else usd_view(counterfactual, params)
        )
        self.original_row = original_row
        self.provenance = dict(provenance or {})
        self.market_names = [spec.name for spec in setup.markets]

    # --- tables --------------------------------------------------------------------------
    def timeline_frame(self, timeline: np.ndarray) -> pd.DataFrame:
        n_steps, n_markets = timeline.shape
        flat = timeline.reshape(-1)
        frame = pd.DataFrame({name: flat[name] for name in layout.TIMELINE_DTYPE.names or ()})
        frame.insert(0, "step", np.repeat(np.arange(1, n_steps + 1), n_markets))
        frame.insert(
            2,
            "market",
            pd.Categorical(np.tile(self.market_names, n_steps), categories=self.market_names),
        )
        frame.insert(6, "mid_price", perp_price(flat))
        frame["long_open_interest_usd"] = frame["long_open_interest"] * frame["mark_price"]
        return frame

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Per-step, per-market timeline of the path with liquidations."""
        return self.timeline_frame(self.outcome.timeline)

    @cached_property
    def counterfactual_timeline(self) -> pd.DataFrame | None:
        """The same shock with the liquidation engine off, or None if not run."""
        if self.counterfactual_outcome is None:
            return None
        return self.timeline_frame(self.counterfactual_outcome.timeline)

    @cached_property
    def liquidations(self) -> pd.DataFrame:
        """Every liquidation event (time s, market, account, side, kind, quantity, USD).

        Every field of ``LIQUIDATION_EVENT_DTYPE`` is a column, among them what the closed
        position was just before the event's close: ``entry_price``,
        ``liquidation_price``, ``equity_usd`` (USD at the event's mark, inverse markets
        included) and ``leverage`` (NaN for the hedged aggregate, position -1; inf where
        the margin was <= 0); see :func:`cascadesim.engine.orders.event_figures`.
        """
        events = self.outcome.events
        frame = pd.DataFrame(
            {name: events[name] for name in layout.LIQUIDATION_EVENT_DTYPE.names or ()}
        )
        frame["market"] = pd.Categorical.from_codes(
            events["market"].astype(np.int64), categories=self.market_names
        )
        frame["side"] = np.where(events["side"] > 0, "long", "short")
        frame["kind"] = pd.Categorical.from_codes(
            events["kind"].astype(np.int64), categories=list(layout.KIND_NAMES)
        )
        rows = events["position"]
        frame["position"] = np.where(rows >= 0, self.original_row[np.maximum(rows, 0)], -1)
        return frame

    # --- figures -------------------------------------------------------------------------
    def market_summary(self, m: int) -> dict:
        events = self.outcome.events
        mine = events[events["market"] == m]
        liquidated = mine[np.isin(mine["kind"], LIQUIDATION_KINDS)]
        long_usd = float(liquidated["notional"][liquidated["side"] > 0].sum())
        short_usd = float(liquidated["notional"][liquidated["side"] < 0].sum())
        if liquidated.size:
            per_position = np.bincount(
                np.searchsorted(np.unique(liquidated["position"]), liquidated["position"]),
                weights=liquidated["notional"],
            )
            largest = float(per_position.max())
        else:
            largest = 0.0
        accounts = int(np.unique(liquidated["account"][liquidated["account"] >= 0]).size)
        timeline = self.outcome.timeline[:, m]
        spec = self.setup.markets[m]
        start_price = spec.price
        before_units = self.initial_open_interest(m)
        oi_before = before_units * start_price
        if spec.inverse:
            # An inverse contract's USD value is its face: what stays open, at any price.
            oi_after = float(self.engine_outcome.timeline[-1, m]["short_open_interest"])
            oi_after *= spec.reciprocal_scale
            after_units = oi_after / start_price  # coin at the start price, like before_units
        else:
            after_units = float(timeline["long_open_interest"][-1])
            oi_after = after_units * float(timeline["mark_price"][-1])
        price_min = min(start_price, lowest_price(timeline))
        drawdown = 1.0 - price_min / start_price
        counterfactual = math.nan
        if self.counterfactual_outcome is not None:
            base = self.counterfactual_outcome.timeline[:, m]
            counterfactual = 1.0 - min(start_price, lowest_price(base)) / start_price
        amplification = drawdown / counterfactual if counterfactual > 0 else math.nan
        state = self.outcome.state
        fund_final = float(timeline["insurance_fund_usd"][-1])
        adl_rows = mine[mine["kind"] == layout.KIND_ADL_COUNTERPARTY]
        started = float(liquidated["time"].min()) if liquidated.size else None
        return {
            "market": spec.name,
            "asset": spec.asset,
            "venue": spec.venue,
            "contract": spec.contract,
            "liquidated_long_usd": long_usd,
            "liquidated_short_usd": short_usd,
            "liquidated_total_usd": long_usd + short_usd,
            "accounts_liquidated": accounts,
            "largest_liquidation_usd": largest,
            "open_interest_before_usd": oi_before,
            "open_interest_after_usd": oi_after,
            "open_interest_change_usd": oi_after - oi_before,
            "open_interest_before_contracts": before_units,
            "open_interest_after_contracts": after_units,
            "open_interest_change": after_units / before_units - 1.0 if before_units > 0 else 0.0,
            "price_start": start_price,
            "price_min": price_min,
            "max_drawdown": drawdown,
            "counterfactual_max_drawdown": finite_or_none(counterfactual),
            "amplification": finite_or_none(amplification),
            # A shared fund's change, on each of its markets; the totals count it once. An
            # inverse market's fund is in the coin: its change in coin, valued at the final mark.
            "insurance_fund_change_usd": self.fund_change_usd(m, fund_final),
            "fund_pool": self.market_names[int(self.params.fund_pool[m])],
            "bad_debt_usd": float(state.bad_debt_usd[m]),
            "adl_count": int(adl_rows.size),
            "adl_notional_usd": float(adl_rows["notional"].sum()),
            "cascade_start_s": started,
        }

    def fund_change_usd(self, m: int, fund_final_usd: float) -> float:
        """Change of market m's fund (USD); for an inverse market its coin change at the mark."""
        spec = self.setup.markets[m]
        if not spec.inverse:
            return fund_final_usd - self.pool_start(m)
        coin_final = float(self.engine_outcome.timeline[-1, m]["insurance_fund_usd"])
        coin_start = self.pool_start(m)  # the engine spec's fund, already in coin
        mark = float(self.outcome.timeline[-1, m]["mark_price"])
        return (coin_final - coin_start) * mark

    def pool_start(self, m: int) -> float:
        """USD in market m's insurance fund at the start: its pool's stated funds together."""
        pool = self.params.fund_pool
        return float(
            sum(
                spec.insurance_fund_usd
                for k, spec in enumerate(self.setup.markets)
                if pool[k] == pool[m]
            )
        )

    def initial_open_interest(self, m: int) -> float:
        """One side's open interest (base units) of market m before the first step.

        The engine's own starting figure: the scenario's stated open interest, or the
        traders' larger side where that is more (see ``sim.state.hedged_open_interest``).
        """
        positions = self.engine_initial_positions
        rows = positions.market == m
        longs = float(positions.quantity[rows & (positions.side > 0)].sum())
        shorts = float(positions.quantity[rows & (positions.side < 0)].sum())
        spec = self.setup.markets[m]
        stated = 0.0 if spec.open_interest_usd is None else spec.open_interest_usd / spec.price
        # An inverse market's engine units are face / K with K = price^2: coin at the start
        # is face / price, the units times the price.
        return max(stated, longs, shorts) * (spec.price if spec.inverse else 1.0)

    @cached_property
    def summary(self) -> dict:
        """Headline figures over all markets, with a per-market list under ``markets``."""
        markets = [self.market_summary(m) for m in range(len(self.market_names))]
        total = {
            key: sum(row[key] for row in markets)
            for key in (
                "liquidated_long_usd",
                "liquidated_short_usd",
                "liquidated_total_usd",
                "open_interest_before_usd",
                "open_interest_after_usd",
                "open_interest_change_usd",
                "bad_debt_usd",
                "adl_count",
                "adl_notional_usd",
            )
        }
        total["insurance_fund_change_usd"] = sum(
            row["insurance_fund_change_usd"]
            for m, row in enumerate(markets)
            if int(self.params.fund_pool[m]) == m
        )
        # Contracts of different assets add up at their start prices, so the change is one
        # of open contracts, not of their value.
        start_value = sum(r["open_interest_before_contracts"] * r["price_start"] for r in markets)
        end_value = sum(r["open_interest_after_contracts"] * r["price_start"] for r in markets)
        total["open_interest_change"] = end_value / start_value - 1.0 if start_value > 0 else 0.0
        total["accounts_liquidated"] = int(self.outcome.account_liquidated.sum())
        total["largest_liquidation_usd"] = max(row["largest_liquidation_usd"] for row in markets)
        # The top-level price figures are the deepest fall's, and name its market: a sweep's
        # drawdown percentiles are those of the worst-hit market of each path.
        deepest = max(markets, key=lambda row: row["max_drawdown"])
        for key in PRICE_FIGURES:
            total[key] = deepest[key]
        total["price_market"] = deepest["market"]
        flags = self.outcome.flags
        total["iteration_cap_hit"] = bool(flags & layout.STATUS_FLAG_ITERATION_CAP)
        total["book_exhausted"] = bool(flags & layout.STATUS_FLAG_BOOK_EXHAUSTED)
        total["walk_cap_hit"] = bool(flags & layout.STATUS_FLAG_WALK_CAP)
        total["index_bound_hit"] = bool(flags & layout.STATUS_FLAG_INDEX_BOUND)
        total["by_venue"] = breakdown(markets, "venue")
        total["by_asset"] = breakdown(markets, "asset")
        total["lead_asset"] = max(
            total["by_asset"],
            key=lambda asset: total["by_asset"][asset]["open_interest_before_usd"],
        )
        amplified = [row for row in markets if row["amplification"] is not None]
        total["most_amplified_market"] = (
            max(amplified, key=lambda row: row["amplification"])["market"] if amplified else None
        )
        total["markets"] = markets
        total["seed"] = self.provenance.get("seed")
        total["scenario_hash"] = self.provenance.get("scenario_hash")
        if "event_mode" in self.provenance:  # an event scenario, driven as validate drives it
            total["event_mode"] = self.provenance["event_mode"]
        collateral = collateral_summary(self)
        if collateral is not None:
            total["collateral"] = collateral
        flow = flow_summary(self)
        if flow is not None:
            total["flow"] = flow
        estimates = self.setup.labels.get("estimates")
        if estimates:
            total["estimates"] = list(estimates)
        snapshot = self.setup.labels.get("snapshot")
        if snapshot:  # a scenario built from market data: where each input was read
            total["snapshot"] = snapshot
        total["version"] = __version__
        return total

    # --- accounting ----------------------------------------------------------------------
    def ledger(self, final: bool = True) -> dict:
        """Value held by each kind of participant, at a common reference price.

        The sum over holders is the same at the start and the end of the path: that is the
        money-conservation invariant the tests check. Money is conserved in each settlement
        currency: with inverse markets the figures are those of the linear (USD) markets and
        ``by_currency`` holds each coin's own ledger, in the coin; ``total`` then adds each
        coin's total at its first market's start price, a fixed rate, so it is conserved too.
        """
        n_markets = len(self.market_names)
        if final:
            positions = self.engine_outcome.positions
            state = self.engine_outcome.state
            wallets = self.engine_outcome.account_wallet
            price = state.mark_price.copy()
            funding = state.funding_per_unit
        else:
            positions = self.engine_initial_positions
            state = self.initial_state
            wallets = np.zeros_like(self.engine_outcome.account_wallet)
            price = np.asarray([spec.price for spec in self.setup.markets])
            funding = np.zeros(n_markets)
        currency = np.asarray([settlement_currency(spec) for spec in self.setup.markets])
        # Collateral prices add money to (or take it from) the traders from outside the
        # market: the ledger counts it as a holder of its own, so the total stays conserved.
        repriced = deposited = None
        if self.setup.collateral is not None:
            repriced = self.engine_outcome.collateral_repriced_usd if final else 0.0
        if self.setup.flow is not None:
            deposited = self.engine_outcome.flow_deposited_usd if final else 0.0
        if (currency == "USD").all():
            usd_only = ledger_value(positions, state, float(wallets.sum()), price, funding)
            return with_outside_money(usd_only, repriced, deposited)
        account_currency = self.account_currency(currency)
        books = {}
        for name in dict.fromkeys(currency.tolist()):
            books[name] = ledger_value(
                positions,
                state,
                float(wallets[account_currency == name].sum()),
                price,
                funding,
                currency == name,
            )
        usd = books.pop("USD", None)
        ledger: dict[str, Any] = (
            with_outside_money(dict(usd), repriced, deposited)
            if usd is not None
            else {"total": 0.0}
        )
        for name, book in books.items():
            rate = float(self.setup.markets[int(np.argmax(currency == name))].price)
            ledger["total"] += book["total"] * rate
        ledger["by_currency"] = books
        ledger["net_quantity"] = next(iter(books.values()))["net_quantity"]
        return ledger

    def account_currency(self, market_currency: np.ndarray) -> np.ndarray:
        """Settlement currency of each account: that of the markets its positions are in."""
        positions = self.engine_initial_positions
        n_accounts = self.engine_outcome.account_wallet.shape[0]
        out = np.full(n_accounts, "USD", dtype=market_currency.dtype)
        out[positions.account] = market_currency[positions.market]
        return out

    @cached_property
    def initial_state(self) -> np.recarray:
        """The market state before the first step (books at their target profile)."""
        return initial_state(self.setup, self.params, self.engine_initial_positions)
