"""Synthetic trader populations from market aggregates.

One synthetic account per real account: the number of accounts comes out of the leveraged
open interest divided by the mean position size, so that a count like "570,876 traders
liquidated" is something the model produces rather than a scaling factor. Every array is built
with vectorised numpy from a ``np.random.Generator`` seeded by ``SeedSequence(seed)``; each
market draws from its own spawned child stream, so adding a market leaves the other markets'
populations unchanged.

Modelling choices (each is a documented assumption, not a calibration to account-level data,
which no exchange publishes):

Long share from funding
    The long share ``s`` is the fraction of the leveraged population's notional held long.
    Funding is first put on an 8-hour basis (``rate * 28800 / interval_s``), then
    ``s = 0.5 + 0.5 * (rate_8h - 0.0001) / 0.0005``, clipped to [0.15, 0.85]. 0.01 % per 8 h is
    the interest-rate floor that Binance, Bybit and Hyperliquid pay when the perp trades at
    the index, so it maps to a balanced book; each further 0.05 % (the width of the premium
    clamp, i.e. a perp persistently a full clamp above the index) adds 25 percentage points of
    longs. So 0.03 % gives 0.70, 0.05 % gives 0.80 and anything from 0.045 % up saturates at
    0.85; negative funding crowds the shorts symmetrically. The clip keeps both sides
    populated: even the most one-sided days of ``shared/events`` had 4-23 % of liquidations
    on the short side.

Leveraged share of open interest
    ``f`` is the share of all position notional (long plus short, counted on both sides) held
    by the leveraged, liquidatable population: it holds ``2 f s OI`` long and
    ``2 f (1 - s) OI`` short. The hedged rest (market makers, basis traders) is the engine's
    aggregate passive agent, which holds only the net difference, so the crowded side may not
    exceed the open interest: ``2 f max(s, 1 - s) <= 1`` (checked when the scenario loads).

Position sizes
    Notional at the start price in USD: a lognormal body (``median_usd``, ``body_log_std``)
    whose upper ``tail_share`` of accounts is replaced by a Pareto tail (``tail_alpha``)
    starting at the body's ``1 - tail_share`` quantile and truncated at ``max_usd``. With the
    defaults (median 2,500 USD, log-std 1.5, 5 % tail, alpha 1.5, max 60 M USD) the mean is
    about 8,600 USD, so 5 billion USD of leveraged notional is ~580,000 accounts and the
    largest draws are in the tens of millions, as in ``shared/events`` (largest single
    liquidation 19.69 M USD on a day with 570,876 accounts liquidated). Sizes are rescaled per
    side so that the totals match the open interest exactly (then capped at ``max_usd``).

Leverage
    Drawn from the scenario's mix and clipped to the venue's tier maximum for the position's
    notional (the larger of the notional at entry and at the start price), as the exchange
    would have refused more when the position was opened.

Entries and survivorship
    Entries are drawn around the start price (lognormal, ``spread_fraction``) or along a
    pre-event price history, uniformly in time (open interest built at a steady pace) or by
    segment weights. A position that would already be at or below its maintenance margin
    (plus a ``start_margin_cushion``) at the start price would have been liquidated before the
    event, so it is not in the population we observe: its entry is redrawn, which conditions
    the entries on survival given the leverage (the leverage mix the scenario states is the
    mix of the open positions at the start). After a few rounds the rare rest has its entry
    reflected to the profitable side of the start price, and anything still short of the
    cushion has its margin topped up (as a trader adding margin would); the number of
    top-ups is reported.

Margin mode
    A share ``isolated_share`` of each market's positions are isolated accounts of their own;
    the rest belong to cross-margin accounts on the market's venue. Cross positions of one
    venue are dealt to a pool of accounts, each market's without replacement, so an account
    holds at most one position per market; the pool is sized for
    ``CROSS_POSITIONS_PER_ACCOUNT`` positions per account on average (fewer where the venue
    lists fewer markets), an assumption: venues do not publish how many symbols a cross
    account holds. Long and short positions mix freely, so some accounts are partly hedged
    across markets. Each position keeps the margin its leverage implies; the account's
    wallet is their sum, which is what makes a cross account safer than the same positions
    isolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.model.market import PositionArrays, maintenance_vector

EIGHT_HOURS_S = 28_800.0
NEUTRAL_FUNDING_8H = 0.0001  # interest-rate floor paid when the perp trades at the index
PREMIUM_CLAMP_8H = 0.0005  # width of the premium clamp in the funding formula
LONG_SHARE_PER_CLAMP = 0.5  # long share gained per clamp width of excess funding (x 0.5 = 25 pp)
LONG_SHARE_BOUNDS = (0.15, 0.85)
ENTRY_REDRAW_ROUNDS = 6
CROSS_POSITIONS_PER_ACCOUNT = 2.0  # mean positions of a cross account, where markets allow


def long_share_from_funding(funding_rate: float, funding_interval_s: float) -> float:
    """Long share of the leveraged population's notional implied by the funding rate.

    Parameters
    ----------
    funding_rate : float, fraction per funding interval (positive: longs pay shorts)
    funding_interval_s : float, seconds between settlements

    Returns
    -------
    float, fraction in [0.15, 0.85]; see the module docstring for the mapping.
    """
    rate_8h = funding_rate * EIGHT_HOURS_S / funding_interval_s
    share = 0.5 + LONG_SHARE_PER_CLAMP * (rate_8h - NEUTRAL_FUNDING_8H) / PREMIUM_CLAMP_8H
    return float(np.clip(share, *LONG_SHARE_BOUNDS))


@dataclass(frozen=True)
class SizeDistribution:
    """Position notional at the start price (USD): lognormal body, truncated Pareto tail.

    Attributes
    ----------
    median_usd : float, median of the lognormal body, USD
    body_log_std : float, standard deviation of log(notional) in the body
    tail_share : float, fraction of accounts in the Pareto tail, in (0, 1)
    tail_alpha : float, Pareto tail exponent (> 0)
    max_usd : float, USD cap of the tail (above :attr:`tail_start_usd`)
    """

    median_usd: float = 2_500.0
    body_log_std: float = 1.5
    tail_share: float = 0.05
    tail_alpha: float = 1.5
    max_usd: float = 60e6

    @property
    def tail_quantile(self) -> float:
        """Standard-normal quantile where the body hands over to the tail."""
        return NormalDist().inv_cdf(1.0 - self.tail_share)

    @property
    def tail_start_usd(self) -> float:
        """USD notional where the Pareto tail starts."""
        return self.median_usd * math.exp(self.body_log_std * self.tail_quantile)

    def scaled(self, factor: float) -> SizeDistribution:
        """The same shape with every USD figure multiplied by ``factor``."""
        return SizeDistribution(
            self.median_usd * factor,
            self.body_log_std,
            self.tail_share,
            self.tail_alpha,
            self.max_usd * factor,
        )

    def mean_usd(self) -> float:
        """Exact mean notional (USD) of the spliced distribution."""
        sigma = self.body_log_std
        normal = NormalDist()
        body = (
            self.median_usd * math.exp(0.5 * sigma * sigma) * normal.cdf(self.tail_quantile - sigma)
        )
        start, top, alpha = self.tail_start_usd, self.max_usd, self.tail_alpha
        ratio = start / top
        if abs(alpha - 1.0) < 1e-12:
            tail = start * math.log(top / start) / (1.0 - ratio)
        else:
            tail = (
                alpha
                * start**alpha
                * (start ** (1.0 - alpha) - top ** (1.0 - alpha))
                / ((alpha - 1.0) * (1.0 - ratio**alpha))
            )
        return body + self.tail_share * tail

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` notionals (float64 USD), drawn without Python loops."""
        normal = rng.standard_normal(count)
        tail = normal > self.tail_quantile
        sizes = normal
        np.multiply(sizes, self.body_log_std, out=sizes)
        np.exp(sizes, out=sizes)
        sizes *= self.median_usd
        k = int(np.count_nonzero(tail))
        if k:
            # Inverse CDF of a Pareto truncated to [start, max_usd].
            start, alpha = self.tail_start_usd, self.tail_alpha
            mass = 1.0 - (start / self.max_usd) ** alpha
            sizes[tail] = start * (1.0 - rng.random(k) * mass) ** (-1.0 / alpha)
        return sizes


