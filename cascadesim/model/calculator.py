"""Liquidation price of one isolated position: the validating wrapper over the margin kernels.

The figures come from :mod:`cascadesim.engine.margin`, the same kernels the simulator uses, so
what ``cascadesim liqprice`` prints is where the engine would trigger. The isolated margin plays
the role of Binance's wallet balance of an isolated position; maintenance margin follows the
venue's basis (at the mark for Binance, Hyperliquid and dYdX, on the entry value for Bybit, tier
rate plus liquidation fee at the mark for OKX); trading fees and funding are left out. With a
price tick the liquidation price is the first tick at which a mark on the tick grid breaches
(longs: the tick at or below the exact price, shorts: at or above), and where the venue rounds
the bankruptcy price (Bybit) it goes to the tick against the trader.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.engine import layout
from cascadesim.engine import margin as kernels
from cascadesim.model.market import write_tiers
from cascadesim.model.venues import VENUES, TierTable

SIDES = {"long": 1, "short": -1}

# What each basis means, for the figures' ``convention`` field.
CONVENTIONS = {
    layout.MM_BASIS_MARK: "maintenance margin on the notional at the mark, tier by that notional",
    layout.MM_BASIS_ENTRY: "maintenance margin on the entry value, tier fixed at entry",
    layout.MM_BASIS_MARK_FEE: (
        "maintenance margin = notional at the mark x (tier rate + liquidation fee rate), "
        "no deduction, tier by position size"
    ),
}

# Relative slack on the leverage check so that "leverage = max" typed as a decimal still passes.
_LEVERAGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class MarginFigures:
    """Margin figures of one isolated position, in USD.

    Attributes
    ----------
    venue, side, asset : str
    entry_price : float
        USD per base unit.
    quantity : float
        Base units.
    liquidation_price : float
        USD; mark price at which equity falls to maintenance margin (0.0 when a long cannot
        be liquidated at any positive price).
    bankruptcy_price : float
        USD; price at which equity is zero, floored at 0.
    initial_margin : float
        USD of isolated margin backing the position.
    maintenance_margin : float
        USD required at the entry price.
    tier : int
        0-based tier that applies at the liquidation price.
    tier_count : int
        Number of tiers in the table used.
    mm_basis : str
        The venue's maintenance-margin basis ("mark", "entry" or "mark_with_fee").
    convention : str
        The basis and rounding in words.
    tick : float or None
        USD price tick the prices were rounded to (None: exact).
    liquidation_price_exact : float
        USD; the liquidation price before rounding to the tick.
    liquidation_fee_rate : float
        Fraction of notional in the maintenance margin (OKX's basis; 0 for the others).
    """

    venue: str
    side: str
    asset: str
    entry_price: float
    quantity: float
    liquidation_price: float
    bankruptcy_price: float
    initial_margin: float
    maintenance_margin: float
    tier: int
    tier_count: int
    mm_basis: str
    convention: str
    tick: float | None
    liquidation_price_exact: float
    liquidation_fee_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of every field (JSON-serialisable)."""
        return asdict(self)


def _number(name: str, value: Any, allowed: str, accept) -> float:
    """``value`` as a float if it converts and ``accept(value)`` holds, else the input error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(name, value, allowed) from None
    if not math.isfinite(number) or not accept(number):
        raise invalid(name, value, allowed)
    return number


def _positive(name: str, value: Any) -> float:
    """``value`` as a float if finite and > 0."""
    return _number(name, value, "a finite number > 0", lambda number: number > 0.0)


def _venue_name(venue: str) -> str:
    """Lower-case venue key, or the input error listing the venues."""
    name = str(venue).lower()
    if name not in VENUES:
        raise invalid("venue", venue, "one of " + ", ".join(VENUES))
    return name


def _side_sign(side: str) -> int:
    """+1 for long, -1 for short, or the input error."""
    sign = SIDES.get(str(side).lower())
    if sign is None:
        raise invalid("side", side, "long or short")
    return sign


def _tier_table(
    venue: str,
    asset: str,
    mmr: float | None,
    maintenance_amount: float | None,
    max_leverage: float | None,
    entry: float,
) -> TierTable:
    """The table to use: a single tier from ``mmr`` or Hyperliquid's ``max_leverage``, else
    the venue's table for ``asset`` (a table tiered by position size, OKX's, with its USD
    floors at the ``entry`` price)."""
    cap = np.inf if max_leverage is None else _positive("max_leverage", max_leverage)
    given = _given_tier(mmr, maintenance_amount, cap, "USD")
    if given is not None:
        return given
    if max_leverage is not None and venue == "hyperliquid":
        return TierTable.from_max_leverage([0.0], [cap], "max_leverage given")
    try:
        table = VENUES[venue].tiers(asset, entry)
    except CascadesimInputError:  # floors in base units times the entry price overflowed
        raise invalid(
            "entry_price", entry, f"a price at which {venue}'s tier floors stay finite in USD"
        ) from None
    if max_leverage is not None:
        capped = np.full(len(table), cap)
        return TierTable(table.floors, table.mmr, table.maintenance_amount, capped, table.source)
    return table


def _given_tier(
    mmr: float | None, maintenance_amount: float | None, cap: float, unit: str
) -> TierTable | None:
    """One tier from ``mmr`` (and a deduction in ``unit``), or None when no rate is given."""
    if maintenance_amount is not None and mmr is None:
        raise invalid("maintenance_amount", maintenance_amount, "only together with mmr")
    if mmr is None:
        return None
    rate = _number(
        "mmr", mmr, "a maintenance margin rate in (0, 1)", lambda number: 0.0 < number < 1.0
    )
    amount = (
        0.0
        if maintenance_amount is None
        else _number(
            "maintenance_amount",
            maintenance_amount,
            f"finite {unit} >= 0",
            lambda number: number >= 0.0,
        )
    )
    return TierTable.single(rate, amount, cap, "mmr given")


def _check_leverage(
    table: TierTable,
    notional: float,
    margin: float,
    leverage: float | None,
) -> None:
    """Reject a position opened above its tier's maximum leverage."""
    tier = kernels.tier_for_notional(table.floors, len(table), notional)
    limit = table.max_leverage[tier]
    used = notional / margin
    if used <= limit * (1.0 + _LEVERAGE_TOLERANCE):
        return
    where = f"for a notional of {notional:,.2f} USD (tier {tier + 1})"
    if leverage is not None:
        raise invalid("leverage", leverage, f"at most {limit:g} {where}")
    raise invalid(
        "margin", margin, f"at least {notional / limit:,.2f} USD: max leverage is {limit:g} {where}"
    )


