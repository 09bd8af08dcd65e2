"""Published data files read in every packing Binance uses (zipped, gzipped, plain; with and
without a header), and the one-line refusals of a file that is not one."""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.marketdata.data_files import DataFile, read_frame, require, text_time_ms

KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume")
ROWS = "1700000000000,100,110,90,105,7\n1700000060000,105,106,104,104.5,3\n"


def kline(path):
    return DataFile(path, "binance", "klines", "BTCUSDT", "2023-11-14")


def test_a_headerless_kline_file_gets_the_published_columns(tmp_path):
    path = tmp_path / "BTCUSDT-1m-2023-11-14.csv"
    path.write_text(ROWS, encoding="utf-8")
    frame = read_frame(kline(path), KLINE_COLUMNS)
    assert list(frame.columns) == list(KLINE_COLUMNS)
    assert frame["close"].tolist() == [105.0, 104.5]


def test_zipped_gzipped_and_plain_files_read_the_same(tmp_path):
    text = ",".join(KLINE_COLUMNS) + "\n" + ROWS
    plain = tmp_path / "plain.csv"
    plain.write_text(text, encoding="utf-8")
    zipped = tmp_path / "zipped.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("BTCUSDT-1m-2023-11-14.csv", text)
    gzipped = tmp_path / "gzipped.csv.gz"
    gzipped.write_bytes(gzip.compress(text.encode()))
    frames = [read_frame(kline(p), KLINE_COLUMNS) for p in (plain, zipped, gzipped)]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert frames[0]["open_time"].tolist() == [1700000000000, 1700000060000]


def test_a_zip_must_hold_exactly_one_csv(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", ROWS)
        archive.writestr("b.csv", ROWS)
    with pytest.raises(CascadesimInputError, match="a zip file holding one CSV file"):
        read_frame(kline(path))


def test_a_broken_zip_is_one_line(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CascadesimInputError) as caught:
        read_frame(kline(path))
    assert str(caught.value).startswith(f"{path}: cannot read the data file (")


def test_missing_columns_are_named():
    frame = pd.DataFrame({"create_time": [1], "symbol": ["BTCUSDT"]})
    data_file = DataFile("m.csv", "binance", "metrics", "BTCUSDT", "2023-11-14")
    with pytest.raises(CascadesimInputError) as caught:
        require(frame, data_file, ("create_time", "sum_open_interest"))
    assert "the published format of metrics files (sum_open_interest missing)" in str(caught.value)


def test_times_as_text_or_milliseconds_are_milliseconds():
    text = pd.Series(["2023-11-14 22:13:20", "2023-11-14 22:14:20", "not a time"])
    stamps = text_time_ms(text)
    assert stamps[:2].tolist() == [1700000000000.0, 1700000060000.0] and np.isnan(stamps[2])
    assert text_time_ms(pd.Series([5, 6])).tolist() == [5.0, 6.0]
