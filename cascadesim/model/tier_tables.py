"""The venues' published margin tier tables and liquidation fees, as data, each with its source.

:mod:`cascadesim.model.venues` turns these rows into :class:`~cascadesim.model.venues.TierTable`
objects. Every table names the page or API endpoint it was read from, the date the table is
valid for and the date it was read (:data:`READ_ON`). The API responses were read from copies
committed to public repositories (freqtrade's ``leverage_tiers`` caches, which store the
venue's own response field by field); the repository and commit are part of the source.

A source that starts with ``estimate:`` is not a published table for that asset: it says why
and which published table stands in. The venues change their tables without notice, so every
table is a dated snapshot.

Units: floors are the notional (USD, or USDT / USDC taken at par) where a tier starts, except
OKX's, which tiers by position size in contracts: those floors are in units of the base asset
(contracts x contract value) and become USD at the market's price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

READ_ON = "2026-12-02"
# The five venues added by issue 15 (BitMEX, HTX, Bitget, Gate, Deribit) were read a day later.
READ_ON_VENUES15 = "2026-12-03"
READ_DATES = (READ_ON, READ_ON_VENUES15)
ESTIMATE_MARK = "estimate:"  # how a source says its table is not the venue's own


def is_estimate(source: str) -> bool:
    """True when a table's source says it stands in for an unpublished one."""
    return source.startswith(ESTIMATE_MARK)


# Round prices that show a base-unit table (OKX) in USD when no market price is given, e.g.
# by ``cascadesim tiers okx BTC``; scenarios and ``cascadesim liqprice`` use their own price.
REFERENCE_PRICE_USD = {"BTC": 100_000.0, "ETH": 3_000.0, "SOL": 150.0, "XRP": 2.0, "DOGE": 0.2}


@dataclass(frozen=True)
class PublishedTiers:
    """One tier table as the venue publishes it.

    Attributes
    ----------
    floors : tuple of float
        Where each tier starts: USD notional, or base-asset units when ``base_units``.
    mmr : tuple of float
        Maintenance margin rate of each tier, fraction of notional.
    max_leverage : tuple of float
        Highest initial leverage allowed in each tier.
    source : str
        Page or endpoint, copy, valid-for date, read date; ``estimate: ...`` where it is one.
    maintenance_amount : tuple of float or None
        The venue's own maintenance-amount column (Binance ``cum``, Bybit ``mmDeduction``),
        USD; None where the venue publishes none (the recursion of
        :func:`~cascadesim.model.venues.maintenance_amounts` gives it).
    base_units : bool
        Floors are quantities of the base asset (OKX: contracts x contract value).
    """

    floors: tuple[float, ...]
    mmr: tuple[float, ...]
    max_leverage: tuple[float, ...]
    source: str
    maintenance_amount: tuple[float, ...] | None = None
    base_units: bool = False

    @property
    def is_estimate(self) -> bool:
        return is_estimate(self.source)


@dataclass(frozen=True)
class PublishedFees:
    """A venue's liquidation (clearance) fee: per asset where published, else a default.

    Attributes
    ----------
    by_asset : dict of str to float
        Fraction of the liquidated notional, keyed by upper-case asset symbol.
    default : float
        Fraction for any other asset.
    source : str
        Where the rates come from; ``estimate: ...`` where the default is not published.
    """

    by_asset: dict[str, float]
    default: float
    source: str


def _binance(rows: tuple[tuple[float, float, float, float], ...], source: str) -> PublishedTiers:
    """Rows ``(notionalFloor, maintMarginRatio, initialLeverage, cum)`` of leverageBracket."""
    floors, mmr, leverage, cum = zip(*rows, strict=True)
    return PublishedTiers(floors, mmr, leverage, source, maintenance_amount=cum)


def _bybit(rows: tuple[tuple[float, float, float, float], ...], source: str) -> PublishedTiers:
    """Rows ``(riskLimitValue, maintenanceMargin, maxLeverage, mmDeduction)`` of risk-limit.

    A tier covers positions up to its risk limit value, so it starts at the previous one's.
    """
    caps, mmr, leverage, deduction = zip(*rows, strict=True)
    return PublishedTiers((0.0, *caps[:-1]), mmr, leverage, source, maintenance_amount=deduction)


def _okx(
    first_caps: tuple[float, ...],
    first_mmr: tuple[str, ...],
    first_imr: tuple[str, ...],
    step: tuple[float, str, str],
    count: int,
    contract_value: float,
    source: str,
) -> PublishedTiers:
    """OKX position tiers: the first tiers listed, then each further tier ``step`` = (contracts,
    MMR, IMR) above the one before, up to ``count`` tiers.

    Caps are in contracts; floors come out in base units (contracts x ``contract_value``). OKX
    publishes max leverage as 1 / IMR cut to two decimals (66.66x at IMR 1.5 %).
    """
    caps = list(first_caps)
    mmr = [Decimal(rate) for rate in first_mmr]
    imr = [Decimal(rate) for rate in first_imr]
    while len(caps) < count:
        caps.append(caps[-1] + step[0])
        mmr.append(mmr[-1] + Decimal(step[1]))
        imr.append(imr[-1] + Decimal(step[2]))
    floors = (0.0, *(cap * contract_value for cap in caps[:-1]))
    leverage = tuple(
        float((Decimal(1) / rate).quantize(Decimal("0.01"), rounding=ROUND_DOWN)) for rate in imr
    )
    return PublishedTiers(
        floors, tuple(float(rate) for rate in mmr), leverage, source, base_units=True
    )


def _hyperliquid(
    floors: tuple[float, ...], leverage: tuple[float, ...], source: str
) -> PublishedTiers:
    """Hyperliquid margin tiers: maintenance rate = 1 / (2 x max leverage) in each tier."""
    return PublishedTiers(floors, tuple(1.0 / (2.0 * lev) for lev in leverage), leverage, source)


def _dydx(initial: float, fraction: float, source: str) -> PublishedTiers:
    """One dYdX v4 liquidity tier: MMF = IMF x maintenance fraction, max leverage 1 / IMF."""
    return PublishedTiers((0.0,), (initial * fraction,), (1.0 / initial,), source)


def _bitget(rows: tuple[tuple[float, float, float], ...], source: str) -> PublishedTiers:
    """Rows ``(startUnit, keepMarginRate, leverage)`` of Bitget's position tiers (USDT)."""
    floors, mmr, leverage = zip(*rows, strict=True)
    return PublishedTiers(floors, mmr, leverage, source)


def _gate(rows: tuple[tuple[float, float, float], ...], source: str) -> PublishedTiers:
    """Rows ``(risk limit, MMR, max leverage)`` of Gate: a tier covers positions up to its risk
    limit, so it starts at the previous one's."""
    caps, mmr, leverage = zip(*rows, strict=True)
    return PublishedTiers((0.0, *caps[:-1]), mmr, leverage, source)


