"""Headlines and breakdowns for one, several and many markets (hand-built market rows)."""

from __future__ import annotations

import pytest

from cascadesim.report.headlines import MAX_ASSET_LINES, asset_lines, price_scope, run_headline
from cascadesim.sim.result import breakdown


def market(name, asset, venue, *, liquidated, drawdown, without, oi, pool=None, fund=-1e6):
    start = 100.0
    return {
        "market": name,
        "asset": asset,
        "venue": venue,
        "liquidated_long_usd": 0.75 * liquidated,
        "liquidated_short_usd": 0.25 * liquidated,
        "liquidated_total_usd": liquidated,
        "accounts_liquidated": int(liquidated // 1000),
        "open_interest_before_usd": oi,
        "open_interest_after_usd": 0.9 * oi,
        "bad_debt_usd": 0.0,
        "adl_count": 2,
        "adl_notional_usd": 5e3,
        "insurance_fund_change_usd": fund,
        "fund_pool": pool or name,
        "cascade_start_s": 10.0,
        "price_start": start,
        "price_min": start * (1 - drawdown),
        "max_drawdown": drawdown,
        "counterfactual_max_drawdown": without,
        "amplification": drawdown / without,
    }


def summary_of(markets):
    total = {
        key: sum(row[key] for row in markets)
        for key in ("liquidated_long_usd", "liquidated_short_usd", "liquidated_total_usd")
    }
    total["accounts_liquidated"] = sum(row["accounts_liquidated"] for row in markets)
    deepest = max(markets, key=lambda row: row["max_drawdown"])
    total["price_market"] = deepest["market"]
    total["by_asset"] = breakdown(markets, "asset")
    total["by_venue"] = breakdown(markets, "venue")
    total["lead_asset"] = max(
        total["by_asset"], key=lambda a: total["by_asset"][a]["open_interest_before_usd"]
    )
    total["most_amplified_market"] = max(markets, key=lambda row: row["amplification"])["market"]
    total["markets"] = markets
    return total


def test_one_market_headline_names_the_market():
    summary = summary_of(
        [
            market(
                "BTC-binance", "BTC", "binance", liquidated=2e6, drawdown=0.1, without=0.05, oi=1e9
            )
        ]
    )
    text = run_headline(summary)
    assert text.startswith("BTC-binance: $2.0M liquidated ($1.5M longs, $500.0K shorts)")
    assert "fell 10.0 % (100.0 to 90.0 USD) against 5.0 % without liquidations (2.00x)" in text
    assert asset_lines(summary) == []
    assert price_scope(summary) == "BTC-binance"


def test_several_markets_lead_with_the_largest_asset_and_name_the_most_amplified():
    markets = [
        market("BTC-a", "BTC", "a", liquidated=8e6, drawdown=0.06, without=0.05, oi=5e9),
        market("BTC-b", "BTC", "b", liquidated=4e6, drawdown=0.08, without=0.05, oi=1e9),
        market("DOGE-b", "DOGE", "b", liquidated=1e6, drawdown=0.18, without=0.10, oi=2e8),
    ]
    summary = summary_of(markets)
    text = run_headline(summary)
    # Totals over all markets, the lead asset's move quoted on its largest market ...
    assert text.startswith("All 3 markets: $13.0M liquidated")
    assert "BTC, the asset with the most open interest, fell 6.0 % on BTC-a" in text
    # ... and the largest amplification named, not passed off as the lead's.
    assert "Largest amplification: DOGE-b, which fell 18.0 %" in text
    lines = asset_lines(summary)
    assert [line.split(" ")[0] for line in lines] == ["BTC", "DOGE"]
    assert lines[0].startswith("BTC (2 markets): $12.0M liquidated")
    assert "fell 6.0 % on BTC-a (100.0 to 94.0 USD)" in lines[0]
    assert price_scope(summary) == "DOGE-b, the deepest fall of 3 markets"


def test_breakdown_sums_groups_and_refuses_to_split_a_shared_fund():
    markets = [
        market("BTC-a", "BTC", "a", liquidated=8e6, drawdown=0.06, without=0.05, oi=5e9),
        market("ETH-a", "ETH", "a", liquidated=2e6, drawdown=0.07, without=0.05, oi=2e9),
        market(
            "SOL-a",
            "SOL",
            "a",
            liquidated=1e6,
            drawdown=0.09,
            without=0.06,
            oi=1e9,
            pool="ETH-a",
            fund=-3e6,
        ),
    ]
    venues = breakdown(markets, "venue")
    assert venues["a"]["liquidated_total_usd"] == pytest.approx(11e6)
    assert venues["a"]["liquidated_long_usd"] == pytest.approx(0.75 * 11e6)
    assert venues["a"]["adl_count"] == 6
    # The venue holds the whole pool: each fund counted once (SOL-a's row is a pool member).
    assert venues["a"]["insurance_fund_change_usd"] == pytest.approx(-2e6)
    assert venues["a"]["price_market"] == "BTC-a"
    assert venues["a"]["most_amplified_market"] == "SOL-a"
    assets = breakdown(markets, "asset")
    assert assets["BTC"]["insurance_fund_change_usd"] == pytest.approx(-1e6)
    assert assets["SOL"]["insurance_fund_change_usd"] is None
    assert assets["SOL"]["fund_shared_with"] == ["ETH-a"]
    assert assets["ETH"]["fund_shared_with"] == ["SOL-a"]


def test_many_assets_stop_after_the_most_liquidated():
    markets = [
        market(
            f"A{k}-v",
            f"A{k}",
            "v",
            liquidated=1e6 * (k + 1),
            drawdown=0.05,
            without=0.04,
            oi=1e8 * (k + 1),
        )
        for k in range(MAX_ASSET_LINES + 4)
    ]
    lines = asset_lines(summary_of(markets))
    assert len(lines) == MAX_ASSET_LINES + 1
    assert lines[0].startswith(f"A{MAX_ASSET_LINES + 3} (1 market)")
    assert lines[-1] == "... and 4 more assets (see the By-asset table)."


def test_a_run_whose_price_only_rose_does_not_say_it_fell_zero_percent():
    row = market(
        "BTC-binance", "BTC", "binance", liquidated=2e6, drawdown=0.1, without=0.05, oi=1e9
    )
    row.update(
        price_min=100.0, max_drawdown=0.0, counterfactual_max_drawdown=0.0, amplification=None
    )
    text = run_headline(summary_of([row]))
    assert "fell" not in text
    assert text.endswith("The price did not fall below its start (100.0 USD).")