@dataclass(frozen=True)
class EntryModel:
    """Where the open interest was built.

    Attributes
    ----------
    spread_fraction : float, log-standard deviation of entries around the centre price
    history : float64 array (k, 2) or None, rows of (seconds before the start, price USD),
        oldest first (seconds strictly decreasing)
    weights : float64 array (k - 1,) or None, share of open interest built in each segment of
        the history, oldest first; None: proportional to the segment's duration
    """

    spread_fraction: float = 0.03
    history: np.ndarray | None = None
    weights: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, count: int, price: float) -> np.ndarray:
        """``count`` entry prices (float64 USD) for a market that starts at ``price`` USD."""
        noise = rng.standard_normal(count)
        noise *= self.spread_fraction
        np.exp(noise, out=noise)
        if self.history is None:
            noise *= price
            return noise
        history = np.asarray(self.history, dtype=np.float64)  # oldest first
        # The history is a shape: rescale it so that its latest price is the market's price.
        levels = history[:, 1] * (price / history[-1, 1])
        weights = (
            -np.diff(history[:, 0])
            if self.weights is None
            else np.asarray(self.weights, dtype=np.float64)
        )
        weights = weights / weights.sum()
        segment = rng.choice(weights.size, size=count, p=weights)
        position = rng.random(count)
        base = levels[segment]
        base += position * (levels[segment + 1] - base)
        noise *= base
        return noise


