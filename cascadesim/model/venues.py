"""Venue profiles: margin tier tables and liquidation, mark-price and funding rules as data.

Every table is a per-market row of notional tiers. A tier ``n`` applies to a position of
notional ``N`` (USD) when ``floors[n] <= N < floors[n + 1]``; its maintenance margin is
``N * mmr[n] - maintenance_amount[n]`` with the amount from the recursion
``cum[n] = floors[n] * (mmr[n] - mmr[n - 1]) + cum[n - 1]`` (Binance "maintenance amount",
Bybit "MM deduction", Hyperliquid "maintenance deduction"), which makes the maintenance margin
a continuous function of notional.

The rule fields use the integer codes of :mod:`cascadesim.engine.layout`. Funding states two
periods apart: ``funding_interval_s``, how often funding is paid, and
``funding_premium_period_s``, the period the premium, the interest rate and the clamp are quoted
for (8 h at all ten venues). Each settlement pays the period's rate times interval / period,
capped at ``funding_cap``, which is per paid interval: Binance, Bybit, OKX, BitMEX, HTX, Bitget
and Gate pay the 8-hour rate whole every 8 h, Hyperliquid and dYdX an eighth of it every hour,
and Deribit, which pays continuously, is paid here an eighth every hour.

Tables are snapshots: exchanges change them without notice. The published rows, their sources
and dates live in :mod:`cascadesim.model.tier_tables`; a table whose source starts with
``estimate:`` stands in where no table of the venue's own for that asset was found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.model.tier_tables import (
    LIQUIDATION_FEES,
    OTHER,
    REFERENCE_PRICE_USD,
    TABLES,
    PublishedTiers,
    is_estimate,
)


def maintenance_amounts(floors: ArrayLike, mmr: ArrayLike) -> np.ndarray:
    """Maintenance amounts (USD) that make tiered maintenance margin continuous.

    Parameters
    ----------
    floors : float64 array (n_tiers,)
        USD notional lower bound of each tier, ``floors[0] == 0``, increasing.
    mmr : float64 array (n_tiers,)
        Maintenance margin rate of each tier, fraction of notional.

    Returns
    -------
    float64 array (n_tiers,)
        USD, ``cum[0] = 0`` and ``cum[n] = floors[n] * (mmr[n] - mmr[n-1]) + cum[n-1]``.
    """
    floor_array = np.asarray(floors, dtype=np.float64)
    steps = floor_array[1:] * np.diff(np.asarray(mmr, dtype=np.float64))
    return np.concatenate(([0.0], np.cumsum(steps)))


@dataclass(frozen=True, eq=False)
class TierTable:
    """One market's notional tiers, as read-only float64 arrays of equal length.

    Attributes
    ----------
    floors : float64 array (n_tiers,)
        USD notional lower bound of each tier; starts at 0, strictly increasing.
    mmr : float64 array (n_tiers,)
        Maintenance margin rate, fraction of notional, in (0, 1).
    maintenance_amount : float64 array (n_tiers,)
        USD deducted from ``notional * mmr`` (see :func:`maintenance_amounts`).
    max_leverage : float64 array (n_tiers,)
        Highest initial leverage allowed for a position whose notional is in the tier.
    source : str
        Where the table comes from and its dates; ``estimate: ...`` where it is not the
        venue's own table for the asset.
    base_floors : float64 array (n_tiers,) or None
        For a venue that tiers by position size (OKX, in contracts): the floors in units of
        the base asset; ``floors`` are then ``base_floors * price_usd``. None for USD tiers.
    price_usd : float or None
        USD per base unit at which ``base_floors`` became ``floors``.
    """

    floors: np.ndarray
    mmr: np.ndarray
    maintenance_amount: np.ndarray
    max_leverage: np.ndarray
    source: str = ""
    base_floors: np.ndarray | None = None
    price_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("floors", "mmr", "maintenance_amount", "max_leverage", "base_floors"):
            if getattr(self, name) is None:
                continue
            array = np.array(getattr(self, name), dtype=np.float64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        self._validate()

    def _validate(self) -> None:
        count = self.floors.shape[0]
        if count == 0 or self.floors.ndim != 1:
            raise invalid("floors", self.floors.tolist(), "a non-empty 1-D sequence")
        for name in ("mmr", "maintenance_amount", "max_leverage"):
            if getattr(self, name).shape != (count,):
                raise invalid(name, getattr(self, name).tolist(), f"{count} values, one per tier")
        if (
            self.floors[0] != 0.0
            or not np.all(np.isfinite(self.floors))
            or np.any(np.diff(self.floors) <= 0.0)
        ):
            raise invalid("floors", self.floors.tolist(), "0 first, then strictly increasing")
        if not np.all((self.mmr > 0.0) & (self.mmr < 1.0)):
            raise invalid("mmr", self.mmr.tolist(), "every rate in (0, 1)")
        if not np.all(np.isfinite(self.maintenance_amount)):
            raise invalid("maintenance_amount", self.maintenance_amount.tolist(), "finite USD")
        if not np.all(self.max_leverage > 0.0):
            raise invalid("max_leverage", self.max_leverage.tolist(), "every value > 0")

    @classmethod
    def from_tiers(
        cls,
        floors: Sequence[float],
        mmr: Sequence[float],
        max_leverage: Sequence[float],
        source: str,
    ) -> TierTable:
        """Build a table whose maintenance amounts follow the continuity recursion."""
        return cls(
            np.asarray(floors, dtype=np.float64),
            np.asarray(mmr, dtype=np.float64),
            maintenance_amounts(floors, mmr),
            np.asarray(max_leverage, dtype=np.float64),
            source,
        )

    @classmethod
    def from_max_leverage(
        cls,
        floors: Sequence[float],
        max_leverage: Sequence[float],
        source: str,
    ) -> TierTable:
        """Hyperliquid-style table: ``mmr = 1 / (2 * max_leverage)`` in every tier."""
        mmr = 1.0 / (2.0 * np.asarray(max_leverage, dtype=np.float64))
        return cls.from_tiers(floors, mmr.tolist(), max_leverage, source)

    @classmethod
    def single(
        cls,
        mmr: float,
        maintenance_amount: float = 0.0,
        max_leverage: float = np.inf,
        source: str = "single tier",
    ) -> TierTable:
        """One tier from notional 0 with a fixed rate and amount."""
        return cls(
            np.array([0.0]),
            np.array([mmr]),
            np.array([maintenance_amount]),
            np.array([max_leverage]),
            source,
        )

    @classmethod
    def from_base_units(
        cls,
        base_floors: ArrayLike,
        mmr: ArrayLike,
        max_leverage: ArrayLike,
        price_usd: float,
        source: str,
    ) -> TierTable:
        """Table of a venue that tiers by position size: floors in base units, shown in USD at
        ``price_usd``, maintenance amounts from the recursion on the USD floors."""
        # An overflow to inf (a huge price) fails the checks of __post_init__ instead of warning.
        with np.errstate(over="ignore", invalid="ignore"):
            floors = np.asarray(base_floors, dtype=np.float64) * float(price_usd)
            return cls(
                floors,
                np.asarray(mmr, dtype=np.float64),
                maintenance_amounts(floors, mmr),
                np.asarray(max_leverage, dtype=np.float64),
                source,
                base_floors=np.asarray(base_floors, dtype=np.float64),
                price_usd=float(price_usd),
            )

    @classmethod
    def from_published(cls, published: PublishedTiers, price_usd: float | None = None) -> TierTable:
        """Table of a :class:`~cascadesim.model.tier_tables.PublishedTiers`; a base-unit one
        (OKX) needs ``price_usd``. The venue's own maintenance amounts are kept where it
        publishes them, else they come from the recursion."""
        if published.base_units:
            if price_usd is None:
                raise invalid("price_usd", price_usd, "a price for a table tiered by size")
            return cls.from_base_units(
                published.floors,
                published.mmr,
                published.max_leverage,
                price_usd,
                published.source,
            )
        if published.maintenance_amount is None:
            return cls.from_tiers(
                published.floors, published.mmr, published.max_leverage, published.source
            )
        return cls(
            np.asarray(published.floors, dtype=np.float64),
            np.asarray(published.mmr, dtype=np.float64),
            np.asarray(published.maintenance_amount, dtype=np.float64),
            np.asarray(published.max_leverage, dtype=np.float64),
            published.source,
        )

    def at_price(self, price_usd: float) -> TierTable:
        """This table for a market at ``price_usd`` (USD per base unit): a table tiered by
        size gets its USD floors at that price; a USD table is returned as it is."""
        if self.base_floors is None:
            return self
        return TierTable.from_base_units(
            self.base_floors, self.mmr, self.max_leverage, price_usd, self.source
        )

    @property
    def is_estimate(self) -> bool:
        """True when the source says the table stands in for an unpublished one."""
        return is_estimate(self.source)

    def __len__(self) -> int:
        return int(self.floors.shape[0])


# --- the tables -----------------------------------------------------------------------------
# Rows, sources and dates are in :mod:`cascadesim.model.tier_tables`; a source starting with
# "estimate:" marks a table that is not the venue's own for that asset. OKX tiers by contracts:
# its tables keep base-unit floors and are shown here at REFERENCE_PRICE_USD
# (markets convert them at their own price, see TierTable.at_price).
def _venue_tables(venue: str) -> dict[str, TierTable]:
    return {
        asset: TierTable.from_published(published, REFERENCE_PRICE_USD.get(asset))
        for asset, published in TABLES[venue].items()
    }


_TABLES = {venue: _venue_tables(venue) for venue in TABLES}
_OTHER = {venue: TierTable.from_published(published) for venue, published in OTHER.items()}
# The assets a venue's ``funding_cap`` applies to; every other asset takes ``funding_caps``
# ("*" for the altcoin default) unless it has a cap of its own there.
FUNDING_MAJORS = frozenset({"BTC", "ETH"})


EIGHT_HOURS_S = 28_800.0
HOUR_S = 3_600.0

# dYdX v4 docs "Funding" (https://docs.dydx.xyz/concepts/trading/funding; source
# github.com/dydxprotocol/v4-documentation, docs/pages/concepts/trading/funding.mdx; read
# 2026-12-02): the 8-hour rate is capped at 600 % x (initial margin fraction - maintenance margin
# fraction), 12 % for a large-cap market (IMF 5 %, MMF 3 %). The chain's default
# funding_rate_clamp_factor_ppm is 6,000,000 (dydxprotocol/v4-chain, x/perpetuals/types/genesis.go).
DYDX_FUNDING_CLAMP_FACTOR = 6.0


def dydx_funding_cap(table: TierTable, interval_s: float = HOUR_S) -> float:
    """dYdX's cap on ``|rate|`` per paid interval: 600 % x (IMF - MMF) per 8 h, scaled.

    IMF is ``1 / max leverage`` and MMF the maintenance rate of the market's (single) tier.
    """
    imf = 1.0 / float(table.max_leverage[0])
    mmf = float(table.mmr[0])
    return DYDX_FUNDING_CLAMP_FACTOR * (imf - mmf) * (interval_s / EIGHT_HOURS_S)


@dataclass(frozen=True, eq=False)
class VenueProfile:
    """Margin, liquidation, mark-price and funding rules of one venue.

    Attributes
    ----------
    name : str
    tier_tables : Mapping[str, TierTable]
        Tables keyed by upper-case asset symbol ("BTC", "ETH", "SOL", ...).
    default_tiers : TierTable
        Fallback for an asset with no table of its own (an estimate, as its source says).
    mark_rule, partial_mode, limit_mode, takeover_mode, adl_rank_rule : int
        ``MARK_*``, ``PARTIAL_*``, ``LIMIT_*``, ``TAKEOVER_*``, ``ADL_RANK_*`` codes.
    liquidation_fee_rate : float
        Fraction of liquidated notional paid to the insurance fund, for an asset not in
        ``liquidation_fees``.
    liquidation_fees : Mapping[str, float]
        Per-asset rates where the venue publishes them, keyed by upper-case asset symbol.
    liquidation_fee_source : str
        Where the rates come from (see :mod:`cascadesim.model.tier_tables`).
    slippage_limit : float
        Fraction of mark bounding a ``LIMIT_SLIPPAGE`` liquidation order.
    chunk_fraction : float
        Share of a position sent per attempt under ``PARTIAL_CHUNKS`` (1 = all at once).
    chunk_min_notional_usd : float
        USD; only positions above this are liquidated in chunks.
    chunk_cooldown_s : float
        Seconds between chunks.
    backstop_equity_fraction : float
        Backstop takes over when equity < this x maintenance margin (0 = no backstop).
    mm_basis : int
        ``MM_BASIS_*`` code: what maintenance margin is computed on and where the tier is
        read (see :mod:`cascadesim.engine.margin`).
    bankruptcy_rounding : int
        ``BANKRUPTCY_*`` code: whether the bankruptcy price goes to the tick, and which way.
    price_ticks : Mapping[str, float]
        USD price tick per asset where known (upper-case symbol).
    funding_interval_s : float
        Seconds between funding settlements: how often funding is paid.
    funding_premium_period_s : float
        Seconds the premium P, the interest rate I and the clamp are quoted for. Each
        settlement pays ``F x funding_interval_s / funding_premium_period_s``, capped.
    funding_interest_rate, funding_clamp : float
        Fractions per premium period in ``F = P + clamp(I - P, -clamp, +clamp)``.
    funding_cap : float
        Fraction per paid interval bounding ``|rate|`` for the majors, BTC and ETH (see
        :meth:`funding_cap_for`).
    funding_caps : Mapping[str, float]
        Per-asset caps (per paid interval) overriding ``funding_cap``; key "*" is the altcoin
        default.
    basis_average_s : float
        Seconds, window (or EMA horizon) of the basis average in the mark price.
    adl_price_rule : int
        ``ADL_PRICE_*`` code: the price at which counterparties are deleveraged.
    fund_drawdown_trigger, fund_drawdown_window_s : float
        ADL instead of a fund takeover once the fund's equity is this fraction below its
        peak within the window (s); 0 = no such trigger.
    fund_notional_cap_ratio : float
        The fund takes over inventory only up to this multiple of its equity in net
        notional; beyond it, ADL (0 = no cap).
    fillable_spread_ratio, fillable_bankruptcy_adjustment : float
        SMMR and BA of the fillable price of ``LIMIT_FILLABLE`` orders.
    shared_fund, own_fund_assets : str, tuple of str
        Label of the insurance fund the venue's markets share, except those of
        ``own_fund_assets``, which keep one each ("" = one fund per market).
    shared_vault : str
        Label of the backstop vault all the venue's markets share ("" = one per market).
    """

    name: str
    tier_tables: Mapping[str, TierTable]
    default_tiers: TierTable
    mark_rule: int
    partial_mode: int
    limit_mode: int
    takeover_mode: int
    adl_rank_rule: int
    liquidation_fee_rate: float
    liquidation_fees: Mapping[str, float]
    liquidation_fee_source: str
    slippage_limit: float
    funding_interval_s: float
    funding_premium_period_s: float
    funding_interest_rate: float
    funding_clamp: float
    funding_cap: float
    basis_average_s: float
    chunk_fraction: float = 1.0
    chunk_min_notional_usd: float = 0.0
    chunk_cooldown_s: float = 0.0
    backstop_equity_fraction: float = 0.0
    funding_caps: Mapping[str, float] = field(default_factory=dict)
    # None of the venues publishes the order in which a cross account's perpetual
    # positions are closed; largest maintenance margin first is what frees the most
    # requirement per close, the aim of the venues' laddered procedures.
    cross_close_order: int = layout.CROSS_ORDER_LARGEST_MAINTENANCE
    # Hedge mode (a long and a short in one market per account) and what a cross
    # liquidation does with such a pair (HEDGE_* code); sources in docs/model.md.
    hedge_mode: bool = False
    hedge_liquidation: int = layout.HEDGE_EACH_SIDE
    adl_price_rule: int = layout.ADL_PRICE_BANKRUPTCY
    fund_drawdown_trigger: float = 0.0
    fund_drawdown_window_s: float = EIGHT_HOURS_S
    fund_notional_cap_ratio: float = 0.0
    fillable_spread_ratio: float = 0.1
    fillable_bankruptcy_adjustment: float = 1.0
    shared_fund: str = ""
    own_fund_assets: tuple[str, ...] = ()
    shared_vault: str = ""
    mm_basis: int = layout.MM_BASIS_MARK
    bankruptcy_rounding: int = layout.BANKRUPTCY_EXACT
    # Price tick (USD) per asset where the venue's contract specification was read; the
    # calculator rounds to it (``cascadesim liqprice --tick``).
    price_ticks: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tables = {asset.upper(): table for asset, table in self.tier_tables.items()}
        object.__setattr__(self, "tier_tables", MappingProxyType(tables))
        caps = {asset.upper(): cap for asset, cap in self.funding_caps.items()}
        object.__setattr__(self, "funding_caps", MappingProxyType(caps))
        ticks = {asset.upper(): tick for asset, tick in self.price_ticks.items()}
        object.__setattr__(self, "price_ticks", MappingProxyType(ticks))

    def tiers(self, asset: str = "BTC", price_usd: float | None = None) -> TierTable:
        """The tier table of ``asset`` (case-insensitive), or the fallback estimate.

        ``price_usd`` (USD per base unit) converts a table tiered by position size (OKX) to
        USD floors at that price; without it such a table is at ``REFERENCE_PRICE_USD``.
        """
        table = self.tier_tables.get(asset.upper(), self.default_tiers)
        return table if price_usd is None else table.at_price(price_usd)

    def has_own_tiers(self, asset: str) -> bool:
        """True when ``asset`` has a table of its own (published or a labelled estimate)."""
        return asset.upper() in self.tier_tables

    def fund_pool_for(self, asset: str) -> str:
        """Label of the insurance fund a market of ``asset`` shares ("" = its own)."""
        if not self.shared_fund or asset.upper() in self.own_fund_assets:
            return ""
        return self.shared_fund

    def liquidation_fee_for(self, asset: str = "BTC") -> float:
        """Liquidation fee rate of ``asset``: its published rate, else the venue's default."""
        return self.liquidation_fees.get(asset.upper(), self.liquidation_fee_rate)

    def funding_cap_for(self, asset: str = "BTC") -> float:
        """Cap on ``|funding rate|`` per paid interval for ``asset``."""
        key = asset.upper()
        if key in self.funding_caps:
            return self.funding_caps[key]
        if key in FUNDING_MAJORS:
            return self.funding_cap
        return self.funding_caps.get("*", self.funding_cap)