def _linear_in_size(
    base: float,
    per_unit: float,
    initial_base: float,
    breakpoints: tuple[float, ...],
    source: str,
) -> PublishedTiers:
    """Deribit's continuous rule ``MMR(q) = base + per_unit x q`` (q in base units) as size tiers.

    ``MM(q) = q x P x (base + per_unit x q)`` is convex in q; its chords between
    ``breakpoints`` have slope ``base + per_unit x (q0 + q1)``, so tiers with those rates and
    the continuity deduction give exactly Deribit's maintenance margin at every breakpoint (and
    at most ``per_unit x (q1 - q0)^2 / 4`` of notional above it in between). The last tier runs
    on at the tangent rate of its floor, below Deribit's beyond it. Max leverage of a tier is
    ``1 / IMR`` at its floor, ``IMR(q) = initial_base + per_unit x q``: a position at a
    breakpoint gets exactly Deribit's limit (one inside a tier a little more).
    """
    pairs = zip(breakpoints, breakpoints[1:], strict=False)
    rates = [base + per_unit * (q0 + q1) for q0, q1 in pairs]
    rates.append(base + 2.0 * per_unit * breakpoints[-1])
    leverage = tuple(1.0 / (initial_base + per_unit * q) for q in breakpoints)
    return PublishedTiers(breakpoints, tuple(rates), leverage, source, base_units=True)


# --- Binance USDⓈ-M ------------------------------------------------------------------------
# GET https://fapi.binance.com/fapi/v1/leverageBracket, the API form of the "Leverage and
# Margin of USDⓈ-M Futures" page; copy: github.com/freqtrade/freqtrade,
# freqtrade/exchange/binance_leverage_tiers.json at commit 3d9514d2660c (2024-10-24; freqtrade
# refreshes the file weekly from the endpoint). The copy carries ``cum`` beside each bracket.
_BINANCE_COPY = (
    "GET fapi.binance.com/fapi/v1/leverageBracket ('Leverage and Margin of USDⓈ-M Futures'), "
    "copy github.com/freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json "
    "@3d9514d2660c; valid 2024-10-24 (snapshot date); read " + READ_ON
)
BINANCE = {
    "BTC": _binance(
        (
            (0, 0.004, 125, 0),
            (50e3, 0.005, 100, 50),
            (600e3, 0.0065, 75, 950),
            (3e6, 0.01, 50, 11_450),
            (12e6, 0.02, 25, 131_450),
            (70e6, 0.025, 20, 481_450),
            (100e6, 0.05, 10, 2_981_450),
            (230e6, 0.1, 5, 14_481_450),
            (480e6, 0.125, 4, 26_481_450),
            (600e6, 0.15, 3, 41_481_450),
            (800e6, 0.25, 2, 121_481_450),
            (1.2e9, 0.5, 1, 421_481_450),
        ),
        "Binance BTCUSDT brackets: " + _BINANCE_COPY,
    ),
    "ETH": _binance(
        (
            (0, 0.004, 125, 0),
            (50e3, 0.005, 100, 50),
            (600e3, 0.0065, 75, 950),
            (3e6, 0.01, 50, 11_450),
            (12e6, 0.02, 25, 131_450),
            (50e6, 0.025, 20, 381_450),
            (65e6, 0.05, 10, 2_006_450),
            (150e6, 0.1, 5, 9_506_450),
            (320e6, 0.125, 4, 17_506_450),
            (400e6, 0.15, 3, 27_506_450),
            (530e6, 0.25, 2, 80_506_450),
            (800e6, 0.5, 1, 280_506_450),
        ),
        "Binance ETHUSDT brackets: " + _BINANCE_COPY,
    ),
    "SOL": _binance(
        (
            (0, 0.005, 100, 0),
            (20e3, 0.0065, 75, 30),
            (100e3, 0.01, 50, 380),
            (800e3, 0.02, 25, 8_380),
            (4e6, 0.025, 20, 28_380),
            (8e6, 0.05, 10, 228_380),
            (40e6, 0.1, 5, 2_228_380),
            (80e6, 0.125, 4, 4_228_380),
            (100e6, 0.25, 2, 16_728_380),
            (200e6, 0.5, 1, 66_728_380),
        ),
        "Binance SOLUSDT brackets: " + _BINANCE_COPY,
    ),
    "XRP": _binance(
        (
            (0, 0.005, 75, 0),
            (10e3, 0.0065, 50, 15),
            (20e3, 0.01, 40, 85),
            (160e3, 0.02, 25, 1_685),
            (800e3, 0.025, 20, 5_685),
            (1.6e6, 0.05, 10, 45_685),
            (8e6, 0.1, 5, 445_685),
            (16e6, 0.125, 4, 845_685),
            (20e6, 0.25, 2, 3_345_685),
            (40e6, 0.5, 1, 13_345_685),
        ),
        "Binance XRPUSDT brackets: " + _BINANCE_COPY,
    ),
    "DOGE": _binance(
        (
            (0, 0.005, 75, 0),
            (10e3, 0.007, 50, 20),
            (50e3, 0.01, 40, 170),
            (750e3, 0.02, 25, 7_670),
            (800e3, 0.025, 20, 11_670),
            (1.6e6, 0.05, 10, 51_670),
            (8e6, 0.1, 5, 451_670),
            (16e6, 0.125, 4, 851_670),
            (20e6, 0.25, 2, 3_351_670),
            (40e6, 0.5, 1, 13_351_670),
        ),
        "Binance DOGEUSDT brackets: " + _BINANCE_COPY,
    ),
}
# Any other asset: the 50x mid-cap bracket set of an earlier copy of the same file (commit
# 01d10aeb, 2024-08-31: G/USDT, BAT/USDT). Real altcoin tables differ widely.
BINANCE_OTHER = PublishedTiers(
    floors=(0, 5e3, 20e3, 25e3, 200e3, 400e3, 500e3, 1e6),
    mmr=(0.015, 0.02, 0.025, 0.05, 0.1, 0.125, 0.25, 0.5),
    max_leverage=(50, 25, 20, 10, 5, 4, 2, 1),
    source="estimate: no table of its own here; Binance's 50x mid-cap brackets (BATUSDT, "
    "freqtrade copy @01d10aeb, 2024-08-31) stand in",
)

