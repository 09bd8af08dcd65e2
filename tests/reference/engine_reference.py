"""Slow pure-Python reference of the whole step loop (``cascadesim.engine.step.run_steps``).

This is the executable statement of the step semantics that the numba engine is tested
against. It is written naively and on purpose shares none of the engine's optimisations:

- no sorted threshold groups and no pointers: every fixed-point iteration scans every open
  position of the market in row order and applies the exact margin check at the mark;
- no watch list: each position has a ready time (its cooldown or retry time), and a position
  is eligible when the time has come;
- no best-quote hints: the book is two dicts keyed by absolute tick, and the best bid and ask
  are found by scanning the whole window;
- no closed-form liquidation prices at all: only equity against maintenance margin (the
  liquidation price an event records is found by bisection on that condition).

It does share the model: the venue procedures, the arithmetic of fills, fees and transfers
(written in the same order, so that the floating-point results agree to rounding), and the
row order in which positions are processed. That order is input preparation, not an
optimisation: the engine processes breached positions in its sorted row order, so the
reference takes the permutation from :func:`cascadesim.sim.state.sort_population` and
iterates in that order too. Everything else is plain Python over lists and dicts; numpy is
only used to read the inputs and write the outputs.

Entry point: :func:`reference_run`.

Units: prices USD per base unit, quantities base units, money USD, time seconds.
"""

from __future__ import annotations

import math

import numpy as np

from cascadesim.engine import layout
from cascadesim.engine.book import MAX_WALK_WINDOW_SHIFTS
from cascadesim.engine.cross_margin import MAINTENANCE_TIE_RELATIVE
from cascadesim.engine.market import MAX_INDEX_RATIO
from cascadesim.model.market import EngineSetup, market_params
from cascadesim.sim.driver import sort_population
from tests.reference import margin_reference as margin

# The same named constants the engine documents as part of its semantics.
PROFILE_REFERENCE_MOVE = 0.01  # re-tabulate the USD profile when the centre moves this much
QUIET_HALF_LIVES = 30.0  # after this many half-lives undisturbed the book equals its target
STEP_DOWN_INSIDE = 1.0 - 1e-9  # a step-down stays a hair inside the lower tier
FUNDING_TIME_SLACK = 1e-9  # s, a settlement is due at next_funding_time minus this

OPEN = layout.STATUS_OPEN
PENDING = layout.STATUS_PENDING
LIQUIDATED = layout.STATUS_LIQUIDATED
DELEVERAGED = layout.STATUS_DELEVERAGED

AGENTS = ("maker", "passive", "taker", "fund", "backstop")


def median_of_three(a: float, b: float, c: float) -> float:
    """Median of three numbers, by sorting."""
    return sorted((a, b, c))[1]


def funding_rate(
    average_premium: float,
    interest: float,
    clamp: float,
    cap: float,
    interval_s: float,
    period_s: float,
) -> float:
    """``F = P + clamp(I - P, -clamp, +clamp)`` per premium period, times interval / period,
    then capped at +/- cap (fraction per interval)."""
    gap = min(max(interest - average_premium, -clamp), clamp)
    rate = (average_premium + gap) * (interval_s / period_s)
    return min(max(rate, -cap), cap)


def premium_for_rate(
    rate: float, interest: float, clamp: float, interval_s: float, period_s: float
) -> float:
    """An average premium whose funding rate per interval is ``rate`` (inverse of the clamp)."""
    period_rate = rate * (period_s / interval_s)
    if period_rate > interest:
        return period_rate + clamp
    if period_rate < interest:
        return period_rate - clamp
    return period_rate


