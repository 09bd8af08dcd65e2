"""A snapshot of today's perpetual markets, read through ccxt's unified methods.

:func:`take_snapshot` reads, for each venue and asset, the price, mark, index, funding,
open interest, order-book depth, margin tiers and short histories that ccxt offers for the
venue, each as a :class:`~cascadesim.marketdata.observation.Sourced` value naming the ccxt
method and the REST path it requested. :func:`fetch_addresses` reads the positions
Hyperliquid publishes for addresses. Whatever cannot be read becomes one line in the
snapshot's problems, never an exception: a snapshot with holes is still a snapshot.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from cascadesim._util.errors import invalid, one_line
from cascadesim.marketdata.book_depth import depth_within, fit_depth_shape, reaches
from cascadesim.marketdata.observation import (
    DEPTH_BANDS,
    MarketSnapshot,
    NamedPosition,
    Snapshot,
    Sourced,
)
from cascadesim.model.venues import VENUES

DAY_MS = 86_400_000.0
TIMEOUT_MS = 10_000
MESSAGE_CHARS = 160
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class VenueAccess:
    """How ccxt reaches one venue's USD-margined perpetuals.

    ccxt_class : the ccxt exchange class name
    symbol : the unified symbol pattern, ``{asset}`` filled in
    market_types : what ``load_markets`` loads (``options['fetchMarkets']['types']``)
    book_limit : order-book levels asked for (the venue's documented maximum for the
        endpoint ccxt calls)
    amounts_in_contracts : ccxt reports book, volume and tier sizes in contracts (OKX);
        ``contractSize`` converts them to coin
    """

    ccxt_class: str
    symbol: str
    market_types: tuple[str, ...]
    book_limit: int
    amounts_in_contracts: bool = False


ACCESS = {
    "binance": VenueAccess("binanceusdm", "{asset}/USDT:USDT", ("linear",), 1000),
    "bybit": VenueAccess("bybit", "{asset}/USDT:USDT", ("linear",), 500),
    # 400 is the most /api/v5/market/books gives; above it ccxt switches to books-full.
    "okx": VenueAccess("okx", "{asset}/USDT:USDT", ("swap",), 400, amounts_in_contracts=True),
    "hyperliquid": VenueAccess("hyperliquid", "{asset}/USDC:USDC", ("swap",), 100),
}


def _ccxt() -> Any:
    try:
        import ccxt  # lazy: ccxt is the optional [live] extra
    except ImportError:
        raise invalid(
            "--venues", "ccxt", "pip install 'cascadesim[live]' (ccxt) to read venues"
        ) from None
    return ccxt


def new_exchange(venue: str, **config: Any) -> Any:
    """A ccxt exchange for ``venue`` that loads only its USD-margined perpetuals.

    Parameters
    ----------
    venue : one of ``ACCESS``
    config : ccxt constructor settings overriding the defaults (rate limit on, 10 s timeout)

    Returns
    -------
    ccxt.Exchange
    """
    access = _access(venue)
    settings = {
        "enableRateLimit": True,
        "timeout": TIMEOUT_MS,
        "options": {"fetchMarkets": {"types": list(access.market_types)}},
    }
    settings.update(config)
    return getattr(_ccxt(), access.ccxt_class)(settings)


def _access(venue: str) -> VenueAccess:
    if venue not in ACCESS:
        raise invalid("--venues", venue, "one of " + ", ".join(ACCESS))
    return ACCESS[venue]


def describe(error: BaseException) -> str:
    """'RateLimitExceeded: <first line of the message, cut>' for a problem line."""
    message = one_line(str(error).strip().split("\n")[0])
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 3] + "..."
    return f"{type(error).__name__}: {message}"


class RequestLog:
    """Every REST request an exchange makes, as 'GET /path' (or 'POST /info <type>').

    Wraps whatever ``exchange.fetch`` is (ccxt's HTTP call, or a test's fake) so that each
    value can name the path it actually came from.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []

    @contextmanager
    def installed(self, exchange: Any) -> Iterator[RequestLog]:
        inner = exchange.fetch
        had_own = "fetch" in vars(exchange)

        def fetch(url, method="GET", headers=None, body=None):
            self.requests.append(request_text(method, url, body))
            return inner(url, method, headers, body)

        exchange.fetch = fetch
        try:
            yield self
        finally:
            if had_own:
                exchange.fetch = inner
            else:
                del exchange.fetch

    def endpoint(self, method: str) -> str:
        """'fetchOpenInterest (GET /fapi/v1/openInterest)' for the requests since the last."""
        paths = list(dict.fromkeys(self.requests))
        self.requests.clear()
        return f"{method} ({'; '.join(paths)})" if paths else method


