"""The scenario of a day's start from the exchanges' published data files.

Binance publishes daily files for its USDⓈ-M futures at data.binance.vision
(``data/futures/um/daily/<kind>/<SYMBOL>/...``; formats in docs/model.md, "Market data in"):

- ``metrics``: 5-minute rows ``create_time, symbol, sum_open_interest,
  sum_open_interest_value, count_toptrader_long_short_ratio, sum_toptrader_long_short_ratio,
  count_long_short_ratio, sum_taker_long_short_vol_ratio`` (open interest in coin and USD,
  the long/short account ratio of all accounts);
- ``bookDepth``: ``timestamp, percentage, depth, notional``, cumulative depth within
  ``percentage`` % of mid (negative: bids), in coin and USD, every 30-60 s;
- ``klines``, ``markPriceKlines``, ``indexPriceKlines``: ``open_time, open, high, low,
  close, volume, close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume,
  ignore`` (older files have no header);
- monthly ``fundingRate``: ``calc_time, funding_interval_hours, last_funding_rate``.

Bybit publishes its trades per day at public.bybit.com/trading/<SYMBOL>/ (``timestamp,
symbol, side, size, price, tickDirection, trdMatchID, grossValue, homeNotional,
foreignNotional``) and OKX its trades, candles and funding; neither publishes open
interest or book depth as files, so their markets cannot be built from files: a Bybit trade
file found is named in one line and left out (the live snapshot reads those venues).

Files may sit anywhere under the folder, zipped (.zip, one CSV inside) or not, in the folders
Binance names them by (the three kline kinds share file names, so their folder tells them
apart). ``scan`` finds them; ``snapshot_from_files`` reads the day's start and the day's
index path.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.marketdata.book_depth import fit_depth_shape
from cascadesim.marketdata.observation import DEPTH_BANDS, MarketSnapshot, Snapshot, Sourced

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
BINANCE_PATTERN = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-(?P<kind>metrics|bookDepth|fundingRate|\d+[smhdwM])-"
    r"(?P<date>\d{4}-\d{2}(-\d{2})?)\.(csv|zip)$"
)
BYBIT_PATTERN = re.compile(r"^(?P<symbol>[A-Z0-9]+?)(?P<date>\d{4}-\d{2}-\d{2})\.csv(\.gz)?$")
QUOTES = ("USDT", "USDC")
DAY_MS = 86_400_000


@dataclass
class DataFile:
    path: Path
    venue: str
    kind: str  # metrics, bookDepth, fundingRate, klines, markPriceKlines, indexPriceKlines, trades
    symbol: str
    date: str  # 2025-09-22, or 2025-09 for a monthly file

    @property
    def label(self) -> str:
        return f"{self.venue} data file {self.path.name}"


@dataclass
class FileIndex:
    files: list[DataFile] = field(default_factory=list)

    def find(self, venue: str, kind: str, symbol: str, date: str | None = None):
        return sorted(
            (
                f
                for f in self.files
                if f.venue == venue
                and f.kind == kind
                and f.symbol == symbol
                and (date is None or f.date == date)
            ),
            key=lambda f: f.date,
        )


def kline_kind(path: Path) -> str:
    parts = set(path.parts)
    for kind in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines"):
        if kind in parts:
            return kind
    return "klines"


def scan(folder: Path) -> FileIndex:
    """Every Binance and Bybit data file under ``folder``, classified by name and folder."""
    index = FileIndex()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        binance = BINANCE_PATTERN.match(path.name)
        if binance:
            kind = binance["kind"]
            if kind not in ("metrics", "bookDepth", "fundingRate"):
                kind = kline_kind(path)
            index.files.append(DataFile(path, "binance", kind, binance["symbol"], binance["date"]))
            continue
        bybit = BYBIT_PATTERN.match(path.name)
        if bybit:
            index.files.append(DataFile(path, "bybit", "trades", bybit["symbol"], bybit["date"]))
    return index


def read_frame(data_file: DataFile, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One data file as a table (unzipped; a headerless kline file given its columns)."""
    path = data_file.path
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise CascadesimInputError(f"{path}: a zip file holding one CSV file")
                raw = archive.read(names[0])
        elif path.suffix == ".gz":
            raw = gzip.decompress(path.read_bytes())
        else:
            raw = path.read_bytes()
        first = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
        header = None if columns and first[:1].isdigit() else "infer"
        frame = pd.read_csv(io.BytesIO(raw), header=0 if header else None)
        if header is None and columns:
            frame.columns = list(columns[: frame.shape[1]])
        return frame
    except (
        OSError,
        zipfile.BadZipFile,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        ValueError,
    ) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise CascadesimInputError(f"{path}: cannot read the data file ({reason})") from None