# --- Bybit USDT perpetual ------------------------------------------------------------------
# GET https://api.bybit.com/v5/market/risk-limit?category=linear, the API form of Bybit's
# "Risk Limit" tables; copy: github.com/erikubingf-del/tradingtest,
# user_data/data/bybit/futures/leverage_tiers_USDT.json at commit 30f37205 (freqtrade cache,
# "updated" 2025-12-29). Each row's mmDeduction equals the recursion on the rows above it.
_BYBIT_COPY = (
    "GET api.bybit.com/v5/market/risk-limit?category=linear ('Risk Limit'), copy "
    "github.com/erikubingf-del/tradingtest user_data/data/bybit/futures/leverage_tiers_USDT.json"
    " @30f37205; valid 2025-12-29 (cache 'updated'); read " + READ_ON
)
_BYBIT_BTC_ROWS = (
    (2e6, 0.005, 100, 0),
    (2.6e6, 0.0056, 90, 1_200),
    (3.2e6, 0.0063, 80, 3_020),
    (3.8e6, 0.0067, 75, 4_300),
    (4.4e6, 0.0071, 70, 5_820),
    (5e6, 0.0077, 65, 8_460),
    (5.6e6, 0.0091, 55, 15_460),
    (8.5e6, 0.01, 50, 20_500),
    (10e6, 0.013, 45, 46_000),
    (14e6, 0.015, 40, 66_000),
    (20e6, 0.016, 35, 80_000),
    (28e6, 0.02, 30, 160_000),
    (38e6, 0.025, 25, 300_000),
    (50e6, 0.029, 20, 452_000),
    (55e6, 0.03, 19, 502_000),
    (60e6, 0.035, 18, 777_000),
    (65e6, 0.036, 17, 837_000),
    (70e6, 0.038, 16, 967_000),
    (75e6, 0.04, 15, 1_107_000),
    (80e6, 0.045, 14, 1_482_000),
    (85e6, 0.05, 13, 1_882_000),
    (90e6, 0.055, 12, 2_307_000),
    (95e6, 0.06, 11, 2_757_000),
    (100e6, 0.065, 10, 3_232_000),
    (105e6, 0.07, 9, 3_732_000),
    (110e6, 0.085, 8, 5_307_000),
    (115e6, 0.095, 7, 6_407_000),
    (120e6, 0.1, 6, 6_982_000),
    (150e6, 0.12, 5, 9_382_000),
    (200e6, 0.14, 4, 12_382_000),
    (250e6, 0.18, 3, 20_382_000),
    (400e6, 0.3, 2, 50_382_000),
    (600e6, 0.42, 1.43, 98_382_000),
    (800e6, 0.5, 1.28, 146_382_000),
    (1.2e9, 0.6, 1, 226_382_000),
)
_BYBIT_ETH_ROWS = (
    (900e3, 0.005, 100, 0),
    (1.2e6, 0.0056, 90, 540),
    (1.5e6, 0.0063, 80, 1_380),
    (1.8e6, 0.0067, 75, 1_980),
    (2.4e6, 0.0071, 70, 2_700),
    (3.2e6, 0.0077, 65, 4_140),
    (4e6, 0.0091, 55, 8_620),
    (5e6, 0.01, 50, 12_220),
    (8e6, 0.012, 45, 22_220),
    (12e6, 0.013, 40, 30_220),
    (16e6, 0.014, 35, 42_220),
    (22e6, 0.015, 30, 58_220),
    (28e6, 0.02, 25, 168_220),
    (32e6, 0.025, 20, 308_220),
    (34e6, 0.03, 19, 468_220),
    (36e6, 0.033, 18, 570_220),
    (38e6, 0.035, 17, 642_220),
    (40e6, 0.038, 16, 756_220),
    (42e6, 0.039, 15, 796_220),
    (44e6, 0.042, 14, 922_220),
    (46e6, 0.045, 13, 1_054_220),
    (48e6, 0.05, 12, 1_284_220),
    (50e6, 0.055, 11, 1_524_220),
    (52e6, 0.06, 10, 1_774_220),
    (54e6, 0.068, 9, 2_190_220),
    (58e6, 0.075, 8, 2_568_220),
    (62e6, 0.09, 7, 3_438_220),
    (66e6, 0.1, 6, 4_058_220),
    (72e6, 0.12, 5, 5_378_220),
    (80e6, 0.14, 4, 6_818_220),
    (100e6, 0.18, 3, 10_018_220),
    (200e6, 0.3, 2, 22_018_220),
    (400e6, 0.42, 1.43, 46_018_220),
    (600e6, 0.5, 1.28, 78_018_220),
    (1e9, 0.6, 1, 138_018_220),
)
_BYBIT_SOL_ROWS = (
    (50e3, 0.005, 100, 0),
    (100e3, 0.0056, 90, 30),
    (250e3, 0.0063, 80, 100),
    (400e3, 0.0067, 75, 200),
    (550e3, 0.0071, 70, 360),
    (700e3, 0.0077, 65, 690),
    (850e3, 0.0091, 55, 1_670),
    (1e6, 0.01, 50, 2_435),
    (2e6, 0.0111, 45, 3_535),
    (3e6, 0.0125, 40, 6_335),
    (4e6, 0.0143, 35, 11_735),
    (6e6, 0.0167, 30, 21_335),
    (8e6, 0.02, 25, 41_135),
    (10e6, 0.025, 20, 81_135),
    (12e6, 0.0263, 19, 94_135),
    (14e6, 0.0278, 18, 112_135),
    (16e6, 0.0294, 17, 134_535),
    (18e6, 0.0313, 16, 164_935),
    (20e6, 0.0333, 15, 200_935),
    (22e6, 0.0357, 14, 248_935),
    (24e6, 0.0385, 13, 310_535),
    (26e6, 0.0417, 12, 387_335),
    (28e6, 0.0455, 11, 486_135),
    (30e6, 0.05, 10, 612_135),
    (35e6, 0.0556, 9, 780_135),
    (40e6, 0.0625, 8, 1_021_635),
    (45e6, 0.0714, 7, 1_377_635),
    (50e6, 0.0833, 6, 1_913_135),
    (60e6, 0.1, 5, 2_748_135),
    (80e6, 0.125, 4, 4_248_135),
    (100e6, 0.1667, 3, 7_584_135),
    (150e6, 0.25, 2, 15_914_135),
    (200e6, 0.3497, 1.43, 30_869_135),
    (250e6, 0.3906, 1.28, 39_049_135),
    (300e6, 0.5, 1, 66_399_135),
)
_BYBIT_XRP_ROWS = (
    (250e3, 0.0075, 75, 0),
    (400e3, 0.01, 50, 625),
    (700e3, 0.015, 33.33, 2_625),
    (1.2e6, 0.02, 25, 6_125),
    (1.7e6, 0.025, 20, 12_125),
    (2.2e6, 0.03, 16.67, 20_625),
    (3e6, 0.035, 14.29, 31_625),
    (4e6, 0.04, 12.5, 46_625),
    (5e6, 0.045, 11.11, 66_625),
    (6e6, 0.05, 10, 91_625),
    (6.4e6, 0.055, 9.09, 121_625),
    (6.8e6, 0.06, 8.33, 153_625),
    (7.2e6, 0.065, 7.69, 187_625),
    (7.6e6, 0.07, 7.14, 223_625),
    (8e6, 0.075, 6.67, 261_625),
    (9e6, 0.08, 6.25, 301_625),
    (10e6, 0.085, 5.88, 346_625),
    (12e6, 0.09, 5.56, 396_625),
    (14e6, 0.095, 5.26, 456_625),
    (16e6, 0.1, 5, 526_625),
    (18e6, 0.105, 4.76, 606_625),
    (20e6, 0.11, 4.55, 696_625),
    (22e6, 0.115, 4.35, 796_625),
    (24e6, 0.12, 4.17, 906_625),
    (26e6, 0.125, 4, 1_026_625),
    (28e6, 0.13, 3.85, 1_156_625),
    (30e6, 0.135, 3.7, 1_296_625),
    (32e6, 0.2, 2.5, 3_246_625),
    (34e6, 0.4, 1.43, 9_646_625),
    (36e6, 0.6, 1, 16_446_625),
)
_BYBIT_DOGE_ROWS = (
    (250e3, 0.0075, 75, 0),
    (500e3, 0.01, 50, 625),
    (750e3, 0.015, 33.33, 3_125),
    (1.5e6, 0.02, 25, 6_875),
    (3e6, 0.025, 20, 14_375),
    (5e6, 0.03, 16.67, 29_375),
    (7e6, 0.035, 14.29, 54_375),
    (10e6, 0.04, 12.5, 89_375),
    (12e6, 0.045, 11.11, 139_375),
    (15e6, 0.05, 10, 199_375),
    (16e6, 0.055, 9.09, 274_375),
    (18e6, 0.06, 8.33, 354_375),
    (19e6, 0.065, 7.69, 444_375),
    (21e6, 0.07, 7.14, 539_375),
    (22e6, 0.075, 6.67, 644_375),
    (24e6, 0.08, 6.25, 754_375),
    (25e6, 0.085, 5.88, 874_375),
    (27e6, 0.09, 5.56, 999_375),
    (28e6, 0.095, 5.26, 1_134_375),
    (30e6, 0.1, 5, 1_274_375),
    (35e6, 0.105, 4.76, 1_424_375),
    (40e6, 0.11, 4.55, 1_599_375),
    (45e6, 0.115, 4.35, 1_799_375),
    (50e6, 0.12, 4.17, 2_024_375),
    (55e6, 0.125, 4, 2_274_375),
    (60e6, 0.13, 3.85, 2_549_375),
    (65e6, 0.135, 3.7, 2_849_375),
    (70e6, 0.2, 2.5, 7_074_375),
    (75e6, 0.4, 1.43, 21_074_375),
    (80e6, 0.6, 1, 36_074_375),
)
BYBIT = {
    "BTC": _bybit(_BYBIT_BTC_ROWS, "Bybit BTCUSDT risk limits: " + _BYBIT_COPY),
    "ETH": _bybit(_BYBIT_ETH_ROWS, "Bybit ETHUSDT risk limits: " + _BYBIT_COPY),
    "SOL": _bybit(_BYBIT_SOL_ROWS, "Bybit SOLUSDT risk limits: " + _BYBIT_COPY),
    "XRP": _bybit(_BYBIT_XRP_ROWS, "Bybit XRPUSDT risk limits: " + _BYBIT_COPY),
    "DOGE": _bybit(_BYBIT_DOGE_ROWS, "Bybit DOGEUSDT risk limits: " + _BYBIT_COPY),
}
# Any other asset: the small-cap table "After Adjustment" of "Risk Limit Adjustment for
# Perpetual Contracts (Jul 1, 2025)" (bybitannouncements.com/?p=1828; VOXELUSDT and others).
BYBIT_OTHER = PublishedTiers(
    floors=(0, 5e3, 9e3, 13e3, 17e3, 21e3, 25e3, 40e3, 55e3, 70e3, 85e3, 100e3, 110e3, 120e3)
    + (130e3, 140e3),
    mmr=(0.025, 0.0263, 0.0278, 0.0294, 0.0313, 0.0333, 0.0357, 0.0385, 0.0417, 0.0455, 0.05)
    + (0.0526, 0.0556, 0.0588, 0.0625, 0.0667),
    max_leverage=(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9.5, 9, 8.5, 8, 7.5),
    source="estimate: no table of its own here; Bybit's small-cap risk limits of the "
    "2025-07-01 announcement (bybitannouncements.com/?p=1828, VOXELUSDT) stand in",
)

