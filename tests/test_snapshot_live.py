"""The live snapshot, offline: venues' documented response bodies fed through ccxt's request hook.

Every REST call of ccxt's sync ``Exchange`` goes through ``Exchange.fetch(url, method,
headers, body)``. :class:`FixtureFetch` replaces it on each instance: it serves the JSON of
``tests/fixtures/ccxt/<venue>/`` by URL path (Hyperliquid's ``POST /info`` by the body's
``type``), records every request, and raises ``ccxt.NetworkError`` for a path it has no
fixture for, so ccxt's parsing and ours both run and the tests see which calls happen.
Expected figures are worked by hand from the fixture rows.
"""

from __future__ import annotations

import socket

import ccxt
import pytest

from cascadesim.marketdata.live import fetch_addresses, take_snapshot
from tests.ccxt_fixtures import FixtureFetch, offline

NOW_MS = 1758499200000.0  # 2025-09-22T00:00:00Z
VENUES = ["binance", "bybit", "okx", "hyperliquid"]


@pytest.fixture(autouse=True)
def no_socket(monkeypatch):
    """Any connection attempt fails the test: nothing here may touch the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def snapshot(venues=VENUES, assets=("BTC",), failing=None):
    exchanges = {venue: offline(venue, (failing or {}).get(venue)) for venue in venues}
    taken = take_snapshot(list(venues), list(assets), exchanges=exchanges, now_ms=NOW_MS)
    return taken, exchanges


@pytest.fixture(scope="module")
def full():
    taken, exchanges = snapshot()
    return {market.venue: market for market in taken.markets}, taken.problems, exchanges


def lines_about(problems, prefix):
    return [line for line in problems if line.startswith(prefix)]


# --- per venue: the values the fixtures hold -----------------------------------------------


def test_binance_values_from_the_fixtures(full):
    markets, _, _ = full
    btc = markets["binance"]
    assert btc.symbol == "BTC/USDT:USDT"
    assert btc.price.value == 60005.5
    assert btc.mark.value == 60001.2
    assert btc.index.value == 59998.7
    assert btc.funding_rate.value == pytest.approx(0.0001)
    assert btc.next_funding_ms.value == 1758528000000
    assert btc.open_interest_usd.value == pytest.approx(80000.0 * 60001.2)  # coin x mark
    assert btc.volume_24h_usd.value == 9_000_000_000.0
    # mid (59990 + 60010) / 2 = 60000; 1 %: bids >= 59400, asks <= 60600
    depth = btc.depth_usd.value
    assert depth[0.01] == pytest.approx((59990 * 1 + 59500 * 2, 60010 * 1.5 + 60500 * 2.5))
    assert depth[0.02] == pytest.approx(
        (59990 * 1 + 59500 * 2 + 58900 * 3, 60010 * 1.5 + 60500 * 2.5 + 61100 * 3.5)
    )
    assert depth[0.05][0] == pytest.approx(59990 * 1 + 59500 * 2 + 58900 * 3 + 57500 * 4)
    assert btc.candles.value == [
        (1758240000000, 59000),
        (1758326400000, 59400),
        (1758412800000, 60005.5),
    ]
    assert btc.open_interest_history.value[-1] == (1758412800000, 4800440000.0)
    assert btc.long_short_account_ratio.value == 1.8571
    # fundingInfo lists only symbols off the default interval: BTC takes the profile's 8 h
    assert btc.funding_interval_s.value == 28_800.0
    assert btc.funding_interval_s.endpoint == "venue profile funding_interval_s"


def test_bybit_values_from_the_fixtures(full):
    markets, _, _ = full
    btc = markets["bybit"]
    assert (btc.price.value, btc.mark.value, btc.index.value) == (60010.0, 60003.0, 59999.0)
    assert btc.funding_rate.value == pytest.approx(0.00005)
    assert btc.funding_interval_s.value == 8 * 3600.0
    assert btc.open_interest_usd.value == pytest.approx(50000.0 * 60003.0)
    assert btc.volume_24h_usd.value == 5_000_000_000.0
    depth = btc.depth_usd.value
    assert depth[0.01] == pytest.approx((59995 * 2 + 59600 * 1, 60005 * 1 + 60400 * 2))
    assert depth[0.05][1] == pytest.approx(60005 * 1 + 60400 * 2 + 61000 * 1.5 + 62800 * 2)
    assert btc.tiers.value == [
        (0.0, 0.005, 100.0, 0.0),
        (2_000_000.0, 0.01, 50.0, 10_000.0),
        (4_000_000.0, 0.015, 33.33, 30_000.0),
    ]
    # Bybit's history is in coin: valued at the close of the day that ended at each time.
    assert btc.open_interest_history.value == [
        (1758326400000, pytest.approx(48000 * 59100.0)),
        (1758412800000, pytest.approx(49000 * 59500.0)),
        (1758499200000, pytest.approx(50000 * 60010.0)),
    ]
    assert btc.long_short_account_ratio.value == pytest.approx(0.6 / 0.4)


def test_okx_values_from_the_fixtures_in_contracts_of_0_01_btc(full):
    markets, _, _ = full
    btc = markets["okx"]
    assert btc.price.value == 60008.1
    assert btc.mark.value == 60002.5  # /public/funding-rate has no mark: /public/mark-price
    assert btc.index is None
    assert btc.funding_rate.value == pytest.approx(0.0000792386885340)
    assert btc.funding_interval_s.value == 8 * 3600.0
    assert btc.next_funding_ms.value == 1758528000000
    assert btc.open_interest_usd.value == 1_800_075_000.0  # oiUsd
    assert btc.volume_24h_usd.value == pytest.approx(4_000_050 * 0.01 * 60008.1)
    depth = btc.depth_usd.value  # sizes in contracts x ctVal 0.01
    assert depth[0.01] == pytest.approx((59998 * 2 + 59450 * 1.5, 60002 * 1 + 60550 * 2.5))
    assert depth[0.02] == pytest.approx(
        (59998 * 2 + 59450 * 1.5 + 58850 * 3, 60002 * 1 + 60550 * 2.5 + 61150 * 2)
    )
    # position-tiers floors are contracts: USD at 0.01 BTC x mark
    assert btc.tiers.value == [
        (0.0, 0.004, 100.0, None),
        (pytest.approx(50001 * 0.01 * 60002.5), 0.006, 75.0, None),
    ]
    assert btc.open_interest_history.value[0] == (1758240000000, 1_657_600_000.0)


def test_hyperliquid_values_from_the_fixtures(full):
    markets, problems, _ = full
    btc = markets["hyperliquid"]
    assert btc.symbol == "BTC/USDC:USDC"
    assert btc.price.value == 60000.0  # ccxt's ticker last is the midPx
    assert (btc.mark.value, btc.index.value) == (60004.0, 59997.0)
    assert btc.funding_rate.value == pytest.approx(0.0000125)
    assert btc.funding_interval_s.value == 3600.0
    assert btc.open_interest_usd.value == pytest.approx(25000.5 * 60004.0)
    assert btc.volume_24h_usd.value == 2_500_000_000.0
    depth = btc.depth_usd.value
    assert depth[0.01] == pytest.approx((59995 * 1.5 + 59700 * 2, 60005 * 0.5 + 60300 * 2.5))
    # l2Book's levels reach 2.17 %: the shape is fitted on 1 % and 2 % and a line says so
    assert lines_about(problems, "hyperliquid BTC: order book: ") == [
        "hyperliquid BTC: order book: the 4 + 4 levels read reach 2.17% of mid, "
        "depth_shape fitted on 1%, 2%"
    ]
    assert btc.depth_shape is not None
    assert btc.open_interest_history is None and btc.long_short_account_ratio is None


def test_depth_shape_is_the_log_fit_over_the_three_bands(full):
    import numpy as np

    markets, _, _ = full
    depth = markets["binance"].depth_usd.value
    averaged = [sum(depth[band]) / 2 for band in (0.01, 0.02, 0.05)]
    slope = np.polyfit(np.log([1.0, 2.0, 5.0]), np.log(averaged), 1)[0]
    assert markets["binance"].depth_shape.value == pytest.approx(slope)


# --- where each value says it came from ----------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "field", "endpoint"),
    [
        ("binance", "open_interest_usd", "fetchOpenInterest (GET /fapi/v1/openInterest) x mark"),
        ("binance", "funding_rate", "fetchFundingRate (GET /fapi/v1/premiumIndex)"),
        ("binance", "depth_usd", "fetchOrderBook (GET /fapi/v1/depth)"),
        ("bybit", "mark", "fetchFundingRate (GET /v5/market/tickers)"),
        ("bybit", "tiers", "fetchMarketLeverageTiers (GET /v5/market/risk-limit)"),
        ("okx", "depth_usd", "fetchOrderBook (GET /api/v5/market/books)"),
        ("okx", "open_interest_usd", "fetchOpenInterest (GET /api/v5/public/open-interest)"),
        ("hyperliquid", "depth_usd", "fetchOrderBook (POST /info l2Book)"),
        ("hyperliquid", "funding_rate", "fetchFundingRate (POST /info metaAndAssetCtxs)"),
    ],
)
def test_each_value_names_the_path_requested(full, venue, field, endpoint):
    markets, _, exchanges = full
    sourced = getattr(markets[venue], field)
    assert sourced.endpoint == endpoint
    assert sourced.venue == venue
    requested = exchanges[venue].fetch.requested
    assert endpoint.split("(")[1].split(")")[0] in requested


def test_times_are_the_exchanges_where_the_response_has_one(full):
    markets, _, _ = full
    assert markets["binance"].depth_usd.time_ms == 1758499200090  # depth's "T"
    assert markets["binance"].open_interest_usd.time_ms == 1758499190000
    assert markets["bybit"].price.time_ms == NOW_MS  # the tickers list carries no time


def test_binance_tiers_need_a_key_so_the_profile_table_stands_in(full):
    markets, problems, exchanges = full
    (line,) = lines_about(problems, "binance BTC: tiers: ")
    assert line.startswith('binance BTC: tiers: AuthenticationError: binanceusdm requires "apiKey"')
    assert "the venue profile's table is used" in line
    tiers = markets["binance"].tiers
    assert tiers.endpoint.startswith("venue profile tier table")
    assert tiers.value[0][0] == 0.0
    assert all(b[0] > a[0] for a, b in zip(tiers.value, tiers.value[1:], strict=False))
    assert not any("leverageBracket" in path for path in exchanges["binance"].fetch.requested)


def test_only_the_perpetual_markets_are_loaded(full):
    _, _, exchanges = full
    assert exchanges["bybit"].fetch.requested[:2] == [
        "GET /v5/market/instruments-info",
        "GET /v5/market/instruments-info",
    ]
    assert "GET /api/v5/public/instruments" in exchanges["okx"].fetch.requested
    assert all("spot" not in market for market in exchanges["okx"].markets)
    assert set(exchanges["binance"].markets) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}


def test_the_fixture_snapshot_has_no_unexpected_problems(full):
    _, problems, _ = full
    assert len(problems) == 5, problems  # binance tiers, hyperliquid book/tiers/2 histories


# --- failures ------------------------------------------------------------------------------


def test_a_venue_down_gives_one_line_and_the_others_come_back():
    class Down(FixtureFetch):
        def __call__(self, url, method="GET", headers=None, body=None):
            raise ccxt.NetworkError("connection refused")

    exchanges = {venue: offline(venue) for venue in ("binance", "bybit")}
    exchanges["bybit"].fetch = Down("bybit")
    taken = take_snapshot(["bybit", "binance"], ["BTC"], exchanges=exchanges, now_ms=NOW_MS)
    assert [market.name for market in taken.markets] == ["BTC-binance"]
    assert lines_about(taken.problems, "bybit") == [
        "bybit: unreachable: NetworkError: connection refused"
    ]


def test_a_rate_limit_on_one_method_leaves_that_field_empty_with_one_line():
    failing = {"okx": {"GET /api/v5/market/books": ccxt.RateLimitExceeded}}
    taken, _ = snapshot(["okx"], failing=failing)
    (okx,) = taken.markets
    assert okx.depth_usd is None and okx.depth_shape is None
    assert okx.funding_rate is not None and okx.open_interest_usd is not None
    assert lines_about(taken.problems, "okx BTC: order book") == [
        "okx BTC: order book: RateLimitExceeded: fixture says GET /api/v5/market/books failed"
    ]


def test_an_asset_the_venue_does_not_list_gives_one_line():
    taken, exchanges = snapshot(["bybit"], assets=("BTC", "SOL"))
    assert [market.asset for market in taken.markets] == ["BTC"]
    assert taken.problems == ["bybit SOL: not listed: bybit has no SOL/USDT:USDT"]
    assert taken.taken_ms == NOW_MS


def test_an_unparsable_response_is_a_problem_line_not_a_traceback():
    exchange = offline("binance")
    inner = exchange.fetch

    def garbled(url, method="GET", headers=None, body=None):
        if "/fapi/v1/depth" in url:
            return {"bids": [["not a price", "1"]], "asks": "nonsense"}
        return inner(url, method, headers, body)

    exchange.fetch = garbled
    taken = take_snapshot(["binance"], ["BTC"], exchanges={"binance": exchange}, now_ms=NOW_MS)
    (line,) = lines_about(taken.problems, "binance BTC: order book")
    assert "\n" not in line
    assert taken.markets[0].depth_usd is None


def test_a_venue_outside_the_four_is_refused():
    from cascadesim._util.errors import CascadesimInputError

    with pytest.raises(CascadesimInputError, match="--venues = 'kraken': one of binance, bybit"):
        take_snapshot(["kraken"], ["BTC"], exchanges={}, now_ms=NOW_MS)


# --- Hyperliquid positions by address ------------------------------------------------------

ADDRESS = "0x" + "ab" * 20


def test_addresses_give_the_published_positions():
    exchange = offline("hyperliquid")
    positions, problems = fetch_addresses([ADDRESS], exchange=exchange, now_ms=NOW_MS)
    assert problems == []
    long, short = positions
    assert (long.account, long.market, long.side) == (ADDRESS, "BTC-hyperliquid", "long")
    # The only cross position holds the cross wallet: account value 25,000 less its
    # unrealised PnL of 2,008 (the engine adds the PnL back as the price moves).
    assert (long.quantity, long.entry_price, long.margin) == (1.0, 58000.0, 25000.0 - 2008.0)
    assert (long.margin_mode, long.leverage) == ("cross", 10.0)
    assert long.source.value == 52841.5
    assert long.source.endpoint == "POST /info clearinghouseState"
    assert long.source.time_ms == 1758499200600
    assert (short.market, short.side, short.quantity) == ("ETH-hyperliquid", "short", 5.0)
    assert (short.margin_mode, short.leverage, short.margin) == ("isolated", 20.0, 770.0)
    assert exchange.fetch.requested == ["POST /info clearinghouseState"]


def test_addresses_filtered_to_assets_and_failures_as_lines():
    exchange = offline("hyperliquid", {"POST /info clearinghouseState": ccxt.ExchangeNotAvailable})
    positions, problems = fetch_addresses([ADDRESS, "0x12"], ["BTC"], exchange=exchange)
    assert positions == []
    assert problems == [
        f"hyperliquid {ADDRESS}: positions: ExchangeNotAvailable: "
        "fixture says POST /info clearinghouseState failed",
        "hyperliquid 0x12: not 0x followed by 40 hex digits",
    ]
    positions, _ = fetch_addresses([ADDRESS], ["eth"], exchange=offline("hyperliquid"))
    assert [position.market for position in positions] == ["ETH-hyperliquid"]
