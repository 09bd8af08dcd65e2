"""Plain-Python descriptions of a simulation: markets, assets, positions and the shock.

These dataclasses are what :func:`cascadesim.simulate` consumes; the scenario layer (TOML and
pydantic) builds them, and tests and notebooks can build them directly. They validate their
own values and turn into the engine's struct-of-arrays with :func:`market_params`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.model.collateral import CollateralHoldings
from cascadesim.model.flow import OpeningFlow

MARK_RULES = {name: code for code, name in enumerate(layout.MARK_RULE_NAMES)}
PARTIAL_MODES = {name: code for code, name in enumerate(layout.PARTIAL_MODE_NAMES)}
LIMIT_MODES = {name: code for code, name in enumerate(layout.LIMIT_MODE_NAMES)}
TAKEOVER_MODES = {name: code for code, name in enumerate(layout.TAKEOVER_NAMES)}
ADL_RANK_RULES = {name: code for code, name in enumerate(layout.ADL_RANK_NAMES)}
CROSS_CLOSE_ORDERS = {name: code for code, name in enumerate(layout.CROSS_ORDER_NAMES)}
HEDGE_LIQUIDATIONS = {name: code for code, name in enumerate(layout.HEDGE_LIQUIDATION_NAMES)}
ADL_PRICE_RULES = {name: code for code, name in enumerate(layout.ADL_PRICE_NAMES)}
MM_BASES = {name: code for code, name in enumerate(layout.MM_BASIS_NAMES)}
BANKRUPTCY_ROUNDINGS = {name: code for code, name in enumerate(layout.BANKRUPTCY_ROUNDING_NAMES)}
CONTRACT_TYPES = {"linear": 0, "inverse": 1}

CODED_FIELDS = {
    "mark_rule": MARK_RULES,
    "partial_mode": PARTIAL_MODES,
    "limit_mode": LIMIT_MODES,
    "takeover_mode": TAKEOVER_MODES,
    "adl_rank_rule": ADL_RANK_RULES,
    "cross_close_order": CROSS_CLOSE_ORDERS,
    "hedge_liquidation": HEDGE_LIQUIDATIONS,
    "adl_price_rule": ADL_PRICE_RULES,
    "mm_basis": MM_BASES,
    "bankruptcy_rounding": BANKRUPTCY_ROUNDINGS,
    "contract": CONTRACT_TYPES,
}

# Fields that may be zero; every other numeric field must be strictly positive.
NON_NEGATIVE_FIELDS = {
    "quote_anchor_half_life_s",
    "withdrawal_vol_sensitivity",
    "withdrawal_flow_sensitivity",
    "liquidity_floor",
    "basis_average_s",
    "funding_premium_period_s",
    "funding_interest_rate",
    "funding_clamp",
    "funding_cap",
    "time_to_first_funding_s",
    "arbitrage_band",
    "arbitrage_capacity_usd_per_s",
    "spot_impact_share",
    "liquidation_fee_rate",
    "slippage_limit",
    "chunk_min_notional_usd",
    "chunk_cooldown_s",
    "backstop_equity_fraction",
    "fund_unwind_usd_per_s",
    "insurance_fund_usd",
    "backstop_usd",
    "fund_drawdown_trigger",
    "fund_notional_cap_ratio",
    "fillable_spread_ratio",
    "fillable_bankruptcy_adjustment",
    "reciprocal_scale",
}
# An inverse market in the engine's reciprocal units pays the interest component the other
# way round (cascadesim.model.contracts), so the rate may be negative there.
SIGNED_FIELDS = {"funding_rate_initial", "funding_interest_rate"}
FRACTION_FIELDS = {
    "fund_drawdown_trigger",
    "liquidity_floor",
    "spot_impact_share",
    "slippage_limit",
    "chunk_fraction",
    "backstop_equity_fraction",
    "liquidation_fee_rate",
}


@dataclass(frozen=True)
class MarketSpec:
    """One perpetual market: an asset on a venue.

    Prices in USD per base unit, money in USD, times in seconds, rates as fractions.

    ``contract = "inverse"`` makes it coin-margined: its positions' quantities are USD face
    value (contracts x ``contract_size_usd``) and their margins are in the coin, while every
    figure of this spec stays in USD (tier floors and amounts, funds, depth: coin amounts
    at ``price``). :func:`cascadesim.model.contracts.engine_space` turns such a spec into
    the linear market in x = K / price that the engine runs (``reciprocal_scale`` = K).
    """

    name: str = "BTC-binance"
    asset: str = "BTC"
    venue: str = "binance"
    price: float = 100_000.0  # USD, initial index and perp price
    # USD, one side's open interest as the venue reports it (leveraged traders and hedged
    # holders); None: only the traders' positions are open (the larger side)
    open_interest_usd: float | None = None
    tick_size: float = 10.0  # USD between simulated book levels
    depth_1pct_usd: float = 50e6  # USD resting within 1 % of mid, per side
    depth_shape: float = 1.0  # cumulative depth ~ (distance / 1 %) ** shape
    resilience_half_life_s: float = 15.0
    withdrawal_half_life_s: float = 2.0
    withdrawal_vol_sensitivity: float = 0.15
    withdrawal_flow_sensitivity: float = 5.0
    liquidity_floor: float = 0.15
    baseline_volatility: float = 1.0e-4  # std of 1-s log returns in calm markets
    stress_half_life_s: float = 30.0
    mark_rule: str = "binance"
    basis_average_s: float = 15.0
    funding_interval_s: float = 28_800.0  # s between settlements
    # s, the period the premium, interest and clamp are quoted for (0: the interval itself);
    # each settlement pays the period's rate x interval / period, capped at funding_cap
    funding_premium_period_s: float = 0.0
    funding_interest_rate: float = 0.0001  # fraction per premium period
    funding_clamp: float = 0.0005  # fraction per premium period
    funding_cap: float = 0.003  # fraction per interval
    funding_rate_initial: float = 0.0001  # fraction per interval, the predicted rate at start
    time_to_first_funding_s: float = 14_400.0
    quote_anchor_half_life_s: float = 30.0  # makers pull their quotes back to the index
    arbitrage_band: float = 0.0005
    arbitrage_capacity_usd_per_s: float = 2e6
    spot_impact_share: float = 0.5
    partial_mode: str = "tier_step_down"
    limit_mode: str = "bankruptcy"
    takeover_mode: str = "insurance"
    adl_rank_rule: str = "pnl_leverage"
    liquidation_fee_rate: float = 0.0125
    slippage_limit: float = 0.05
    chunk_fraction: float = 0.2
    chunk_min_notional_usd: float = 100_000.0
    chunk_cooldown_s: float = 30.0
    backstop_equity_fraction: float = 2.0 / 3.0
    fund_unwind_usd_per_s: float = 1e6
    passive_leverage: float = 2.0
    cross_close_order: str = "largest_maintenance"
    # A cross account holding a long and a short in this market (hedge mode), liquidated:
    # "each_side" closes each as its own position, "net_first" closes the overlap first
    hedge_liquidation: str = "each_side"
    adl_price_rule: str = "bankruptcy"
    # Markets with the same non-empty label share one insurance fund (or backstop vault):
    # its balance is the sum of their insurance_fund_usd (backstop_usd)
    fund_pool: str = ""
    backstop_pool: str = ""
    fund_drawdown_trigger: float = 0.0  # ADL once the fund is this far below its peak (0: no)
    fund_drawdown_window_s: float = 28_800.0  # s a fund peak counts for the trigger
    fund_notional_cap_ratio: float = 0.0  # fund inventory notional <= this x equity (0: no)
    fillable_spread_ratio: float = 0.1  # SMMR, for limit_mode "fillable"
    fillable_bankruptcy_adjustment: float = 1.0  # BA, for limit_mode "fillable"
    # What maintenance margin is computed on (see cascadesim.engine.margin); a size-tiered
    # table ("mark_with_fee") reads its tier from quantity x ``price``, the price its USD
    # floors were set at.
    mm_basis: str = "mark"
    bankruptcy_rounding: str = "exact"
    insurance_fund_usd: float = 1e9
    backstop_usd: float = 0.0
    tier_floor_usd: tuple[float, ...] = (0.0,)
    tier_mmr: tuple[float, ...] = (0.004,)
    tier_maintenance_amount: tuple[float, ...] | None = None  # None: from the recursion
    tier_max_leverage: tuple[float, ...] = (125.0,)
    contract: str = "linear"  # "linear" (USD-margined) or "inverse" (coin-margined)
    contract_size_usd: float = 1.0  # USD face value of one inverse contract
    # K of the engine's reciprocal units, set by cascadesim.model.contracts.engine_space: 0
    # for a spec in USD (every linear one)
    reciprocal_scale: float = 0.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            where = f"markets.{self.name}.{spec.name}"
            if spec.name in CODED_FIELDS:
                if value not in CODED_FIELDS[spec.name]:
                    raise invalid(where, value, "one of " + ", ".join(CODED_FIELDS[spec.name]))
            elif isinstance(value, float | int) and not isinstance(value, bool):
                check_number(where, value, spec.name)
        self.check_tiers()
        if self.reciprocal_scale > 0.0 and self.contract != "inverse":
            raise invalid(
                f"markets.{self.name}.reciprocal_scale",
                self.reciprocal_scale,
                '0 for a linear market (only contract = "inverse" runs in reciprocal units)',
            )

    @property
    def inverse(self) -> bool:
        """True for a coin-margined (inverse) market."""
        return self.contract == "inverse"

    def check_tiers(self) -> None:
        where = f"markets.{self.name}"
        n = len(self.tier_floor_usd)
        for name in ("tier_mmr", "tier_max_leverage"):
            if len(getattr(self, name)) != n:
                raise invalid(
                    f"{where}.{name}", getattr(self, name), f"one value per tier ({n} tiers)"
                )
        if n == 0 or self.tier_floor_usd[0] != 0.0:
            raise invalid(
                f"{where}.tier_floor_usd",
                self.tier_floor_usd,
                "ascending notional floors starting at 0",
            )
        if any(b <= a for a, b in zip(self.tier_floor_usd, self.tier_floor_usd[1:], strict=False)):
            raise invalid(
                f"{where}.tier_floor_usd", self.tier_floor_usd, "strictly ascending notional floors"
            )
        if any(not (0.0 < r < 1.0) for r in self.tier_mmr):
            raise invalid(f"{where}.tier_mmr", self.tier_mmr, "rates strictly between 0 and 1")
        if any(b < a for a, b in zip(self.tier_mmr, self.tier_mmr[1:], strict=False)):
            raise invalid(f"{where}.tier_mmr", self.tier_mmr, "non-decreasing across tiers")
        if any(not (lev >= 1.0) for lev in self.tier_max_leverage):
            raise invalid(f"{where}.tier_max_leverage", self.tier_max_leverage, "values >= 1")
        if self.tier_maintenance_amount is not None and len(self.tier_maintenance_amount) != n:
            raise invalid(
                f"{where}.tier_maintenance_amount",
                self.tier_maintenance_amount,
                f"one value per tier ({n} tiers)",
            )

    @property
    def premium_period_s(self) -> float:
        """Seconds the funding premium, interest and clamp are quoted for."""
        return self.funding_premium_period_s or self.funding_interval_s

    def maintenance_amounts(self) -> np.ndarray:
        """Maintenance amounts per tier (USD), from the table or from the recursion."""
        if self.tier_maintenance_amount is not None:
            return np.asarray(self.tier_maintenance_amount, dtype=np.float64)
        floors = np.asarray(self.tier_floor_usd, dtype=np.float64)
        rates = np.asarray(self.tier_mmr, dtype=np.float64)
        amounts = np.zeros_like(rates)
        for t in range(1, rates.size):
            amounts[t] = floors[t] * (rates[t] - rates[t - 1]) + amounts[t - 1]
        return amounts


def check_number(where: str, value: float, name: str) -> None:
    """Reject NaN/inf and values outside the field's allowed range, in one line."""
    if not math.isfinite(value):
        raise invalid(where, value, "a finite number")
    if name in SIGNED_FIELDS:
        return
    if name in NON_NEGATIVE_FIELDS:
        if value < 0:
            raise invalid(where, value, "a number >= 0")
    elif value <= 0:
        raise invalid(where, value, "a number > 0")
    if name in FRACTION_FIELDS and value > 1:
        raise invalid(where, value, "a fraction between 0 and 1")