def request_text(method: str, url: str, body: Any) -> str:
    """'GET /fapi/v1/depth', or 'POST /info l2Book' where the body names the request type."""
    path = urllib.parse.urlparse(url).path
    kind = ""
    if body:
        try:
            kind = str(json.loads(body).get("type", ""))
        except (ValueError, AttributeError):
            kind = ""
    return f"{method} {path} {kind}".strip()


def take_snapshot(
    venues: list[str],
    assets: list[str],
    *,
    exchanges: dict | None = None,
    now_ms: float | None = None,
    history_days: int = 30,
    command: str = "",
) -> Snapshot:
    """Read each venue's perpetual market of each asset through ccxt.

    Parameters
    ----------
    venues : cascadesim venue names among ``ACCESS`` (binance, bybit, okx, hyperliquid)
    assets : upper-case coins ('BTC', 'ETH')
    exchanges : ready ccxt instances by venue name (tests pass instances whose requests
        are served from fixtures); the others are made by :func:`new_exchange`
    now_ms : the read time (UTC ms) for values whose response carries no timestamp;
        the clock when None
    history_days : days of daily candles and open-interest history
    command : the command line, kept in the snapshot

    Returns
    -------
    Snapshot, with one problem line for each value, market or venue not read
    """
    for venue in venues:
        _access(venue)
    ccxt = _ccxt()
    read_ms = float(now_ms) if now_ms is not None else time.time() * 1000.0
    problems: list[str] = []
    markets: list[MarketSnapshot] = []
    for venue in venues:
        exchange = (exchanges or {}).get(venue) or new_exchange(venue)
        log = RequestLog()
        with log.installed(exchange):
            try:
                exchange.load_markets()
            except Exception as error:  # a venue down must not stop the others
                problems.append(f"{venue}: unreachable: {describe(error)}")
                continue
            for asset in assets:
                reader = MarketReader(ccxt, exchange, venue, asset.upper(), log, read_ms)
                market = reader.read(history_days)
                problems.extend(reader.problems)
                if market is not None:
                    markets.append(market)
    return Snapshot(markets=markets, taken_ms=read_ms, command=command, problems=problems)