# --- OKX USDT swaps ------------------------------------------------------------------------
# GET https://www.okx.com/api/v5/public/position-tiers?instType=SWAP&tdMode=cross, the API
# form of OKX's "Position tiers" page; copy: github.com/loveolu/crypto-strategy-research,
# user_data/data/okx/futures/leverage_tiers_USDT.json at commit 346d4b70 (freqtrade cache,
# "updated" 2026-05-28), whose minSz / maxSz are contracts. All tiers were read for DOGE; for
# the others the first tiers and the last ones, which the stepped pattern joins exactly.
# OKX applies one tier's MMR to the whole position (no deduction); cascadesim's deduction keeps
# the maintenance margin continuous, as on the other venues.
_OKX_COPY = (
    "GET okx.com/api/v5/public/position-tiers?instType=SWAP ('Position tiers'), copy "
    "github.com/loveolu/crypto-strategy-research user_data/data/okx/futures/"
    "leverage_tiers_USDT.json @346d4b70; valid 2026-05-28 (cache 'updated'); read " + READ_ON
)
OKX = {
    "BTC": _okx(
        (1000, 5000, 20_000, 40_000),
        ("0.004", "0.005", "0.0075", "0.0125"),
        ("0.01", "0.015", "0.02", "0.025"),
        (20_000, "0.005", "0.005"),
        99,
        0.01,
        "OKX BTC-USDT-SWAP tiers, 0.01 BTC per contract: " + _OKX_COPY,
    ),
    "ETH": _okx(
        (5000, 10_000, 25_000, 50_000),
        ("0.004", "0.005", "0.0075", "0.0125"),
        ("0.01", "0.015", "0.02", "0.025"),
        (25_000, "0.005", "0.005"),
        99,
        0.1,
        "OKX ETH-USDT-SWAP tiers, 0.1 ETH per contract: " + _OKX_COPY,
    ),
    # The copy holds no contract value; 1 SOL and 100 XRP per contract are OKX's contract
    # specifications as commonly quoted, not read from GET /api/v5/public/instruments here.
    "SOL": _okx(
        (2500, 10_000, 20_000, 40_000),
        ("0.0065", "0.01", "0.015", "0.02"),
        ("0.02", "0.025", "0.05", "0.055"),
        (20_000, "0.005", "0.005"),
        93,
        1.0,
        "OKX SOL-USDT-SWAP tiers (1 SOL per contract: estimate, instrument spec not read): "
        + _OKX_COPY,
    ),
    "XRP": _okx(
        (2500, 5000, 10_000, 20_000),
        ("0.0065", "0.01", "0.015", "0.02"),
        ("0.02", "0.025", "0.05", "0.055"),
        (10_000, "0.005", "0.005"),
        93,
        100.0,
        "OKX XRP-USDT-SWAP tiers (100 XRP per contract: estimate, instrument spec not read): "
        + _OKX_COPY,
    ),
    "DOGE": _okx(
        (1500, 3000, 6000, 12_000),
        ("0.0065", "0.01", "0.015", "0.02"),
        ("0.02", "0.025", "0.05", "0.055"),
        (6000, "0.005", "0.005"),
        93,
        1000.0,
        "OKX DOGE-USDT-SWAP tiers, 1,000 DOGE per contract: " + _OKX_COPY,
    ),
}
# Any other asset: ADA-USDT-SWAP "After" of "OKX to adjust position tiers of perpetual swaps"
# (okx.com/help, 2023-05-15): 1,500 / 3,000 / 6,000 contracts at MMR 0.50 / 0.75 / 1.00 %, IMR
# 1.33 / 2 / 2.5 %, then +6,000 contracts, +0.5 % MMR, +0.5 % IMR per tier, 12 tiers, at 40 USD
# per contract (100 ADA at 0.40 USD). Kept in USD, as before, with max leverage 1 / IMR.
OKX_OTHER = PublishedTiers(
    floors=(0, 60e3, 120e3, 240e3, 480e3, 720e3, 960e3, 1.2e6, 1.44e6, 1.68e6, 1.92e6, 2.16e6),
    mmr=(0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.055),
    max_leverage=(75, 50, 40, 1 / 0.03, 1 / 0.035, 25, 1 / 0.045, 20, 1 / 0.055, 1 / 0.06)
    + (1 / 0.065, 1 / 0.07),
    source="estimate: no table of its own here; OKX ADA-USDT-SWAP tiers of 2023-05-15 "
    "(okx.com/help 'OKX to adjust position tiers of perpetual swaps') at 40 USD per contract "
    "stand in",
)