@dataclass(frozen=True)
class MarketPopulation:
    """What the generator needs to know about one market.

    Attributes
    ----------
    price : float, USD start price
    open_interest_usd : float, USD, one side's open interest
    long_share : float, fraction of the leveraged notional held long
    leveraged_share : float, share of all position notional held by the leveraged population
    leverage_values, leverage_weights : float64 arrays (j,), the leverage mix
    sizes : SizeDistribution
    entries : EntryModel
    tier_floor_usd, tier_mmr, tier_maintenance_amount, tier_max_leverage : float64 arrays
        the market's margin tiers (USD floors, rates, USD amounts, leverage caps)
    start_margin_cushion : float, equity must exceed (1 + cushion) x maintenance at the start
    accounts : int or None, fixed number of accounts (sizes are rescaled to the open interest)
    """

    price: float
    open_interest_usd: float
    long_share: float
    leveraged_share: float
    leverage_values: np.ndarray
    leverage_weights: np.ndarray
    sizes: SizeDistribution
    entries: EntryModel
    tier_floor_usd: np.ndarray
    tier_mmr: np.ndarray
    tier_maintenance_amount: np.ndarray
    tier_max_leverage: np.ndarray
    start_margin_cushion: float = 0.1
    accounts: int | None = None
    venue: str = ""
    isolated_share: float = 1.0
    hedged_pair_share: float = 0.0  # of the smaller side's cross positions, paired (hedge mode)
    mm_basis: int = layout.MM_BASIS_MARK
    liquidation_fee_rate: float = 0.0  # in maintenance margin on OKX's basis only

    def leveraged_notional_usd(self) -> tuple[float, float]:
        """USD notional of the leveraged longs and shorts."""
        total = 2.0 * self.leveraged_share * self.open_interest_usd
        return total * self.long_share, total * (1.0 - self.long_share)

    def size_distribution(self) -> SizeDistribution:
        """Sizes, rescaled when the number of accounts is fixed."""
        if self.accounts is None:
            return self.sizes
        long_usd, short_usd = self.leveraged_notional_usd()
        return self.sizes.scaled((long_usd + short_usd) / self.accounts / self.sizes.mean_usd())

    def account_count(self) -> int:
        """Accounts in this market: leveraged notional / mean size, at least one."""
        if self.accounts is not None:
            return self.accounts
        long_usd, short_usd = self.leveraged_notional_usd()
        return max(1, int(round((long_usd + short_usd) / self.sizes.mean_usd())))

    def maintenance_margin(self, quantity: np.ndarray, entry: np.ndarray) -> np.ndarray:
        """Maintenance margin (USD) at the start price of positions of ``quantity`` base
        units entered at ``entry`` (USD), by the market's basis."""
        return maintenance_vector(
            self.mm_basis,
            self.tier_floor_usd,
            self.tier_mmr,
            self.tier_maintenance_amount,
            self.liquidation_fee_rate,
            self.price,
            quantity,
            entry,
            self.price,
        )

    def max_leverage(self, notional: np.ndarray) -> np.ndarray:
        """Highest leverage the tier table allows for each notional (USD)."""
        tier = np.searchsorted(self.tier_floor_usd, notional, side="right") - 1
        return self.tier_max_leverage[tier]