class MarketReader:
    """Reads one (venue, asset) market field by field; each failure is one problem line."""

    def __init__(
        self, ccxt: Any, exchange: Any, venue: str, asset: str, log: RequestLog, read_ms: float
    ) -> None:
        self.ccxt = ccxt
        self.exchange = exchange
        self.venue = venue
        self.asset = asset
        self.log = log
        self.read_ms = read_ms
        self.access = ACCESS[venue]
        self.symbol = self.access.symbol.format(asset=asset)
        self.problems: list[str] = []
        self.contract_size = 1.0

    def problem(self, what: str, text: str) -> None:
        self.problems.append(f"{self.venue} {self.asset}: {what}: {text}")

    def sourced(self, value: Any, endpoint: str, time_ms: Any = None) -> Sourced:
        stamp = float(time_ms) if time_ms is not None else self.read_ms
        return Sourced(value, self.venue, endpoint, stamp)

    def call(self, what: str, method: str, *args: Any) -> tuple[Any, str] | None:
        """ccxt's unified ``method`` (its ``has`` name) and the endpoint text, or None."""
        if not self.exchange.has.get(method):
            self.problem(what, f"ccxt's {self.exchange.id} has no {method}")
            return None
        self.log.requests.clear()
        try:
            result = getattr(self.exchange, method)(*args)
        except Exception as error:  # ccxt errors and unparsable responses alike
            self.log.requests.clear()
            self.problem(what, describe(error))
            return None
        return result, self.log.endpoint(method)

    def read(self, history_days: int) -> MarketSnapshot | None:
        if self.symbol not in self.exchange.markets:
            self.problems.append(
                f"{self.venue} {self.asset}: not listed: {self.exchange.id} has no {self.symbol}"
            )
            return None
        market_info = self.exchange.markets[self.symbol]
        if self.access.amounts_in_contracts:
            self.contract_size = float(market_info.get("contractSize") or 1.0)
        market = MarketSnapshot(venue=self.venue, asset=self.asset, symbol=self.symbol)
        steps: list[Callable[[MarketSnapshot], None]] = [
            self.read_ticker,
            self.read_funding,
            self.read_open_interest,
            self.read_book,
            self.read_tiers,
        ]
        for step in steps:
            step(market)
        self.read_histories(market, history_days)
        return market

    def read_ticker(self, market: MarketSnapshot) -> None:
        got = self.call("ticker", "fetchTicker", self.symbol)
        if got is None:
            return
        ticker, endpoint = got
        stamp = ticker.get("timestamp")
        last = _number(ticker.get("last"))
        if last is None:
            self.problem("price", "the ticker has no last price")
        else:
            market.price = self.sourced(last, endpoint, stamp)
        volume = _number(ticker.get("quoteVolume"))
        base_volume = _number(ticker.get("baseVolume"))
        if volume is None and base_volume is not None and last is not None:
            volume = base_volume * self.contract_size * last
        if volume is not None:
            market.volume_24h_usd = self.sourced(volume, endpoint, stamp)
        for field_name in ("markPrice", "indexPrice"):
            value = _number(ticker.get(field_name))
            if value is not None:
                target = "mark" if field_name == "markPrice" else "index"
                setattr(market, target, self.sourced(value, endpoint, stamp))

    def read_funding(self, market: MarketSnapshot) -> None:
        got = self.call("funding", "fetchFundingRate", self.symbol)
        if got is not None:
            funding, endpoint = got
            stamp = funding.get("timestamp")
            rate = _number(funding.get("fundingRate"))
            if rate is None:
                self.problem("funding", "no fundingRate in the response")
            else:
                market.funding_rate = self.sourced(rate, endpoint, stamp)
            # The mark and index that come with funding are the ones funding is computed on.
            for field_name, target in (("markPrice", "mark"), ("indexPrice", "index")):
                value = _number(funding.get(field_name))
                if value is not None:
                    setattr(market, target, self.sourced(value, endpoint, stamp))
            next_ms = funding.get("fundingTimestamp") or funding.get("nextFundingTimestamp")
            if next_ms is not None:
                market.next_funding_ms = self.sourced(float(next_ms), endpoint, stamp)
            interval_s = interval_seconds(funding.get("interval"))
            if interval_s is not None:
                market.funding_interval_s = self.sourced(interval_s, endpoint, stamp)
        if market.funding_interval_s is None:
            market.funding_interval_s = self.funding_interval()
        if market.mark is None:
            self.read_mark_price(market)

    def funding_interval(self) -> Sourced:
        """The interval ccxt's fetchFundingInterval gives, else the venue profile's."""
        if self.exchange.has.get("fetchFundingInterval"):
            self.log.requests.clear()
            try:
                found = self.exchange.fetch_funding_interval(self.symbol)
                seconds = interval_seconds(found.get("interval"))
                if seconds is not None:
                    return self.sourced(seconds, self.log.endpoint("fetchFundingInterval"))
            except self.ccxt.NullResponse:
                pass  # Binance lists only the symbols off the default interval
            except Exception as error:
                self.problem("funding interval", describe(error))
            self.log.requests.clear()
        seconds = VENUES[self.venue].funding_interval_s
        return Sourced(seconds, self.venue, "venue profile funding_interval_s", None)

    def read_mark_price(self, market: MarketSnapshot) -> None:
        got = self.call("mark", "fetchMarkPrice", self.symbol)
        if got is None:
            return
        ticker, endpoint = got
        mark = _number(ticker.get("markPrice"))
        if mark is None:
            self.problem("mark", "no markPrice in the response")
            return
        market.mark = self.sourced(mark, endpoint, ticker.get("timestamp"))

    def read_open_interest(self, market: MarketSnapshot) -> None:
        got = self.call("open interest", "fetchOpenInterest", self.symbol)
        if got is None:
            return
        interest, endpoint = got
        stamp = interest.get("timestamp")
        value = _number(interest.get("openInterestValue"))
        if value is None:
            amount = _number(interest.get("openInterestAmount"))
            if amount is None or market.mark is None:
                self.problem("open interest", "neither openInterestValue nor amount x mark")
                return
            value = amount * self.contract_size * market.mark.value
            endpoint += " x mark"
        market.open_interest_usd = self.sourced(value, endpoint, stamp)

    def read_book(self, market: MarketSnapshot) -> None:
        got = self.call("order book", "fetchOrderBook", self.symbol, self.access.book_limit)
        if got is None:
            return
        book, endpoint = got
        try:
            bids = _levels(book.get("bids"), self.contract_size)
            asks = _levels(book.get("asks"), self.contract_size)
        except (TypeError, ValueError) as error:
            self.problem("order book", describe(error))
            return
        if not len(bids) or not len(asks):
            self.problem("order book", "a side of the book is empty")
            return
        mid = (bids[:, 0].max() + asks[:, 0].min()) / 2.0
        stamp = book.get("timestamp")
        depth = depth_within(bids, asks, mid)
        market.depth_usd = self.sourced(depth, endpoint, stamp)
        reach = reaches(bids, asks, mid)
        bands = [band for band in DEPTH_BANDS if band <= reach]
        if len(bands) < len(DEPTH_BANDS):
            self.problem(
                "order book",
                f"the {len(bids)} + {len(asks)} levels read reach {reach:.2%} of mid, "
                f"depth_shape fitted on {', '.join(f'{band:.0%}' for band in bands) or 'none'}",
            )
        shape = fit_depth_shape(bands, [sum(depth[band]) / 2.0 for band in bands])
        if shape is None:
            self.problem("depth shape", "fewer than two bands reached")
            return
        market.depth_shape = self.sourced(shape, endpoint, stamp)

    def read_tiers(self, market: MarketSnapshot) -> None:
        lines_before = len(self.problems)
        tiers = self.fetch_tiers()
        if tiers is not None:
            raw, endpoint = tiers
            try:
                rows = self.tier_rows(raw, market)
            except (TypeError, ValueError, KeyError) as error:
                self.problem("tiers", describe(error))
            else:
                market.tiers = self.sourced(rows, endpoint)
                return
        market.tiers = self.profile_tiers(market)
        # One line for the failure and its fallback together.
        if len(self.problems) > lines_before + 1:
            fallback = self.problems.pop().split(": ", 2)[2]
            self.problems[-1] += f"; {fallback}"

    def fetch_tiers(self) -> tuple[list, str] | None:
        has = self.exchange.has
        if has.get("fetchMarketLeverageTiers") is True or not has.get("fetchLeverageTiers"):
            return self.call("tiers", "fetchMarketLeverageTiers", self.symbol)
        got = self.call("tiers", "fetchLeverageTiers", [self.symbol])
        if got is None:
            return None
        return got[0].get(self.symbol, []), got[1]

    def tier_rows(self, raw: list, market: MarketSnapshot) -> list[tuple]:
        """(floor USD, mmr, max leverage, maintenance amount USD or None) rows from 0 up."""
        scale = 1.0
        if self.access.amounts_in_contracts:
            # OKX tiers by position size in contracts: USD floors at the mark.
            if market.mark is None:
                raise ValueError("tiers in contracts need a mark price")
            scale = self.contract_size * market.mark.value
        rows = []
        for tier in raw:
            floor = float(tier["minNotional"]) * scale
            info = tier.get("info") or {}
            amount = _number(info.get("cum", info.get("mmDeduction")))
            rows.append(
                (floor, float(tier["maintenanceMarginRate"]), float(tier["maxLeverage"]), amount)
            )
        floors = [row[0] for row in rows]
        if (
            not rows
            or floors[0] != 0.0
            or any(b <= a for a, b in zip(floors, floors[1:], strict=False))
        ):
            raise ValueError(f"floors {floors} do not start at 0 and increase")
        return rows

    def profile_tiers(self, market: MarketSnapshot) -> Sourced:
        """The engine's published table for the venue and asset, when ccxt gave none."""
        price = market.mark.value if market.mark is not None else None
        table = VENUES[self.venue].tiers(self.asset, price_usd=price)
        rows = [
            (float(floor), float(mmr), float(leverage), float(amount))
            for floor, mmr, leverage, amount in zip(
                table.floors, table.mmr, table.max_leverage, table.maintenance_amount, strict=True
            )
        ]
        self.problem("tiers", f"the venue profile's table is used ({table.source})")
        return Sourced(rows, self.venue, f"venue profile tier table ({table.source})", None)

    def read_histories(self, market: MarketSnapshot, history_days: int) -> None:
        since = int(self.read_ms - history_days * DAY_MS)
        got = self.call("candles", "fetchOHLCV", self.symbol, "1d", since, history_days)
        if got is not None:
            candles = [(float(row[0]), float(row[4])) for row in got[0] if row[4] is not None]
            market.candles = self.sourced(candles, got[1], candles[-1][0] if candles else None)
        got = self.call(
            "open interest history",
            "fetchOpenInterestHistory",
            self.symbol,
            "1d",
            since,
            history_days,
        )
        if got is not None:
            history = self.interest_history(got[0], market)
            if history:
                market.open_interest_history = self.sourced(history, got[1], history[-1][0])
        got = self.call(
            "long/short ratio",
            "fetchLongShortRatioHistory",
            self.symbol,
            "1d",
            since,
            history_days,
        )
        if got is not None and got[0]:
            latest = max(got[0], key=lambda entry: entry.get("timestamp") or 0)
            ratio = _number(latest.get("longShortRatio"))
            if ratio is not None:
                market.long_short_account_ratio = self.sourced(
                    ratio, got[1], latest.get("timestamp")
                )

    def interest_history(self, entries: list, market: MarketSnapshot) -> list[tuple]:
        """(time ms, OI USD) rows; an amount in coin is valued at that day's close."""
        closes = market.candles.value if market.candles is not None else []
        rows = []
        for entry in entries:
            stamp = float(entry["timestamp"])
            value = _number(entry.get("openInterestValue"))
            amount = _number(entry.get("openInterestAmount"))
            if value is None and amount is not None:
                price = close_at(closes, stamp)
                if price is None and market.mark is not None:
                    price = market.mark.value
                value = None if price is None else amount * self.contract_size * price
            if value is not None:
                rows.append((stamp, value))
        if entries and len(rows) < len(entries):
            self.problem("open interest history", "entries without a USD value were left out")
        return sorted(rows)


