"""The venues' collateral haircuts: how much of each coin held a cross account's margin counts.

Each rule is (floors in coins, ratios) as :mod:`cascadesim.model.collateral` reads it, with
its source. Binance Multi-Assets mode counts a coin at its asset index times a flat
collateral rate (``bidRate = index x (1 - bidBuffer)``, ``GET /fapi/v1/assetIndex``); Bybit's
unified account counts it at its USD index price times a collateral value ratio tiered by
the amount held ("Understanding Collateral Value Ratios in Unified Trading Account", last
updated 2025-09-18). Rules marked ``estimate`` were not found in a published table; the text
says which published rule stands in for them. The other venues' multi-asset modes are not
modelled: their margin is the settlement coin only (a scenario may give its own haircut).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cascadesim.model.collateral import Haircut


@dataclass(frozen=True)
class CollateralRule:
    """One coin's haircut on one venue, and where it comes from."""

    haircut: Haircut
    source: str
    estimate: bool = False


def flat(ratio: float) -> Haircut:
    """One tier: every coin held counts ``ratio`` of its value."""
    return ((0.0,), (ratio,))


# Binance "What Is Multi-Assets Mode" (FAQ, 2021-05-28): Collateral Value Ratio per asset.
# The current FAQ (revised after 2021-04-19) still says "Assets like BTC, ETH, and BNB ... will
# receive a 5% value haircut".
_BINANCE_FAQ = "Binance FAQ 'What Is Multi-Assets Mode' (2021-05-28), collateral value ratio"
_BINANCE_STABLE_ESTIMATE = (
    "estimate: not in the tables read (the live Multi-Assets Info page was not readable); "
    "USDC's published 99.99 % stands in"
)
_BYBIT_EXAMPLE = (
    "estimate: the illustrative BTC table of Bybit's help page 'Understanding Collateral "
    "Value Ratios in Unified Trading Account' (2025-09-18); the live table was not read"
)
_BYBIT_ESTIMATE = (
    "estimate: Bybit's live collateral value ratio list was not read; "
    "the nearest published figure stands in"
)

COLLATERAL_RULES: Mapping[str, Mapping[str, CollateralRule]] = MappingProxyType(
    {
        "binance": MappingProxyType(
            {
                "BTC": CollateralRule(flat(0.95), _BINANCE_FAQ),
                "ETH": CollateralRule(flat(0.95), _BINANCE_FAQ),
                "BNB": CollateralRule(flat(0.95), _BINANCE_FAQ),
                "SOL": CollateralRule(flat(0.90), _BINANCE_FAQ),
                "XRP": CollateralRule(flat(0.90), _BINANCE_FAQ),
                "ADA": CollateralRule(flat(0.90), _BINANCE_FAQ),
                "DOT": CollateralRule(flat(0.90), _BINANCE_FAQ),
                "USDT": CollateralRule(flat(0.9999), _BINANCE_FAQ),
                "USDC": CollateralRule(flat(0.9999), _BINANCE_FAQ),
                "FDUSD": CollateralRule(flat(0.9999), _BINANCE_STABLE_ESTIMATE, estimate=True),
                "BFUSD": CollateralRule(flat(0.9999), _BINANCE_STABLE_ESTIMATE, estimate=True),
                "USDE": CollateralRule(flat(0.9999), _BINANCE_STABLE_ESTIMATE, estimate=True),
            }
        ),
        "bybit": MappingProxyType(
            {
                # Marginal bands of 0-10, 10-20, 20-30, 30-40, 40-50 and above 50 BTC.
                "BTC": CollateralRule(
                    (
                        (0.0, 10.0, 20.0, 30.0, 40.0, 50.0),
                        (0.98, 0.95, 0.90, 0.85, 0.80, 0.0),
                    ),
                    _BYBIT_EXAMPLE,
                    estimate=True,
                ),
                # Same page: "USDT >0: 1"; negative balances count at 100 %.
                "USDT": CollateralRule(
                    flat(1.0),
                    "Bybit help 'Understanding Collateral Value Ratios in Unified Trading "
                    "Account' (2025-09-18): USDT 1",
                ),
                "USDC": CollateralRule(flat(1.0), _BYBIT_ESTIMATE + " (USDT's 1)", True),
                "USDE": CollateralRule(flat(1.0), _BYBIT_ESTIMATE + " (USDT's 1)", True),
                "ETH": CollateralRule(flat(0.98), _BYBIT_ESTIMATE + " (BTC's first band)", True),
            }
        ),
    }
)

# Coins priced at 1 USD unless a scenario says otherwise (their reference price; a depeg is
# a factor on it).
STABLECOINS = ("USDT", "USDC", "USDE", "FDUSD", "BFUSD", "DAI", "USD1")


def collateral_rule(venue: str, coin: str) -> CollateralRule | None:
    """The venue's rule for ``coin`` (case-insensitive), or None when it has none."""
    return COLLATERAL_RULES.get(venue, {}).get(coin.upper())