@dataclass
class Population:
    """Generated positions and what the generator did.

    Attributes
    ----------
    positions : PositionArrays; ``cross`` marks the positions of cross-margin accounts
    n_accounts : int
    diagnostics : list of dict, per market: accounts, long share, notional, top-ups
    """

    positions: PositionArrays
    n_accounts: int
    diagnostics: list[dict] = field(default_factory=list)


def synthesize(
    markets: list[MarketPopulation], seed: int, max_accounts: int, where: str = "population"
) -> Population:
    """Draw the positions of every market.

    Parameters
    ----------
    markets : list of MarketPopulation, in market order (market index = list index)
    seed : int, root of the ``SeedSequence``; market m uses child stream m
    max_accounts : int, refuse to generate more accounts than this in total
    where : str, field path named in errors

    Returns
    -------
    Population
    """
    counts = [market.account_count() for market in markets]
    if sum(counts) > max_accounts:
        raise invalid(
            f"{where}.max_accounts",
            max_accounts,
            f"at least the {sum(counts):,} accounts the open interest needs (raise it, "
            "or lower open interest or raise account_size.median_usd)",
        )
    # Child m is market m's stream, child n the cross-account draw, child n + 1 the hedge
    # pairs: adding cross accounts or pairs leaves every market's positions as they were.
    streams = np.random.SeedSequence(seed).spawn(len(markets) + 2)
    parts, diagnostics = [], []
    offset = 0
    for m, (market, count, stream) in enumerate(zip(markets, counts, streams[:-2], strict=True)):
        part, info = synthesize_market(np.random.default_rng(stream), market, count)
        part["market"] = np.full(count, m, dtype=np.int32)
        part["account"] = np.arange(offset, offset + count, dtype=np.int64)
        offset += count
        parts.append(part)
        diagnostics.append(info)
    if len(parts) == 1:
        columns = parts[0]
    else:
        columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    cross = None
    n_accounts = offset
    if any(market.isolated_share < 1.0 for market in markets):
        cross, columns["account"], n_accounts = cross_accounts(
            np.random.default_rng(streams[-2]), markets, counts, diagnostics
        )
        if any(market.hedged_pair_share > 0.0 for market in markets):
            columns["account"], n_accounts = pair_hedged(
                np.random.default_rng(streams[-1]),
                markets,
                counts,
                columns["side"],
                cross,
                columns["account"],
                diagnostics,
            )
    positions = PositionArrays(
        market=columns["market"],
        account=columns["account"],
        side=columns["side"],
        quantity=columns["quantity"],
        entry_price=columns["entry_price"],
        margin=columns["margin"],
        cross=cross,
    )
    return Population(positions=positions, n_accounts=n_accounts, diagnostics=diagnostics)