def close_at(candles: list[tuple[float, float]], stamp_ms: float) -> float | None:
    """Close of the daily candle that ended last at or before ``stamp_ms`` (open + 1 day)."""
    ended = [close for opened, close in candles if opened + DAY_MS <= stamp_ms]
    return ended[-1] if ended else None


def interval_seconds(text: Any) -> float | None:
    """Seconds of a ccxt interval such as '8h', '1h' or '30m'; None if absent or unknown."""
    match = re.fullmatch(r"(\d+)([mhd])", str(text or "").strip())
    if match is None:
        return None
    return float(match.group(1)) * {"m": 60.0, "h": 3600.0, "d": 86400.0}[match.group(2)]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _levels(levels: Any, contract_size: float) -> np.ndarray:
    """(price, coin) rows of ccxt's [price, amount, ...] levels; ValueError if unparsable."""
    if not isinstance(levels, list):
        raise ValueError(f"levels are {type(levels).__name__}, not a list")
    rows = np.asarray([(level[0], level[1]) for level in levels], dtype=np.float64)
    rows = rows.reshape(-1, 2)
    if not np.all(np.isfinite(rows) & (rows > 0.0)):
        raise ValueError("a level's price or amount is not a positive number")
    rows[:, 1] *= contract_size
    return rows


