"""The reporting model: liquidations as the public aggregators count them."""

from __future__ import annotations

import pandas as pd
import pytest

from cascadesim.events.aggregator import aggregator_view, liquidation_orders, visible_orders

VENUES = {"BTC-binance": "binance", "BTC-okx": "okx", "ALT-binance": "binance"}
ASSETS = {"BTC-binance": "BTC", "BTC-okx": "BTC", "ALT-binance": "ALT"}


def event_log(rows: list[tuple]) -> pd.DataFrame:
    """An event log like Result.liquidations from (time, market, account, side, kind, usd)."""
    return pd.DataFrame(
        {
            "time": [float(r[0]) for r in rows],
            "market": pd.Categorical([r[1] for r in rows]),
            "account": [r[2] for r in rows],
            "position": [r[2] for r in rows],  # one position per account, as the population has
            "side": [r[3] for r in rows],
            "kind": pd.Categorical([r[4] for r in rows]),
            "notional": [float(r[5]) for r in rows],
        }
    )


def five_in_one_second(market: str) -> pd.DataFrame:
    return event_log(
        [(10, market, account, "long", "book", 1_000 * (account + 1)) for account in range(5)]
    )


def test_five_orders_in_one_second_of_one_binance_symbol_show_as_one():
    view = aggregator_view(five_in_one_second("BTC-binance"), VENUES, ASSETS, ["binance"])
    assert view["true"]["orders"] == 5
    assert view["visible"]["orders"] == 1
    # The latest order of the second is the one shown: account 4, 5,000 USD.
    assert view["visible"]["total_usd"] == pytest.approx(5_000)
    assert view["true"]["total_usd"] == pytest.approx(15_000)
    assert view["gap_usd"] == pytest.approx(10_000)
    assert view["visible_share"] == pytest.approx(5_000 / 15_000)


def test_an_unthrottled_venue_shows_every_order():
    view = aggregator_view(five_in_one_second("BTC-okx"), VENUES, ASSETS, ["binance"])
    assert view["visible"]["orders"] == 5
    assert view["gap_usd"] == 0.0


def test_orders_in_different_seconds_are_all_visible():
    log = event_log([(t, "BTC-binance", t, "long", "book", 100) for t in range(1, 6)])
    view = aggregator_view(log, VENUES, ASSETS, ["binance"])
    assert view["visible"]["orders"] == 5


def test_a_basket_market_shows_one_order_per_symbol_per_second():
    # Accounts 0..5 over 3 symbols (account mod 3): 3 visible, the last of each symbol.
    log = event_log(
        [(7, "ALT-binance", account, "long", "book", 10 * (account + 1)) for account in range(6)]
    )
    view = aggregator_view(log, VENUES, ASSETS, ["binance"], {"ALT-binance": 3})
    assert view["visible"]["orders"] == 3
    assert view["visible"]["total_usd"] == pytest.approx(40 + 50 + 60)


def test_book_fill_and_fund_takeover_of_one_position_are_one_order():
    log = event_log(
        [
            (3, "BTC-binance", 1, "long", "book", 600),
            (3, "BTC-binance", 1, "long", "insurance", 400),
            (3, "BTC-binance", 2, "short", "adl_counterparty", 999),
        ]
    )
    orders = liquidation_orders(log)
    assert len(orders) == 1  # the ADL counterparty row is not a liquidation
    assert orders["notional"].iloc[0] == pytest.approx(1_000)


def test_a_long_step_spreads_its_orders_over_its_seconds():
    # Ten orders stamped at the end of one 5-s step: 2 per second, 1 visible per second.
    log = event_log([(5, "BTC-binance", account, "long", "book", 1) for account in range(10)])
    orders = liquidation_orders(log)
    shown = visible_orders(orders, {"BTC-binance": 1}, step_s=5.0)
    assert int(shown.sum()) == 5


def test_sides_venues_and_assets_are_split():
    log = event_log(
        [
            (1, "BTC-binance", 1, "long", "book", 300),
            (2, "BTC-okx", 2, "short", "book", 100),
            (2, "ALT-binance", 3, "long", "book", 50),
        ]
    )
    view = aggregator_view(log, VENUES, ASSETS, ["binance"])["visible"]
    assert view["long_usd"] == pytest.approx(350)
    assert view["short_usd"] == pytest.approx(100)
    assert view["long_share"] == pytest.approx(350 / 450)
    assert view["by_venue"]["binance"]["total_usd"] == pytest.approx(350)
    assert view["by_venue"]["okx"]["short_usd"] == pytest.approx(100)
    assert view["by_asset"]["BTC"]["total_usd"] == pytest.approx(400)
    assert view["largest_order_usd"] == pytest.approx(300)


def test_an_empty_log_has_no_gap():
    view = aggregator_view(event_log([]), VENUES, ASSETS, ["binance"])
    assert view["true"]["total_usd"] == 0.0 and view["visible_share"] is None
