"""Data layout shared by every kernel: codes, structured dtypes and state tuples.

All engine state is struct-of-arrays held in ``NamedTuple``s of numpy arrays, so that numba
compiles each kernel once per array signature (no ``jitclass``), state pickles to Dask
workers, and every array carries a market dimension from the start: a single-market run is
simply ``n_markets == 1``.

Units: prices in USD per base unit, quantities in base units (BTC, ETH, ...), money in USD,
time in seconds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# --- position side -------------------------------------------------------------------------
LONG = 1
SHORT = -1

# --- position status -----------------------------------------------------------------------
STATUS_OPEN = 0  # open, tracked by its sorted-threshold group pointer
STATUS_WATCHED = 1  # open, crossed its conservative threshold, rechecked exactly each step
STATUS_LIQUIDATED = 2  # closed by the liquidation engine (book, insurance or backstop)
STATUS_DELEVERAGED = 3  # closed by auto-deleveraging as the profitable counterparty
STATUS_PENDING = 4  # a position of the opening flow that has not opened yet (see Flow)

# --- liquidation event kinds ---------------------------------------------------------------
KIND_BOOK = 0  # liquidation order filled in the order book
KIND_INSURANCE = 1  # unfilled rest taken over by the insurance fund at the bankruptcy price
KIND_BACKSTOP = 2  # position and collateral taken over by the backstop vault
KIND_ADL = 3  # liquidated rest closed at the bankruptcy price against ADL counterparties
KIND_ADL_COUNTERPARTY = 4  # a profitable opposite position closed by auto-deleveraging
KIND_NETTED = 5  # hedge mode: closed against the account's own opposite position at the mark
KIND_NAMES = ("book", "insurance", "backstop", "adl", "adl_counterparty", "netted")
# The kinds that are liquidations of the position they close (what venues and aggregators
# count); ADL counterparties and netted hedge legs are closed without being liquidated.
LIQUIDATION_KINDS = (KIND_BOOK, KIND_INSURANCE, KIND_BACKSTOP, KIND_ADL)

# --- venue rule codes ----------------------------------------------------------------------
MARK_BINANCE = 0  # median(index*(1+F*tau/interval), index + basis average, last)
MARK_HYPERLIQUID = 1  # median(index + basis average, median(bid, ask, last), index)
MARK_INDEX = 2  # oracle/index price only (dYdX v4)
MARK_INDEX_BASIS = 3  # index + basis average (Bybit, OKX)
MARK_RULE_NAMES = ("binance", "hyperliquid", "index", "index_basis")

PARTIAL_NONE = 0
PARTIAL_TIER_STEP_DOWN = 1  # reduce to the lower tier's notional limit first (Bybit, OKX, Binance)
PARTIAL_CHUNKS = 2  # fixed fraction of a large position per attempt, with a cooldown (Hyperliquid)
PARTIAL_MODE_NAMES = ("none", "tier_step_down", "chunks")

LIMIT_BANKRUPTCY = 0  # IOC limited at the bankruptcy price (Binance, Bybit, OKX)
LIMIT_SLIPPAGE = 1  # market order limited at mark * (1 -/+ slippage limit) (Hyperliquid)
LIMIT_FILLABLE = 2  # limited at the fillable price, mark -/+ SMMR x MMF x ABR (dYdX v4)
LIMIT_MODE_NAMES = ("bankruptcy", "slippage", "fillable")

TAKEOVER_INSURANCE = 0  # insurance fund takes the unfilled rest at the bankruptcy price
TAKEOVER_BACKSTOP = 1  # backstop vault takes position and collateral below a fraction of MM
TAKEOVER_NONE = 2  # unfilled rest is deleveraged directly
TAKEOVER_NEGATIVE_EQUITY = 3  # rest retried while equity >= 0; then fund, then ADL (dYdX v4)
TAKEOVER_NAMES = ("insurance", "backstop", "none", "negative_equity")

ADL_PRICE_BANKRUPTCY = 0  # counterparties closed at the bankruptcy price (Binance, Bybit, dYdX)
ADL_PRICE_MARK = 1  # at the current mark price (OKX)
ADL_PRICE_PREVIOUS_MARK = 2  # at the previous step's mark price (Hyperliquid)
ADL_PRICE_NAMES = ("bankruptcy", "mark", "previous_mark")

ADL_RANK_PNL_LEVERAGE = 0  # PnL% on margin x effective leverage (Binance, Bybit, OKX)
ADL_RANK_HYPERLIQUID = 1  # (mark/entry) x (notional/equity), inverted for shorts
ADL_RANK_NAMES = ("pnl_leverage", "hyperliquid")

CROSS_ORDER_LARGEST_MAINTENANCE = 0  # close the position with the largest maintenance first
CROSS_ORDER_LARGEST_LOSS = 1  # close the position with the largest unrealised loss first
CROSS_ORDER_NAMES = ("largest_maintenance", "largest_loss")

# What a cross account liquidated in hedge mode (a long and a short in one market) does first.
HEDGE_EACH_SIDE = 0  # each side is closed as a position of its own (Binance)
HEDGE_NET_FIRST = 1  # the overlap is closed against itself at the mark, then the net (Bybit)
HEDGE_LIQUIDATION_NAMES = ("each_side", "net_first")

# What maintenance margin is computed on, and where the tier is read (see engine/margin.py).
MM_BASIS_MARK = 0  # notional at the mark, tier by that notional (Binance, Hyperliquid, dYdX)
MM_BASIS_ENTRY = 1  # entry value, tier (risk limit) fixed at entry (Bybit)
MM_BASIS_MARK_FEE = (
    2  # (MMR + liquidation fee) x notional at mark, no deduction, tier by size (OKX)
)
MM_BASIS_NAMES = ("mark", "entry", "mark_with_fee")

BANKRUPTCY_EXACT = 0  # the bankruptcy price as computed
BANKRUPTCY_TICK_AGAINST_TRADER = 1  # rounded to the tick: longs up, shorts down (Bybit)
BANKRUPTCY_ROUNDING_NAMES = ("exact", "tick_against_trader")

# --- kernel status flags (bit mask returned by the step loop) ------------------------------
STATUS_FLAG_ITERATION_CAP = 1  # the liquidation fixed point hit its iteration cap in a step
STATUS_FLAG_BOOK_EXHAUSTED = 2  # a walk reached the price floor with quantity unfilled
STATUS_FLAG_BAD_DEBT = 4  # a loss exceeded the insurance fund and ADL capacity
STATUS_FLAG_FLOW_EXHAUSTED = 8  # a market's opening flow used its last pre-drawn row
STATUS_FLAG_WALK_CAP = 16  # a walk stopped after MAX_WALK_WINDOW_SHIFTS window moves, unfilled
STATUS_FLAG_INDEX_BOUND = 32  # an index reached MAX_INDEX_RATIO (or its inverse) times its start

# Watch-list entries per block (a power of two): small enough that an entry crossed by the
# mark makes only its own few neighbours be read, large enough that a market's blocks are
# passed over in a few hundred comparisons.
WATCH_BLOCK_BITS = 5

LIQUIDATION_EVENT_DTYPE = np.dtype(
    [
        ("time", np.float64),  # seconds since the start of the run
        ("market", np.int32),
        ("account", np.int64),
        ("position", np.int64),  # row in the position arrays; -1 for aggregate agents
        ("side", np.int8),  # +1 long, -1 short (side of the position being closed)
        ("kind", np.int8),  # KIND_* code
        ("quantity", np.float64),  # base units closed by this event
        ("notional", np.float64),  # USD, quantity x fill price
        ("fill_price", np.float64),  # USD, VWAP of this event's fills
        ("bankruptcy_price", np.float64),  # USD
        ("mark_price", np.float64),  # USD, mark at the trigger
        # The closed position as it stood just before this event's close (see
        # orders.event_figures); NaN for aggregate agents (position -1).
        ("entry_price", np.float64),  # USD, its entry price
        ("liquidation_price", np.float64),  # USD, at its margin net of funding
        ("equity_usd", np.float64),  # USD, margin net of funding + PnL at mark_price
        ("leverage", np.float64),  # quantity x mark_price / that margin; inf when <= 0
    ]
)

TIMELINE_DTYPE = np.dtype(
    [
        ("time", np.float64),  # seconds, end of step
        ("index_price", np.float64),
        ("mark_price", np.float64),
        ("last_price", np.float64),
        ("best_bid", np.float64),
        ("best_ask", np.float64),
        ("bid_depth_1pct_usd", np.float64),  # USD resting within 1 % below mid
        ("ask_depth_1pct_usd", np.float64),  # USD resting within 1 % above mid
        ("liquidity_factor", np.float64),  # market makers' quoting scale, 1 = normal
        ("long_open_interest", np.float64),  # base units, all longs (hedged pool gross)
        ("short_open_interest", np.float64),  # base units, all shorts (hedged pool gross)
        ("trader_long_open_interest", np.float64),  # base units, leveraged traders' longs
        ("trader_short_open_interest", np.float64),  # base units, leveraged traders' shorts
        ("liquidated_long_usd", np.float64),  # this step
        ("liquidated_short_usd", np.float64),  # this step
        ("liquidation_events", np.int64),  # liquidation event-log rows written this step
        ("adl_notional_usd", np.float64),  # this step
        ("insurance_fund_usd", np.float64),  # fund cash + inventory at mark
        ("backstop_usd", np.float64),  # backstop vault cash + inventory at mark
        ("funding_rate", np.float64),  # fraction per interval, last settled or predicted
        ("iterations", np.int32),  # liquidation fixed-point iterations used this step
    ]
)


# A record dtype is part of every kernel's type: each distinct subarray size would compile
# the whole engine again (minutes). Tier tables and books are therefore stored in subarrays
# of a fixed capacity, of which the first ``tier_count`` tiers and ``book_levels`` levels are
# used; only a table or a book larger than these compiles a second engine.
TIER_CAPACITY = 128  # OKX's longest published table has 99 tiers
BOOK_CAPACITY = 4096  # the default book window


def capacity(n: int, minimum: int) -> int:
    """``minimum`` if ``n`` fits in it, else the next power of two: few distinct sizes."""
    if n <= minimum:
        return minimum
    return 1 << (int(n) - 1).bit_length()


def market_params_dtype(n_tiers: int) -> np.dtype:
    """Record of one market's static parameters; tier tables are fixed-size subarrays.

    The subarrays hold :func:`capacity` (``n_tiers``, :data:`TIER_CAPACITY`) tiers, of which
    each market uses its ``tier_count``. Kernels read ``params[m].field``; Python code may
    view the array as a ``np.recarray`` and read whole columns (``params.tick_size``,
    ``params.tier_mmr`` of shape (n_markets, tier capacity)).
    """
    n_tiers = capacity(n_tiers, TIER_CAPACITY)
    return np.dtype(
        [
            ("asset", np.int64),  # index into the asset arrays
            ("tick_size", np.float64),  # USD, spacing of book levels
            ("depth_1pct_usd", np.float64),  # USD resting within 1 % of mid, per side
            ("depth_shape", np.float64),  # cumulative depth ~ (distance/1 %) ** shape
            ("resilience_half_life_s", np.float64),  # s, refill of depleted levels
            ("withdrawal_half_life_s", np.float64),  # s, cancellation of quotes above target
            ("withdrawal_vol_sensitivity", np.float64),  # per unit of excess volatility ratio
            ("withdrawal_flow_sensitivity", np.float64),  # per unit of one-sided flow / depth
            ("liquidity_floor", np.float64),  # fraction, smallest quoting scale
            ("baseline_volatility", np.float64),  # calm std of 1-s log returns
            ("stress_half_life_s", np.float64),  # s, EWMA horizon of volatility and flow
            ("mark_rule", np.int64),  # MARK_* code
            ("basis_average_s", np.float64),  # s, centre of mass of the basis average
            ("funding_interval_s", np.float64),  # s, time between settlements (paid each)
            ("funding_premium_period_s", np.float64),  # s, period P, I and the clamp are quoted for
            ("funding_interest_rate", np.float64),  # fraction per premium period
            ("funding_clamp", np.float64),  # fraction per premium period, on (interest - premium)
            ("funding_cap", np.float64),  # fraction per interval, cap on |rate paid|
            ("funding_rate_initial", np.float64),  # fraction per interval, predicted rate at start
            ("time_to_first_funding_s", np.float64),  # s
            ("quote_anchor_half_life_s", np.float64),  # s, makers' pull of quotes to the index
            ("arbitrage_band", np.float64),  # fraction of index, no-trade band
            ("arbitrage_capacity_usd_per_s", np.float64),  # USD/s
            ("spot_impact_share", np.float64),  # fraction of arbitrage notional hedged in spot
            ("partial_mode", np.int64),  # PARTIAL_* code
            ("limit_mode", np.int64),  # LIMIT_* code
            ("takeover_mode", np.int64),  # TAKEOVER_* code
            ("adl_rank_rule", np.int64),  # ADL_RANK_* code
            ("liquidation_fee_rate", np.float64),  # fraction of notional, to the insurance fund
            ("slippage_limit", np.float64),  # fraction of mark, for LIMIT_SLIPPAGE orders
            ("chunk_fraction", np.float64),  # share of a large position per chunk
            ("chunk_min_notional_usd", np.float64),  # USD, positions above this go in chunks
            ("chunk_cooldown_s", np.float64),  # s
            ("backstop_equity_fraction", np.float64),  # backstop when equity < this x MM
            ("fund_unwind_usd_per_s", np.float64),  # USD/s the fund/backstop sells into the book
            ("passive_leverage", np.float64),  # leverage of the hedged counterparty for ADL rank
            ("cross_close_order", np.int64),  # CROSS_ORDER_* code: a cross account's close order
            ("hedge_liquidation", np.int64),  # HEDGE_* code: a hedge-mode account's first close
            ("adl_price_rule", np.int64),  # ADL_PRICE_* code
            ("fund_pool", np.int64),  # market whose record holds this market's fund cash
            ("backstop_pool", np.int64),  # market whose record holds its backstop vault's cash
            ("fund_drawdown_trigger", np.float64),  # ADL when the fund is this far below its peak
            ("fund_drawdown_window_s", np.float64),  # s, how long a fund peak counts
            ("fund_notional_cap_ratio", np.float64),  # fund inventory <= this x its equity (0: no)
            ("fillable_spread_ratio", np.float64),  # SMMR of the fillable price
            ("fillable_bankruptcy_adjustment", np.float64),  # BA of the fillable price
            ("mm_basis", np.int64),  # MM_BASIS_* code: what maintenance margin is computed on
            ("bankruptcy_rounding", np.int64),  # BANKRUPTCY_* code
            ("tier_price_usd", np.float64),  # USD/base unit of the floors of a size-tiered table
            # K > 0: an inverse market run as a linear one in x = K / USD price, every money
            # figure of it in its coin (cascadesim.model.contracts); 0: a linear market
            ("reciprocal_scale", np.float64),
            ("tier_count", np.int64),  # number of valid tiers
            ("tier_floor_usd", np.float64, (n_tiers,)),  # USD notional lower bounds
            ("tier_mmr", np.float64, (n_tiers,)),  # maintenance margin rates
            ("tier_maintenance_amount", np.float64, (n_tiers,)),  # USD deductions
            ("tier_max_leverage", np.float64, (n_tiers,)),  # per tier
        ]
    )


ASSET_STATE_DTYPE = np.dtype(
    [
        ("spot_depth_1pct_usd", np.float64),  # USD of spot liquidity within 1 % of the index
        ("beta", np.float64),  # sensitivity of the log index to the market factor
        ("factor_weight", np.float64),  # weight of this asset's own log moves in the factor
        ("factor_half_life_s", np.float64),  # s, lag with which the index follows the factor
        ("factor_followed", np.float64),  # log coupling to the factor reached so far
        ("index_price", np.float64),  # USD, current index
        ("spot_impact_log", np.float64),  # cumulative log impact of arbitrage hedges on spot
    ]
)


class Positions(NamedTuple):
    """Leveraged trader positions, one row each, sorted by (market, side, tier, threshold).

    ``liquidation_price`` is the tier-aware liquidation price at zero accumulated funding;
    ``tier`` is the tier that applies at that price. Longs are sorted by descending
    liquidation price and shorts by ascending, so each group's pointer moves forward.
    """

    market: np.ndarray  # int32
    account: np.ndarray  # int64
    side: np.ndarray  # int8, +1 long / -1 short
    quantity: np.ndarray  # float64 base units, > 0 while open
    entry_price: np.ndarray  # float64 USD
    margin: np.ndarray  # float64 USD isolated margin (funding excluded)
    liquidation_price: np.ndarray  # float64 USD, at zero accumulated funding
    tier: np.ndarray  # int8, tier at the liquidation price
    status: np.ndarray  # int8 STATUS_* code
    cross: np.ndarray  # bool, position of a cross-margin account (see CrossAccounts)


class Groups(NamedTuple):
    """Sorted-threshold groups: one per (market, side, tier), id = (m*2 + s)*n_tiers + t.

    ``side`` slot 0 is long, 1 is short. Positions of group g are rows
    ``start[g]:end[g]``; ``pointer[g]`` is the first row not yet crossed.
    """

    start: np.ndarray  # int64
    end: np.ndarray  # int64
    pointer: np.ndarray  # int64


def market_state_dtype(n_levels: int) -> np.dtype:
    """Record of one market's mutable state, its book rows and the aggregate agents' accounts.

    The book is two subarrays of base-unit quantities holding :func:`capacity` (``n_levels``,
    :data:`BOOK_CAPACITY`) levels, of which the first ``book_levels`` are the book; level
    ``k`` sits at price ``(origin_tick + k) * tick_size``. Make one with
    :func:`empty_market_state`, which sets ``book_levels``.
    """
    n_levels = capacity(n_levels, BOOK_CAPACITY)
    return np.dtype(
        [
            ("last_price", np.float64),  # USD
            ("previous_mark_price", np.float64),  # USD, mark at the end of the previous step
            ("fund_peak_usd", np.float64),  # USD, fund equity's running peak (drawdown trigger)
            ("fund_peak_time", np.float64),  # s, when that peak was set
            ("previous_last_price", np.float64),  # USD, last price at the end of the previous step
            ("mark_price", np.float64),  # USD
            ("basis_average", np.float64),  # USD, EMA of mid - index
            ("premium_sum", np.float64),  # time-weighted premium since last settlement
            ("premium_time", np.float64),  # s accumulated into premium_sum
            ("funding_per_unit", np.float64),  # USD per base unit paid by longs so far
            ("funding_rate", np.float64),  # last settled rate (predicted before the first)
            ("next_funding_time", np.float64),  # s
            ("liquidity_factor", np.float64),  # market makers' quoting scale, 1 = normal
            ("volatility", np.float64),  # EWMA std of 1-s log returns of last price
            ("flow_imbalance", np.float64),  # EWMA of signed taker flow / depth within 1 %
            ("step_taker_flow_usd", np.float64),  # signed taker USD this step (+ buys)
            ("centre_price", np.float64),  # USD, where market makers centre their quotes
            ("quote_index", np.float64),  # USD, index at which the quotes were last repriced
            ("step_fill_count", np.int64),  # book fills in market m this step
            ("origin_tick", np.int64),  # tick number of book level 0
            ("bid_top_level", np.int64),  # no bids rest above this level
            ("ask_bottom_level", np.int64),  # no asks rest below this level
            ("quiet_steps", np.int64),  # steps since the book was last disturbed
            ("bid_depth_1pct_usd", np.float64),  # USD within 1 % below mid, last computed
            ("ask_depth_1pct_usd", np.float64),  # USD within 1 % above mid, last computed
            ("profile_price", np.float64),  # USD, centre price the USD profile was tabulated at
            ("book_levels", np.int64),  # levels of the subarrays below that are the book
            ("profile_usd", np.float64, (n_levels,)),  # target USD at 1..n ticks away
            ("bids", np.float64, (n_levels,)),  # base units resting per level
            ("asks", np.float64, (n_levels,)),  # base units resting per level
            ("maker_cash", np.float64),  # USD, market makers
            ("maker_quantity", np.float64),  # base units
            ("maker_hedged_quantity", np.float64),  # base units of it already hedged in spot
            ("passive_cash", np.float64),  # USD, hedged counterparty / arbitrageurs
            ("passive_quantity", np.float64),  # base units
            ("passive_entry_price", np.float64),  # USD, average entry of the passive position
            ("taker_cash", np.float64),  # USD, the exogenous aggressive trader (sell programme)
            ("taker_quantity", np.float64),  # base units
            ("fund_cash", np.float64),  # USD, insurance fund
            ("fund_quantity", np.float64),  # base units of taken-over inventory
            ("backstop_cash", np.float64),  # USD, backstop vault
            ("backstop_quantity", np.float64),  # base units
            ("fees_usd", np.float64),  # USD of liquidation fees collected (inside fund_cash)
            ("bad_debt_usd", np.float64),  # USD of losses beyond the fund and ADL
            ("adl_count", np.int64),  # counterparty positions deleveraged
            ("adl_notional_usd", np.float64),  # USD
            ("trader_long_quantity", np.float64),  # base units held long by traders
            ("trader_short_quantity", np.float64),  # base units held short by traders
            ("hedged_long_quantity", np.float64),  # base units, gross longs of the hedged pool
            ("hedged_short_quantity", np.float64),  # base units, gross shorts of the hedged pool
        ]
    )


def empty_market_state(n_markets: int, n_levels: int) -> np.recarray:
    """Zeroed market state records with books of ``n_levels`` levels (``state[m].bids[:n]``)."""
    state = np.zeros(n_markets, dtype=market_state_dtype(n_levels)).view(np.recarray)
    state.book_levels = n_levels
    return state


class CrossAccounts(NamedTuple):
    """Cross-margin accounts: one wallet over positions in several markets of one venue.

    Each cross account has a slot; its open positions are rows
    ``rows[offsets[slot]:offsets[slot + 1]]`` (at most one per market). Its wallet is spread
    over the positions' ``margin`` columns, so each position's own liquidation price is a
    conservative bound for the account: the account cannot fall to its summed maintenance
    margin before one of its positions falls to its own, and only then is the account
    checked exactly. Isolated accounts have slot -1 and cost 4 bytes each.
    """

    slot: np.ndarray  # int32 (n_accounts,), cross slot of each account, -1 when isolated
    offsets: np.ndarray  # int64 (n_cross + 1,)
    rows: np.ndarray  # int32 (n_cross_positions,), position rows of each cross account
    ready_time: np.ndarray  # float64 (n_cross,) s, end of a liquidation cooldown


class Flow(NamedTuple):
    """Positions that open during the run: pre-drawn rows and each market's opening rate.

    Market m's flow rows are position rows ``start[m]:end[m]``, placed right after its sorted
    rows (outside every sorted group) with status ``STATUS_PENDING``; ``pointer[m]`` is the
    next one to open. Their draws are ``arrival``, ``side_draw``, ``notional_usd`` and
    ``leverage`` at ``first[m] + (row - start[m])``. Row k opens when the market's
    accumulated intensity (expected arrivals) passes ``arrival[k]``, a running sum of unit
    exponentials: the time change of a Poisson process whose rate follows the market.

    Rate of market m (arrivals per second) at a step:
    ``base_rate * (1 + activity_gain * activity / sigma_step)`` opening fresh positions, long
    with probability ``1 / (1 + exp(-(long_bias + momentum * trend)))``, plus re-entries
    ``reentry_share * liquidated_usd_per_s / mean_notional_usd`` per side, on the side that
    was liquidated. ``activity`` is an average of the mark's absolute log return per step,
    ``trend`` the mark's log distance from its slow average over ``trend_scale``.
    """

    start: np.ndarray  # int64 (n_markets,) first flow row of each market
    end: np.ndarray  # int64 (n_markets,)
    pointer: np.ndarray  # int64 (n_markets,) next row to open
    first: np.ndarray  # int64 (n_markets,) index of start[m]'s draws
    arrival: np.ndarray  # float64 (n_flow,) cumulative unit exponentials per market
    side_draw: np.ndarray  # float64 (n_flow,) uniform [0, 1)
    notional_usd: np.ndarray  # float64 (n_flow,) USD at opening
    leverage: np.ndarray  # float64 (n_flow,) initial leverage
    opened_time: np.ndarray  # float64 (n_flow,) s, when the row opened (NaN: never)
    base_rate: np.ndarray  # float64 (n_markets,) fresh openings per second in a calm market
    activity_gain: np.ndarray  # float64 (n_markets,)
    sigma_step: np.ndarray  # float64 (n_markets,) calm absolute log return per step
    activity_keep: np.ndarray  # float64 (n_markets,) weight of the old average per step
    trend_keep: np.ndarray  # float64 (n_markets,)
    trend_scale: np.ndarray  # float64 (n_markets,) log distance counted as one unit of trend
    long_bias: np.ndarray  # float64 (n_markets,)
    momentum: np.ndarray  # float64 (n_markets,)
    reentry_share: np.ndarray  # float64 (n_markets,) liquidated notional that re-enters
    reentry_keep: np.ndarray  # float64 (n_markets,)
    mean_notional_usd: np.ndarray  # float64 (n_markets,) mean of the flow's notional draws
    intensity: np.ndarray  # float64 (n_markets,) accumulated expected arrivals
    activity: np.ndarray  # float64 (n_markets,)
    trend_level: np.ndarray  # float64 (n_markets,) slow average of the log mark
    last_log_mark: np.ndarray  # float64 (n_markets,)
    reentry_long_usd: np.ndarray  # float64 (n_markets,) average long liquidations, USD/s
    reentry_short_usd: np.ndarray  # float64 (n_markets,)
    deposited_usd: np.ndarray  # float64 (1,) margin brought in by opened rows (outside money)


class Collateral(NamedTuple):
    """Cross accounts whose margin is a basket of coins valued at each venue's own price.

    Collateral account c is cross slot ``slot[c]``; its holdings are rows
    ``offsets[c]:offsets[c + 1]`` of ``feed`` and ``units``. A feed is one coin on one venue.
    Its USD price at step row r is ``factor[r, f]`` times the index of asset
    ``feed_asset[f]`` (a coin that is a simulated asset), or times ``feed_price[f]`` when
    ``feed_asset[f]`` is -1; a factor below 1 is that venue's own price below the index (a
    depeg). Of ``u`` coins held the venue counts the sum over the feed's tiers of the part
    of ``u`` inside the tier times the tier's ratio. The positions' margins hold the counted
    value at the start; each step the change of the counted value is credited to them
    (``value`` is what has been credited so far, in USD). An account stops being revalued
    (``active`` False) once it has no open position: its collateral was settled into the
    account's USD balance then. ``repriced_usd[0]`` is the money that collateral prices
    added to the traders, the ledger's outside source.
    """

    factor: np.ndarray  # float64 (n_steps + 1, n_feeds) venue price / reference price
    feed_asset: np.ndarray  # int64 (n_feeds,) asset whose index is the reference, or -1
    feed_price: np.ndarray  # float64 (n_feeds,) USD reference price of a coin not simulated
    tier_floor_units: np.ndarray  # float64 (n_feeds, n_tiers) coins where each tier starts
    tier_ratio: np.ndarray  # float64 (n_feeds, n_tiers) counted fraction inside each tier
    tier_count: np.ndarray  # int64 (n_feeds,) tiers used
    slot: np.ndarray  # int32 (n_collateral,) cross slot of each collateral account
    offsets: np.ndarray  # int64 (n_collateral + 1,)
    feed: np.ndarray  # int32 (n_holdings,) feed of each holding
    units: np.ndarray  # float64 (n_holdings,) coins held, >= 0
    value: np.ndarray  # float64 (n_collateral,) counted USD value credited so far
    active: np.ndarray  # bool (n_collateral,) revalued while the account has open positions
    repriced_usd: np.ndarray  # float64 (1,) USD credited by collateral prices so far
    feed_now: np.ndarray  # float64 (n_feeds,) scratch: each feed's price this step
    feed_moved: np.ndarray  # bool (n_feeds,) scratch: whether it moved since the last step


class Watchlist(NamedTuple):
    """Positions rechecked exactly every step (crossed, partially liquidated, deferred).

    One segment per market, so that a market's fixed point scans only its own entries:
    market m's entries are ``position[offset[m]:offset[m] + count[m]]``. Each entry carries a
    copy of its row's threshold, side and tier, so that the scan filters entries that are not
    ready or not crossed by reading the list alone, in order, without touching the position
    columns (a listed row's threshold is updated through ``entry``). An entry whose row was
    closed while listed stays until the scan reaches it ready and crossed. A row has at most
    one entry (closed rows are never listed again), so a segment as long as the market's rows
    never overflows.

    Each segment is cut into blocks of ``2**WATCH_BLOCK_BITS`` entries, each with bounds on
    its entries' thresholds (highest long, lowest short): the scan passes over a block none
    of whose entries can be crossed by reading two numbers. The bounds may be looser than
    the entries (an entry left or was re-armed further away) until the scan next reads the
    block, but never tighter.
    """

    position: np.ndarray  # int32 (n_positions,), rows (populations stay below 2**31)
    ready_time: np.ndarray  # float64 (n_positions,) s, cooldown end
    threshold: np.ndarray  # float64 (n_positions,) the row's liquidation price (zero funding)
    side: np.ndarray  # int8 (n_positions,) the row's side
    tier: np.ndarray  # int8 (n_positions,) the row's tier
    entry: np.ndarray  # int32 (n_positions,) per row: its entry while it is listed
    count: np.ndarray  # type: ignore[assignment]  # int64 (n_markets,) entries per market (shadows tuple.count)
    offset: np.ndarray  # int64 (n_markets,) first slot of each market's segment
    block_high: np.ndarray  # float64 (n_blocks,) highest long threshold in each block, or -inf
    block_low: np.ndarray  # float64 (n_blocks,) lowest short threshold in each block, or +inf
    block_offset: np.ndarray  # int64 (n_markets,) first block of each market's segment


class Scratch(NamedTuple):
    """Work buffers reused across steps so the loop never allocates per step."""

    triggered: np.ndarray  # int32 (n_positions,) rows triggered in one iteration
    adl_candidates: np.ndarray  # int32 (n_positions + 1,) ADL queue (a heap), -1 = passive
    adl_scores: np.ndarray  # float64 (n_positions + 1,) the queue's scores
    account_liquidated: np.ndarray  # bool (n_accounts,)
    account_wallet: np.ndarray  # float64 (n_accounts,) USD released to wallets
    adl_cache: np.ndarray  # int64 (5,): market, side, stamp, queue size, current stamp
    chunk_cooldown_end: np.ndarray  # float64 (n_accounts,) s, end of a user's chunk cooldown