def fetch_addresses(
    addresses: list[str],
    assets: list[str] | None = None,
    *,
    exchange: Any = None,
    now_ms: float | None = None,
) -> tuple[list[NamedPosition], list[str]]:
    """Open positions Hyperliquid publishes for each address (``clearinghouseState``).

    Parameters
    ----------
    addresses : '0x' + 40 hex characters each (the caller rejects others as input errors;
        here one that is not gives a problem line)
    assets : keep only these coins; all when None
    exchange : a ccxt hyperliquid instance; one from :func:`new_exchange` when None
    now_ms : read time (UTC ms) where the response has no ``time``

    Returns
    -------
    (positions, problem lines)
    """
    exchange = exchange if exchange is not None else new_exchange("hyperliquid")
    read_ms = float(now_ms) if now_ms is not None else time.time() * 1000.0
    wanted = {asset.upper() for asset in assets} if assets else None
    positions: list[NamedPosition] = []
    problems: list[str] = []
    for address in addresses:
        if not ADDRESS.match(address):
            problems.append(f"hyperliquid {address}: not 0x followed by 40 hex digits")
            continue
        try:
            state = exchange.publicPostInfo({"type": "clearinghouseState", "user": address})
            found = account_positions(address, state, read_ms)
        except Exception as error:  # one address failing must not lose the others
            problems.append(f"hyperliquid {address}: positions: {describe(error)}")
            continue
        positions.extend(p for p in found if wanted is None or p.market.split("-")[0] in wanted)
    return positions, problems