def liquidation_price(
    venue: str,
    side: str,
    entry_price: float,
    quantity: float,
    *,
    leverage: float | None = None,
    margin: float | None = None,
    mmr: float | None = None,
    maintenance_amount: float | None = None,
    max_leverage: float | None = None,
    asset: str = "BTC",
    tick: float | None = None,
) -> MarginFigures:
    """Liquidation and bankruptcy prices of an isolated linear (USDT/USDC) position.

    Parameters
    ----------
    venue : str
        "binance", "bybit", "okx", "hyperliquid" or "dydx".
    side : str
        "long" or "short".
    entry_price : float
        USD per base unit, > 0.
    quantity : float
        Base units, > 0.
    leverage : float, optional
        Initial leverage; isolated margin = notional / leverage. Exactly one of ``leverage``
        and ``margin``.
    margin : float, optional
        USD of isolated margin.
    mmr : float, optional
        Maintenance margin rate in (0, 1); replaces the venue table by one tier.
    maintenance_amount : float, optional
        USD deducted from maintenance margin in that tier (needs ``mmr``; default 0).
    max_leverage : float, optional
        Hyperliquid: the market's maximum leverage, MMR = 1 / (2 x max_leverage). Other
        venues: replaces the tiers' maximum leverage in the leverage check.
    asset : str
        Base asset; picks the venue's tier table (BTC, ETH, SOL, XRP, DOGE; any other asset
        gets the venue's fallback estimate, see ``cascadesim tiers``). OKX tiers by contracts:
        its floors are taken in USD at ``entry_price``.
    tick : float, optional
        USD price tick to round to; default: the venue's tick for ``asset`` where known
        (Bybit BTC 0.1, ETH 0.01), else no rounding.

    Returns
    -------
    MarginFigures

    Raises
    ------
    CascadesimInputError
        For an unknown venue or side, a non-finite or non-positive number, leverage above the
        tier's maximum, margin at or below maintenance margin at entry, or mmr outside (0, 1).
    """
    venue_name = _venue_name(venue)
    sign = _side_sign(side)
    if not isinstance(asset, str) or not asset.strip():
        raise invalid("asset", asset, "a non-empty asset symbol such as BTC")
    entry = _positive("entry_price", entry_price)
    size = _positive("quantity", quantity)
    if (leverage is None) == (margin is None):
        raise invalid("leverage/margin", (leverage, margin), "exactly one of the two")
    notional = entry * size
    position_margin = (
        notional / _positive("leverage", leverage)
        if leverage is not None
        else _positive("margin", margin)
    )
    profile = VENUES[venue_name]
    if maintenance_amount is not None and profile.mm_basis == layout.MM_BASIS_MARK_FEE:
        raise invalid(
            "maintenance_amount",
            maintenance_amount,
            f"none for {venue_name}: its maintenance margin has no deduction",
        )
    price_tick = profile.price_ticks.get(asset.upper()) if tick is None else _positive("tick", tick)
    table = _tier_table(venue_name, asset, mmr, maintenance_amount, max_leverage, entry)
    _check_leverage(table, notional, position_margin, leverage)
    market = _market_record(venue_name, asset, table, entry, price_tick)
    return _figures(venue_name, side, asset, sign, entry, size, position_margin, market, price_tick)