# --- Hyperliquid ---------------------------------------------------------------------------
# Docs "Margin tiers" (hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers): a table
# of max leverage by position value (USDC) per asset group; maintenance margin is half the
# initial margin at max leverage (docs "Margining"). The page carries no date.
_HYPERLIQUID_PAGE = (
    "docs 'Margin tiers', hyperliquid.gitbook.io/hyperliquid-docs/trading/"
    "margin-tiers, MMR = 1 / (2 x max leverage) ('Margining'); page undated; read " + READ_ON
)
HYPERLIQUID = {
    "BTC": _hyperliquid(
        (0, 150e6), (40, 20), "Hyperliquid BTC 0-150M 40x, >150M 20x: " + _HYPERLIQUID_PAGE
    ),
    "ETH": _hyperliquid(
        (0, 100e6), (25, 15), "Hyperliquid ETH 0-100M 25x, >100M 15x: " + _HYPERLIQUID_PAGE
    ),
    "SOL": _hyperliquid(
        (0, 70e6), (20, 10), "Hyperliquid SOL 0-70M 20x, >70M 10x: " + _HYPERLIQUID_PAGE
    ),
    "XRP": _hyperliquid(
        (0, 40e6), (20, 10), "Hyperliquid XRP 0-40M 20x, >40M 10x: " + _HYPERLIQUID_PAGE
    ),
    "DOGE": _hyperliquid(
        (0, 20e6),
        (10, 5),
        "Hyperliquid DOGE (with kPEPE, SUI, ...) 0-20M 10x, >20M 5x: " + _HYPERLIQUID_PAGE,
    ),
}
HYPERLIQUID_OTHER = _hyperliquid(
    (0, 20e6),
    (10, 5),
    "estimate: no tiers of its own here; Hyperliquid's DOGE group (0-20M 10x, >20M 5x) "
    "stands in, many assets have a lower max leverage; " + _HYPERLIQUID_PAGE,
)

# --- dYdX v4 -------------------------------------------------------------------------------
# A market's margin is its liquidity tier: initial margin fraction IMF and maintenance fraction
# (MMF = IMF x fraction), one tier per market (nonlinear scaling removed). Tiers: default
# genesis of github.com/dydxprotocol/v4-chain protocol/testing/genesis.sh at commit 84d4664b
# (2026-03-04) and docs.dydx.community "Markets": Large-Cap IMF 0.02 x 0.6, Small-Cap 0.1 x 0.5,
# Mid-Cap 0.05 x 0.6, Long-Tail 0.2 x 0.5. Governance assigns markets to tiers on chain.
_DYDX_TIERS = (
    "github.com/dydxprotocol/v4-chain protocol/testing/genesis.sh @84d4664b (liquidity tiers "
    "of the default genesis) and docs.dydx.community 'Markets'; valid 2026-03-04; read " + READ_ON
)
DYDX = {
    "BTC": _dydx(0.02, 0.6, "dYdX BTC-USD, Large-Cap tier (IMF 0.02, MMF 0.012): " + _DYDX_TIERS),
    "ETH": _dydx(0.02, 0.6, "dYdX ETH-USD, Large-Cap tier (IMF 0.02, MMF 0.012): " + _DYDX_TIERS),
    "SOL": _dydx(
        0.05,
        0.6,
        "estimate: dYdX SOL-USD in the Mid-Cap tier (IMF 0.05, MMF 0.03) as proposed on "
        "dydx.forum 'Liquidity Tier Maintenance'; its current assignment on chain not read; "
        + _DYDX_TIERS,
    ),
    "XRP": _dydx(
        0.1,
        0.5,
        "estimate: dYdX XRP-USD in the Small-Cap tier (IMF 0.1, MMF 0.05) as in the default "
        "genesis; its current assignment on chain not read; " + _DYDX_TIERS,
    ),
    "DOGE": _dydx(
        0.1,
        0.5,
        "estimate: dYdX DOGE-USD in the Small-Cap tier (IMF 0.1, MMF 0.05) as in the default "
        "genesis; its current assignment on chain not read; " + _DYDX_TIERS,
    ),
}
DYDX_OTHER = _dydx(
    0.1,
    0.5,
    "estimate: no market of its own here; dYdX's Small-Cap tier (IMF 0.1, MMF 0.05) stands "
    "in; " + _DYDX_TIERS,
)