def text_time_ms(values: pd.Series) -> np.ndarray:
    """'2025-09-22 00:05:00' (UTC) or milliseconds as UTC milliseconds."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64)
    stamps = pd.to_datetime(values, utc=True, errors="coerce")
    # The parsed unit follows the text (seconds here); count milliseconds from the epoch.
    epoch = pd.Timestamp(0, tz="UTC")
    return ((stamps - epoch) / pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.float64)


# Columns holding UTC milliseconds: a time outside these years is a damaged file (and would
# overflow the date arithmetic downstream).
TIME_COLUMNS = ("open_time", "close_time", "calc_time")
EARLIEST_MS = 1_230_768_000_000.0  # 2009-01-01
LATEST_MS = 4_102_444_800_000.0  # 2100-01-01
PRICE_COLUMNS = ("open", "close")  # klines: every replayed path is a ratio to a price


def require(
    frame: pd.DataFrame,
    data_file: DataFile,
    names: tuple[str, ...],
    numbers: tuple[str, ...] = (),
) -> None:
    """The columns ``names`` are there, and those of ``numbers`` present hold finite numbers
    (converted in place); else one line naming the file, its line and the cell."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise invalid(
            f"{data_file.path}: columns",
            list(frame.columns)[:20],
            f"the published format of {data_file.kind} files ({', '.join(missing)} missing)",
        )
    for name in numbers:
        if name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
        array = values.to_numpy()
        bad = ~np.isfinite(array)
        allowed = "a finite number"
        if name in TIME_COLUMNS:
            bad |= ~((array >= EARLIEST_MS) & (array <= LATEST_MS))
            allowed = "a time in milliseconds since 1970 between 2009 and 2100"
        elif name in PRICE_COLUMNS:
            bad |= ~(array > 0.0)
            allowed = "a price > 0"
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            cell = frame[name].iloc[row]
            raise invalid(
                f"{data_file.path}: line {row + 2}: {name}",
                cell.item() if hasattr(cell, "item") else cell,
                f"{allowed} (the published format of {data_file.kind} files)",
            )
        frame[name] = values


def day_start_ms(date: str) -> float:
    try:
        day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise invalid("--date", date, "a day as YYYY-MM-DD") from None
    return day.timestamp() * 1000.0


def previous_days(date: str, count: int) -> list[str]:
    day = dt.datetime.strptime(date, "%Y-%m-%d")
    return [(day - dt.timedelta(days=k)).strftime("%Y-%m-%d") for k in range(count, 0, -1)]


def asset_of(symbol: str) -> tuple[str, str] | None:
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return None