@dataclass(frozen=True)
class AssetSpec:
    """One underlying asset and its spot market."""

    name: str = "BTC"
    spot_depth_1pct_usd: float = 300e6  # USD of spot liquidity within 1 % of the index
    beta: float = 1.0  # sensitivity of the index's log moves to the market factor
    factor_weight: float = 0.0  # weight of this asset's own log moves in the market factor
    factor_half_life_s: float = 0.0  # lag with which the index follows the factor (0: none)

    def __post_init__(self) -> None:
        check_number(
            f"assets.{self.name}.spot_depth_1pct_usd",
            self.spot_depth_1pct_usd,
            "spot_depth_1pct_usd",
        )
        for name in ("beta", "factor_weight", "factor_half_life_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise invalid(f"assets.{self.name}.{name}", value, "a finite number >= 0")


@dataclass
class PositionArrays:
    """Trader positions, one row each (any order; the engine sorts them).

    market : int array (n,), index into the market list
    account : int array (n,), account id in 0..n_accounts-1
    side : int array (n,), +1 long / -1 short
    quantity : float64 array (n,), base units > 0
    entry_price : float64 array (n,), USD > 0
    margin : float64 array (n,), margin USD > 0: the isolated margin, or for a position of
        a cross-margin account its share of the account's wallet
    cross : bool array (n,) or None, True for positions of cross-margin accounts (one
        wallet over the positions of one venue: at most one long and one short per market,
        both at once being hedge mode); None: all isolated
    """

    market: np.ndarray
    account: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    entry_price: np.ndarray
    margin: np.ndarray
    cross: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.quantity.shape[0])