def _market_record(venue: str, asset: str, table: TierTable, entry: float, tick: float | None):
    """One market's parameter record with the venue's convention, for the margin kernels."""
    profile = VENUES[venue]
    # A record array, so that the row is an np.record: the kernels read its fields as
    # attributes (market.mm_basis), which numba compiles and which a plain structured row
    # (np.void) lacks when the kernels run as Python (NUMBA_DISABLE_JIT=1).
    params = np.zeros(1, dtype=layout.market_params_dtype(len(table))).view(np.recarray)
    row = params[0]
    row["mm_basis"] = profile.mm_basis
    row["bankruptcy_rounding"] = profile.bankruptcy_rounding if tick is not None else 0
    row["tick_size"] = tick if tick is not None else 0.0
    row["liquidation_fee_rate"] = profile.liquidation_fee_for(asset)
    # A size-tiered table (OKX) was put in USD at the entry price (see _tier_table).
    row["tier_price_usd"] = entry
    write_tiers(row, table.floors, table.mmr, table.maintenance_amount, table.max_leverage)
    return row


def _figures(
    venue: str,
    side: str,
    asset: str,
    sign: int,
    entry: float,
    size: float,
    margin: float,
    market,
    tick: float | None,
) -> MarginFigures:
    """Run the kernels on a validated position."""
    entry_maintenance = kernels.maintenance_requirement(market, size, entry, entry)
    if margin <= entry_maintenance:
        raise invalid(
            "margin",
            margin,
            f"more than the maintenance margin at entry "
            f"({entry_maintenance:,.2f} USD); position would be liquidated at entry",
        )
    exact, tier = kernels.liquidation_price(market, sign, size, entry, margin)
    # A mark on the tick grid first breaches a long at the tick at or below the exact price.
    price = exact if tick is None else max(kernels.round_to_tick(exact, tick, -sign), 0.0)
    basis = int(market["mm_basis"])
    rounding = "bankruptcy price rounded to the tick against the trader"
    convention = CONVENTIONS[basis]
    if tick is not None:
        convention += f"; prices on a {tick:g} USD tick"
        if market["bankruptcy_rounding"] == layout.BANKRUPTCY_TICK_AGAINST_TRADER:
            convention += f"; {rounding}"
    return MarginFigures(
        venue=venue,
        side=str(side).lower(),
        asset=asset.upper(),
        entry_price=entry,
        quantity=size,
        liquidation_price=float(price),
        bankruptcy_price=float(kernels.bankruptcy_price(market, sign, size, entry, margin)),
        initial_margin=margin,
        maintenance_margin=float(entry_maintenance),
        tier=int(tier),
        tier_count=int(market["tier_count"]),
        mm_basis=layout.MM_BASIS_NAMES[basis],
        convention=convention,
        tick=tick,
        liquidation_price_exact=float(exact),
        liquidation_fee_rate=(
            float(market["liquidation_fee_rate"]) if basis == layout.MM_BASIS_MARK_FEE else 0.0
        ),
    )
