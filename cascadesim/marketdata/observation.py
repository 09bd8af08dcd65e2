"""What a snapshot read about one market, each value with where and when it was read.

The live importer (:mod:`cascadesim.marketdata.live`, through ccxt) and the data-file
importer (:mod:`cascadesim.marketdata.data_files`) both produce :class:`MarketSnapshot`
records; :mod:`cascadesim.marketdata.scenario_file` writes them as a scenario file whose
every value carries its :class:`Sourced` comment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# Depth is measured within these fractions of the mid, per side (1 %, 2 %, 5 %).
DEPTH_BANDS = (0.01, 0.02, 0.05)


def utc_text(milliseconds: float | None) -> str:
    """ISO 8601 UTC time of a millisecond timestamp, to the second ('2025-09-22T00:00:00Z')."""
    if milliseconds is None:
        return "unknown time"
    moment = dt.datetime.fromtimestamp(milliseconds / 1000.0, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Sourced:
    """One value and where it came from.

    value : the figure (float, or a list of rows for tables and histories)
    venue : the venue profile name it was read from ('binance', ...)
    endpoint : the API endpoint or data file (``GET /fapi/v1/openInterest``,
        ``BTCUSDT-metrics-2025-09-22.csv``), with the ccxt method where ccxt read it
    time_ms : the value's own timestamp (UTC milliseconds), the exchange's where given, else
        the time it was read
    """

    value: Any
    venue: str
    endpoint: str
    time_ms: float | None

    def comment(self) -> str:
        """'binance GET /fapi/v1/openInterest at 2025-09-22T00:00:00Z'"""
        return f"{self.venue} {self.endpoint} at {utc_text(self.time_ms)}"


@dataclass
class MarketSnapshot:
    """One perpetual market of a venue as the snapshot read it; None: not read.

    Units: prices USD per coin; money USD; ``funding_rate`` a fraction per
    ``funding_interval_s`` seconds (positive: longs pay).

    depth_usd : Sourced of {band: (bid USD, ask USD)} for the bands of ``DEPTH_BANDS``
    depth_shape : Sourced of the exponent s of cumulative depth ~ (distance / 1 %) ** s
    tiers : Sourced of a list of (floor USD, maintenance rate, max leverage,
        maintenance amount USD or None) rows, floors increasing from 0
    candles : Sourced of a list of (time ms, close USD), oldest first (the price history)
    open_interest_history : Sourced of a list of (time ms, open interest USD), oldest first
    long_short_account_ratio : Sourced of the published ratio of long to short accounts
    """

    venue: str
    asset: str
    symbol: str
    contract: str = "linear"
    price: Sourced | None = None
    mark: Sourced | None = None
    index: Sourced | None = None
    open_interest_usd: Sourced | None = None
    funding_rate: Sourced | None = None
    funding_interval_s: Sourced | None = None
    next_funding_ms: Sourced | None = None
    depth_usd: Sourced | None = None
    depth_shape: Sourced | None = None
    tiers: Sourced | None = None
    candles: Sourced | None = None
    open_interest_history: Sourced | None = None
    long_short_account_ratio: Sourced | None = None
    volume_24h_usd: Sourced | None = None

    @property
    def name(self) -> str:
        """The scenario's market name: 'BTC-binance'."""
        return f"{self.asset}-{self.venue}"


@dataclass
class Snapshot:
    """Every market a snapshot read, and one line for each thing it could not read.

    taken_ms : when the snapshot was taken (UTC milliseconds)
    command : the command line that took it, kept in the scenario file
    problems : one line each ('okx BTC: order book: RateLimitExceeded ...')
    """

    markets: list[MarketSnapshot]
    taken_ms: float
    command: str = ""
    problems: list[str] = field(default_factory=list)
    index_path: Sourced | None = None


@dataclass(frozen=True)
class NamedPosition:
    """A position a venue publishes for an address (Hyperliquid's ``clearinghouseState``).

    account : the address
    market : the scenario's market name ('BTC-hyperliquid')
    side : 'long' or 'short'
    quantity : coin
    entry_price : USD
    margin : USD, the margin the venue reports for it (isolated), or its share of the
        account's value (cross)
    margin_mode : 'isolated' or 'cross'
    leverage : the leverage the venue reports
    source : where and when it was read (its ``value`` is the venue's liquidation price,
        or None)
    """

    account: str
    market: str
    side: str
    quantity: float
    entry_price: float
    margin: float
    margin_mode: str
    leverage: float
    source: Sourced
