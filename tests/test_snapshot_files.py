"""The scenario of a day's start from the exchanges' data files, in their published formats.

The folder mirrors data.binance.vision (``data/futures/um/daily/<kind>/<SYMBOL>/...``):
metrics and bookDepth zipped as Binance ships them, klines as CSV with and without the
header row older files lack. Every expected figure is worked from the rows written here.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.toml import load_toml
from cascadesim.marketdata.data_files import scan, snapshot_from_files
from cascadesim.marketdata.scenario_file import scenario_text
from cascadesim.scenario.models import Scenario
from tests.cli import run_cli

DAY = "2025-09-22"
START_MS = 1758499200000  # 2025-09-22T00:00:00Z
HOUR_MS = 3_600_000
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)
# Cumulative notional within each band of the first bookDepth snapshot (USD; negative: bids).
DEPTH = {-5: 9.0e8, -4: 7.5e8, -3: 6.0e8, -2: 4.2e8, -1: 2.0e8, 1: 2.2e8, 2: 4.4e8, 3: 6.2e8,
         4: 7.7e8, 5: 9.2e8, -0.2: 5.0e7, 0.2: 5.5e7}  # fmt: skip
OI_START, OI_WEEK_BEFORE, OI_MONTH_BEFORE = 9.0e9, 8.0e9, 1.0e10
RATIO_START = 1.85


def text_time(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def put(path: Path, text: str, zipped: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not zipped:
        path.write_text(text)
        return
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(path.with_suffix(".csv").name, text)
    path.with_suffix(".zip").write_bytes(buffer.getvalue())


def metrics(day_ms: int, oi_usd: float, ratio: float) -> str:
    # Two rows, the later first: Binance's metrics rows come unordered.
    rows = [
        f"{text_time(day_ms + 300_000)},BTCUSDT,1.0,{oi_usd * 1.01},1.5,1.6,{ratio + 0.1},1.0",
        f"{text_time(day_ms)},BTCUSDT,1.0,{oi_usd},1.5,1.6,{ratio},1.0",
    ]
    return "\n".join([METRICS_HEADER, *rows]) + "\n"


def klines(day_ms: int, first_open: float, step: float, header: bool = True) -> str:
    rows = []
    for hour in range(24):
        open_ = first_open + hour * step
        t = day_ms + hour * HOUR_MS
        rows.append(
            f"{t},{open_},{open_ + 50},{open_ - 50},{open_ + step},10,{t + HOUR_MS - 1},"
            f"{1.0e8 + hour},100,5,5e7,0"
        )
    return "\n".join(([KLINE_HEADER] if header else []) + rows) + "\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vision") / "data" / "futures" / "um"
    daily = root / "daily"
    week, month = START_MS - 7 * 86_400_000, START_MS - 30 * 86_400_000
    for day_ms, oi, name in (
        (START_MS, OI_START, DAY),
        (week, OI_WEEK_BEFORE, "2025-09-15"),
        (month, OI_MONTH_BEFORE, "2025-08-23"),
    ):
        put(
            daily / f"metrics/BTCUSDT/BTCUSDT-metrics-{name}.csv",
            metrics(day_ms, oi, RATIO_START),
            True,
        )
    depth_rows = [
        f"{text_time(START_MS + 7000 + k * 30_000)},{p},{n / 1e5},{n * (1 + k)}"
        for k in range(2)
        for p, n in DEPTH.items()
    ]
    put(
        daily / f"bookDepth/BTCUSDT/BTCUSDT-bookDepth-{DAY}.csv",
        "timestamp,percentage,depth,notional\n" + "\n".join(depth_rows) + "\n",
        True,
    )
    put(daily / f"klines/BTCUSDT/1h/BTCUSDT-1h-{DAY}.csv", klines(START_MS, 100_000, -100), False)
    put(
        daily / "klines/BTCUSDT/1h/BTCUSDT-1h-2025-09-21.csv",
        klines(START_MS - 86_400_000, 99_000, 40, header=False),
        False,
    )
    put(daily / "klines/BTCUSDT/1h/BTCUSDT-1h-2025-09-15.csv", klines(week, 95_000, 0), False)
    put(
        daily / f"markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-{DAY}.csv",
        klines(START_MS, 100_010, -100),
        True,
    )
    put(
        daily / f"indexPriceKlines/BTCUSDT/1h/BTCUSDT-1h-{DAY}.csv",
        klines(START_MS, 100_005, -100),
        True,
    )
    funding = "calc_time,funding_interval_hours,last_funding_rate\n" + "\n".join(
        f"{START_MS + k * 8 * HOUR_MS + 7},8,{rate}"
        for k, rate in ((-1, 0.0001), (0, 0.00025), (1, -0.0002))
    )
    put(root / "monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-09.csv", funding + "\n", True)
    return root.parents[2]


@pytest.fixture(scope="module")
def market(folder):
    snapshot = snapshot_from_files(folder, DAY)
    assert [m.name for m in snapshot.markets] == ["BTC-binance"]
    return snapshot, snapshot.markets[0]


def test_the_three_kline_kinds_are_told_apart_by_their_folder(folder):
    kinds = sorted({f.kind for f in scan(folder).files})
    assert kinds == [
        "bookDepth",
        "fundingRate",
        "indexPriceKlines",
        "klines",
        "markPriceKlines",
        "metrics",
    ]


def test_prices_are_the_opens_of_the_day(market):
    _, btc = market
    assert btc.mark.value == 100_010
    assert btc.index.value == 100_005
    assert btc.price.value == 100_000
    assert btc.mark.time_ms == START_MS
    assert "BTCUSDT-1h-2025-09-22.zip" in btc.mark.endpoint


def test_open_interest_and_account_ratio_are_the_start_row_of_the_metrics(market):
    _, btc = market
    assert btc.open_interest_usd.value == OI_START
    assert btc.long_short_account_ratio.value == RATIO_START
    assert "create_time 2025-09-22 00:00:00" in btc.open_interest_usd.endpoint


def test_depth_is_the_first_book_depth_snapshot_and_its_shape_the_log_fit(market):
    _, btc = market
    assert btc.depth_usd.value[0.01] == (DEPTH[-1], DEPTH[1])
    assert btc.depth_usd.value[0.05] == (DEPTH[-5], DEPTH[5])
    distances = np.array([1, 2, 3, 4, 5]) / 100
    mean = [(DEPTH[-d] + DEPTH[d]) / 2 for d in (1, 2, 3, 4, 5)]
    slope = np.polyfit(np.log(distances / 0.01), np.log(mean), 1)[0]
    assert btc.depth_shape.value == pytest.approx(slope)


def test_funding_is_the_settlement_at_the_start(market):
    _, btc = market
    assert btc.funding_rate.value == 0.00025
    assert btc.funding_interval_s.value == 8 * 3600


def test_volume_is_the_previous_days_quote_volume_from_a_headerless_file(market):
    _, btc = market
    assert btc.volume_24h_usd.value == pytest.approx(sum(1.0e8 + h for h in range(24)))


def test_index_path_is_the_days_index_klines(market):
    snapshot, _ = market
    points = snapshot.index_path.value["BTC"]
    assert points[0] == (0.0, 100_005)
    assert points[1] == (3600.0, 100_005 - 100)
    assert points[-1] == (86_400.0, 100_005 - 23 * 100 - 100)  # the last candle's close


def test_the_written_scenario_states_the_observed_changes_and_replays_the_day(market):
    snapshot, _ = market
    text = scenario_text(snapshot, name="day", data="files")
    data = load_toml(text)
    btc = data["markets"]["BTC-binance"]
    assert btc["open_interest_usd"] == OI_START
    assert btc["observed"]["open_interest_change_7d"] == pytest.approx(
        OI_START / OI_WEEK_BEFORE - 1
    )
    assert btc["observed"]["open_interest_change_30d"] == pytest.approx(
        OI_START / OI_MONTH_BEFORE - 1
    )
    # The last close before the start against the open of 2025-09-15 (95,000, flat); the
    # file keeps six decimals.
    expected = (99_000 + 23 * 40 + 40) / 95_000 - 1
    assert btc["observed"]["price_change_7d"] == pytest.approx(expected, abs=1e-6)
    assert data["shock"]["kind"] == "index_path"
    assert data["duration_s"] == 86_400
    path = data["shock"]["per_asset"]["BTC"]
    assert path[0] == [0, 1] and path[-1][1] == pytest.approx((100_005 - 2400) / 100_005)
    scenario = Scenario.from_toml_text(text)
    assert scenario.snapshot.data == "files"
    assert "markets.BTC-binance.open_interest_usd" in scenario.snapshot.sources
    assert "markets.BTC-binance.insurance_fund_usd" in scenario.snapshot.estimates


def test_a_folder_without_the_days_files_is_refused(folder, tmp_path):
    with pytest.raises(CascadesimInputError, match="no Binance data file of 2025-10-01"):
        snapshot_from_files(folder, "2025-10-01")
    with pytest.raises(CascadesimInputError, match="--date = '22-09-2025'"):
        snapshot_from_files(folder, "22-09-2025")


def test_cli_writes_the_days_scenario_and_refuses_a_missing_date(folder, tmp_path):
    done = run_cli("snapshot", "--from-files", str(folder), "--out", "day.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "cascadesim: error: --from-files needs --date YYYY-MM-DD (the day to start)"
    )
    done = run_cli(
        "snapshot", "--from-files", str(folder), "--date", DAY, "--out", "day.toml", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    scenario = Scenario.from_toml(tmp_path / "day.toml")
    assert scenario.markets["BTC-binance"].depth_1pct_usd == pytest.approx(
        (DEPTH[-1] + DEPTH[1]) / 2
    )
    assert math.isclose(scenario.markets["BTC-binance"].funding_rate, 0.00025)