def account_positions(address: str, state: dict, read_ms: float) -> list[NamedPosition]:
    """NamedPositions of one ``clearinghouseState`` response (sizes of zero skipped).

    An isolated position's margin is its ``marginUsed``. Cross positions share the cross
    wallet: the cross account value less their unrealised PnL (the engine adds PnL to the
    margin itself), spread over them in proportion to their ``marginUsed``.
    """
    stamp = float(state.get("time") or read_ms)
    entries = [
        e["position"] for e in state.get("assetPositions", []) if float(e["position"]["szi"])
    ]
    cross = [p for p in entries if (p.get("leverage") or {}).get("type", "cross") == "cross"]
    summary = state.get("crossMarginSummary") or {}
    wallet = _number(summary.get("accountValue"))
    if wallet is not None:
        wallet -= sum(_number(p.get("unrealizedPnl")) or 0.0 for p in cross)
    used = sum(float(p["marginUsed"]) for p in cross)
    positions = []
    for position in entries:
        size = float(position["szi"])
        leverage = position.get("leverage") or {}
        mode = str(leverage.get("type", "cross"))
        margin = float(position["marginUsed"])
        if mode == "cross" and wallet is not None and wallet > 0 and used > 0:
            margin = wallet * margin / used
        positions.append(
            NamedPosition(
                account=address,
                market=f"{position['coin']}-hyperliquid",
                side="long" if size > 0 else "short",
                quantity=abs(size),
                entry_price=float(position["entryPx"]),
                margin=margin,
                margin_mode=mode,
                leverage=float(leverage.get("value", 0.0)),
                source=Sourced(
                    _number(position.get("liquidationPx")),
                    "hyperliquid",
                    "POST /info clearinghouseState",
                    stamp,
                ),
            )
        )
    return positions
