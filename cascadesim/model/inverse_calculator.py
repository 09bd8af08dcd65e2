"""Liquidation and bankruptcy price of one coin-margined (inverse) position.

An inverse position of ``Q`` USD face (contracts x contract size) entered at ``E`` with ``M``
coin of margin has equity ``M + side x Q x (1/E - 1/P)`` coin at mark ``P``; it is liquidated
where that equity falls to the maintenance margin, in coin, on the venue's basis (the entry
value ``Q / E`` at Bybit, the value at the mark ``Q / P`` with the bracket's deduction at
Binance COIN-M). The figures come from the engine's own margin kernels run on the linear
market in x = K / price (:mod:`cascadesim.model.contracts`), so they are where the simulator
triggers. A cross-margin account with one position is the same computation with the whole
wallet balance as ``M`` (``margin_mode = "cross"``).

Bybit puts the taker fee of the closing order into the bankruptcy price of an inverse
position ("Bankruptcy price (inverse)": the position is bankrupt where equity after the fee
to close, ``Q / BP x taker fee``, is zero); ``close_fee_rate`` gives that fee, and
``bankruptcy_price`` then includes it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cascadesim._util.errors import invalid
from cascadesim.engine import layout
from cascadesim.engine import margin as kernels
from cascadesim.model.calculator import (
    CONVENTIONS,
    _given_tier,
    _market_record,
    _number,
    _positive,
    _side_sign,
    _venue_name,
)
from cascadesim.model.inverse_venues import contract_size_usd, inverse_tiers
from cascadesim.model.venues import TierTable

MARGIN_MODES = ("isolated", "cross")

# Taker fee of the closing order in Bybit's inverse bankruptcy price: 0.075 %, the rate of
# the help centre's worked examples ("Bankruptcy Price (Inverse Contract)").
BYBIT_INVERSE_TAKER_FEE = 0.00075
CLOSE_FEE_IN_BANKRUPTCY = {"bybit": BYBIT_INVERSE_TAKER_FEE}


@dataclass(frozen=True)
class InverseMarginFigures:
    """Margin figures of one inverse position: prices in USD, money in the coin.

    Attributes
    ----------
    venue, side, asset, margin_mode : str
    entry_price : float, USD
    contracts : float, number of contracts
    contract_size_usd : float, USD face of one contract
    face_usd : float, contracts x contract size
    liquidation_price : float, USD (inf when a short cannot be liquidated)
    liquidation_price_exact : float, USD, before rounding to the tick
    bankruptcy_price : float, USD, with the close fee where the venue includes it
    margin_coin : float, the position's isolated margin or the cross wallet balance
    maintenance_margin_coin : float, at the entry price
    position_value_coin : float, face / entry
    tier, tier_count : int
    mm_basis, convention : str
    tick : float or None, USD
    close_fee_rate : float, fraction of the value at the bankruptcy price in its equation
    """

    venue: str
    side: str
    asset: str
    margin_mode: str
    entry_price: float
    contracts: float
    contract_size_usd: float
    face_usd: float
    liquidation_price: float
    liquidation_price_exact: float
    bankruptcy_price: float
    margin_coin: float
    maintenance_margin_coin: float
    position_value_coin: float
    tier: int
    tier_count: int
    mm_basis: str
    convention: str
    tick: float | None
    close_fee_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of every field (JSON-serialisable; inf becomes None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


def inverse_liquidation_price(
    venue: str,
    side: str,
    entry_price: float,
    contracts: float,
    *,
    leverage: float | None = None,
    margin: float | None = None,
    margin_mode: str = "isolated",
    mmr: float | None = None,
    maintenance_amount: float | None = None,
    asset: str = "BTC",
    tick: float | None = None,
    contract_size: float | None = None,
    close_fee_rate: float | None = None,
) -> InverseMarginFigures:
    """Liquidation and bankruptcy prices of an inverse position (see the module docstring).

    Parameters
    ----------
    venue, side : str, a venue profile and "long" or "short"
    entry_price : float, USD
    contracts : float, number of contracts (> 0)
    leverage : float, optional, margin = face / entry / leverage coin
    margin : float, optional, coin: the isolated margin, or the cross wallet balance
    margin_mode : "isolated" or "cross"
    mmr, maintenance_amount : optional, one tier replacing the venue's (amount in coin)
    asset : str, the coin
    tick : float, optional, USD price tick the liquidation price is rounded to
    contract_size : float, optional, USD per contract (default the venue's, see
        :data:`cascadesim.model.inverse_venues.CONTRACT_SIZES_USD`)
    close_fee_rate : float, optional, fee of the closing order in the bankruptcy price
        (default the venue's: Bybit 0.075 %, others 0)

    Raises
    ------
    CascadesimInputError for any value outside what is allowed, in one line
    """
    venue_name = _venue_name(venue)
    sign = _side_sign(side)
    if margin_mode not in MARGIN_MODES:
        raise invalid("margin_mode", margin_mode, "isolated or cross")
    entry = _positive("entry_price", entry_price)
    count = _positive("quantity", contracts)
    size = (
        contract_size_usd(venue_name, asset)
        if contract_size is None
        else _positive("contract_size", contract_size)
    )
    face = count * size
    value = face / entry
    if (leverage is None) == (margin is None):
        raise invalid("leverage/margin", (leverage, margin), "exactly one of the two")
    coin_margin = (
        value / _positive("leverage", leverage)
        if leverage is not None
        else _positive("margin", margin)
    )
    fee = (
        CLOSE_FEE_IN_BANKRUPTCY.get(venue_name, 0.0)
        if close_fee_rate is None
        else _number(
            "close_fee_rate", close_fee_rate, "a fraction in [0, 0.1]", lambda f: 0 <= f <= 0.1
        )
    )
    price_tick = None if tick is None else _positive("tick", tick)
    table = _coin_table(venue_name, asset, entry, mmr, maintenance_amount)
    # No tick in x: the USD liquidation price is rounded below; x = entry at entry, so a
    # size-tiered table reads its floors at Q / entry.
    market = _market_record(venue_name, asset, table, entry, None)
    # K = entry^2: x = entry at entry, the position is (face / K) units in x, side swapped.
    scale = entry * entry
    quantity_x = face / scale
    maintenance = float(kernels.maintenance_requirement(market, quantity_x, entry, entry))
    if coin_margin <= maintenance:
        raise invalid(
            "margin",
            coin_margin,
            f"more than the maintenance margin at entry ({maintenance:.8g} {asset.upper()}); "
            "the position would be liquidated at entry",
        )
    bankruptcy = _bankruptcy_price(sign, face, entry, coin_margin, fee)
    # Bybit's cross equation keeps the fee to close at the bankruptcy price out of the
    # margin that can absorb losses ("How to calculate Liquidation Price (Inverse
    # Contract)"); its isolated formula leaves it out (UTA "Liquidation Price Calculation
    # under Isolated Mode": "minor differences ... due to the fees to close").
    reserved = fee * face / bankruptcy if margin_mode == "cross" and fee > 0.0 else 0.0
    x_liq, tier = kernels.liquidation_price(
        market, -sign, quantity_x, entry, coin_margin - reserved
    )
    exact = scale / x_liq if x_liq > 0.0 else math.inf
    price = exact
    if price_tick is not None and math.isfinite(exact):
        price = max(kernels.round_to_tick(exact, price_tick, -sign), 0.0)
    basis = int(market["mm_basis"])
    convention = CONVENTIONS[basis].replace("notional", "coin value") + "; money in coin"
    if fee > 0.0:
        convention += f"; bankruptcy price after a {fee:.4%} fee to close"
    return InverseMarginFigures(
        venue=venue_name,
        side=str(side).lower(),
        asset=asset.upper(),
        margin_mode=margin_mode,
        entry_price=entry,
        contracts=count,
        contract_size_usd=size,
        face_usd=face,
        liquidation_price=float(price),
        liquidation_price_exact=float(exact),
        bankruptcy_price=float(bankruptcy),
        margin_coin=coin_margin,
        maintenance_margin_coin=maintenance,
        position_value_coin=value,
        tier=int(tier),
        tier_count=len(table),
        mm_basis=layout.MM_BASIS_NAMES[basis],
        convention=convention,
        tick=price_tick,
        close_fee_rate=fee,
    )


def _bankruptcy_price(sign: int, face: float, entry: float, margin: float, fee: float) -> float:
    """USD price where ``margin + sign x face x (1/entry - 1/P) - fee x face / P = 0``."""
    coin_at_bankruptcy = (face / entry + sign * margin) / (1.0 + sign * fee)
    return face / coin_at_bankruptcy if coin_at_bankruptcy > 0.0 else math.inf


def _coin_table(
    venue: str, asset: str, entry: float, mmr: float | None, amount: float | None
) -> TierTable:
    """The tier table in coin: one tier from ``mmr``, else the venue's inverse table."""
    given = _given_tier(mmr, amount, np.inf, "coin")
    if given is not None:
        return given
    usd = inverse_tiers(venue, asset, entry)
    return TierTable(
        usd.floors / entry,
        usd.mmr,
        usd.maintenance_amount / entry,
        usd.max_leverage,
        usd.source,
    )