class BinanceDay:
    """The files of one Binance symbol around one day, read into a MarketSnapshot."""

    def __init__(self, index: FileIndex, symbol: str, date: str, problems: list[str]):
        self.index, self.symbol, self.date = index, symbol, date
        self.start_ms = day_start_ms(date)
        self.problems = problems
        pair = asset_of(symbol)
        assert pair is not None
        self.asset = pair[0]

    def say(self, text: str) -> None:
        self.problems.append(f"binance {self.symbol}: {text}")

    def klines(self, kind: str, dates: list[str]) -> pd.DataFrame | None:
        frames = []
        for date in dates:
            for data_file in self.index.find("binance", kind, self.symbol, date):
                frame = read_frame(data_file, KLINE_COLUMNS)
                require(
                    frame,
                    data_file,
                    ("open_time", "open", "close"),
                    ("open_time", "open", "close", "close_time", "quote_volume"),
                )
                frame["file"] = data_file.label
                frames.append(frame)
        if not frames:
            return None
        joined = pd.concat(frames, ignore_index=True).sort_values("open_time")
        return joined.drop_duplicates("open_time", keep="last").reset_index(drop=True)

    def opening(self, kind: str) -> Sourced | None:
        frame = self.klines(kind, [self.date])
        if frame is None or not len(frame):
            self.say(f"no {kind} file of {self.date}")
            return None
        row = frame.iloc[0]
        return Sourced(
            float(row["open"]), "binance", f"{row['file']} open", float(row["open_time"])
        )

    def metrics_rows(self, dates: list[str]) -> pd.DataFrame | None:
        frames = []
        for date in dates:
            for data_file in self.index.find("binance", "metrics", self.symbol, date):
                frame = read_frame(data_file)
                require(
                    frame,
                    data_file,
                    ("create_time", "sum_open_interest_value"),
                    ("sum_open_interest_value", "count_long_short_ratio"),
                )
                frame["time_ms"] = text_time_ms(frame["create_time"])
                frame["file"] = data_file.label
                frames.append(frame)
        if not frames:
            return None
        rows = pd.concat(frames, ignore_index=True).dropna(subset=["time_ms"])
        return rows.sort_values("time_ms").reset_index(drop=True)  # rows come unordered

    def read(self, market: MarketSnapshot) -> None:
        market.mark = self.opening("markPriceKlines")
        market.index = self.opening("indexPriceKlines")
        market.price = self.opening("klines")
        history_days = previous_days(self.date, 30)
        metrics = self.metrics_rows([*history_days, self.date])
        if metrics is None:
            self.say(f"no metrics file of {self.date}: no open interest")
        else:
            self.read_metrics(market, metrics)
        self.read_depth(market)
        self.read_funding(market)
        daily = self.klines("klines", history_days)
        if daily is not None and len(daily):
            self.read_history(market, daily)
        else:
            self.say("no klines of the 30 days before: no price history or 24-h volume")

    def read_metrics(self, market: MarketSnapshot, rows: pd.DataFrame) -> None:
        at_start = rows[rows["time_ms"] <= self.start_ms]
        if not len(at_start):
            at_start = rows[rows["time_ms"] <= self.start_ms + 600_000]  # the day's first rows
        if not len(at_start):
            self.say("no metrics row at the day's start")
            return
        row = at_start.iloc[-1]
        when = float(row["time_ms"])
        label = f"{row['file']} create_time {row['create_time']}"
        market.open_interest_usd = Sourced(
            float(row["sum_open_interest_value"]),
            "binance",
            f"{label} sum_open_interest_value",
            when,
        )
        if "count_long_short_ratio" in rows.columns and np.isfinite(row["count_long_short_ratio"]):
            market.long_short_account_ratio = Sourced(
                float(row["count_long_short_ratio"]),
                "binance",
                f"{label} count_long_short_ratio",
                when,
            )
        earlier = rows[rows["time_ms"] <= self.start_ms]
        # 5-minute rows: the first of each hour keeps the history readable (and the start).
        hours = (earlier["time_ms"] // 3_600_000).astype(np.int64)
        hourly = pd.concat([earlier.groupby(hours).head(1), earlier.iloc[-1:]])
        hourly = hourly.drop_duplicates("time_ms")
        points = [
            (float(t), float(v))
            for t, v in zip(hourly["time_ms"], hourly["sum_open_interest_value"], strict=True)
        ]
        if len(points) >= 2:
            market.open_interest_history = Sourced(
                points, "binance", "data files metrics sum_open_interest_value", when
            )

    def read_depth(self, market: MarketSnapshot) -> None:
        files = self.index.find("binance", "bookDepth", self.symbol, self.date)
        if not files:
            self.say(f"no bookDepth file of {self.date}: no order book")
            return
        frame = read_frame(files[0])
        require(
            frame, files[0], ("timestamp", "percentage", "notional"), ("percentage", "notional")
        )
        frame["time_ms"] = text_time_ms(frame["timestamp"])
        first = frame["time_ms"].min()
        snapshot = frame[frame["time_ms"] == first]
        by_band = {
            float(p): float(n)
            for p, n in zip(snapshot["percentage"], snapshot["notional"], strict=True)
        }
        depth = {}
        for band in DEPTH_BANDS:
            pct = band * 100.0
            if -pct in by_band and pct in by_band:
                depth[band] = (by_band[-pct], by_band[pct])
        if 0.01 not in depth:
            self.say("bookDepth has no +-1 % band")
            return
        where = f"{files[0].label} timestamp {snapshot['timestamp'].iloc[0]}"
        market.depth_usd = Sourced(depth, "binance", f"{where} notional", float(first))
        distances = sorted({abs(p) for p in by_band if -p in by_band and abs(p) >= 1.0})
        cumulative = [(by_band[-d] + by_band[d]) / 2.0 for d in distances]
        shape = fit_depth_shape([d / 100.0 for d in distances], cumulative)
        if shape is not None:
            bands = ", ".join(f"{d:g} %" for d in distances)
            market.depth_shape = Sourced(shape, "binance", f"{where} bands {bands}", float(first))

    def read_funding(self, market: MarketSnapshot) -> None:
        month = self.date[:7]
        files = self.index.find("binance", "fundingRate", self.symbol, month)
        if not files:
            self.say(f"no fundingRate file of {month}: the venue profile's neutral rate is used")
            return
        frame = read_frame(files[0])
        require(
            frame,
            files[0],
            ("calc_time", "last_funding_rate"),
            ("calc_time", "last_funding_rate", "funding_interval_hours"),
        )
        before = frame[frame["calc_time"] <= self.start_ms + 60_000].sort_values("calc_time")
        if not len(before):
            self.say(f"no funding settlement in {files[0].path.name} before the day's start")
            return
        row = before.iloc[-1]
        when = float(row["calc_time"])
        market.funding_rate = Sourced(
            float(row["last_funding_rate"]),
            "binance",
            f"{files[0].label} last_funding_rate (the settlement before the start)",
            when,
        )
        if "funding_interval_hours" in frame.columns:
            market.funding_interval_s = Sourced(
                float(row["funding_interval_hours"]) * 3600.0,
                "binance",
                f"{files[0].label} funding_interval_hours",
                when,
            )

    def read_history(self, market: MarketSnapshot, klines: pd.DataFrame) -> None:
        klines = klines[klines["open_time"] < self.start_ms]
        if not len(klines):
            return
        # The price at each day's start (its first open), then the last close at the start.
        days = (klines["open_time"] // DAY_MS).astype(np.int64)
        firsts = klines.groupby(days).head(1)
        points = [
            (float(t), float(p)) for t, p in zip(firsts["open_time"], firsts["open"], strict=True)
        ]
        points.append((self.start_ms, float(klines["close"].iloc[-1])))
        market.candles = Sourced(
            points,
            "binance",
            "data files klines, each day's first open and the last close",
            self.start_ms,
        )
        last_day = klines[klines["open_time"] >= self.start_ms - DAY_MS]
        if "quote_volume" in klines.columns and len(last_day):
            market.volume_24h_usd = Sourced(
                float(last_day["quote_volume"].sum()),
                "binance",
                f"{last_day['file'].iloc[-1]} quote_volume summed over the 24 h before the start",
                float(last_day["open_time"].iloc[0]),
            )

    def index_path(self) -> tuple[list[tuple[float, float]], str] | None:
        """(seconds since the day's start, price) of the day's index klines (mark, last)."""
        for kind in ("indexPriceKlines", "markPriceKlines", "klines"):
            frame = self.klines(kind, [self.date])
            if frame is not None and len(frame) >= 2:
                seconds = (frame["open_time"].to_numpy(dtype=np.float64) - self.start_ms) / 1000.0
                points = [(float(s), float(p)) for s, p in zip(seconds, frame["open"], strict=True)]
                last = frame.iloc[-1]
                end = (float(last["close_time"]) + 1.0 - self.start_ms) / 1000.0
                points.append((min(end, 86_400.0), float(last["close"])))
                return points, f"{frame['file'].iloc[0]} ({kind}, open of each candle)"
        return None


def snapshot_from_files(
    folder: str | Path, date: str, assets: list[str] | None = None, command: str = ""
) -> Snapshot:
    """The day's start and its index path from the data files under ``folder``.

    Parameters
    ----------
    folder : where the downloaded files are (searched recursively)
    date : the day, YYYY-MM-DD (UTC); the scenario starts at its 00:00
    assets : only these assets (default: every symbol with files of the day)

    Returns
    -------
    Snapshot with ``index_path`` the day's replayed path per asset (seconds, USD)
    """
    root = Path(folder)
    if not root.is_dir():
        raise invalid("--from-files", str(folder), "a folder holding the downloaded data files")
    start_ms = day_start_ms(date)
    index = scan(root)
    symbols = sorted(
        {f.symbol for f in index.files if f.venue == "binance" and f.date in (date, date[:7])}
    )
    problems: list[str] = []
    markets, paths = [], {}
    for symbol in symbols:
        pair = asset_of(symbol)
        if pair is None or (assets and pair[0] not in assets):
            continue
        day = BinanceDay(index, symbol, date, problems)
        market = MarketSnapshot(
            venue="binance", asset=pair[0], symbol=f"{pair[0]}/{pair[1]}:{pair[1]}"
        )
        day.read(market)
        markets.append(market)
        path = day.index_path()
        if path is not None and pair[0] not in paths:
            paths[pair[0]] = path
    for symbol in sorted({f.symbol for f in index.files if f.venue == "bybit" and f.date == date}):
        problems.append(
            f"bybit {symbol}: its trade files hold no open interest or book: not read (a Bybit "
            "market needs the live snapshot)"
        )
    if not markets:
        raise CascadesimInputError(
            f"--from-files = {str(folder)!r}: no Binance data file of {date} found (names like "
            f"BTCUSDT-metrics-{date}.zip, BTCUSDT-bookDepth-{date}.zip, BTCUSDT-1m-{date}.zip)"
        )
    index_path = None
    if paths:
        index_path = Sourced(
            {asset: points for asset, (points, _) in paths.items()},
            "binance",
            "; ".join(f"{asset}: {where}" for asset, (_, where) in paths.items()),
            start_ms,
        )
    return Snapshot(
        markets, taken_ms=start_ms, command=command, problems=problems, index_path=index_path
    )