@dataclass
class EngineSetup:
    """Everything one simulation path needs.

    index_path : float64 (n_steps + 1, n_assets), exogenous index in USD; row 0 is the start.
    taker_flow_usd : float64 (n_steps, n_markets) or None, signed taker USD per step
        (negative sells), e.g. an aggressive sell programme.
    collateral : CollateralHoldings or None, the coins cross accounts hold as margin and
        their price on each venue (None: every wallet is in the settlement coin)
    flow : OpeningFlow or None, positions that open during the run (None: every position
        exists before the first step)
    """

    markets: list[MarketSpec]
    assets: list[AssetSpec]
    positions: PositionArrays
    index_path: np.ndarray
    step_seconds: float = 1.0
    taker_flow_usd: np.ndarray | None = None
    n_levels: int = 4096
    iteration_cap: int = 64
    n_accounts: int | None = None
    labels: dict = field(default_factory=dict)
    collateral: CollateralHoldings | None = None
    flow: OpeningFlow | None = None

    @property
    def n_steps(self) -> int:
        return int(self.index_path.shape[0]) - 1


def pool_leader(markets: list[MarketSpec], m: int, field_name: str) -> int:
    """The first market sharing market m's fund (or vault) label; m itself when unpooled."""
    label = getattr(markets[m], field_name)
    if not label:
        return m
    return next(k for k, spec in enumerate(markets) if getattr(spec, field_name) == label)


