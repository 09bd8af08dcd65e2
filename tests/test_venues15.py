"""The five venue profiles of issue 15 (BitMEX, HTX, Bitget, Gate, Deribit) against their sources.

Every figure below was typed from the source named beside it (read 2026-12-03), not from the
program's output:

- Bitget position tiers, ``GET /api/v2/mix/market/query-position-lever`` as cached in
  github.com/dextrorsal/user_data ``data/bitget/futures/leverage_tiers_USDT.json`` @3482554a
  (2025-04-04), and the liquidation fee rate 0.0006 of Bitget's "Announcement on liquidation
  risk management" (2024-07-24).
- Gate help "Risk Limit Explanation" (futures-logic/22162, 2025-09-30): BTCUSDT tiers, and the
  gradient maintenance margin of Gate's "Leverage and Margin" page (each tier's MMR on the part
  above the previous limit); the 1.2M USDT figure is worked by hand from those rows.
- Deribit "Linear Perpetual" (support.deribit.com, article 25944738177565): BTC_USDC MM = 1 % +
  0.005 % x size in BTC, IM = 2 % + 0.005 % x size; at 100,000 USD a 25 BTC position needs MM
  1.125 % = 28,125 USDC and IM 2.125 % = 53,125 USDC; 350 BTC needs IM 3.75 % = 1,312,500 USDC
  (its MM, 2.75 % = 962,500 USDC, is derived from the formula: the excerpt read stops there).
- Deribit "Funding Specifications" (article 31424939178397): a +-0.025 % damper on the premium.
- BitMEX blog "Important changes to Bitcoin / USD swap funding": at an 8-hour interval at most
  +-1.125 % a day; "Risk Limits Examples": XBTUSD base MM 0.50 %, IM 1.00 %, each step adds the
  base MM.

None of the five publishes a worked liquidation-price example that was found; the liquidation
prices here are derived from the venues' stated rules.
"""

from __future__ import annotations

import pytest

from cascadesim.engine import layout
from cascadesim.model import tier_tables
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.venues import VENUES
from cascadesim.scenario.base import VENUE_NAMES
from tests.test_funding_examples import venue_rate
from tests.test_tier_tables import _cli

NEW_VENUES = ("bitmex", "htx", "bitget", "gate", "deribit")


def _tier(table, floor_usd):
    """The (floor, MMR, max leverage) of the tier starting at ``floor_usd``."""
    index = table.floors.tolist().index(floor_usd)
    return table.floors[index], table.mmr[index], table.max_leverage[index]


# --- every new venue is accepted where the old ones are ------------------------------------
def test_the_scenario_schema_lists_every_profile():
    assert VENUE_NAMES == tuple(VENUES)
    assert set(NEW_VENUES) <= set(VENUES)


@pytest.mark.parametrize("venue", NEW_VENUES)
def test_each_new_venue_answers_the_calculator_and_the_tiers_command(venue):
    figures = liquidation_price(venue, "long", 100_000.0, 1.0, leverage=10.0)
    assert 0.0 < figures.bankruptcy_price < figures.liquidation_price < 100_000.0
    result = _cli(venue, "BTC")
    assert result.returncode == 0, result.stderr
    assert "source:" in result.stdout


@pytest.mark.parametrize("venue", NEW_VENUES)
def test_each_new_venue_names_the_source_of_its_fee(venue):
    profile = VENUES[venue]
    assert profile.liquidation_fee_source
    published = {"bitmex": 0.0, "bitget": 0.0006}
    if venue in published:
        assert profile.liquidation_fee_for("BTC") == published[venue]
        assert not profile.liquidation_fee_source.startswith("estimate:")
    else:
        assert profile.liquidation_fee_source.startswith("estimate:")


# --- Bitget --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("asset", "floor", "mmr", "leverage"),
    [
        ("BTC", 0.0, 0.004, 125.0),  # level 1: 0-150,000 USDT, 125x, 0.40 %
        ("BTC", 900_000.0, 0.01, 50.0),  # level 3: 900,000-12,000,000, 50x, 1.00 %
        ("ETH", 12_000_000.0, 0.02, 20.0),  # level 4: 12M-65M, 20x, 2.00 %
        ("DOGE", 0.0, 0.0066, 75.0),  # level 1: 0-10,000, 75x, 0.66 %
    ],
)
def test_bitget_rows_load_as_published(asset, floor, mmr, leverage):
    table = VENUES["bitget"].tiers(asset)
    assert not table.is_estimate
    assert _tier(table, floor) == (floor, mmr, leverage)


def test_bitget_table_lengths_as_published():
    lengths = {asset: len(VENUES["bitget"].tiers(asset)) for asset in ("BTC", "ETH", "SOL")}
    assert lengths == {"BTC": 11, "ETH": 13, "SOL": 10}