def cross_accounts(
    rng: np.random.Generator,
    markets: list[MarketPopulation],
    counts: list[int],
    diagnostics: list[dict],
):
    """Group the non-isolated positions of each venue into cross-margin accounts.

    Positions are in market order (``counts[m]`` rows of market m). Isolated positions are
    numbered first, then each venue's cross accounts; returns (cross flags, accounts,
    number of accounts) and records per market how many positions went cross.
    """
    n = sum(counts)
    first_row = np.concatenate([[0], np.cumsum(counts)])
    cross = np.zeros(n, dtype=np.bool_)
    pool_index = np.zeros(n, dtype=np.int64)
    venues: dict[str, list[int]] = {}
    for m, market in enumerate(markets):
        venues.setdefault(market.venue, []).append(m)
        block = slice(first_row[m], first_row[m + 1])
        cross[block] = rng.random(counts[m]) >= market.isolated_share
        diagnostics[m]["cross_positions"] = int(cross[block].sum())
    account = np.zeros(n, dtype=np.int64)
    isolated = ~cross
    account[isolated] = np.arange(int(isolated.sum()), dtype=np.int64)
    next_account = int(isolated.sum())
    for members in venues.values():
        crossing = [int(cross[first_row[m] : first_row[m + 1]].sum()) for m in members]
        if sum(crossing) == 0:
            continue
        per_account = min(float(len(members)), CROSS_POSITIONS_PER_ACCOUNT)
        pool = max(max(crossing), int(math.ceil(sum(crossing) / per_account)))
        for m, size in zip(members, crossing, strict=True):
            rows = first_row[m] + np.flatnonzero(cross[first_row[m] : first_row[m + 1]])
            pool_index[rows] = rng.choice(pool, size=size, replace=False)
        rows = np.concatenate(
            [first_row[m] + np.flatnonzero(cross[first_row[m] : first_row[m + 1]]) for m in members]
        )
        used, compact = np.unique(pool_index[rows], return_inverse=True)
        account[rows] = next_account + compact
        next_account += used.size
    return cross, account, next_account


def pair_hedged(
    rng: np.random.Generator,
    markets: list[MarketPopulation],
    counts: list[int],
    side: np.ndarray,
    cross: np.ndarray,
    account: np.ndarray,
    diagnostics: list[dict],
):
    """Hedge mode: move some cross shorts into the accounts of cross longs of one market.

    In market m, ``hedged_pair_share`` of the smaller side's cross positions are paired: as
    many longs and shorts are drawn, and each short joins its long's account (which held no
    short there: cross accounts are dealt one position per market). Accounts left empty are
    dropped and the cross accounts renumbered in order. Returns (accounts, number of accounts).
    """
    account = account.copy()
    first_row = np.concatenate([[0], np.cumsum(counts)])
    for m, market in enumerate(markets):
        rows = first_row[m] + np.flatnonzero(cross[first_row[m] : first_row[m + 1]])
        longs = rows[side[rows] > 0]
        shorts = rows[side[rows] < 0]
        pairs = int(round(market.hedged_pair_share * min(longs.size, shorts.size)))
        diagnostics[m]["hedged_pairs"] = pairs
        if pairs == 0:
            continue
        chosen_longs = rng.choice(longs, size=pairs, replace=False)
        chosen_shorts = rng.choice(shorts, size=pairs, replace=False)
        account[chosen_shorts] = account[chosen_longs]
    isolated = int((~cross).sum())
    used, compact = np.unique(account[cross], return_inverse=True)
    account[cross] = isolated + compact
    return account, isolated + used.size


