"""The venues' coin-margined (inverse) perpetuals: contract sizes and tier tables in coin.

An inverse market takes every rule of its venue's profile (mark price, funding, liquidation
procedure, fund, ADL) from :mod:`cascadesim.model.venues`, and from here what differs: the
USD face value of one contract and the margin tiers, which the venues publish in the coin
(Binance COIN-M brackets, BitMEX risk limits, Bybit inverse risk limits). A tier table here
has its floors and maintenance amounts in the coin; :func:`inverse_tiers` gives them in USD
at a market's start price, as :class:`~cascadesim.model.market.MarketSpec` holds them, and
the engine divides by that price again (:mod:`cascadesim.model.contracts`). Where a venue's
inverse table was not found its USD-margined table stands in, marked as an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cascadesim.model.tier_tables import ESTIMATE_MARK
from cascadesim.model.venues import VENUES, TierTable, maintenance_amounts


@dataclass(frozen=True)
class CoinTiers:
    """One inverse market's tier table with floors and amounts in the coin.

    Attributes
    ----------
    floors_coin : tuple of float, coin notional (position value) where each tier starts
    mmr : tuple of float, maintenance margin rate of each tier
    max_leverage : tuple of float, highest initial leverage of each tier
    source : str, page or endpoint with its dates
    maintenance_amount_coin : tuple of float or None, the venue's own deductions in coin
    """

    floors_coin: tuple[float, ...]
    mmr: tuple[float, ...]
    max_leverage: tuple[float, ...]
    source: str
    maintenance_amount_coin: tuple[float, ...] | None = None


# USD face value of one contract, by venue and asset.
CONTRACT_SIZES_USD: dict[str, dict[str, float]] = {
    # Estimate: BTCUSD_PERP 100 USD and 10 USD for other coins is Binance COIN-M's usual
    # specification, not re-read on Binance's page in this session.
    "binance": {"BTC": 100.0, "*": 10.0},
    # Bybit "Introduction to Inverse Perpetual Contract": minimum order size 1 USD per
    # contract (BTCUSD, ETHUSD).
    "bybit": {"*": 1.0},
    # Estimate: OKX BTC-USD-SWAP 100 USD, other coins 10 USD, not re-read in this session.
    "okx": {"BTC": 100.0, "*": 10.0},
    # Estimate: XBTUSD is 1 USD per contract (BitMEX's contract specification, not re-read
    # in this session).
    "bitmex": {"*": 1.0},
    # Hyperliquid and dYdX list no inverse contracts: 1 USD keeps contracts = USD face.
    "hyperliquid": {"*": 1.0},
    "dydx": {"*": 1.0},
}

COIN_TIERS: dict[str, dict[str, CoinTiers]] = {
    "bitmex": {
        # BitMEX "Risk Limits" examples (bitmex.com/app/riskLimitsExamples, legacy page,
        # undated): XBTUSD base maintenance 0.50 %, base initial 1.00 %, each step of the risk
        # limit adds 0.50 % to both: < 200 XBT 0.5 % / 1 %, < 350 XBT 1 % / 1.5 %, < 500 XBT
        # 1.5 % / 2 %, < 650 XBT 2 % / 2.5 %; its worked example: 180 XBT need 0.90 XBT. Later
        # announcements changed the numbers (base MM 0.40 % from 2020-05-05, a 150 XBT step from
        # 2021-08-31); the legacy table is the one published in full.
        "BTC": CoinTiers(
            floors_coin=(0.0, 200.0, 350.0, 500.0),
            mmr=(0.005, 0.010, 0.015, 0.020),
            max_leverage=(100.0, 1.0 / 0.015, 50.0, 40.0),
            # The step's rate applies to the whole position (no deduction): 250 XBT need
            # 1 % x 250 = 2.5 XBT.
            maintenance_amount_coin=(0.0, 0.0, 0.0, 0.0),
            source="BitMEX risk limits examples (legacy XBTUSD table: base 200 XBT, step "
            "150 XBT, MM 0.5 % + 0.5 % per step; later changes in docs/model.md)",
        ),
    },
}


def contract_size_usd(venue: str, asset: str) -> float:
    """USD face value of one inverse contract of ``asset`` on ``venue``."""
    sizes = CONTRACT_SIZES_USD.get(venue, {"*": 1.0})
    return sizes.get(asset.upper(), sizes.get("*", 1.0))


def inverse_tiers(venue: str, asset: str, price_usd: float) -> TierTable:
    """The inverse market's tier table with floors and amounts in USD at ``price_usd``.

    The venue's coin table if there is one; else its USD-margined table for the asset,
    whose source then says it is an estimate for the inverse market.
    """
    own = COIN_TIERS.get(venue, {}).get(asset.upper())
    if own is None:
        linear = VENUES[venue].tiers(asset, price_usd)
        source = linear.source
        if not source.startswith(ESTIMATE_MARK):
            source = (
                f"{ESTIMATE_MARK} no coin-margined table of {venue} for {asset} found; its "
                f"USD-margined table stands in ({source})"
            )
        return TierTable(
            floors=linear.floors,
            mmr=linear.mmr,
            maintenance_amount=linear.maintenance_amount,
            max_leverage=linear.max_leverage,
            source=source,
        )
    floors = np.asarray(own.floors_coin, dtype=np.float64) * price_usd
    mmr = np.asarray(own.mmr, dtype=np.float64)
    if own.maintenance_amount_coin is None:
        amounts = maintenance_amounts(floors, mmr)
    else:
        amounts = np.asarray(own.maintenance_amount_coin, dtype=np.float64) * price_usd
    return TierTable(
        floors=floors,
        mmr=mmr,
        maintenance_amount=amounts,
        max_leverage=np.asarray(own.max_leverage, dtype=np.float64),
        source=own.source,
    )