def test_bitget_isolated_liquidation_price_from_its_margin_rate_rule():
    # "Position Tier": liquidated when (margin + uPnL) / (size x mark) falls to the tier MMR.
    # 1 BTC long at 100,000 USDT, 20x (5,000 margin), tier 1 (0.40 %):
    # 5,000 + (P - 100,000) = 0.004 x P  ->  P = 95,000 / 0.996.
    figures = liquidation_price("bitget", "long", 100_000.0, 1.0, leverage=20.0)
    assert figures.liquidation_price == pytest.approx(95_000.0 / 0.996, rel=1e-12)
    assert figures.bankruptcy_price == 95_000.0


# --- Gate ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("floor", "mmr", "leverage"),
    [
        (0.0, 0.004, 125.0),  # tier 1: up to 20,000 USDT, 0.40 %, 125x
        (20_000.0, 0.0045, 111.0),  # tier 2: up to 50,000, 0.45 %, 111x
        (200_000.0, 0.01, 50.0),  # tier 5: up to 1,000,000, 1.00 %, 50x
        (3_000_000.0, 0.5, 1.05),  # tier 8: up to 5,000,000, 50.00 %, 1.05x
    ],
)
def test_gate_btc_rows_load_as_published(floor, mmr, leverage):
    table = VENUES["gate"].tiers("BTC")
    assert not table.is_estimate
    assert _tier(table, floor) == (floor, mmr, leverage)


def test_gate_gradient_maintenance_margin_by_hand():
    # 1.2M USDT of BTCUSDT, each tier's MMR on its slice: 20k x 0.40 % + 30k x 0.45 %
    # + 50k x 0.50 % + 100k x 0.70 % + 800k x 1.00 % + 200k x 2.00 %
    # = 80 + 135 + 250 + 700 + 8,000 + 4,000 = 13,165 USDT.
    table = VENUES["gate"].tiers("BTC")
    tier = table.floors.tolist().index(1_000_000.0)
    maintenance = 1_200_000.0 * table.mmr[tier] - table.maintenance_amount[tier]
    assert maintenance == pytest.approx(13_165.0, abs=1e-6)


# --- Deribit -------------------------------------------------------------------------------
def test_deribit_25_btc_example_maintenance_margin():
    # 25 BTC at 100,000 with the page's initial margin (53,125 USDC): MM 28,125 USDC.
    figures = liquidation_price("deribit", "long", 100_000.0, 25.0, margin=53_125.0)
    assert figures.maintenance_margin == pytest.approx(28_125.0, rel=1e-12)


def test_deribit_350_btc_at_the_pages_initial_margin():
    # 350 BTC with IM 3.75 % = 1,312,500 USDC is accepted (50x at size 0 falls to 26.67x);
    # MM = (1 % + 350 x 0.005 %) x 35M = 962,500 USDC (derived from the page's formula).
    figures = liquidation_price("deribit", "long", 100_000.0, 350.0, margin=1_312_500.0)
    assert figures.maintenance_margin == pytest.approx(962_500.0, rel=1e-12)


def test_deribit_first_tier_is_50x_and_the_rule_is_the_size_rule():
    table = VENUES["deribit"].tiers("BTC", price_usd=100_000.0)
    assert table.max_leverage[0] == pytest.approx(50.0)  # IM 2 % at size 0
    assert table.is_estimate  # our discretisation of a published formula


@pytest.mark.parametrize(
    ("premium", "hourly"),
    [(0.0002, 0.0), (-0.0002, 0.0), (0.001, 0.00075 / 8.0), (-0.001, -0.00075 / 8.0)],
)
def test_deribit_damper_on_the_8_hour_premium(premium, hourly):
    # Inside +-0.025 % the rate is 0; outside it is the premium less 0.025 %; paid hourly here.
    assert venue_rate("deribit", premium) == pytest.approx(hourly, abs=1e-15)


# --- BitMEX --------------------------------------------------------------------------------
def test_bitmex_ladder_follows_the_published_rule_and_is_an_estimate():
    table = VENUES["bitmex"].tiers("BTC")
    assert table.is_estimate
    assert table.mmr[:3].tolist() == pytest.approx([0.005, 0.01, 0.015])
    assert table.max_leverage[:3].tolist() == pytest.approx([100.0, 1.0 / 0.015, 50.0])


def test_bitmex_funding_cap_is_a_third_of_the_daily_maximum():
    # +-1.125 % a day at three 8-hour intervals: 0.375 % a settlement = 75 % x (1 % - 0.5 %).
    profile = VENUES["bitmex"]
    assert profile.funding_cap_for("BTC") == pytest.approx(0.01125 / 3.0)
    assert venue_rate("bitmex", 0.05) == pytest.approx(0.00375)


def test_bitmex_adl_ranking_is_the_nearest_code_not_its_own():
    # bitmex.com/app/autoDeleveraging ranks by PnL % on the entry value; no ADL_RANK_* code
    # does, and the profile says so: the PnL-on-margin ranking stands in.
    assert VENUES["bitmex"].adl_rank_rule == layout.ADL_RANK_PNL_LEVERAGE
    assert "ADL_RANK_BITMEX" not in dir(layout)


def test_new_tables_were_read_on_the_issue_15_date():
    for venue in NEW_VENUES:
        for table in VENUES[venue].tier_tables.values():
            assert f"read {tier_tables.READ_ON_VENUES15}" in table.source or table.is_estimate