def synthesize_market(
    rng: np.random.Generator, market: MarketPopulation, count: int
) -> tuple[dict, dict]:
    """Positions of one market (without market and account columns).

    Returns
    -------
    columns : dict of arrays (count,): side int8 (+1/-1), quantity float64 base units,
        entry_price float64 USD, margin float64 USD
    info : dict of diagnostics
    """
    price = market.price
    long_usd, short_usd = market.leveraged_notional_usd()
    n_long = int(round(count * market.long_share))
    if long_usd > 0 and n_long == 0:
        n_long = 1
    if short_usd > 0 and n_long == count and count > 1:
        n_long = count - 1
    sizes = market.size_distribution()
    notional = sizes.draw(rng, count)
    for block, target in ((slice(0, n_long), long_usd), (slice(n_long, count), short_usd)):
        total = notional[block].sum()
        if total > 0:
            notional[block] *= target / total
    np.minimum(notional, sizes.max_usd, out=notional)
    side = np.full(count, -1, dtype=np.int8)
    side[:n_long] = 1
    quantity = notional
    quantity /= price  # the notional buffer becomes the quantity (base units)
    weights = np.asarray(market.leverage_weights, dtype=np.float64)
    leverage = np.asarray(market.leverage_values, dtype=np.float64)[
        rng.choice(weights.size, size=count, p=weights / weights.sum())
    ]
    entry = market.entries.draw(rng, count, price)
    margin = np.empty(count)
    ok = settle(market, side, quantity, entry, leverage, margin, slice(None))
    rows: np.ndarray = np.flatnonzero(~ok)
    del ok
    for _ in range(ENTRY_REDRAW_ROUNDS):
        if rows.size == 0:
            break
        entry[rows] = market.entries.draw(rng, rows.size, price)
        rows = rows[~settle(market, side, quantity, entry, leverage, margin, rows)]
    reflected = int(rows.size)
    if rows.size:
        entry[rows] = price * price / entry[rows]
        rows = rows[~settle(market, side, quantity, entry, leverage, margin, rows)]
    topped_up = int(rows.size)
    if rows.size:
        start_notional = quantity[rows] * price
        required = market.maintenance_margin(quantity[rows], entry[rows])
        required *= 1.0 + market.start_margin_cushion
        equity = margin[rows] + side[rows] * quantity[rows] * (price - entry[rows])
        margin[rows] += (required - equity) + 1e-9 * start_notional
    info = {
        "accounts": count,
        "long_accounts": n_long,
        "long_share": market.long_share,
        "leveraged_long_usd": float(quantity[:n_long].sum() * price),
        "leveraged_short_usd": float(quantity[n_long:].sum() * price),
        "entries_reflected": reflected,
        "margins_topped_up": topped_up,
    }
    return {"side": side, "quantity": quantity, "entry_price": entry, "margin": margin}, info


def settle(
    market: MarketPopulation,
    side: np.ndarray,
    quantity: np.ndarray,
    entry: np.ndarray,
    leverage: np.ndarray,
    margin: np.ndarray,
    rows: slice | np.ndarray,
) -> np.ndarray:
    """Clip leverage to the tiers and set the margins of ``rows``; say which start healthy.

    A position is healthy when its equity at the start price exceeds its maintenance margin
    there by the cushion. ``leverage`` and ``margin`` are updated in place at ``rows``.

    Parameters
    ----------
    market : MarketPopulation
    side : int8 array (n,), +1 long / -1 short
    quantity : float64 array (n,), base units
    entry : float64 array (n,), USD
    leverage : float64 array (n,), drawn leverage, clipped in place
    margin : float64 array (n,), USD isolated margin, written in place
    rows : slice or int array, the rows to settle

    Returns
    -------
    bool array, one per settled row
    """
    price = market.price
    quantity, entry, side = quantity[rows], entry[rows], side[rows]
    start_notional = quantity * price
    entry_notional = quantity * entry
    # The exchange caps leverage by the notional when the position was opened; the larger of
    # the two notionals gives the stricter (lower) cap.
    clipped = np.minimum(
        leverage[rows], market.max_leverage(np.maximum(start_notional, entry_notional))
    )
    leverage[rows] = clipped
    np.divide(entry_notional, clipped, out=entry_notional)  # now the initial margin, USD
    margin[rows] = entry_notional
    equity = entry_notional
    equity += side * quantity * (price - entry)
    required = market.maintenance_margin(quantity, entry)
    required *= 1.0 + market.start_margin_cushion
    return equity > required