# --- BitMEX linear USDT perpetual (XBTUSDT) --------------------------------------------------
# No XBTUSDT risk-limit table was found. BitMEX's published rule ("Risk Limits Examples",
# bitmex.com/app/riskLimitsExamples, undated; read READ_ON_VENUES15): at each risk-limit step the
# maintenance and initial margin rise by the base maintenance margin; XBTUSD's base MM 0.50 %,
# IM 1.00 %. The step size is XBTUSD's 150 XBT ("Introducing Lower Margin Requirements on Large
# Positions for XBTUSD ...", BitMEX announcement of 2021-08, read on cryptomak.co.uk/?p=263944),
# here taken as USD 15M at REFERENCE_PRICE_USD and used for the base limit too: estimates.
_BITMEX_RULE = (
    "bitmex.com/app/riskLimitsExamples (each step adds the base MM to MM and IM; XBTUSD base MM "
    "0.50 %, IM 1.00 %), step 150 XBT of the 2021-08 XBTUSD announcement; page undated; read "
    + READ_ON_VENUES15
)


def _bitmex_steps(step_usd: float, count: int, source: str) -> PublishedTiers:
    """BitMEX's risk-limit ladder: MM 0.5 % + 0.5 % per step, IM 1 % + 0.5 % per step."""
    floors = tuple(step_usd * n for n in range(count))
    mmr = tuple(round(0.005 * (n + 1), 6) for n in range(count))
    leverage = tuple(1.0 / (0.01 + 0.005 * n) for n in range(count))
    return PublishedTiers(floors, mmr, leverage, source)


BITMEX = {
    "BTC": _bitmex_steps(
        15e6,
        10,
        "estimate: no XBTUSDT risk-limit table found; XBTUSD's ladder stands in, steps of "
        "15M USD (150 XBT at 100,000 USD): " + _BITMEX_RULE,
    ),
    "ETH": _bitmex_steps(
        10e6,
        10,
        "estimate: no ETHUSDT risk-limit table found; the XBTUSD ladder with ETHUSD's 100 XBT "
        "step of the same announcement (10M USD at 100,000 USD/XBT) stands in: " + _BITMEX_RULE,
    ),
}
BITMEX_OTHER = _bitmex_steps(
    7.5e6,
    10,
    "estimate: no table of its own here; the XBTUSD ladder with the altcoin futures' 75 XBT step "
    "of the same announcement (7.5M USD at 100,000 USD/XBT) stands in: " + _BITMEX_RULE,
)

# --- HTX USDT-margined swaps ----------------------------------------------------------------
# HTX's single-asset mode margins by a tiered adjustment factor per leverage: "Maintenance
# Margin Ratio = Adjustment Factor / Leverage (This data is for reference only ...)" (HTX help
# "Tiered Adjustment Factor of USDⓈ-Margined Contracts", huobi.com/support/es-es/detail/
# 900001326606, undated; read READ_ON_VENUES15). The BTC-USDT factors themselves were not read
# (the page shows them as an image), so the tables are estimates: max leverage by notional from
# HTX's BTCUSDT position limits per leverage ("HTX to Adjust Maximum Leverage and Position Limits
# of USDT-M Futures", htx.com/vi-vi/support/74925246761547, 2022-12-20: >=1x 50M, >=6x 20M,
# >=11x 10M, >=21x 1M, >=31x 250k USDT), and MMR = half the initial margin at that leverage, the
# ratio of HTX's published tier-1 multi-assets rates (20x, 2.5 %; "HTX to Adjust Position
# Limits, Leverage Tiers, and Margin Rates for Some USDT-M Futures", 2025-06-03).
_HTX_SOURCE = (
    "floors from HTX BTCUSDT position limits per leverage (htx.com/vi-vi/support/74925246761547, "
    "2022-12-20), MMR = 1 / (2 x max leverage) as HTX's tier-1 multi-assets rate (20x, 2.5 %, "
    "announcement of 2025-06-03); adjustment factors (MMR = factor / leverage, huobi.com/support/"
    "es-es/detail/900001326606) not read; valid 2022-12-20; read " + READ_ON_VENUES15
)
_HTX_BTC = _hyperliquid(
    (0, 250e3, 1e6, 10e6, 20e6),
    (100, 30, 20, 10, 5),
    "estimate: HTX BTC-USDT, " + _HTX_SOURCE,
)
HTX = {
    "BTC": _HTX_BTC,
    "ETH": _hyperliquid(
        _HTX_BTC.floors,
        _HTX_BTC.max_leverage,
        "estimate: HTX ETH-USDT, BTC-USDT's limits stand in; " + _HTX_SOURCE,
    ),
}
HTX_OTHER = _hyperliquid(
    (0, 250e3, 1e6),
    (20, 10, 5),
    "estimate: no table of its own here; HTX's multi-assets altcoin tiers (20x 2.5 %, 10x 3.5 %, "
    "5x 4 % in contracts, announcement of 2025-06-03) shown as 20x, 10x, 5x at 0, 250k, 1M USD "
    "with MMR = 1 / (2 x max leverage) stand in",
)