def market_params(markets: list[MarketSpec], assets: list[AssetSpec]) -> np.recarray:
    """The markets' parameters as one record array for the kernels (``params[m].field``)."""
    asset_index = {asset.name: k for k, asset in enumerate(assets)}
    for spec in markets:
        if spec.asset not in asset_index:
            raise invalid(
                f"markets.{spec.name}.asset",
                spec.asset,
                "an asset listed in assets: " + ", ".join(asset_index),
            )
    n_tiers = max(len(spec.tier_floor_usd) for spec in markets)
    params = np.zeros(len(markets), dtype=layout.market_params_dtype(n_tiers)).view(np.recarray)
    for m, spec in enumerate(markets):
        row = params[m]
        for name in params.dtype.names:
            if name == "asset":
                row.asset = asset_index[spec.asset]
            elif name == "tier_count":
                row.tier_count = len(spec.tier_floor_usd)
            elif name == "funding_premium_period_s":
                row.funding_premium_period_s = spec.premium_period_s
            elif name in ("fund_pool", "backstop_pool"):
                setattr(row, name, pool_leader(markets, m, name))
            elif name == "tier_price_usd":
                row.tier_price_usd = spec.price
            elif name in CODED_FIELDS:
                setattr(row, name, CODED_FIELDS[name][getattr(spec, name)])
            elif not name.startswith("tier_"):
                setattr(row, name, getattr(spec, name))
        write_tiers(
            row,
            spec.tier_floor_usd,
            spec.tier_mmr,
            spec.maintenance_amounts(),
            spec.tier_max_leverage,
        )
    return params


def write_tiers(row, floors, mmr, maintenance_amount, max_leverage) -> None:
    """Put a tier table into a ``market_params_dtype`` record, padding its unused tiers.

    Unused tiers never match a notional (floor = inf) and repeat the last rate.
    """
    t = len(floors)
    row["tier_count"] = t
    row["tier_floor_usd"][:t] = floors
    row["tier_floor_usd"][t:] = np.inf
    row["tier_mmr"][:t] = mmr
    row["tier_mmr"][t:] = mmr[-1]
    row["tier_maintenance_amount"][:t] = maintenance_amount
    row["tier_maintenance_amount"][t:] = 0.0
    row["tier_max_leverage"][:t] = max_leverage
    row["tier_max_leverage"][t:] = 1.0


