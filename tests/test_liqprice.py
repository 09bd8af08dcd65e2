"""Published worked examples from the exchanges' help pages, and the `cascadesim liqprice` CLI.

Prices are compared to the exchange's tick (0.1 USD for BTC and ETH on Binance and Bybit, 0.1 for
ETH-USD on dYdX, 1 USD for BTC on Hyperliquid) unless the page gives an exact figure.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.engine import margin as kernels
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.venues import VENUES, maintenance_amounts
from tests.cli import run_cli
from tests.margin_records import market_record

REPO_ROOT = Path(__file__).resolve().parents[1]


# --- Binance -------------------------------------------------------------------------------
# "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", Binance FAQ
# (binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93). Its worked figures use the
# BTCUSDT table of the time: 0-50k USDT at 0.4%, 50k-250k at 0.5%, 250k-1M at 1%.
_BINANCE_OLD_FLOORS = [0.0, 50_000.0, 250_000.0]
_BINANCE_OLD_MMR = [0.004, 0.005, 0.01]


def test_binance_maintenance_amount_level_3_is_1300():
    # "Maintenance Amount on Level 3 = 250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT"
    assert maintenance_amounts(_BINANCE_OLD_FLOORS, _BINANCE_OLD_MMR).tolist() == [0, 50, 1300]


@pytest.mark.parametrize(
    ("notional", "mmr", "amount"),
    [
        (264_000.0, 0.01, 1_300.0),  # "position size ... 264,000 USDT ... MMR would be 1%"
        (500_000.0, 0.01, 1_300.0),  # "500,000 USDT, then the maintenance amount would be 1,300"
    ],
)
def test_binance_bracket_lookup(notional, mmr, amount):
    floors = np.array(_BINANCE_OLD_FLOORS)
    rates = np.array(_BINANCE_OLD_MMR)
    amounts = maintenance_amounts(floors, rates)
    tier = kernels.tier_for_notional(floors, 3, notional)
    assert (rates[tier], amounts[tier]) == (mmr, amount)
    market = market_record(floors, rates, amounts)[0]
    assert kernels.maintenance_requirement(market, 1.0, notional, notional) == pytest.approx(
        notional * mmr - amount
    )


# The `cum` column Binance publishes with its brackets (GET /fapi/v1/leverageBracket, snapshot
# in freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json of 2024-10-24) must
# equal the recursion applied to the same brackets (SOL, XRP, DOGE: tests/test_tier_tables.py).
_BINANCE_PUBLISHED_CUM = {
    "BTC": [
        0,
        50,
        950,
        11_450,
        131_450,
        481_450,
        2_981_450,
        14_481_450,
        26_481_450,
        41_481_450,
        121_481_450,
        421_481_450,
    ],
    "ETH": [
        0,
        50,
        950,
        11_450,
        131_450,
        381_450,
        2_006_450,
        9_506_450,
        17_506_450,
        27_506_450,
        80_506_450,
        280_506_450,
    ],
}


@pytest.mark.parametrize("asset", sorted(_BINANCE_PUBLISHED_CUM))
def test_binance_published_maintenance_amounts(asset):
    table = VENUES["binance"].tiers(asset)
    assert table.maintenance_amount.tolist() == pytest.approx(
        _BINANCE_PUBLISHED_CUM[asset], rel=1e-12, abs=1e-6
    )


@pytest.mark.parametrize(
    ("side", "leverage"), [("long", 20.0), ("short", 20.0), ("long", 3.0), ("short", 2.0)]
)
def test_binance_one_way_formula(side, leverage):
    # Same page: LP = (WB - TMM1 + UPNL1 + cumB - Side1 x Position1 x EP1)
    #                 / (Position1 x MMR_B - Side1 x Position1), isolated: TMM1 = UPNL1 = 0,
    # WB = isolated wallet balance, MMR and cum of the bracket that holds the liquidation price.
    entry, quantity = 60_000.0, 250.0
    figures = liquidation_price("binance", side, entry, quantity, leverage=leverage)
    table = VENUES["binance"].tiers("BTC")
    sign = 1 if side == "long" else -1
    tier = figures.tier
    wallet = entry * quantity / leverage
    page = (wallet + table.maintenance_amount[tier] - sign * quantity * entry) / (
        quantity * table.mmr[tier] - sign * quantity
    )
    assert figures.liquidation_price == pytest.approx(page, abs=0.1)
    assert table.floors[tier] <= quantity * page


# --- Bybit ---------------------------------------------------------------------------------
# "Liquidation Price (USDT Contract)", Bybit Help Center, Example 1 (Long): "Trader A placed a
# long entry of 1 BTC at 20,000 USDT with 50x leverage ... MMR 0.5% ... Initial Margin = 400 USDT,
# Maintenance Margin = 100 USDT, LP = 20,000 USDT - (400 - 100) = 19,700 USDT". Bybit's page
# evaluates maintenance margin on the position value at entry, and so does the bybit profile
# (mm_basis "entry"): the page's 19,700 exactly, on Bybit's 0.1 USDT BTCUSDT tick.
def test_bybit_example_margins_and_bankruptcy_price():
    figures = liquidation_price("bybit", "long", 20_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.initial_margin == pytest.approx(400.0)
    assert figures.maintenance_margin == pytest.approx(100.0)
    # Bankruptcy price: the 0% margin level, entry - initial margin / size.
    assert figures.bankruptcy_price == pytest.approx(19_600.0)


def test_bybit_example_liquidation_price_on_the_entry_value():
    figures = liquidation_price("bybit", "long", 20_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.mm_basis == "entry"
    assert figures.liquidation_price == 19_700.0


def test_binance_keeps_maintenance_margin_at_the_mark():
    # The same position on Binance's convention: equity = MM at the liquidation price itself,
    # (20,000 - 400) / (1 - 0.005) = 19,698.49..., 300 x 0.005 / 0.995 below Bybit's 19,700.
    figures = liquidation_price("binance", "long", 20_000.0, 1.0, leverage=50.0, mmr=0.005)
    assert figures.mm_basis == "mark"
    assert 19_700.0 - figures.liquidation_price == pytest.approx(300.0 * 0.005 / 0.995, abs=1e-6)


# --- Hyperliquid ---------------------------------------------------------------------------
# Hyperliquid docs "Liquidations" (hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
# "liq_price = price - side * margin_available / position_size / (1 - l * side), where
# l = 1 / MAINTENANCE_LEVERAGE" and margin_available = isolated margin - maintenance margin
# required; "the maintenance margin is half of the initial margin at max leverage ... between 1%
# (for 50x max leverage assets) and 16.7% (for 3x max leverage assets)". The page gives no
# numbers, so the vectors are the page's formula evaluated on BTC at 40x.
@pytest.mark.parametrize(
    ("side", "leverage"), [("long", 40.0), ("short", 40.0), ("long", 5.0), ("short", 3.0)]
)
def test_hyperliquid_docs_formula(side, leverage):
    entry, size = 100_000.0, 2.0
    figures = liquidation_price("hyperliquid", side, entry, size, leverage=leverage)
    sign = 1 if side == "long" else -1
    rate = 1.0 / (2.0 * 40.0)  # BTC: 40x max leverage below 150M USDC
    margin_available = entry * size / leverage - rate * entry * size
    docs = entry - sign * margin_available / size / (1.0 - rate * sign)
    assert figures.liquidation_price == pytest.approx(docs, abs=1.0)


@pytest.mark.parametrize(("max_leverage", "rate"), [(50.0, 0.01), (3.0, 0.167)])
def test_hyperliquid_maintenance_rate_range(max_leverage, rate):
    figures = liquidation_price(
        "hyperliquid", "long", 10.0, 1_000.0, leverage=1.0, max_leverage=max_leverage, asset="XYZ"
    )
    assert figures.maintenance_margin / 10_000.0 == pytest.approx(rate, abs=5e-4)


# --- dYdX v4 -------------------------------------------------------------------------------
# dYdX docs "Liquidations" (docs.dydx.exchange, concepts/trading/liquidations), Isolated
# Liquidation Price: "p' = (e - s * p) / (|s| * MMF - s) ... a trader deposits $1,000 (e = 1000),
# shorts 3 ETH (s = -3) at $3,000 ... MMF = 0.05": p' = 10,000 / 3.15 = 3,174.60.
def test_dydx_isolated_liquidation_example():
    figures = liquidation_price(
        "dydx", "short", 3_000.0, 3.0, margin=1_000.0, mmr=0.05, asset="ETH"
    )
    assert figures.liquidation_price == pytest.approx(3_174.6, abs=0.1)


# dYdX docs "Contract Loss Mechanisms": "B deposits $100 and goes short 500 ABC contracts at $1
# ... B's bankruptcy price is $1.2"; "A deposits $100 and goes long 500 ABC contracts at $1 with
# a maintenance margin fraction (MMF) of 3% ... MMR = 3% * $1 * 500 = $15 ... ABC's price drops to
# $0.801 ... A's equity is now $0.50, below the MMR".
def test_dydx_contract_loss_examples():
    short = liquidation_price("dydx", "short", 1.0, 500.0, margin=100.0, mmr=0.03, asset="ABC")
    assert short.bankruptcy_price == pytest.approx(1.2)
    long = liquidation_price("dydx", "long", 1.0, 500.0, margin=100.0, mmr=0.03, asset="ABC")
    assert long.maintenance_margin == pytest.approx(15.0)
    assert long.bankruptcy_price == pytest.approx(0.8)
    assert long.liquidation_price > 0.801  # already liquidatable at 0.801


# --- OKX -----------------------------------------------------------------------------------
# No worked liquidation-price example for OKX USDT swaps was found in the stored help pages;
# tests/test_tier_tables.py checks OKX's tables against values read off its position tiers.


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        (dict(venue="ftx"), "venue"),
        (dict(side="up"), "side"),
        (dict(entry_price=float("nan")), "entry_price"),
        (dict(quantity=0.0), "quantity"),
        (dict(quantity=-1.0), "quantity"),
        (dict(leverage=float("inf")), "leverage"),
        (dict(leverage=200.0), "leverage"),
        (dict(leverage=None, margin=100.0), "margin"),
        (dict(leverage=None), "leverage/margin"),
        (dict(margin=6_000.0), "leverage/margin"),
        (dict(mmr=1.0), "mmr"),
        (dict(mmr=0.2), "margin"),  # 10x with 20% maintenance: liquidated at entry
        (dict(maintenance_amount=10.0), "maintenance_amount"),
        (dict(asset=""), "asset"),
    ],
)
def test_bad_input_names_the_argument(arguments, name):
    call = dict(venue="binance", side="long", entry_price=60_000.0, quantity=1.0, leverage=10.0)
    call.update(arguments)
    venue, side = call.pop("venue"), call.pop("side")
    entry, quantity = call.pop("entry_price"), call.pop("quantity")
    with pytest.raises(CascadesimInputError) as error:
        liquidation_price(venue, side, entry, quantity, **call)
    message = str(error.value)
    assert message.startswith(f"{name} = ") and "\n" not in message


# --- command line --------------------------------------------------------------------------
def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return run_cli("liqprice", *arguments, cwd=REPO_ROOT)


_POSITION = ["--venue", "binance", "--side", "long", "--entry", "60000"]


def test_cli_json_agrees_with_library():
    result = _cli(*_POSITION, "--quantity", "2", "--leverage", "20", "--json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    expected = liquidation_price("binance", "long", 60_000.0, 2.0, leverage=20.0)
    for key in (
        "liquidation_price",
        "bankruptcy_price",
        "initial_margin",
        "maintenance_margin",
        "tier",
    ):
        assert output[key] == pytest.approx(getattr(expected, key))


def test_cli_table():
    result = _cli(
        "--venue",
        "hyperliquid",
        "--side",
        "short",
        "--entry",
        "3000",
        "--quantity",
        "10",
        "--margin",
        "3000",
        "--asset",
        "ETH",
    )
    assert result.returncode == 0, result.stderr
    assert "liquidation price" in result.stdout and "bankruptcy price" in result.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["--quantity", "0", "--leverage", "10"],
        ["--quantity", "-1", "--leverage", "10"],
        ["--quantity", "nan", "--leverage", "10"],
        ["--quantity", "1", "--leverage", "500"],  # above the bracket's 100x
        ["--quantity", "1", "--leverage", "10", "--mmr", "0.2"],  # liquidated at entry
        ["--quantity", "1", "--leverage", "10", "--margin", "6000"],  # both
        ["--quantity", "1"],  # neither
    ],
)
def test_cli_bad_input(arguments):
    _assert_one_line_error(_cli(*_POSITION, *arguments))


def test_cli_unknown_venue():
    _assert_one_line_error(
        _cli(
            "--venue", "ftx", "--side", "long", "--entry", "1", "--quantity", "1", "--leverage", "2"
        )
    )


def _assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cascadesim: error:"), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
