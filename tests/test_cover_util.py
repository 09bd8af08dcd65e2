"""Helpers' edge cases the end-to-end tests do not reach: formatting of odd numbers, an
atomic write that fails half-way, the memory probe without psutil, an unreachable Dask
scheduler."""

from __future__ import annotations

import io
import math
import sys

import pytest

from cascadesim._util import formatting
from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.files import write_atomically
from cascadesim.model import resources
from cascadesim.model.resources import MemoryEstimate, check_memory


@pytest.mark.parametrize(
    "value, trim, expected",
    [
        (1_250_000.0, True, "$1.25M"),
        (250_000.0, True, "$250K"),
        (0.0, True, "$0"),
        (12.5, True, "$12.5"),
        (-850.0, True, "-$850"),
        (999.0, False, "$999"),
        (-2.5e12, False, "-$2.50T"),
        (math.inf, False, "n/a"),
        (None, False, "n/a"),
    ],
)
def test_compact_usd(value, trim, expected):
    assert formatting.format_usd(value, digits=2, trim=trim) == expected


def test_millions_fractions_prices_and_durations_say_n_a_when_not_finite():
    assert formatting.format_millions(math.nan) == "n/a"
    assert formatting.format_millions(1_716e6) == "1,716.0 M"
    assert formatting.format_fraction(None) == "n/a"
    assert formatting.format_price(math.inf) == "n/a"
    assert formatting.format_price(0.51234, reference=0.5) == "0.5123"
    assert formatting.price_decimals(-1.0) == 2 and formatting.price_decimals(math.nan) == 2
    assert formatting.price_decimals(100_000.0) == 0 and formatting.price_decimals(1e-9) == 6
    assert formatting.format_bytes(999) == "999 B" and formatting.format_bytes(1.5e9) == "1.5 GB"
    assert formatting.format_duration(45) == "45 s" and formatting.format_duration(180) == "3 min"


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_bytes(b"old")

    def half_then_fail(stream):
        stream.write(b"half a fi")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    write_atomically(target, lambda stream: stream.write(b"new"), mode=0o600)
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o600


# --- the memory probe ------------------------------------------------------------------------
@pytest.fixture
def without_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError


def test_without_psutil_memory_is_read_from_meminfo(monkeypatch, without_psutil):
    meminfo = "MemTotal:       16384 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n"
    monkeypatch.setattr(resources, "open", lambda *a, **k: io.StringIO(meminfo), raising=False)
    assert resources.available_memory_bytes() == 2048 * 1024


def test_without_meminfo_memory_is_the_free_pages(monkeypatch, without_psutil):
    def no_file(*arguments, **options):
        raise FileNotFoundError("/proc/meminfo")

    pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(resources, "open", no_file, raising=False)
    monkeypatch.setattr(resources.os, "sysconf", pages.__getitem__)
    assert resources.available_memory_bytes() == 4096 * 1000


def test_unknown_memory_refuses_nothing(monkeypatch, without_psutil):
    def unknown(name):
        raise ValueError(name)

    monkeypatch.setattr(
        resources, "open", lambda *a, **k: io.StringIO("MemTotal: 1 kB\n"), raising=False
    )
    monkeypatch.setattr(resources.os, "sysconf", unknown)
    assert resources.available_memory_bytes() is None
    huge = MemoryEstimate(positions=10**12, steps=10**6, markets=1, assets=1, levels=100)
    check_memory(huge)  # nothing known: nothing refused
    with pytest.raises(CascadesimInputError, match="positions"):
        check_memory(huge, available=8 * 10**9)


@pytest.mark.slow  # distributed tries for its 20 s timeout before it gives up
def test_an_unreachable_dask_scheduler_is_one_line():
    pytest.importorskip("distributed")
    from cascadesim._util.dask_client import connect

    with pytest.raises(CascadesimInputError) as caught:
        connect("tcp://256.0.0.1:8786", 1)  # no such address: refused at once
    assert str(caught.value).startswith(
        "--scheduler = 'tcp://256.0.0.1:8786': cannot reach a Dask scheduler there ("
    )