def maintenance_vector(
    basis: int,
    floors: np.ndarray,
    mmr: np.ndarray,
    amounts: np.ndarray,
    fee_rate: float,
    tier_price_usd: float,
    quantity: np.ndarray,
    entry_price: np.ndarray,
    price: float | np.ndarray,
) -> np.ndarray:
    """Maintenance margin (USD) of many positions of one market at ``price``, vectorised.

    The numpy twin of :func:`cascadesim.engine.margin.maintenance_requirement` for the
    Python layers (population placement, start checks): ``basis`` is an ``MM_BASIS_*`` code,
    ``floors``/``mmr``/``amounts`` the market's valid tiers, ``fee_rate`` its liquidation fee
    and ``tier_price_usd`` the price a size-tiered table's floors were set at.
    """
    quantity = np.asarray(quantity, dtype=np.float64)
    entry_price = np.asarray(entry_price, dtype=np.float64)
    at_mark = quantity * np.asarray(price, dtype=np.float64)
    if basis == layout.MM_BASIS_ENTRY:
        notional = quantity * entry_price
    elif basis == layout.MM_BASIS_MARK_FEE:
        notional = quantity * tier_price_usd
    else:
        notional = at_mark
    tier = np.searchsorted(floors, notional, side="right") - 1
    if basis == layout.MM_BASIS_MARK_FEE:
        return at_mark * (mmr[tier] + fee_rate)
    return notional * mmr[tier] - amounts[tier]


def asset_state(assets: list[AssetSpec], index_start: np.ndarray) -> np.recarray:
    """Per-asset spot parameters and index state at the start (``assets[a].index_price``)."""
    state = np.zeros(len(assets), dtype=layout.ASSET_STATE_DTYPE).view(np.recarray)
    state.spot_depth_1pct_usd = [asset.spot_depth_1pct_usd for asset in assets]
    state.beta = [asset.beta for asset in assets]
    state.factor_weight = [asset.factor_weight for asset in assets]
    state.factor_half_life_s = [asset.factor_half_life_s for asset in assets]
    state.index_price = index_start
    return state


# Fields a scenario sets through its own keys (or that identify the market): not overridable.
NOT_OVERRIDABLE = {
    "name",
    "asset",
    "venue",
    "price",
    "open_interest_usd",
    "contract",
    "contract_size_usd",
    "reciprocal_scale",
}
OVERRIDABLE_FIELDS = tuple(f.name for f in fields(MarketSpec) if f.name not in NOT_OVERRIDABLE)


def default_tick(price_usd: float) -> float:
    """About one basis point of ``price_usd``, rounded to 1, 2 or 5 x 10^k USD."""
    raw = price_usd * 1e-4
    exponent = math.floor(math.log10(raw))
    candidates = [m * 10.0**e for e in (exponent, exponent + 1) for m in (1, 2, 5)]
    return min(candidates, key=lambda tick: abs(math.log(tick / raw)))


# --- the book window: one rule each, checked by the scenario layer and by simulate() -------
START_PRICE_TOLERANCE = 0.2  # a perp starts within 20 % of its asset's index
WINDOW_SPAN = 0.2  # the book's tick window spans at least 20 % of the price...
MAX_TICK_FRACTION = 0.01  # ...with ticks of at most 1 % of it
MIN_BOOK_LEVELS = 64
# Prices in ticks stay below 5 x MAX_BOOK_LEVELS x 1e10 (the window spans 20 % of the start
# price, an index moves at most 1e6-fold and spot impact 100-fold within a step): inside int64.
MAX_BOOK_LEVELS = 1 << 20


def check_start_price(field: str, price: float, index: float, index_name: str = "the") -> None:
    """A market's start price is within 20 % of its asset's index at the start."""
    if not math.isclose(price, index, rel_tol=START_PRICE_TOLERANCE):
        raise invalid(
            field, price, f"within 20 % of {index_name} index at the start ({index:g} USD)"
        )


def check_tick_size(field: str, tick: float, price: float, n_levels: int, price_name: str) -> None:
    """Ticks of at most 1 % of the price, and a window of ``n_levels`` spanning 20 % of it.

    The window must hold a cascade's whole move before it re-centres; a coarser tick would
    make one level a large part of the move.
    """
    if tick > MAX_TICK_FRACTION * price:
        raise invalid(field, tick, f"at most 1 % of {price_name}")
    if tick * n_levels < WINDOW_SPAN * price:
        raise invalid(
            field, tick, f"large enough that {n_levels} book levels span 20 % of {price_name}"
        )


def check_book_levels(field: str, n_levels: int) -> None:
    """An even number of levels per book side window, from 64 to 1,048,576."""
    if (
        isinstance(n_levels, bool)
        or n_levels < MIN_BOOK_LEVELS
        or n_levels > MAX_BOOK_LEVELS
        or n_levels % 2
    ):
        raise invalid(
            field,
            n_levels,
            f"an even number of book levels from {MIN_BOOK_LEVELS} to {MAX_BOOK_LEVELS:,}",
        )