VENUES: Mapping[str, VenueProfile] = MappingProxyType(
    {
        "binance": VenueProfile(
            name="binance",
            tier_tables=_TABLES["binance"],
            default_tiers=_OTHER["binance"],
            mark_rule=layout.MARK_BINANCE,
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,
            # Per-symbol liquidationFee of GET /fapi/v1/exchangeInfo (2024-03-28): 1.25 % BTC,
            # ETH and XRP, 1.5 % SOL, 1.0 % DOGE; 1.5 % for other assets is an estimate.
            liquidation_fee_rate=LIQUIDATION_FEES["binance"].default,
            liquidation_fees=LIQUIDATION_FEES["binance"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["binance"].source,
            slippage_limit=0.0,
            funding_interval_s=28_800.0,
            # Paid every 8 h, and the premium, I and the clamp are 8-hour figures: paid whole.
            funding_premium_period_s=EIGHT_HOURS_S,
            funding_interest_rate=0.0001,  # 0.01% per 8 h ("Introduction to Funding Rates")
            funding_clamp=0.0005,  # +-0.05% (same page)
            # Capped rate = clamp(F, +-0.75 x MMR of the first bracket) (Binance funding-cap
            # announcements): 0.75 x 0.4% for BTC/ETH, 0.75 x 1.5% for the 50x alt brackets.
            funding_cap=0.003,
            funding_caps={"*": 0.01125},
            # Since 2025-09-18 Price 2 = index + a 30-second moving average of (mid - index), one
            # point a second (Binance announcement of 2025-09-16, as BlockBeats reported it): 30
            # points 0..29 s old, centre of mass 14.5 s.
            basis_average_s=14.5,
            # Binance "Insurance Fund" FAQ: the fund's net position notional is capped at the
            # fund's balance; what it cannot take over is auto-deleveraged (see docs/model.md).
            fund_notional_cap_ratio=1.0,
            # Same FAQ: "Binance maintains several Futures Insurance Funds ... to cover losses
            # arising from their respective covered categories of futures contracts". Which
            # symbols share one is not published per symbol: BTC and ETH with funds of their
            # own and one fund for the altcoins is an **estimate** of those categories.
            shared_fund="binance-altcoins",
            own_fund_assets=("BTC", "ETH"),
            # "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (2021-07-19):
            # LONG and SHORT legs each with their own MMR and maintenance amount, summed.
            hedge_mode=True,
        ),
        "bybit": VenueProfile(
            name="bybit",
            tier_tables=_TABLES["bybit"],
            default_tiers=_OTHER["bybit"],
            # Bybit help "Mark Price Calculation (Perpetual Contract)" (2024-10-16): median of
            # index x (1 + last funding rate x time until funding / 8 h), index + 5-minute moving
            # average of (bid1 + ask1) / 2 - index measured every second, and the last price.
            mark_rule=layout.MARK_BINANCE,
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,
            # Bybit help "Liquidation Price (USDT Contract)": MM = position value at entry x MMR
            # - MM deduction, LP = entry - (IM - MM) / size; the risk-limit tier is the entry's.
            mm_basis=layout.MM_BASIS_ENTRY,
            # Direction not found in Bybit's pages; against the trader (long up, short down) so
            # that rounding never charges the fund (an assumption, docs/model.md).
            bankruptcy_rounding=layout.BANKRUPTCY_TICK_AGAINST_TRADER,
            # BTCUSDT 0.1, ETHUSDT 0.01 (GET /v5/market/instruments-info priceFilter.tickSize;
            # not re-read in this session: estimates of the current figures).
            price_ticks={"BTC": 0.1, "ETH": 0.01},
            # No separate clearance fee: the position is taken over at the bankruptcy price and
            # the margin left over goes to the insurance fund
            # ("Liquidation Process (USDT Contract)").
            liquidation_fee_rate=LIQUIDATION_FEES["bybit"].default,
            liquidation_fees=LIQUIDATION_FEES["bybit"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["bybit"].source,
            slippage_limit=0.0,
            funding_interval_s=28_800.0,
            funding_premium_period_s=EIGHT_HOURS_S,  # 8-hour figures paid whole every 8 h
            funding_interest_rate=0.0001,  # estimate: no source cited; Binance's 0.01% per 8 h
            funding_clamp=0.0005,  # estimate: no source cited; Binance's +-0.05%
            funding_cap=0.00375,  # not found for Bybit; plausible, equal to OKX's BTC cap
            funding_caps={"*": 0.02},  # plausible
            # Same page: a 5-minute moving average sampled every second, 300 points 0..299 s
            # old: centre of mass 149.5 s.
            basis_average_s=149.5,
            # "Liquidation Process (USDT Contract)": under cross margin "only the net long or
            # net short position may be liquidated. A fully hedged position will not be
            # liquidated."
            hedge_mode=True,
            hedge_liquidation=layout.HEDGE_NET_FIRST,
        ),
        "okx": VenueProfile(
            name="okx",
            # The venue offers long/short mode; how a cross liquidation treats a hedged pair is not
            # published: each side on its own, as Binance publishes (estimate, docs/model.md).
            hedge_mode=True,
            tier_tables=_TABLES["okx"],
            default_tiers=_OTHER["okx"],
            mark_rule=layout.MARK_INDEX_BASIS,
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,
            # OKX help "Tiered maintenance margin ratio rules" (published 2022-06-16, updated
            # 2025-05-16): liquidated when margin ratio <= 100 %, i.e. equity <= maintenance
            # margin + liquidation fee; isolated USDT-margined: MM = contracts x face value x
            # mark x tier MMR, no deduction; the tier is read on the position's size in
            # contracts (OKX help "Tiered Maintenance Margin Ratio", tr.okx.com/help/tier).
            mm_basis=layout.MM_BASIS_MARK_FEE,
            # Estimate: no OKX liquidation-fee page found; the taker fee rate stands in, also
            # in the margin ratio's denominator.
            liquidation_fee_rate=LIQUIDATION_FEES["okx"].default,
            liquidation_fees=LIQUIDATION_FEES["okx"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["okx"].source,
            slippage_limit=0.0,
            funding_interval_s=28_800.0,
            funding_premium_period_s=EIGHT_HOURS_S,  # 8-hour figures paid whole every 8 h
            # OKX help 360053909272: F = clamp(MA(premium - interest), a, b), interest = 0, no
            # +-0.05% dampener; a/b = +-0.375% BTC, +-0.75% ETH, +-1.5% other currencies.
            funding_interest_rate=0.0,
            funding_clamp=0.0,
            funding_cap=0.00375,
            funding_caps={"ETH": 0.0075, "*": 0.015},
            basis_average_s=60.0,  # mark = index + basis moving average; window not found
            # OKX "Auto-deleveraging (ADL)" help: ADL closes counterparties at the mark price, and
            # starts when the fund cannot cover a loss or its balance falls 30 % below its
            # peak within 8 hours.
            adl_price_rule=layout.ADL_PRICE_MARK,
            fund_drawdown_trigger=0.30,
            fund_drawdown_window_s=EIGHT_HOURS_S,
        ),
        "hyperliquid": VenueProfile(
            name="hyperliquid",
            tier_tables=_TABLES["hyperliquid"],
            default_tiers=_OTHER["hyperliquid"],
            mark_rule=layout.MARK_HYPERLIQUID,
            partial_mode=layout.PARTIAL_CHUNKS,
            limit_mode=layout.LIMIT_SLIPPAGE,
            takeover_mode=layout.TAKEOVER_BACKSTOP,
            adl_rank_rule=layout.ADL_RANK_HYPERLIQUID,
            # No clearance fee; the backstop keeps the maintenance margin (docs "Liquidations").
            liquidation_fee_rate=LIQUIDATION_FEES["hyperliquid"].default,
            liquidation_fees=LIQUIDATION_FEES["hyperliquid"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["hyperliquid"].source,
            slippage_limit=0.05,  # not documented for liquidations; SDK market-order default
            chunk_fraction=0.2,  # docs "Liquidations": >100k USDC positions go 20% at a time
            chunk_min_notional_usd=100_000.0,
            chunk_cooldown_s=30.0,
            backstop_equity_fraction=2.0 / 3.0,
            # Hyperliquid docs "Funding" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/
            # funding, read 2026-12-02): funding is paid every hour; the formula
            # F = P + clamp(I - P, -0.0005, 0.0005) gives an 8-hour rate, of which one eighth is
            # paid each hour; P is the premium sampled every 5 s and averaged over the hour.
            funding_interval_s=HOUR_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            funding_interest_rate=0.0001,  # same page: 0.01% every 8 hours (0.00125% an hour)
            funding_clamp=0.0005,  # same page: +-0.05% on the 8-hour figure
            funding_cap=0.04,  # same page: 4% per (paid) hour, the same for every asset
            basis_average_s=150.0,  # docs "Robust price indices": 150 s EMA of (mid - oracle)
            # Docs "Auto-deleveraging": an account or isolated position whose value goes
            # negative is closed against ranked opposite positions at the previous mark price.
            adl_price_rule=layout.ADL_PRICE_PREVIOUS_MARK,
            # Docs "Protocol vaults": one liquidator vault (part of HLP) backs liquidations on
            # every perp market.
            shared_vault="hyperliquid-liquidator",
        ),
        "dydx": VenueProfile(
            name="dydx",
            tier_tables=_TABLES["dydx"],
            default_tiers=_OTHER["dydx"],
            mark_rule=layout.MARK_INDEX,
            partial_mode=layout.PARTIAL_NONE,
            # v4 docs "Liquidations": orders limited at the fillable price; the insurance fund
            # covers fills beyond bankruptcy; deleveraging only once equity is negative.
            limit_mode=layout.LIMIT_FILLABLE,
            takeover_mode=layout.TAKEOVER_NEGATIVE_EQUITY,
            # v4 deleverages against offsetting positions without a published PnL/leverage queue;
            # the common ranking stands in.
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,
            # max_liquidation_fee_ppm 15000: at most 1.5 %, charged in full here.
            liquidation_fee_rate=LIQUIDATION_FEES["dydx"].default,
            liquidation_fees=LIQUIDATION_FEES["dydx"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["dydx"].source,
            # Not used by fillable-price orders; bounds the fund's unwinding orders (estimate).
            slippage_limit=0.045,
            # dydxprotocol/v4-chain x/clob/types liquidations_config.go, LiquidationsConfig_Default:
            # SpreadToMaintenanceMarginRatioPpm 100,000 (SMMR 0.1), BankruptcyAdjustmentPpm
            # 1,000,000 (BA 1.0). Mainnet governance may have changed them: protocol defaults.
            fillable_spread_ratio=0.1,
            fillable_bankruptcy_adjustment=1.0,
            # dYdX v4 docs "Funding" (https://docs.dydx.xyz/concepts/trading/funding, read
            # 2026-12-02): the premium is averaged over the hour and funding is paid every hour at
            # premium / 8 + the interest component, which is 0 for cross markets by default; the
            # page applies no clamp against the interest.
            funding_interval_s=HOUR_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            funding_interest_rate=0.0,  # same page: 0% for cross markets
            funding_clamp=0.0,  # same page: no clamp, F = P
            # Same page: 600% x (IMF - MMF) per 8 h, from each market's own margin fractions
            # (the page's 12 % example is BTC at IMF 5 %, MMF 3 %; the published large-cap tier
            # now is IMF 2 %, MMF 1.2 %: 4.8 % per 8 h, 0.6 % per hour).
            funding_cap=dydx_funding_cap(_TABLES["dydx"]["BTC"]),
            funding_caps={
                **{asset: dydx_funding_cap(table) for asset, table in _TABLES["dydx"].items()},
                "*": dydx_funding_cap(_OTHER["dydx"]),
            },
            basis_average_s=0.0,  # mark is the oracle price
        ),
        # --- the five venues of issue 15 (read 2026-12-03; sources also in docs/model.md) ----
        "bitmex": VenueProfile(
            name="bitmex",
            tier_tables=_TABLES["bitmex"],
            default_tiers=_OTHER["bitmex"],
            # BitMEX "Liquidation" and the Swaps Guide (bitmex.com/app/swapsGuide): positions
            # are marked by Fair Price Marking, the index plus a basis that funding implies; the
            # basis formula was not read here and is small on a perpetual: the index stands in.
            mark_rule=layout.MARK_INDEX,
            # bitmex.com/app/liquidationExamples: on a higher risk limit a FillOrKill order
            # brings the position below a lower risk limit first; the rest is taken over and
            # worked with a limit order at the bankruptcy price; what cannot be closed with the
            # insurance fund's help is auto-deleveraged (bitmex.com/app/liquidation).
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            # Not exact: BitMEX ranks profitable positions by PnL % on the entry value x
            # effective leverage (bitmex.com/app/autoDeleveraging, read 2026-12-03); the engine's
            # PnL % is on the margin, which orders positions differently by their entry leverage.
            # No ADL_RANK_* code matches; the nearest stands in (docs/model.md, issue 15).
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,
            # Same pages: the maintenance margin left at takeover goes to the fund; no fee.
            liquidation_fee_rate=LIQUIDATION_FEES["bitmex"].default,
            liquidation_fees=LIQUIDATION_FEES["bitmex"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["bitmex"].source,
            slippage_limit=0.0,
            # Swaps Guide: funding every 8 h (04:00, 12:00, 20:00 UTC), 8-hour figures paid whole.
            funding_interval_s=EIGHT_HOURS_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            # F = P + clamp(I - P, +-0.05 %), I = (quote rate - base rate) / 3 (BitMEX's formula
            # as copied by tradingcenter.org and blog.btcmex.com; BitMEX's own page not read):
            # 0.01 % per 8 h is XBTUSD's (0.06 % - 0.03 %) / 3, an estimate for XBTUSDT.
            funding_interest_rate=0.0001,
            funding_clamp=0.0005,
            # BitMEX blog "Important changes to Bitcoin / USD swap funding": at an 8-hour interval
            # at most +-1.125 % a day, 0.375 % per interval = 75 % x (IM 1 % - MM 0.5 %). XBTUSD's
            # cap; the same for XBTUSDT and every other asset is an estimate.
            funding_cap=0.00375,
            basis_average_s=0.0,  # the index stands in for the fair price
        ),
        "htx": VenueProfile(
            name="htx",
            # The venue offers hedge mode; how a cross liquidation treats a hedged pair is not
            # published: each side on its own, as Binance publishes (estimate, docs/model.md).
            hedge_mode=True,
            tier_tables=_TABLES["htx"],
            default_tiers=_OTHER["htx"],
            # Estimate: HTX's mark-price rule was not read; index + basis average stands in.
            mark_rule=layout.MARK_INDEX_BASIS,
            # HTX "Liquidation Rules for Futures Trading" (htx.com/id-id/support/24959973437846,
            # undated): liquidated when the margin ratio exceeds 100 %; tiered liquidation
            # reduces the position step by step by lowering the adjustment-factor level; the
            # system takes the position over and executes it in the market, any profit goes to
            # the insurance fund.
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,  # estimate: HTX's ranking not read
            liquidation_fee_rate=LIQUIDATION_FEES["htx"].default,
            liquidation_fees=LIQUIDATION_FEES["htx"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["htx"].source,
            slippage_limit=0.0,
            # HTX "Trading Rules of USDⓈ-Margined Contracts" (htx.com/support/900003247446):
            # settled every 8 hours, at 00:00, 08:00 and 16:00 UTC.
            funding_interval_s=EIGHT_HOURS_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            funding_interest_rate=0.0001,  # estimate: not read; Binance's 0.01 % per 8 h
            funding_clamp=0.0005,  # estimate: not read; Binance's +-0.05 %
            funding_cap=0.00375,  # estimate: not read; OKX's BTC cap
            basis_average_s=60.0,  # estimate: window not read
            # Same page: contracts with cross and isolated margin (BTCUSDT, ETHUSDT, LTCUSDT ...)
            # share one USDT insurance fund; isolated-only contracts have one each.
            shared_fund="htx-usdt",
        ),
        "bitget": VenueProfile(
            name="bitget",
            # The venue offers hedge mode; how a cross liquidation treats a hedged pair is not
            # published: each side on its own, as Binance publishes (estimate, docs/model.md).
            hedge_mode=True,
            tier_tables=_TABLES["bitget"],
            default_tiers=_OTHER["bitget"],
            # Estimate: Bitget liquidates on its "fair mark price", whose rule was not read;
            # index + basis average stands in.
            mark_rule=layout.MARK_INDEX_BASIS,
            # Bitget "Leverage and risk management" (bitget research 360058821652): cancel,
            # net, then partial liquidation two tiers at a time (cross margin; isolated
            # positions are not stepped down), then the rest as a flash order. The engine steps
            # one tier at a time. "Understanding the Insurance Fund" (support 360059239211,
            # 2025-10-21): the position is settled at the bankruptcy price, the fund takes the
            # difference either way, which lowers the risk of ADL.
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,  # estimate: Bitget's ranking not read
            # Bitget "Position Tier" (support 360052911052): margin rate = (position margin +
            # unrealised PnL) / position value at the fair mark price; liquidation when it falls
            # to the tier's maintenance rate.
            mm_basis=layout.MM_BASIS_MARK,
            liquidation_fee_rate=LIQUIDATION_FEES["bitget"].default,
            liquidation_fees=LIQUIDATION_FEES["bitget"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["bitget"].source,
            slippage_limit=0.0,
            # Bitget "USDT-M/USDC-M Futures trading details" (support 12560603818084, 2025-05-27):
            # funding is settled every eight hours.
            funding_interval_s=EIGHT_HOURS_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            funding_interest_rate=0.0001,  # estimate: not read; Binance's 0.01 % per 8 h
            funding_clamp=0.0005,  # estimate: not read; Binance's +-0.05 %
            funding_cap=0.00375,  # estimate: not read; OKX's BTC cap
            basis_average_s=60.0,  # estimate: window not read
        ),
        "gate": VenueProfile(
            name="gate",
            # The venue offers dual mode; how a cross liquidation treats a hedged pair is not
            # published: each side on its own, as Binance publishes (estimate, docs/model.md).
            hedge_mode=True,
            tier_tables=_TABLES["gate"],
            default_tiers=_OTHER["gate"],
            mark_rule=layout.MARK_INDEX_BASIS,  # estimate: Gate's mark rule not read
            # Gate help "Liquidation Process" (futures-logic/22159): when the margin ratio falls
            # to 100 %, orders are cancelled, the risk limit is lowered one tier and the part
            # above it liquidated, and the ratio re-checked; help "Insurance Fund"
            # (futures-logic/22081): liquidation orders go to the book at the bankruptcy price,
            # the fund takes what is unfilled at the bankruptcy price, then ADL.
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,  # estimate: Gate's ranking not read
            # Gate "Leverage and Margin": maintenance margin by gradient on position value.
            mm_basis=layout.MM_BASIS_MARK,
            liquidation_fee_rate=LIQUIDATION_FEES["gate"].default,
            liquidation_fees=LIQUIDATION_FEES["gate"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["gate"].source,
            slippage_limit=0.0,
            funding_interval_s=EIGHT_HOURS_S,  # estimate: Gate's BTC_USDT interval not read
            funding_premium_period_s=EIGHT_HOURS_S,
            # gate.io/futures/introduction/funding-rate-history: F = P + clamp(interest spread
            # - P, 0.05 %, -0.05 %); the spread itself was not read: 0.01 % per 8 h, estimate.
            funding_interest_rate=0.0001,
            funding_clamp=0.0005,
            funding_cap=0.00375,  # estimate: not read; OKX's BTC cap
            basis_average_s=60.0,  # estimate: window not read
        ),
        "deribit": VenueProfile(
            name="deribit",
            tier_tables=_TABLES["deribit"],
            default_tiers=_OTHER["deribit"],
            # Estimate: a 30-second EMA in the mark price is a third party's account
            # (skimall.net "Deribit Funding"); Deribit's own mark page was not read.
            mark_rule=layout.MARK_INDEX_BASIS,
            # Deribit "Insurance Fund" (support.deribit.com 25944777576477) and "Futures leverage
            # and margin" (deribit.freshdesk.com 1000197257): liquidation is incremental, in small
            # steps until maintenance margin is below equity again. Nearest here: the tier
            # step-down on the size tiers of the table (one chord per step), then an order at the
            # bankruptcy price; the fund covers negative equity. Deribit socialises a loss the
            # fund cannot cover among that day's winners; the engine deleverages instead (its
            # nearest procedure, docs/model.md).
            partial_mode=layout.PARTIAL_TIER_STEP_DOWN,
            limit_mode=layout.LIMIT_BANKRUPTCY,
            takeover_mode=layout.TAKEOVER_INSURANCE,
            adl_rank_rule=layout.ADL_RANK_PNL_LEVERAGE,  # no ADL at Deribit: stands in
            # "Linear Perpetual": margins are calculated on the index price of the underlying.
            mm_basis=layout.MM_BASIS_MARK,
            liquidation_fee_rate=LIQUIDATION_FEES["deribit"].default,
            liquidation_fees=LIQUIDATION_FEES["deribit"].by_asset,
            liquidation_fee_source=LIQUIDATION_FEES["deribit"].source,
            slippage_limit=0.0,
            # Deribit "Funding Specifications" (support.deribit.com 31424939178397): an 8-hour
            # rate from premium = (mark - index) / index, with a +-0.025 % damper, paid
            # continuously (every millisecond); here paid every hour, an eighth each time.
            funding_interval_s=HOUR_S,
            funding_premium_period_s=EIGHT_HOURS_S,
            # The damper max(0.025 %, P) + min(-0.025 %, P) is P + clamp(0 - P, +-0.025 %).
            funding_interest_rate=0.0,
            funding_clamp=0.00025,
            # Same page: the cap "can vary by instrument"; BTC_USDC's was not read. 0.5 % per
            # 8 h is an estimate; per paid hour an eighth of it.
            funding_cap=0.005 / 8.0,
            basis_average_s=30.0,  # estimate: see the mark rule
        ),
    }
)