# --- Bitget USDT-M futures ------------------------------------------------------------------
# GET https://api.bitget.com/api/v2/mix/market/query-position-lever (productType USDT-FUTURES),
# the API form of Bitget's "Position tiers"; copy: github.com/dextrorsal/user_data,
# data/bitget/futures/leverage_tiers_USDT.json at commit 3482554a (freqtrade cache, "updated"
# 2025-04-04), rows startUnit / endUnit (USDT), leverage, keepMarginRate.
_BITGET_COPY = (
    "GET api.bitget.com/api/v2/mix/market/query-position-lever ('Position tiers'), copy "
    "github.com/dextrorsal/user_data data/bitget/futures/leverage_tiers_USDT.json @3482554a; "
    "valid 2025-04-04 (cache 'updated'); read " + READ_ON_VENUES15
)
BITGET = {
    "BTC": _bitget(
        (
            (0, 0.004, 125),
            (150e3, 0.005, 100),
            (900e3, 0.01, 50),
            (12e6, 0.015, 25),
            (38e6, 0.03, 20),
            (50e6, 0.05, 10),
            (100e6, 0.12, 5),
            (150e6, 0.15, 4),
            (200e6, 0.2, 3),
            (250e6, 0.3, 2),
            (400e6, 0.6, 1),
        ),
        "Bitget BTCUSDT position tiers: " + _BITGET_COPY,
    ),
    "ETH": _bitget(
        (
            (0, 0.005, 100),
            (900e3, 0.01, 75),
            (3e6, 0.015, 50),
            (12e6, 0.02, 20),
            (65e6, 0.025, 10),
            (150e6, 0.035, 8),
            (190e6, 0.055, 7),
            (220e6, 0.07, 6),
            (270e6, 0.095, 5),
            (320e6, 0.13, 4),
            (400e6, 0.17, 3),
            (530e6, 0.26, 2),
            (800e6, 0.5, 1),
        ),
        "Bitget ETHUSDT position tiers: " + _BITGET_COPY,
    ),
    "SOL": _bitget(
        (
            (0, 0.005, 100),
            (20e3, 0.0066, 75),
            (100e3, 0.01, 50),
            (800e3, 0.0166, 25),
            (8e6, 0.03, 20),
            (10e6, 0.05, 10),
            (30e6, 0.12, 5),
            (60e6, 0.15, 4),
            (80e6, 0.3, 2),
            (150e6, 0.6, 1),
        ),
        "Bitget SOLUSDT position tiers: " + _BITGET_COPY,
    ),
    "XRP": _bitget(
        (
            (0, 0.004, 125),
            (5e3, 0.005, 100),
            (15e3, 0.0067, 75),
            (100e3, 0.01, 50),
            (200e3, 0.02, 25),
            (800e3, 0.05, 10),
            (8e6, 0.1, 5),
            (16e6, 0.125, 4),
            (20e6, 0.1666, 3),
            (25e6, 0.25, 2),
            (40e6, 0.5, 1),
        ),
        "Bitget XRPUSDT position tiers: " + _BITGET_COPY,
    ),
    "DOGE": _bitget(
        (
            (0, 0.0066, 75),
            (10e3, 0.01, 50),
            (50e3, 0.0125, 40),
            (750e3, 0.025, 25),
            (1.5e6, 0.03, 20),
            (3e6, 0.05, 10),
            (15e6, 0.12, 5),
            (30e6, 0.15, 4),
            (55e6, 0.3, 2),
            (70e6, 0.6, 1),
        ),
        "Bitget DOGEUSDT position tiers: " + _BITGET_COPY,
    ),
}
# Any other asset: SAFEUSDT's tiers "after" of Bitget's announcement of 2025-03-27 ("Bitget to
# adjust the maintenance margin rate for USDT-M perpetual futures trading pair", read on the
# mirror beeeye.xyz/ph/support/articles/12560603824682).
BITGET_OTHER = _bitget(
    (
        (0, 0.01, 75),
        (10e3, 0.015, 50),
        (40e3, 0.018, 40),
        (50e3, 0.025, 25),
        (100e3, 0.03, 20),
        (200e3, 0.05, 10),
        (700e3, 0.12, 5),
        (1.5e6, 0.15, 4),
        (2e6, 0.2, 3),
        (3e6, 0.3, 2),
        (5.5e6, 0.6, 1),
    ),
    "estimate: no table of its own here; Bitget's SAFEUSDT tiers of the 2025-03-27 announcement "
    "(support article 12560603824682) stand in",
)

# --- Gate USDT perpetual --------------------------------------------------------------------
# Gate help "Risk Limit Explanation" (gate.com/help/futures/futures-logic/22162, dated
# 2025-09-30, read on the mirror bi.live): BTCUSDT tiers by risk limit (USDT), tiered MMR, IMR,
# max leverage. Gate computes maintenance margin by gradient since 2025-07-29: each tier's MMR
# on the part of the position above the previous limit (Gate "Leverage and Margin" page), which
# is the continuity deduction. The page's table is the help page's, not an API snapshot, and
# its last tier (50 %, 1.05x up to 5M USDT) reads like an illustration: kept as published.
_GATE_PAGE = (
    "Gate help 'Risk Limit Explanation' (gate.com/help/futures/futures-logic/22162, read on the "
    "mirror bi.live), gradient maintenance margin (Gate 'Leverage and Margin'); valid "
    "2025-09-30; read " + READ_ON_VENUES15
)
_GATE_BTC_ROWS = (
    (20e3, 0.004, 125),
    (50e3, 0.0045, 111),
    (100e3, 0.005, 100),
    (200e3, 0.007, 75),
    (1e6, 0.01, 50),
    (2e6, 0.02, 25),
    (3e6, 0.05, 10),
    (5e6, 0.5, 1.05),
)
GATE = {
    "BTC": _gate(_GATE_BTC_ROWS, "Gate BTCUSDT risk limits: " + _GATE_PAGE),
    "ETH": _gate(
        _GATE_BTC_ROWS,
        "estimate: no ETHUSDT table found; BTCUSDT's risk limits stand in: " + _GATE_PAGE,
    ),
}
GATE_OTHER = _gate(
    _GATE_BTC_ROWS,
    "estimate: no table of its own here; Gate's BTCUSDT risk limits of the help page stand in, "
    "altcoins have lower limits and leverage",
)

# --- Deribit linear USDC perpetual (BTC_USDC-PERPETUAL) -------------------------------------
# Deribit publishes no tiers: support.deribit.com "Linear Perpetual" (hc/en-us/articles/
# 25944738177565, undated; read READ_ON_VENUES15) gives BTC_USDC IM = 2 % + 0.005 % x position
# size in BTC, MM = 1 % + 0.005 % x size, with examples at 100,000 USD: 25 BTC -> IM 2.125 %
# (53,125 USDC), MM 1.125 % (28,125 USDC); 350 BTC -> IM 3.75 % (1,312,500 USDC). The tiers
# below are that rule as chords between sizes (see _linear_in_size): exact at each breakpoint,
# a discretisation of ours, hence estimates.
_DERIBIT_PAGE = (
    "support.deribit.com/hc/en-us/articles/25944738177565 'Linear Perpetual' (BTC_USDC: MM 1 % + "
    "0.005 % x size in BTC, IM 2 % + 0.005 % x size); page undated; read " + READ_ON_VENUES15
)
DERIBIT_BREAKPOINTS_BTC = (0.0, 25.0, 50.0, 100.0, 200.0, 350.0, 500.0, 750.0, 1000.0, 1500.0)
DERIBIT = {
    "BTC": _linear_in_size(
        0.01,
        0.00005,
        0.02,
        DERIBIT_BREAKPOINTS_BTC,
        "estimate: Deribit BTC_USDC-PERPETUAL, its continuous rule as size tiers, exact at "
        "0, 25, 50, 100, 200, 350, 500, 750, 1000, 1500 BTC: " + _DERIBIT_PAGE,
    ),
    # ETH_USDC's rule was not read: BTC_USDC's, per 1 BTC of notional (33.3 ETH at the
    # reference prices), stands in.
    "ETH": _linear_in_size(
        0.01,
        0.00005 * 3_000.0 / 100_000.0,
        0.02,
        tuple(q * 100_000.0 / 3_000.0 for q in DERIBIT_BREAKPOINTS_BTC),
        "estimate: ETH_USDC-PERPETUAL's rule not read; BTC_USDC's per BTC of notional at "
        "3,000 / 100,000 USD stands in: " + _DERIBIT_PAGE,
    ),
}
# The same page's SOL_USDC rule, IM 4 % + 0.0005 % x size in SOL and MM 2 % + 0.0005 % x size,
# as chords at 0, 2k, 5k, 10k and 20k SOL, in USD at REFERENCE_PRICE_USD["SOL"] (150 USD).
_DERIBIT_SOL = _linear_in_size(0.02, 0.000005, 0.04, (0.0, 2e3, 5e3, 10e3, 20e3), "")
DERIBIT_OTHER = PublishedTiers(
    tuple(q * 150.0 for q in _DERIBIT_SOL.floors),
    _DERIBIT_SOL.mmr,
    _DERIBIT_SOL.max_leverage,
    "estimate: no market of its own here; Deribit's SOL_USDC rule (MM 2 % + 0.0005 % x size, "
    "IM 4 % + 0.0005 % x size in SOL, same page) as chords at 0, 2k, 5k, 10k, 20k SOL at 150 USD "
    "stands in",
)