class Market:
    """One market's parameters (read from its ``MarketSpec``) and mutable state."""

    def __init__(self, spec, asset: int, n_levels: int):
        self.spec = spec
        self.asset = asset
        self.n_levels = n_levels
        self.tick = float(spec.tick_size)
        self.floors = [float(x) for x in spec.tier_floor_usd]
        self.mmr = [float(x) for x in spec.tier_mmr]
        self.amounts = [float(x) for x in spec.maintenance_amounts()]
        self.convention = margin.convention_for(spec)
        price = float(spec.price)
        # Agents' books of account: cash (USD) and quantity (base units).
        self.cash = {name: 0.0 for name in AGENTS}
        self.quantity = {name: 0.0 for name in AGENTS}
        self.cash["fund"] = float(spec.insurance_fund_usd)
        self.cash["backstop"] = float(spec.backstop_usd)
        self.passive_entry_price = price
        # The hedged pool's gross longs and shorts (base units), set when positions load.
        self.hedged = {"long": 0.0, "short": 0.0}
        self.fees_usd = 0.0
        self.bad_debt_usd = 0.0
        self.adl_count = 0
        self.adl_notional_usd = 0.0
        # Prices and averages.
        self.last_price = price
        self.previous_last_price = price
        self.mark_price = price
        self.previous_mark_price = price
        # The fund's running peak and when it was set (the drawdown trigger's reference).
        self.fund_peak = (float(spec.insurance_fund_usd), 0.0)
        self.basis_average = 0.0
        self.funding_per_unit = 0.0
        self.funding_rate = float(spec.funding_rate_initial)
        elapsed = float(spec.funding_interval_s) - float(spec.time_to_first_funding_s)
        # The premium period: 0 in the spec means the payment interval itself.
        self.funding_period_s = float(spec.funding_premium_period_s) or float(
            spec.funding_interval_s
        )
        premium = premium_for_rate(
            self.funding_rate,
            float(spec.funding_interest_rate),
            float(spec.funding_clamp),
            float(spec.funding_interval_s),
            self.funding_period_s,
        )
        self.premium_sum = premium * elapsed
        self.premium_time = elapsed
        self.next_funding_time = float(spec.time_to_first_funding_s)
        # Market makers.
        self.liquidity_factor = 1.0
        self.volatility = float(spec.baseline_volatility)
        self.flow_imbalance = 0.0
        self.step_taker_flow_usd = 0.0
        self.step_fill_count = 0
        self.centre_price = price
        self.quote_index = None  # set by the engine from the start index
        self.maker_hedged_quantity = 0.0
        self.quiet_steps = 1 << 40  # starts at its target: settled (simulation.SETTLED_BOOK)
        self.profile_price = price
        self.profile_usd = self.tabulate(price)
        centre = self.centre_tick()
        self.origin = max(1, centre - n_levels // 2)
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        for tick in self.window():
            self.bids[tick], self.asks[tick] = self.target(tick, centre, 1.0)

    def pool_trade(self, delta: float) -> None:
        """The hedged pool buys ``delta`` (sells when negative): it closes its other side first."""
        opposite, same = ("short", "long") if delta > 0.0 else ("long", "short")
        closed = min(abs(delta), self.hedged[opposite])
        self.hedged[opposite] -= closed
        self.hedged[same] += abs(delta) - closed

    # --- the target profile ------------------------------------------------------------------
    def tabulate(self, centre_price: float) -> list[float]:
        """USD target depth at 1..n ticks from ``centre_price`` (liquidity factor 1)."""
        profile = []
        previous = 0.0
        for j in range(self.n_levels):
            fraction = (j + 1) * self.tick / centre_price
            cumulative = self.spec.depth_1pct_usd * (fraction / 0.01) ** self.spec.depth_shape
            profile.append(cumulative - previous)
            previous = cumulative
        return profile

    def centre_tick(self) -> int:
        """Tick nearest the market makers' centre price."""
        return int(round(self.centre_price / self.tick))

    def window(self) -> range:
        """Absolute ticks of the book window."""
        return range(self.origin, self.origin + self.n_levels)

    def target(self, tick: int, centre: int, factor: float) -> tuple[float, float]:
        """Target (bid, ask) base quantity at ``tick`` for quotes centred on tick ``centre``."""
        price = tick * self.tick
        distance = abs(tick - centre)
        if distance == 0 or price <= 0.0:
            return 0.0, 0.0
        j = min(distance - 1, self.n_levels - 1)
        quantity = factor * self.profile_usd[j] / price
        return (quantity, 0.0) if tick < centre else (0.0, quantity)

    # --- window and quote moves ----------------------------------------------------------------
    def move_window(self, shift: int, centre: int, factor: float) -> None:
        """Move the window by ``shift`` ticks; quotes keep their ticks, new ticks get target."""
        new_origin = max(self.origin + shift, 1)
        bids, asks = {}, {}
        for tick in range(new_origin, new_origin + self.n_levels):
            if tick in self.bids:
                bids[tick], asks[tick] = self.bids[tick], self.asks[tick]
            else:
                bids[tick], asks[tick] = self.target(tick, centre, factor)
        self.origin = new_origin
        self.bids, self.asks = bids, asks

    def move_quotes(self, ticks: int, centre: int) -> None:
        """Every resting quote moves by ``ticks``; vacated ticks get the target profile."""
        bids, asks = {}, {}
        for tick in self.window():
            source = tick - ticks
            if source in self.bids:
                bids[tick], asks[tick] = self.bids[source], self.asks[source]
            else:
                bids[tick], asks[tick] = self.target(tick, centre, self.liquidity_factor)
        self.bids, self.asks = bids, asks

    # --- quotes -------------------------------------------------------------------------------
    def best_bid(self) -> float:
        """Highest bid price (USD) in the window, 0.0 when there is none (full scan)."""
        ticks = [tick for tick, quantity in self.bids.items() if quantity > 0.0]
        return max(ticks) * self.tick if ticks else 0.0

    def best_ask(self) -> float:
        """Lowest ask price (USD) in the window, ``inf`` when there is none (full scan)."""
        ticks = [tick for tick, quantity in self.asks.items() if quantity > 0.0]
        return min(ticks) * self.tick if ticks else math.inf

    def depth_within(self, reference_price: float, fraction: float) -> tuple[float, float]:
        """USD resting within ``fraction`` of ``reference_price``: (bids below, asks above)."""
        low = reference_price * (1.0 - fraction)
        high = reference_price * (1.0 + fraction)
        first = max(int(math.floor(low / self.tick)), self.origin)
        last = min(int(math.ceil(high / self.tick)), self.origin + self.n_levels - 1)
        bid_usd = 0.0
        ask_usd = 0.0
        for tick in range(first, last + 1):
            price = tick * self.tick
            if low <= price <= reference_price:
                bid_usd += self.bids[tick] * price
            if reference_price <= price <= high:
                ask_usd += self.asks[tick] * price
        return bid_usd, ask_usd

    # --- market orders -------------------------------------------------------------------------
    def walk(self, direction: int, quantity: float, limit_price: float):
        """A market order walking the book from the far end of the window.

        Returns (filled, notional, last fill price, stop): stop is 1 at the tick-1 price
        floor with quantity left, 2 after ``MAX_WALK_WINDOW_SHIFTS`` window moves with
        quantity left, else 0. Ticks priced worse than the limit are not touched; reaching the
        window's edge with the next tick within the limit moves the window by half its width
        (new ticks get the target profile).
        """
        book = self.bids if direction < 0 else self.asks
        half = self.n_levels // 2
        centre = self.centre_tick()
        remaining = quantity
        notional = 0.0
        last = 0.0
        stop = 0
        shifts = 0
        tick = self.origin + self.n_levels - 1 if direction < 0 else self.origin
        while remaining > 0.0:
            if tick not in book:
                beyond = tick * self.tick
                if (direction < 0 and beyond < limit_price) or (
                    direction > 0 and beyond > limit_price
                ):
                    break  # nothing beyond the window is within the limit
                if direction < 0 and self.origin <= 1:
                    stop = 1
                    break
                if shifts == MAX_WALK_WINDOW_SHIFTS:
                    stop = 2
                    break
                shifts += 1
                if direction < 0:
                    self.move_window(-half, centre, self.liquidity_factor)
                else:
                    self.move_window(half, centre, self.liquidity_factor)
                book = self.bids if direction < 0 else self.asks
                continue
            price = tick * self.tick
            if (direction < 0 and price < limit_price) or (direction > 0 and price > limit_price):
                break
            available = book[tick]
            if available > remaining:
                book[tick] = available - remaining
                notional += remaining * price
                remaining = 0.0
                last = price
                break
            if available > 0.0:
                book[tick] = 0.0
                remaining -= available
                notional += available * price
                last = price
            tick += direction
        return quantity - remaining, notional, last, stop

    def agent_value(self, name: str, price: float) -> float:
        """USD value of an aggregate agent's cash and inventory at ``price``."""
        return self.cash[name] + self.quantity[name] * price


class ReferenceEngine:
    """State and procedures of one simulated path, in plain Python."""

    def __init__(self, setup: EngineSetup, liquidations_enabled: bool = True):
        self.setup = setup
        self.dt = float(setup.step_seconds)
        self.liquidations_enabled = liquidations_enabled
        asset_index = {asset.name: k for k, asset in enumerate(setup.assets)}
        self.markets = [
            Market(spec, asset_index[spec.asset], setup.n_levels) for spec in setup.markets
        ]
        self.spot_depth = [float(asset.spot_depth_1pct_usd) for asset in setup.assets]
        path = np.asarray(setup.index_path, dtype=np.float64)
        self.index_path = path.tolist()
        self.index_price = list(self.index_path[0])
        self.spot_impact_log = [0.0] * len(setup.assets)
        self.factor_followed = [0.0] * len(setup.assets)
        for market in self.markets:
            market.quote_index = self.index_price[market.asset]
        # Shared funds and vaults: the first market with a label holds the pool's cash.
        for m, market in enumerate(self.markets):
            market.pools = {}
            for holder, label in (
                ("fund", market.spec.fund_pool),
                ("backstop", market.spec.backstop_pool),
            ):
                first = m
                if label:
                    first = next(
                        k
                        for k, other in enumerate(setup.markets)
                        if (other.fund_pool if holder == "fund" else other.backstop_pool) == label
                    )
                market.pools[holder] = first
                if first != m:
                    self.markets[first].cash[holder] += market.cash[holder]
                    market.cash[holder] = 0.0
        for market in self.markets:
            market.fund_peak = (market.cash["fund"], 0.0)
        n_markets = len(self.markets)
        flow = setup.taker_flow_usd
        self.taker_flow = (
            np.zeros((setup.n_steps, n_markets))
            if flow is None
            else np.asarray(flow, dtype=np.float64)
        ).tolist()
        self.load_positions(setup)
        self.load_flow(setup)
        self.load_collateral(setup)
        self.chunk_cooldown_end: dict[int, float] = {}  # per user, end of a chunk's cooldown
        self.backstop_adl: list[tuple] = []  # self-check: (market, vault, equity) per ADL
        self.events: list[tuple] = []
        self.timeline = np.zeros((setup.n_steps, n_markets), dtype=layout.TIMELINE_DTYPE)
        self.flags = 0
        # ADL rankings of the current fixed-point iteration, by (market, counter side).
        self.adl_rankings: dict[tuple[int, int], list] = {}
        # Self-checks of the semantics, read by the property tests.
        self.adl_fund_equity: list[tuple[int, float, float]] = []

    def load_positions(self, setup: EngineSetup) -> None:
        """Positions in the engine's processing order (the permutation of sort_population)."""
        params = market_params(setup.markets, setup.assets)
        _, _, order = sort_population(setup.positions, params)
        source = setup.positions
        self.original_row = [int(k) for k in order]
        self.market = [int(source.market[k]) for k in order]
        self.account = [int(source.account[k]) for k in order]
        self.side = [int(source.side[k]) for k in order]
        self.quantity = [float(source.quantity[k]) for k in order]
        self.entry = [float(source.entry_price[k]) for k in order]
        self.margin = [float(source.margin[k]) for k in order]
        self.status = [OPEN] * len(order)
        self.ready_time = [-math.inf] * len(order)
        cross = (
            np.zeros(len(order), dtype=bool)
            if source.cross is None
            else np.asarray(source.cross, dtype=bool)
        )
        self.cross = [bool(cross[k]) for k in order]
        # Cross accounts: their rows in processing order and the end of a cooldown.
        self.account_rows: dict[int, list[int]] = {}
        for i, account in enumerate(self.account):
            if self.cross[i]:
                self.account_rows.setdefault(account, []).append(i)
        self.account_ready_time = {account: -math.inf for account in self.account_rows}

        n_accounts = setup.n_accounts
        if n_accounts is None:
            n_accounts = max(self.account) + 1 if self.account else 0
        n_accounts = max(n_accounts, 1)
        self.account_wallet = [0.0] * n_accounts
        self.account_liquidated = [False] * n_accounts
        self.rows_of_market = [
            [i for i in range(len(order)) if self.market[i] == m] for m in range(len(self.markets))
        ]
        for market in self.markets:
            market.passive_entry_price = market.last_price
        for m, market in enumerate(self.markets):
            longs = sum(self.quantity[i] for i in self.rows_of_market[m] if self.side[i] > 0)
            shorts = sum(self.quantity[i] for i in self.rows_of_market[m] if self.side[i] < 0)
            # The hedged counterparty holds whatever the leveraged population is net short of.
            market.quantity["passive"] = shorts - longs
            market.cash["passive"] = -(shorts - longs) * market.last_price
            # Both sides start at the stated open interest; the pool holds what traders do not.
            stated = market.spec.open_interest_usd
            total = max(longs, shorts, 0.0 if stated is None else stated / market.spec.price)
            market.hedged = {"long": total - longs, "short": total - shorts}

    def load_flow(self, setup: EngineSetup) -> None:
        """The opening flow's rows, appended as pending rows after every population row.

        Each market's flow rows follow its population rows in its processing order, as they
        do in the engine; a row's original row is ``n_population + k`` for its draw k.
        """
        self.flow = setup.flow
        self.flow_rows: list[list[int]] = [[] for _ in self.markets]
        self.flow_draw: dict[int, int] = {}
        self.deposited = 0.0
        if setup.flow is None:
            return
        flow = setup.flow
        self.opened_time = [math.nan] * flow.n_rows
        n_population = len(self.original_row)
        n_accounts = len(self.account_wallet)
        for k in range(flow.n_rows):
            m = int(flow.market[k])
            i = len(self.market)
            self.original_row.append(n_population + k)
            self.market.append(m)
            self.account.append(n_accounts + k)
            self.side.append(1)
            self.quantity.append(0.0)
            self.entry.append(0.0)
            self.margin.append(0.0)
            self.status.append(PENDING)
            self.ready_time.append(-math.inf)
            self.cross.append(False)
            self.rows_of_market[m].append(i)
            self.flow_rows[m].append(i)
            self.flow_draw[i] = k
        self.account_wallet += [0.0] * flow.n_rows
        self.account_liquidated += [False] * flow.n_rows
        self.flow_next = [0] * len(self.markets)
        self.flow_intensity = [0.0] * len(self.markets)
        self.flow_activity = [float(x) for x in flow.sigma_step]
        log_mark = [math.log(market.mark_price) for market in self.markets]
        self.flow_trend = list(log_mark)
        self.flow_last_log = list(log_mark)
        self.flow_reentry = [[0.0, 0.0] for _ in self.markets]

    def open_arrivals(self, time: float, m: int) -> None:
        """Open market m's flow rows whose arrival its accumulated intensity has passed."""
        flow = self.flow
        market = self.markets[m]
        dt = self.dt
        log_mark = math.log(market.mark_price)
        step_return = log_mark - self.flow_last_log[m]
        self.flow_last_log[m] = log_mark
        keep = 0.5 ** (dt / flow.activity_half_life_s[m])
        self.flow_activity[m] = keep * self.flow_activity[m] + (1.0 - keep) * abs(step_return)
        keep = 0.5 ** (dt / flow.trend_half_life_s[m])
        self.flow_trend[m] = keep * self.flow_trend[m] + (1.0 - keep) * log_mark
        trend = (log_mark - self.flow_trend[m]) / flow.trend_scale[m]
        fresh = flow.base_rate[m] * (
            1.0 + flow.activity_gain[m] * self.flow_activity[m] / flow.sigma_step[m]
        )
        exponent = min(max(flow.long_bias[m] + flow.momentum[m] * trend, -50.0), 50.0)
        long_probability = 1.0 / (1.0 + math.exp(-exponent))
        per_usd = flow.reentry_share[m] / flow.mean_notional_usd[m]
        reentry_long = per_usd * self.flow_reentry[m][0]
        reentry_short = per_usd * self.flow_reentry[m][1]
        rate = fresh + reentry_long + reentry_short
        if rate <= 0.0:
            return
        self.flow_intensity[m] += rate * dt
        long_weight = (fresh * long_probability + reentry_long) / rate
        rows = self.flow_rows[m]
        while self.flow_next[m] < len(rows):
            i = rows[self.flow_next[m]]
            k = self.flow_draw[i]
            if flow.arrival[k] > self.flow_intensity[m]:
                break
            side = 1 if flow.side_draw[k] < long_weight else -1
            price = market.mark_price
            notional = float(flow.notional_usd[k])
            quantity = notional / price
            deposit = notional / float(flow.leverage[k])
            self.side[i] = side
            self.quantity[i] = quantity
            self.entry[i] = price
            # Funding accrued before the opening is not owed: credited to the margin.
            self.margin[i] = deposit + side * quantity * market.funding_per_unit
            self.status[i] = OPEN
            self.ready_time[i] = time
            self.deposited += deposit
            self.opened_time[k] = time
            market.hedged["short" if side > 0 else "long"] += quantity
            self.passive_trade(market, -side, quantity, quantity * price)
            self.flow_next[m] += 1
        if self.flow_next[m] == len(rows) and rows:
            self.flags |= layout.STATUS_FLAG_FLOW_EXHAUSTED

    def record_flow_liquidations(self, m: int) -> None:
        """Fold the step's liquidated notional of market m into its re-entry averages."""
        keep = 0.5 ** (self.dt / self.flow.reentry_half_life_s[m])
        for slot in range(2):
            self.flow_reentry[m][slot] = (
                keep * self.flow_reentry[m][slot]
                + (1.0 - keep) * self.step_liquidated[m][slot] / self.dt
            )

    @staticmethod
    def passive_trade(market, direction: int, quantity: float, notional: float) -> None:
        """The passive counterparty buys (+1) or sells ``quantity`` for ``notional`` USD."""
        held = market.quantity["passive"]
        if held * direction >= 0.0:
            total = abs(held) + quantity
            market.passive_entry_price = (abs(held) * market.passive_entry_price + notional) / total
        elif abs(held) < quantity:
            market.passive_entry_price = notional / quantity
        market.quantity["passive"] = held + direction * quantity
        market.cash["passive"] -= direction * notional

    def load_collateral(self, setup: EngineSetup) -> None:
        """Each collateral account's holdings [(feed, units)] and its counted start value."""
        holdings = setup.collateral
        self.holdings: dict[int, list[tuple[int, float]]] = {}
        self.collateral_value: dict[int, float] = {}
        self.collateral_active: dict[int, bool] = {}
        self.collateral_repriced = 0.0
        if holdings is None:
            return
        self.feed_holdings = holdings
        for a, f, u in zip(holdings.account, holdings.feed, holdings.units, strict=True):
            self.holdings.setdefault(int(a), []).append((int(f), float(u)))
        for account in self.holdings:
            self.collateral_value[account] = self.basket_value(account, 0)
            self.collateral_active[account] = True

    def feed_price(self, f: int, row: int) -> float:
        holdings = self.feed_holdings
        asset = holdings.feed_asset[f]
        reference = self.index_path[row][asset] if asset >= 0 else holdings.feed_price[f]
        return float(holdings.factor[row, f]) * reference

    def basket_value(self, account: int, row: int) -> float:
        """Counted USD value of the account's coins at step row ``row``: the part of the
        amount inside each haircut tier times its ratio, times the venue's price."""
        total = 0.0
        for f, units in self.holdings[account]:
            floors, ratios = self.feed_holdings.haircuts[f]
            bounds = [*floors, math.inf]
            counted = 0.0
            for k, ratio in enumerate(ratios):
                if units <= bounds[k]:
                    break
                counted += (min(units, bounds[k + 1]) - bounds[k]) * ratio
            total += self.feed_price(f, row) * counted
        return total

    def revalue_collateral(self, step: int) -> None:
        """Credit each collateral account with open positions the change of its basket's
        counted value, to its first open row."""
        row = step + 1
        repriced = 0.0
        for account in sorted(self.holdings):
            if not self.collateral_active[account]:
                continue
            if all(
                self.feed_price(f, row) == self.feed_price(f, row - 1)
                for f, _ in self.holdings[account]
            ):
                continue
            rows = self.open_rows(account)
            if not rows:
                self.collateral_active[account] = False
                continue
            value = self.basket_value(account, row)
            change = value - self.collateral_value[account]
            self.collateral_value[account] = value
            if change == 0.0:
                continue
            repriced += change
            self.margin[rows[0]] += change
        self.collateral_repriced += repriced

    # --- margin -----------------------------------------------------------------------------
    def effective_margin(self, i: int) -> float:
        """Isolated margin (USD) after the funding position i has paid or received."""
        funding = self.markets[self.market[i]].funding_per_unit
        return self.margin[i] - self.side[i] * self.quantity[i] * funding

    def breached(self, i: int, mark: float) -> bool:
        """Equity at ``mark`` at or below maintenance margin (exact check)."""
        market = self.markets[self.market[i]]
        return (
            margin.shortfall(
                self.side[i],
                self.quantity[i],
                self.entry[i],
                self.effective_margin(i),
                mark,
                market.floors,
                market.mmr,
                market.amounts,
                market.convention,
            )
            <= 0.0
        )

    def bankruptcy(self, i: int) -> float:
        """Price (USD) at which position i's funding-adjusted equity is zero."""
        return margin.bankruptcy_price(
            self.side[i],
            self.quantity[i],
            self.entry[i],
            self.effective_margin(i),
            self.markets[self.market[i]].convention,
        )

    # --- events and transfers ---------------------------------------------------------------
    def figures(self, i: int, mark: float) -> tuple[float, float, float, float]:
        """What an event records of position i as it stands, before the event's close.

        (entry price, liquidation price, equity at ``mark``, leverage): the liquidation price
        is found by bisection at the funding-adjusted margin (the engine solves it in closed
        form), equity is that margin plus the PnL at ``mark``, leverage ``quantity x mark``
        over that margin (inf where the margin is <= 0).
        """
        market = self.markets[self.market[i]]
        side = self.side[i]
        quantity = self.quantity[i]
        entry = self.entry[i]
        collateral = self.effective_margin(i)
        liquidation = margin.liquidation_price(
            side,
            quantity,
            entry,
            collateral,
            market.floors,
            market.mmr,
            market.amounts,
            market.convention,
        )
        equity = collateral + side * quantity * (mark - entry)
        leverage = quantity * mark / collateral if collateral > 0.0 else math.inf
        return entry, liquidation, equity, leverage

    def record(
        self, time, m, account, i, side, kind, quantity, notional, fill, bankrupt, mark, figures
    ):
        """Append one event; ``i`` is a processing-order row (-1: the hedged aggregate, whose
        ``figures`` are NaN)."""
        position = self.original_row[i] if i >= 0 else -1
        self.events.append(
            (time, m, account, position, side, kind, quantity, notional, fill, bankrupt, mark)
            + tuple(figures)
        )

    def reduce(self, i: int, quantity: float, price: float) -> None:
        """Close ``quantity`` of position i at ``price``; PnL and owed funding go to margin."""
        market = self.markets[self.market[i]]
        side = self.side[i]
        self.margin[i] += side * quantity * (price - self.entry[i] - market.funding_per_unit)
        remaining = self.quantity[i] - quantity
        self.quantity[i] = remaining if remaining > 0.0 else 0.0

    def execute(self, m: int, direction: int, quantity: float, limit_price: float):
        """A market order into market m's book; the market makers take the other side."""
        if quantity <= 0.0:
            return 0.0, 0.0
        market = self.markets[m]
        filled, notional, last, stop = market.walk(direction, quantity, limit_price)
        if stop == 1:
            self.flags |= layout.STATUS_FLAG_BOOK_EXHAUSTED
        elif stop == 2:
            self.flags |= layout.STATUS_FLAG_WALK_CAP
        if filled > 0.0:
            market.quiet_steps = 0
            market.step_fill_count += 1
            market.quantity["maker"] -= direction * filled
            market.cash["maker"] += direction * notional
            market.last_price = last
            market.step_taker_flow_usd += direction * notional
        return filled, notional

    def pool_market(self, m: int, holder: str) -> Market:
        """The market whose books hold market m's fund (or vault) cash."""
        return self.markets[self.markets[m].pools[holder]]

    def pool_value(self, m: int, holder: str, at_last: bool = False) -> float:
        """USD in market m's (shared) fund or vault: its cash and every member's inventory."""
        first = self.markets[m].pools[holder]
        total = self.markets[first].cash[holder]
        for market in self.markets:
            if market.pools[holder] == first and market.quantity[holder] != 0.0:
                price = market.last_price if at_last else market.mark_price
                total += market.quantity[holder] * price
        return total

    def pay_shortfall(self, m: int, amount: float, holder: str) -> None:
        """``holder`` (fund or backstop) pays a loss; what exceeds its equity is bad debt."""
        equity = self.pool_value(m, holder, at_last=True)
        covered = min(max(equity, 0.0), amount)
        if amount > covered:
            self.markets[m].bad_debt_usd += amount - covered
            self.flags |= layout.STATUS_FLAG_BAD_DEBT
        self.pool_market(m, holder).cash[holder] -= covered

    def cover_deficits(self, m: int) -> None:
        """A fund or backstop below zero at the mark is topped up to zero, as bad debt."""
        market = self.markets[m]
        for holder in ("fund", "backstop"):
            if market.pools[holder] != m:
                continue
            equity = self.pool_value(m, holder)
            if equity < 0.0:
                market.cash[holder] -= equity
                market.bad_debt_usd -= equity
                self.flags |= layout.STATUS_FLAG_BAD_DEBT

    # --- the venue procedures ---------------------------------------------------------------
    def fillable_price(self, i: int, mark: float) -> float:
        """dYdX v4: mark moved against the position by SMMR x MMF x min(BA x (1 - Q), 1)."""
        market = self.markets[self.market[i]]
        spec = market.spec
        notional = self.quantity[i] * mark
        equity = self.effective_margin(i) + self.side[i] * self.quantity[i] * (mark - self.entry[i])
        required = margin.requirement(
            market.floors,
            market.mmr,
            market.amounts,
            self.quantity[i],
            self.entry[i],
            mark,
            market.convention,
        )
        if required <= 0.0 or notional <= 0.0:
            return mark
        rating = spec.fillable_bankruptcy_adjustment * (1.0 - equity / required)
        rating = min(max(rating, 0.0), 1.0)
        spread = spec.fillable_spread_ratio * required / notional * rating
        return max(mark * (1.0 - self.side[i] * spread), 0.0)

    def adl_price(self, market, bankrupt: float, mark: float) -> float:
        rule = market.spec.adl_price_rule
        if rule == "mark":
            return mark
        if rule == "previous_mark":
            return market.previous_mark_price
        return bankrupt

    def send_order(self, time, i, quantity, mark):
        """Liquidation order for ``quantity`` of position i into the book, with its fee."""
        m = self.market[i]
        market = self.markets[m]
        side = self.side[i]
        bankrupt = self.bankruptcy(i)
        if market.spec.limit_mode == "bankruptcy":
            limit = bankrupt
        elif market.spec.limit_mode == "fillable":
            limit = self.fillable_price(i, mark)
        else:
            limit = mark * (1.0 - side * market.spec.slippage_limit)
        filled, notional = self.execute(m, -side, quantity, limit)
        if filled > 0.0:
            market.pool_trade(side * filled)
            price = notional / filled
            figures = self.figures(i, mark)
            self.reduce(i, filled, price)
            fee = market.spec.liquidation_fee_rate * notional
            available = self.effective_margin(i)
            if fee > available:
                fee = available if available > 0.0 else 0.0
            self.margin[i] -= fee
            self.pool_market(m, "fund").cash["fund"] += fee
            market.fees_usd += fee
            self.record(
                time,
                m,
                self.account[i],
                i,
                side,
                layout.KIND_BOOK,
                filled,
                notional,
                price,
                bankrupt,
                mark,
                figures,
            )
            self.step_liquidated[m][0 if side > 0 else 1] += notional
        return filled

    def adl_ranking(self, m: int, counter: int, mark: float) -> list[int]:
        """Profitable positions on side ``counter`` by venue priority; -1 is the aggregate."""
        market = self.markets[m]
        rule = market.spec.adl_rank_rule
        scored = []
        for j in self.rows_of_market[m]:
            if self.side[j] != counter or self.status[j] != OPEN or self.quantity[j] <= 0.0:
                continue
            score = adl_score(
                rule, counter, self.quantity[j], self.entry[j], self.effective_margin(j), mark
            )
            if score > 0.0:
                scored.append((score, j))
        passive = market.quantity["passive"]
        if passive * counter > 0.0:
            size = abs(passive)
            passive_margin = size * market.passive_entry_price / market.spec.passive_leverage
            score = adl_score(rule, counter, size, market.passive_entry_price, passive_margin, mark)
            if score > 0.0:
                scored.append((score, -1))
        # Highest score first; ties keep row order (the aggregate last): a stable sort.
        scored.sort(key=lambda pair: -pair[0])
        return [j for _, j in scored]

    def auto_deleverage(self, time, i, quantity, price, mark):
        """Close ``quantity`` of position i at ``price`` against the ranked opposite side.

        Returns the quantity left unmatched. The ranking is built once per (market, side,
        fixed-point iteration) and consumed in order.
        """
        m = self.market[i]
        market = self.markets[m]
        side = self.side[i]
        counter = -side
        key = (m, counter)
        if key not in self.adl_rankings:
            self.adl_rankings[key] = [self.adl_ranking(m, counter, mark), 0]
        ranking = self.adl_rankings[key]
        remaining = quantity
        while remaining > 0.0 and ranking[1] < len(ranking[0]):
            j = ranking[0][ranking[1]]
            if j < 0:
                held = market.quantity["passive"]
                available = abs(held) if held * counter > 0.0 else 0.0
            elif self.status[j] == OPEN:
                available = self.quantity[j]
            else:
                available = 0.0
            if available <= 0.0:
                ranking[1] += 1
                continue
            size = available if available < remaining else remaining
            counter_figures = self.figures(j, mark) if j >= 0 else (math.nan,) * 4
            if j < 0:
                market.pool_trade(side * size)
                market.quantity["passive"] += side * size
                market.cash["passive"] -= side * size * price
                account = -1
            elif self.cross[j]:
                # The profit stays in the cross account's wallet.
                account = self.account[j]
                self.reduce(j, size, price)
                if self.quantity[j] <= 0.0:
                    self.status[j] = DELEVERAGED
                    if not self.release_to_account(j):
                        self.account_wallet[account] += self.margin[j]
                        self.margin[j] = 0.0
            else:
                # The engine's order of operations: ties between equal ADL scores are broken
                # by row, so a rounding difference here would reorder the queue.
                kept_share = (self.quantity[j] - size) / self.quantity[j]
                kept_margin = self.margin[j] * kept_share
                self.reduce(j, size, price)
                wallet_share = self.margin[j] - kept_margin
                if self.quantity[j] <= 0.0:
                    wallet_share = self.margin[j]
                    kept_margin = 0.0
                    self.status[j] = DELEVERAGED
                self.margin[j] = kept_margin
                account = self.account[j]
                self.account_wallet[account] += wallet_share
            self.record(
                time,
                m,
                account,
                j,
                counter,
                layout.KIND_ADL_COUNTERPARTY,
                size,
                size * price,
                price,
                price,
                mark,
                counter_figures,
            )
            market.adl_count += 1
            market.adl_notional_usd += size * price
            figures = self.figures(i, mark)
            self.reduce(i, size, price)
            self.record(
                time,
                m,
                self.account[i],
                i,
                side,
                layout.KIND_ADL,
                size,
                size * price,
                price,
                price,
                mark,
                figures,
            )
            remaining -= size
            if size >= available:
                ranking[1] += 1
        return remaining

    def fund_takeover(self, time, i, mark):
        """The fund absorbs what its equity covers at the bankruptcy price; ADL the rest."""
        m = self.market[i]
        market = self.markets[m]
        side = self.side[i]
        quantity = self.quantity[i]
        bankrupt = self.bankruptcy(i)
        absorb = 0.0
        spec = market.spec
        fund_equity = self.pool_value(m, "fund")
        drawn_down = (
            spec.fund_drawdown_trigger > 0.0
            and fund_equity
            < (1.0 - spec.fund_drawdown_trigger) * self.pool_market(m, "fund").fund_peak[0]
        )
        if spec.takeover_mode in ("insurance", "negative_equity") and not drawn_down:
            absorb = quantity
            loss_per_unit = side * (bankrupt - mark)
            if loss_per_unit > 0.0:
                capacity = fund_equity / loss_per_unit if fund_equity > 0.0 else 0.0
                absorb = min(absorb, capacity)
            if spec.fund_notional_cap_ratio > 0.0:
                most = spec.fund_notional_cap_ratio * max(fund_equity, 0.0) / mark
                absorb = min(absorb, max(most - side * market.quantity["fund"], 0.0))
        if absorb > 0.0:
            market.quantity["fund"] += side * absorb
            self.pool_market(m, "fund").cash["fund"] -= side * absorb * bankrupt
            figures = self.figures(i, mark)
            self.reduce(i, absorb, bankrupt)
            self.record(
                time,
                m,
                self.account[i],
                i,
                side,
                layout.KIND_INSURANCE,
                absorb,
                absorb * bankrupt,
                bankrupt,
                bankrupt,
                mark,
                figures,
            )
            self.step_liquidated[m][0 if side > 0 else 1] += absorb * bankrupt
        rest = self.quantity[i]
        if rest > 0.0:
            # Self-check: the fund's equity left to absorb losses when ADL starts.
            self.adl_fund_equity.append(
                (m, self.pool_value(m, "fund"), side * (bankrupt - mark) * rest)
            )
            price = self.adl_price(market, bankrupt, mark)
            unmatched = self.auto_deleverage(time, i, rest, price, mark)
            self.step_liquidated[m][0 if side > 0 else 1] += (rest - unmatched) * price
            if unmatched > 0.0:
                market.quantity["fund"] += side * unmatched
                self.pool_market(m, "fund").cash["fund"] -= side * unmatched * bankrupt
                figures = self.figures(i, mark)
                self.reduce(i, unmatched, bankrupt)
                self.flags |= layout.STATUS_FLAG_BAD_DEBT
                self.record(
                    time,
                    m,
                    self.account[i],
                    i,
                    side,
                    layout.KIND_INSURANCE,
                    unmatched,
                    unmatched * bankrupt,
                    bankrupt,
                    bankrupt,
                    mark,
                    figures,
                )
                self.step_liquidated[m][0 if side > 0 else 1] += unmatched * bankrupt

    def release_to_account(self, i: int) -> bool:
        """Move closed row i's margin to the first other open row of its cross account."""
        for j in self.account_rows[self.account[i]]:
            if j != i and self.status[j] == OPEN and self.quantity[j] > 0.0:
                self.margin[j] += self.margin[i]
                self.margin[i] = 0.0
                return True
        return False

    def close_out(self, i: int) -> None:
        """Settle a fully closed position's leftover margin; it is liquidated."""
        m = self.market[i]
        market = self.markets[m]
        if self.cross[i] and self.release_to_account(i):
            self.status[i] = LIQUIDATED
            return
        leftover = self.margin[i]
        if market.spec.takeover_mode == "negative_equity" and leftover >= 0.0:
            self.account_wallet[self.account[i]] += leftover
        elif market.spec.takeover_mode == "backstop":
            if leftover >= 0.0:
                self.account_wallet[self.account[i]] += leftover
            else:
                self.pay_shortfall(m, -leftover, "backstop")
        else:
            if leftover >= 0.0:
                self.pool_market(m, "fund").cash["fund"] += leftover
            else:
                self.pay_shortfall(m, -leftover, "fund")
        self.margin[i] = 0.0
        self.status[i] = LIQUIDATED

    def backstop_takeover(self, time, i, mark):
        """The backstop vault takes position i with its collateral (Hyperliquid)."""
        m = self.market[i]
        market = self.markets[m]
        side = self.side[i]
        quantity = self.quantity[i]
        collateral = self.effective_margin(i)
        bankrupt = self.bankruptcy(i)
        figures = self.figures(i, mark)
        market.quantity["backstop"] += side * quantity
        self.pool_market(m, "backstop").cash["backstop"] += (
            collateral - side * quantity * self.entry[i]
        )
        self.quantity[i] = 0.0
        self.margin[i] = 0.0
        self.status[i] = LIQUIDATED
        self.record(
            time,
            m,
            self.account[i],
            i,
            side,
            layout.KIND_BACKSTOP,
            quantity,
            quantity * mark,
            mark,
            bankrupt,
            mark,
            figures,
        )
        self.step_liquidated[m][0 if side > 0 else 1] += quantity * mark

    def liquidate(self, time, i, mark, cross=False):
        """The venue's procedure on breached position i at ``mark``.

        Returns, for a cross position left partly open, the time its account may try again;
        -1.0 otherwise.
        """
        m = self.market[i]
        market = self.markets[m]
        spec = market.spec
        side = self.side[i]
        self.account_liquidated[self.account[i]] = True
        quantity = self.quantity[i]
        if spec.takeover_mode == "backstop" and not cross:
            equity = self.effective_margin(i) + side * quantity * (mark - self.entry[i])
            required = margin.requirement(
                market.floors,
                market.mmr,
                market.amounts,
                quantity,
                self.entry[i],
                mark,
                market.convention,
            )
            if equity < spec.backstop_equity_fraction * required:
                vault = self.pool_value(m, "backstop")
                if equity >= 0.0 or vault + equity >= 0.0:
                    self.backstop_takeover(time, i, mark)
                    return -1.0
                # The vault cannot carry it: deleveraged whole at the previous mark.
                self.backstop_adl.append((m, vault, equity))
                price = self.adl_price(market, self.bankruptcy(i), mark)
                unmatched = self.auto_deleverage(time, i, quantity, price, mark)
                self.step_liquidated[m][0 if side > 0 else 1] += (quantity - unmatched) * price
                if unmatched > 0.0:
                    self.backstop_takeover(time, i, mark)
                else:
                    self.close_out(i)
                return -1.0
        order = quantity
        partial = False
        if spec.partial_mode == "tier_step_down":
            notional = margin.tier_notional(quantity, self.entry[i], mark, market.convention)
            tier = margin.tier_for_notional(market.floors, notional)
            if tier > 0:
                # Down to the lower tier's limit, on the notional the convention tiers by.
                order = quantity - market.floors[tier] * quantity / notional * STEP_DOWN_INSIDE
                partial = True
        elif spec.partial_mode == "chunks" and quantity * mark > spec.chunk_min_notional_usd:
            user = self.account[i]
            if self.chunk_cooldown_end.get(user, -math.inf) <= time:
                order = quantity * spec.chunk_fraction
                partial = True
                self.chunk_cooldown_end[user] = time + spec.chunk_cooldown_s
        filled = self.send_order(time, i, order, mark)
        if self.quantity[i] <= 0.0:
            self.close_out(i)
            return -1.0
        if partial and filled >= order and not self.breached(i, mark):
            if cross:
                return time
            self.ready_time[i] = time
            return -1.0
        retry = spec.takeover_mode == "backstop"
        if spec.takeover_mode == "negative_equity" and not cross:
            equity = self.effective_margin(i) + side * self.quantity[i] * (mark - self.entry[i])
            retry = equity >= 0.0
        if retry:
            if cross:
                return time + self.dt
            self.ready_time[i] = time + self.dt
            return -1.0
        if partial:
            self.send_order(time, i, self.quantity[i], mark)
        if self.quantity[i] > 0.0:
            self.fund_takeover(time, i, mark)
        self.close_out(i)
        return -1.0

    # --- cross-margin accounts ----------------------------------------------------------------
    def open_rows(self, account: int) -> list[int]:
        return [
            j
            for j in self.account_rows[account]
            if self.status[j] == OPEN and self.quantity[j] > 0.0
        ]

    def position_figures(self, j: int) -> tuple[float, float]:
        """(equity, maintenance margin) of row j at its market's current mark."""
        market = self.markets[self.market[j]]
        mark = market.mark_price
        equity = self.effective_margin(j) + self.side[j] * self.quantity[j] * (mark - self.entry[j])
        required = margin.requirement(
            market.floors,
            market.mmr,
            market.amounts,
            self.quantity[j],
            self.entry[j],
            mark,
            market.convention,
        )
        return equity, required

    def account_figures(self, account: int) -> tuple[float, float, int]:
        equity = 0.0
        required = 0.0
        rows = self.open_rows(account)
        for j in rows:
            e, r = self.position_figures(j)
            equity += e
            required += r
        return equity, required, len(rows)

    def account_breached(self, account: int) -> bool:
        equity, required, count = self.account_figures(account)
        return count > 0 and equity <= required * (1.0 + MAINTENANCE_TIE_RELATIVE)

    def spread_equity(self, account: int, equity: float, required: float) -> None:
        ratio = equity / required
        for j in self.open_rows(account):
            e, r = self.position_figures(j)
            self.margin[j] += r * ratio - e

    def close_order(self, account: int) -> list[int]:
        """The account's open rows in the venue's close order (ties keep row order)."""
        keyed = []
        for j in self.open_rows(account):
            e, r = self.position_figures(j)
            if self.markets[self.market[j]].spec.cross_close_order == "largest_loss":
                keyed.append((e - self.effective_margin(j), j))
            else:
                keyed.append((-r, j))
        keyed.sort(key=lambda pair: pair[0])  # stable: ties keep row order
        return [j for _, j in keyed]

    def liquidate_account(self, time: float, account: int) -> None:
        """Close the account's positions in the venue's order until it is safe."""
        equity, required, count = self.account_figures(account)
        if count == 0:
            return
        rows = self.close_order(account)
        spec = self.markets[self.market[rows[0]]].spec
        if spec.takeover_mode == "backstop" and equity < spec.backstop_equity_fraction * required:
            self.spread_equity(account, equity, required)
            for j in rows:
                self.account_liquidated[account] = True
                self.backstop_takeover(time, j, self.markets[self.market[j]].mark_price)
            return
        self.net_hedged_pairs(time, account)
        for j in self.close_order(account):
            if not (self.status[j] == OPEN and self.quantity[j] > 0.0):
                continue
            equity, required, _ = self.account_figures(account)
            if equity > required * (1.0 + MAINTENANCE_TIE_RELATIVE):
                break
            for k in self.open_rows(account):
                if k != j:
                    e, r = self.position_figures(k)
                    self.margin[k] -= e - r
                    self.margin[j] += e - r
            wait = self.liquidate(time, j, self.markets[self.market[j]].mark_price, cross=True)
            if wait > time:
                self.account_ready_time[account] = wait
                break
        equity, required, count = self.account_figures(account)
        if count > 0:
            self.spread_equity(account, equity, required)

    def net_hedged_pairs(self, time: float, account: int) -> None:
        """Hedge mode on a venue that liquidates the net position: each long and short of
        one market are first closed against each other at the mark, by their overlap."""
        rows = self.account_rows[account]
        for i in rows:
            if self.side[i] < 0 or not (self.status[i] == OPEN and self.quantity[i] > 0.0):
                continue
            m = self.market[i]
            market = self.markets[m]
            if market.spec.hedge_liquidation != "net_first":
                continue
            for j in rows:
                if self.market[j] != m or self.side[j] > 0:
                    continue
                if not (self.status[j] == OPEN and self.quantity[j] > 0.0):
                    continue
                quantity = min(self.quantity[i], self.quantity[j])
                mark = market.mark_price
                for row in (i, j):
                    self.record(
                        time,
                        m,
                        account,
                        row,
                        self.side[row],
                        layout.KIND_NETTED,
                        quantity,
                        quantity * mark,
                        mark,
                        mark,
                        mark,
                        self.figures(row, mark),
                    )
                    self.reduce(row, quantity, mark)
                self.account_liquidated[account] = True
                for row in (i, j):
                    if self.quantity[row] <= 0.0:
                        if not self.release_to_account(row):
                            self.account_wallet[account] += self.margin[row]
                            self.margin[row] = 0.0
                        self.status[row] = LIQUIDATED

    def cross_triggers(self, time: float, i: int, mark: float) -> bool:
        """Cross row i stands for its account: checked exactly when i is breached at its own
        margin; a safe account has its equity spread over its positions by maintenance."""
        account = self.account[i]
        if self.account_ready_time[account] > time:
            return False
        if not self.breached(i, mark):
            return False
        if self.account_breached(account):
            return True
        equity, required, _ = self.account_figures(account)
        self.spread_equity(account, equity, required)
        return False

    # --- prices -----------------------------------------------------------------------------
    def predicted_funding(self, market: Market) -> float:
        """The rate the premium accumulated since the last settlement would settle at."""
        if market.premium_time <= 0.0:
            return market.funding_rate
        spec = market.spec
        return funding_rate(
            market.premium_sum / market.premium_time,
            spec.funding_interest_rate,
            spec.funding_clamp,
            spec.funding_cap,
            spec.funding_interval_s,
            market.funding_period_s,
        )

    def current_mark(self, time: float, market: Market) -> float:
        """The venue's mark price, at least one tick (the engine's floor)."""
        return max(self.venue_mark(time, market), market.tick)

    def venue_mark(self, time: float, market: Market) -> float:
        """The venue's mark price from the index, the basis average and the book."""
        index = self.index_price[market.asset]
        rule = market.spec.mark_rule
        if rule == "binance":
            funding_basis = index * (
                1.0
                + self.predicted_funding(market)
                * (market.next_funding_time - time)
                / market.spec.funding_interval_s
            )
            return median_of_three(funding_basis, index + market.basis_average, market.last_price)
        if rule == "hyperliquid":
            book_price = median_of_three(market.best_bid(), market.best_ask(), market.last_price)
            return median_of_three(index + market.basis_average, book_price, index)
        if rule == "index":
            return index
        return index + market.basis_average

    # --- the parts of a step ----------------------------------------------------------------
    def reprice_quotes(self, market: Market) -> None:
        """Market makers move their quotes with the index (they hedge on spot) and pull them
        toward it with the quote-anchor half-life."""
        index = self.index_price[market.asset]
        centre = market.centre_price * (index / market.quote_index)
        half_life = market.spec.quote_anchor_half_life_s
        if half_life > 0.0:
            centre += (index - centre) * (1.0 - 0.5 ** (self.dt / half_life))
        market.quote_index = index
        if centre == market.centre_price:
            return
        old_tick = market.centre_tick()
        market.centre_price = centre
        new_tick = market.centre_tick()
        if new_tick == old_tick:
            return
        market.move_quotes(new_tick - old_tick, new_tick)
        market.quiet_steps = 0

    def exogenous_flow(self, m: int, usd: float) -> None:
        """The scenario's aggressive trader: a market order of ``usd`` (+ buys)."""
        market = self.markets[m]
        direction = 1 if usd > 0.0 else -1
        quantity = abs(usd) / market.last_price
        limit = math.inf if direction > 0 else 0.0
        filled, notional = self.execute(m, direction, quantity, limit)
        market.pool_trade(-direction * filled)
        market.quantity["taker"] += direction * filled
        market.cash["taker"] -= direction * notional

    def arbitrage(self, m: int) -> None:
        """Hedged arbitrage toward the index beyond the band, moving spot by its impact."""
        market = self.markets[m]
        spec = market.spec
        a = market.asset
        index = self.index_price[a]
        band = spec.arbitrage_band
        capacity = spec.arbitrage_capacity_usd_per_s * self.dt / index
        if capacity <= 0.0:
            return
        if market.best_ask() < index * (1.0 - band):
            direction, limit = 1, index * (1.0 - band)
        elif market.best_bid() > index * (1.0 + band):
            direction, limit = -1, index * (1.0 + band)
        else:
            return
        filled, notional = self.execute(m, direction, capacity, limit)
        if filled <= 0.0:
            return
        self.passive_trade(market, direction, filled, notional)
        impact = bounded_impact(
            self.spot_impact_log[a],
            -direction * spec.spot_impact_share * notional / self.spot_depth[a] * 0.01,
        )
        self.spot_impact_log[a] += impact
        self.index_price[a] *= math.exp(impact)

    def fixed_point(self, time: float, m: int) -> int:
        """Trigger every breached, ready position; liquidate in row order; re-mark; repeat."""
        market = self.markets[m]
        iterations = 0
        for _ in range(self.setup.iteration_cap):
            self.adl_rankings = {}
            mark = self.current_mark(time, market)
            market.mark_price = mark
            triggered = [
                i
                for i in self.rows_of_market[m]
                if self.status[i] == OPEN
                and self.ready_time[i] <= time
                and (
                    self.cross_triggers(time, i, mark) if self.cross[i] else self.breached(i, mark)
                )
            ]
            if not triggered:
                return iterations
            iterations += 1
            for i in triggered:
                # Breached longs and shorts at one mark need crossed liquidation prices,
                # which open positions practically never have; so no triggered position is
                # closed by ADL before its turn. If one ever were, nothing is left to do.
                if not self.cross[i]:
                    if self.status[i] == OPEN:
                        self.liquidate(time, i, mark)
                elif self.status[i] == OPEN and self.quantity[i] > 0.0:
                    self.liquidate_account(time, self.account[i])
        self.flags |= layout.STATUS_FLAG_ITERATION_CAP
        return iterations

    def unwind(self, m: int, holder: str) -> None:
        """The fund or the backstop trades its inventory back into the book at its pace."""
        market = self.markets[m]
        held = market.quantity[holder]
        if held == 0.0:
            return
        mark = market.mark_price
        size = min(market.spec.fund_unwind_usd_per_s * self.dt / mark, abs(held))
        direction = -1 if held > 0.0 else 1
        limit = mark * (1.0 + direction * market.spec.slippage_limit)
        filled, notional = self.execute(m, direction, size, limit)
        market.pool_trade(-direction * filled)
        market.quantity[holder] += direction * filled
        self.pool_market(m, holder).cash[holder] -= direction * notional

    def update_liquidity(self, market: Market) -> float:
        """Quoting scale from the EWMA volatility of last-price returns and taker flow."""
        spec = market.spec
        decay = 0.5 ** (self.dt / spec.stress_half_life_s)
        log_return = math.log(market.last_price / market.previous_last_price)
        market.previous_last_price = market.last_price
        variance = decay * market.volatility**2 + (1.0 - decay) * log_return * log_return / self.dt
        market.volatility = math.sqrt(variance)
        flow = market.step_taker_flow_usd / (spec.depth_1pct_usd * self.dt)
        market.flow_imbalance = decay * market.flow_imbalance + (1.0 - decay) * flow
        excess = market.volatility / spec.baseline_volatility - 1.0
        stress = spec.withdrawal_vol_sensitivity * max(
            excess, 0.0
        ) + spec.withdrawal_flow_sensitivity * abs(market.flow_imbalance)
        floor = spec.liquidity_floor
        return floor + (1.0 - floor) / (1.0 + stress)

    def refresh_book(self, market: Market) -> None:
        """Liquidity factor, re-centring, window move, then resilience and withdrawal."""
        spec = market.spec
        n_levels = market.n_levels
        old_centre_tick = market.centre_tick()
        liquidity = self.update_liquidity(market)
        if abs(liquidity - market.liquidity_factor) > 1e-12:
            market.quiet_steps = 0
        market.liquidity_factor = liquidity
        if market.step_fill_count > 0:
            # Trades consumed liquidity: the makers re-centre on the mid of what is left
            # (the last trade when one side is empty).
            bid = market.best_bid()
            ask = market.best_ask()
            if bid > 0.0 and ask < math.inf:
                market.centre_price = 0.5 * (bid + ask)
            else:
                market.centre_price = market.last_price
        centre = market.centre_tick()
        if centre != old_centre_tick:
            market.quiet_steps = 0
        if abs(market.centre_price / market.profile_price - 1.0) > PROFILE_REFERENCE_MOVE:
            market.profile_price = market.centre_price
            market.profile_usd = market.tabulate(market.centre_price)
        centre_level = centre - market.origin
        if centre_level < n_levels // 4 or centre_level > 3 * n_levels // 4:
            market.move_window(centre_level - n_levels // 2, centre, liquidity)
        slowest = max(spec.resilience_half_life_s, spec.withdrawal_half_life_s)
        settle_steps = int(math.ceil(QUIET_HALF_LIVES * slowest / self.dt))
        quiet = market.quiet_steps
        if quiet < settle_steps:
            refill = 1.0 - 0.5 ** (self.dt / spec.resilience_half_life_s)
            cancel = 1.0 - 0.5 ** (self.dt / spec.withdrawal_half_life_s)
            for tick in market.window():
                target_bid, target_ask = market.target(tick, centre, liquidity)
                gap = target_bid - market.bids[tick]
                market.bids[tick] = max(
                    market.bids[tick] + gap * (refill if gap > 0.0 else cancel), 0.0
                )
                gap = target_ask - market.asks[tick]
                market.asks[tick] = max(
                    market.asks[tick] + gap * (refill if gap > 0.0 else cancel), 0.0
                )
        elif quiet == settle_steps:
            # A book left alone this long equals its target: snap to it.
            for tick in market.window():
                market.bids[tick], market.asks[tick] = market.target(tick, centre, liquidity)
        market.quiet_steps = quiet + 1

    def pay_funding(self, time: float, market: Market) -> None:
        """Settle funding if due: longs pay rate x mark per unit, shorts receive it."""
        if time < market.next_funding_time - FUNDING_TIME_SLACK:
            return
        rate = self.predicted_funding(market)
        per_unit = rate * market.mark_price
        market.funding_per_unit += per_unit
        m = self.markets.index(market)
        for name in AGENTS:
            payer = self.pool_market(m, name) if name in ("fund", "backstop") else market
            payer.cash[name] -= market.quantity[name] * per_unit
        market.funding_rate = rate
        market.premium_sum = 0.0
        market.premium_time = 0.0
        market.next_funding_time += market.spec.funding_interval_s

    def record_step(self, step, time, m, mid, bid, ask, iterations, n_events, adl_before) -> None:
        """Write the timeline row of market m for this step."""
        market = self.markets[m]
        row = self.timeline[step, m]
        mark = market.mark_price
        row["time"] = time
        row["index_price"] = self.index_price[market.asset]
        row["mark_price"] = mark
        row["last_price"] = market.last_price
        row["best_bid"] = bid
        row["best_ask"] = ask
        row["bid_depth_1pct_usd"], row["ask_depth_1pct_usd"] = market.depth_within(mid, 0.01)
        row["liquidity_factor"] = market.liquidity_factor
        # Open interest counted from the positions themselves, not from running totals.
        long_oi = sum(
            self.quantity[i]
            for i in self.rows_of_market[m]
            if self.side[i] > 0 and self.status[i] == OPEN
        )
        short_oi = sum(
            self.quantity[i]
            for i in self.rows_of_market[m]
            if self.side[i] < 0 and self.status[i] == OPEN
        )
        row["trader_long_open_interest"] = long_oi
        row["trader_short_open_interest"] = short_oi
        long_oi += market.hedged["long"]
        short_oi += market.hedged["short"]
        for holder in ("taker", "fund", "backstop"):
            held = market.quantity[holder]
            if held > 0.0:
                long_oi += held
            else:
                short_oi -= held
        row["long_open_interest"] = long_oi
        row["short_open_interest"] = short_oi
        row["liquidated_long_usd"] = self.step_liquidated[m][0]
        row["liquidated_short_usd"] = self.step_liquidated[m][1]
        row["liquidation_events"] = n_events
        row["adl_notional_usd"] = market.adl_notional_usd - adl_before
        row["insurance_fund_usd"] = self.pool_value(m, "fund")
        row["backstop_usd"] = self.pool_value(m, "backstop")
        row["funding_rate"] = self.predicted_funding(market)
        row["iterations"] = iterations

    def hedge_makers(self, market: Market) -> None:
        """Makers hedge this step's inventory change in spot: the index moves."""
        change = market.quantity["maker"] - market.maker_hedged_quantity
        if change == 0.0:
            return
        notional = change * market.mark_price
        self.spot_impact_log[market.asset] += bounded_impact(
            self.spot_impact_log[market.asset],
            -market.spec.spot_impact_share * notional / self.spot_depth[market.asset] * 0.01,
        )
        market.maker_hedged_quantity = market.quantity["maker"]

    def update_index(self, step: int) -> None:
        """Own path and spot impact, plus beta times the (lagged) market factor."""
        assets = self.setup.assets
        own = [
            math.log(self.index_path[step + 1][a] / self.index_path[0][a]) + self.spot_impact_log[a]
            for a in range(len(assets))
        ]
        factor = sum(
            asset.factor_weight * own[a]
            for a, asset in enumerate(assets)
            if asset.factor_weight != 0.0
        )
        for a, asset in enumerate(assets):
            coupling = 0.0
            if factor != 0.0:
                own_share = asset.factor_weight * own[a] if asset.factor_weight != 0.0 else 0.0
                coupling = asset.beta * (factor - own_share)
            if asset.factor_half_life_s > 0.0:
                followed = self.factor_followed[a]
                coupling = followed + (coupling - followed) * (
                    1.0 - 0.5 ** (self.dt / asset.factor_half_life_s)
                )
            self.factor_followed[a] = coupling
            index = self.index_path[step + 1][a] * math.exp(self.spot_impact_log[a] + coupling)
            low = self.index_path[0][a] / MAX_INDEX_RATIO
            high = self.index_path[0][a] * MAX_INDEX_RATIO
            if abs(self.spot_impact_log[a]) >= math.log(100.0) * (1.0 - 1e-12):
                self.flags |= layout.STATUS_FLAG_INDEX_BOUND
            if not low <= index <= high:
                self.flags |= layout.STATUS_FLAG_INDEX_BOUND
                index = high if not index < low else low
            self.index_price[a] = index

    def step(self, step: int) -> None:
        """One time step, in the documented order."""
        time = (step + 1) * self.dt
        self.update_index(step)
        if self.holdings:
            self.revalue_collateral(step)
        for m, market in enumerate(self.markets):
            market.previous_mark_price = market.mark_price
            market.step_taker_flow_usd = 0.0
            market.step_fill_count = 0
            self.reprice_quotes(market)
            if self.taker_flow[step][m] != 0.0:
                self.exogenous_flow(m, self.taker_flow[step][m])
        for m in range(len(self.markets)):
            self.arbitrage(m)
        if self.flow is not None and self.flow.n_rows:
            for m in range(len(self.markets)):
                self.open_arrivals(time, m)
        # A cross account's closes land in their own markets' rows, so every market is
        # recorded once all markets have run.
        self.step_liquidated = [[0.0, 0.0] for _ in self.markets]
        adl_before = [market.adl_notional_usd for market in self.markets]
        iterations = [0] * len(self.markets)
        events_before = len(self.events)
        for m, market in enumerate(self.markets):
            if self.liquidations_enabled:
                iterations[m] = self.fixed_point(time, m)
            market.mark_price = self.current_mark(time, market)
            self.unwind(m, "fund")
            self.unwind(m, "backstop")
            self.hedge_makers(market)
            self.refresh_book(market)
            index = self.index_price[market.asset]
            bid = market.best_bid()
            ask = market.best_ask()
            mid = 0.5 * (bid + ask) if bid > 0.0 and ask < math.inf else market.last_price
            market.premium_sum += (mid - index) / index * self.dt
            market.premium_time += self.dt
            market.mark_price = self.current_mark(time, market)
            self.pay_funding(time, market)
            alpha = self.dt / (market.spec.basis_average_s + self.dt)
            market.basis_average += alpha * ((mid - index) - market.basis_average)
        for m, market in enumerate(self.markets):
            self.cover_deficits(m)
            if self.flow is not None and self.flow.n_rows:
                self.record_flow_liquidations(m)
            if market.spec.fund_drawdown_trigger > 0.0 and market.pools["fund"] == m:
                equity = self.pool_value(m, "fund")
                peak, since = market.fund_peak
                if equity >= peak or time - since > market.spec.fund_drawdown_window_s:
                    market.fund_peak = (equity, time)
            bid = market.best_bid()
            ask = market.best_ask()
            mid = 0.5 * (bid + ask) if bid > 0.0 and ask < math.inf else market.last_price
            n_events = sum(1 for event in self.events[events_before:] if event[1] == m)
            self.record_step(step, time, m, mid, bid, ask, iterations[m], n_events, adl_before[m])

    def outputs(self) -> dict:
        """The run's outcome as numpy arrays; positions in the setup's original rows."""
        n = len(self.original_row)
        quantity = np.zeros(n)
        margin_out = np.zeros(n)
        status = np.zeros(n, dtype=np.int8)
        side_out = np.zeros(n, dtype=np.int8)
        entry_out = np.zeros(n)
        for i, row in enumerate(self.original_row):
            side_out[row] = self.side[i]
            entry_out[row] = self.entry[i]
            quantity[row] = self.quantity[i]
            margin_out[row] = self.margin[i]
            status[row] = self.status[i]
        agents = {}
        for name in AGENTS:
            agents[f"{name}_cash"] = np.asarray([mk.cash[name] for mk in self.markets])
            agents[f"{name}_quantity"] = np.asarray([mk.quantity[name] for mk in self.markets])
        for name in (
            "fees_usd",
            "bad_debt_usd",
            "adl_notional_usd",
            "funding_per_unit",
            "mark_price",
            "last_price",
            "passive_entry_price",
        ):
            agents[name] = np.asarray([getattr(mk, name) for mk in self.markets])
        agents["adl_count"] = np.asarray([mk.adl_count for mk in self.markets], dtype=np.int64)
        books = []
        for mk in self.markets:
            ticks = list(mk.window())
            books.append(
                {
                    "origin_tick": mk.origin,
                    "bids": np.asarray([mk.bids[t] for t in ticks]),
                    "asks": np.asarray([mk.asks[t] for t in ticks]),
                }
            )
        return {
            "events": np.asarray(self.events, dtype=layout.LIQUIDATION_EVENT_DTYPE)
            if self.events
            else np.zeros(0, dtype=layout.LIQUIDATION_EVENT_DTYPE),
            "timeline": self.timeline,
            "agents": agents,
            "index_price": np.asarray(self.index_price),
            "account_wallet": np.asarray(self.account_wallet),
            "account_liquidated": np.asarray(self.account_liquidated),
            "quantity": quantity,
            "margin": margin_out,
            "status": status,
            "flags": self.flags,
            "books": books,
            "adl_fund_equity": list(self.adl_fund_equity),
            "backstop_adl": list(self.backstop_adl),
            "collateral_repriced_usd": self.collateral_repriced,
            "flow_deposited_usd": self.deposited,
            "flow_opened_time": np.asarray(getattr(self, "opened_time", [])),
            "side": side_out,
            "entry": entry_out,
        }


def bounded_impact(impact_so_far: float, impact: float) -> float:
    """Log impact limited so the cumulative spot impact stays within +-ln(100)."""
    bound = math.log(100.0)
    if impact_so_far + impact < -bound:
        return -bound - impact_so_far
    if impact_so_far + impact > bound:
        return bound - impact_so_far
    return impact


def adl_score(
    rule: str, side: int, quantity: float, entry_price: float, margin_usd: float, mark: float
) -> float:
    """ADL priority of a position (higher is closed first); -1.0 when not profitable."""
    pnl = side * quantity * (mark - entry_price)
    equity = margin_usd + pnl
    if pnl <= 0.0 or margin_usd <= 0.0 or equity <= 0.0:
        return -1.0
    notional = quantity * mark
    if rule == "pnl_leverage":
        return (pnl / margin_usd) * (notional / equity)
    if side > 0:
        return (mark / entry_price) * (notional / equity)
    return (entry_price / mark) * (notional / equity)


def reference_run(setup: EngineSetup, liquidations_enabled: bool = True) -> dict:
    """Run one path of ``setup`` through the pure-Python reference.

    Returns
    -------
    dict with
        events : LIQUIDATION_EVENT_DTYPE array, ``position`` as the setup's original row
            (-1 for the hedged aggregate);
        timeline : TIMELINE_DTYPE array (n_steps, n_markets);
        agents : dict of float64 arrays (n_markets,), each agent's final cash (USD) and
            quantity (base units), fees, bad debt, ADL totals, funding per unit, prices;
        account_wallet : float64 (n_accounts,) USD released to wallets;
        account_liquidated : bool (n_accounts,);
        quantity, margin : float64 (n_positions,) final, by original row;
        status : int8 (n_positions,) STATUS_* (never STATUS_WATCHED), by original row;
        flags : int, STATUS_FLAG_* bits;
        books : per market, final ``origin_tick`` and ``bids``/``asks`` over the window;
        adl_fund_equity : per ADL start, (market, fund equity at mark USD, loss to cover USD).
    """
    engine = ReferenceEngine(setup, liquidations_enabled)
    for step in range(setup.n_steps):
        engine.step(step)
    return engine.outputs()