TABLES = {
    "binance": BINANCE,
    "bybit": BYBIT,
    "okx": OKX,
    "hyperliquid": HYPERLIQUID,
    "dydx": DYDX,
    "bitmex": BITMEX,
    "htx": HTX,
    "bitget": BITGET,
    "gate": GATE,
    "deribit": DERIBIT,
}
OTHER = {
    "binance": BINANCE_OTHER,
    "bybit": BYBIT_OTHER,
    "okx": OKX_OTHER,
    "hyperliquid": HYPERLIQUID_OTHER,
    "dydx": DYDX_OTHER,
    "bitmex": BITMEX_OTHER,
    "htx": HTX_OTHER,
    "bitget": BITGET_OTHER,
    "gate": GATE_OTHER,
    "deribit": DERIBIT_OTHER,
}

# --- liquidation fees ----------------------------------------------------------------------
LIQUIDATION_FEES = {
    # GET fapi.binance.com/fapi/v1/exchangeInfo, field liquidationFee per symbol; a response
    # with serverTime 1711627208783 (2024-03-28) stored in a public repository. Symbols' rates
    # run from 1.0 % to 2.0 %.
    "binance": PublishedFees(
        {"BTC": 0.0125, "ETH": 0.0125, "SOL": 0.015, "XRP": 0.0125, "DOGE": 0.01},
        0.015,
        "GET fapi.binance.com/fapi/v1/exchangeInfo, liquidationFee per symbol, response of "
        "2024-03-28 (serverTime 1711627208783) stored in a public repository; read "
        + READ_ON
        + "; other assets: estimate 1.5 %",
    ),
    # Bybit "Liquidation Process (USDT Contract)": the position is taken over at the bankruptcy
    # price and the margin left above it goes to the insurance fund; no separate fee.
    "bybit": PublishedFees(
        {},
        0.0,
        "Bybit Help Center 'Liquidation Process (USDT Contract)': no liquidation fee, the "
        "margin left goes to the insurance fund; page undated; read " + READ_ON,
    ),
    # OKX: no liquidation-fee table found; the engine charges the taker rate.
    "okx": PublishedFees(
        {},
        0.0005,
        "estimate: no OKX liquidation-fee page found; the 0.05 % taker fee rate stands in",
    ),
    # Hyperliquid docs "Liquidations": the backstop vault takes the position and keeps the
    # remaining maintenance margin; no clearance fee is charged.
    "hyperliquid": PublishedFees(
        {},
        0.0,
        "Hyperliquid docs 'Liquidations' (hyperliquid.gitbook.io/hyperliquid-docs/trading/"
        "liquidations): no clearance fee, the backstop keeps the margin; page undated; read "
        + READ_ON,
    ),
    # dYdX v4 clob params max_liquidation_fee_ppm = 15000 (the same genesis.sh): the most a
    # liquidation may charge, 1.5 % of the notional; the engine charges all of it.
    "dydx": PublishedFees(
        {},
        0.015,
        "dYdX v4 max_liquidation_fee_ppm 15000 (1.5 %, the maximum), github.com/dydxprotocol/"
        "v4-chain protocol/testing/genesis.sh @84d4664b; valid 2026-03-04; read " + READ_ON,
    ),
    # BitMEX "Liquidation" (bitmex.com/app/liquidation): the engine takes the position over with
    # its remaining maintenance margin and works it at the bankruptcy price; what it gets above
    # that goes to the insurance fund. No separate fee, as on Bybit.
    "bitmex": PublishedFees(
        {},
        0.0,
        "BitMEX 'Liquidation' (bitmex.com/app/liquidation, liquidationExamples): the maintenance "
        "margin is lost to the insurance fund, no separate fee; page undated; read "
        + READ_ON_VENUES15,
    ),
    # HTX "Liquidation Rules for Futures Trading" (htx.com/id-id/support/24959973437846): "A small
    # fee may be charged when the liquidation engine processes orders", rate not given.
    "htx": PublishedFees(
        {},
        0.0005,
        "estimate: HTX says a small fee may be charged on liquidation orders (support "
        "24959973437846) without a rate; a 0.05 % taker rate stands in",
    ),
    # Bitget "Announcement on liquidation risk management" (2024-07-24): "The liquidation fee
    # rate is set at 0.0006" in its worst-price formulas.
    "bitget": PublishedFees(
        {},
        0.0006,
        "Bitget 'Announcement on liquidation risk management' (bitget.com news 12560604115513, "
        "2024-07-24): liquidation fee rate 0.0006; read " + READ_ON_VENUES15,
    ),
    # Gate help "Insurance Fund": the fund is fed by liquidation fees; no rate found.
    "gate": PublishedFees(
        {},
        0.0005,
        "estimate: Gate's insurance fund is fed by liquidation fees (help 'Insurance Fund', "
        "futures-logic/22081) without a rate found; a 0.05 % taker rate stands in",
    ),
    # Deribit "Insurance Fund" (support.deribit.com 25944777576477): liquidation orders pay an
    # extra fee, in the fees documentation, which was not read.
    "deribit": PublishedFees(
        {},
        0.005,
        "estimate: Deribit charges liquidation orders an extra fee (support 'Insurance Fund', "
        "25944777576477) whose rate was not read; 0.5 % stands in",
    ),
}
