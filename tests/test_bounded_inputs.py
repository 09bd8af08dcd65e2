"""Issue 20's failures, each kept as a regression test: no input crashes, hangs or tracebacks.

A hostile-file fuzzing run found segmentation faults (index path points of 1e15, 1e300 and
2**63 times the start, prices in ticks overflowing int64 inside the kernels), a run of minutes
(1e9 times: every book walk crossed the whole distance level by level), a spot depth of one
dollar that ran for half an hour, a 1 MB market name, and a ZeroDivisionError from an open
interest of 5e-324 USD. Two layers answer them, and both are tested here with the JIT on:

- validation refuses what no real day could be (a path beyond ``PATH_RANGE`` of its start,
  subnormal and near-overflow numbers, text over the stated lengths, depths under 1 USD) in
  one line with exit code 2;
- the engine is safe for any input that reaches it anyway (a library user's own
  ``EngineSetup``): an index is held within ``MAX_INDEX_RATIO`` of its start and a walk stops
  after ``MAX_WALK_WINDOW_SHIFTS`` window moves, each raising a status flag that the summary,
  the CLI and the report name.
"""

from __future__ import annotations

import re
import shutil
import time
import zipfile

import numpy as np
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.engine import layout
from cascadesim.engine.book import MAX_WALK_WINDOW_SHIFTS, walk_book
from cascadesim.engine.market import MAX_INDEX_RATIO
from cascadesim.marketdata.data_files import snapshot_from_files
from cascadesim.model.shocks import MIN_TICKS_ABOVE_ZERO, PATH_RANGE
from cascadesim.scenario.bundled import bundled_scenarios
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate
from cascadesim.sweep.spec import load_sweep
from tests.cli import run_cli
from tests.fuzz_toml import dump
from tests.test_engine_differential import PRICE, assert_same_run, single_market
from tests.test_extreme_markets import assert_accounting, longs_at, shorts_at
from tests.test_fuzz_inputs import ENGINE_DOCUMENTS

GENTLE = bundled_scenarios()["gentle"].read_text(encoding="utf-8")
GENTLE_POINTS = re.compile(r"^points = \[.*?^\]", re.S | re.M)


def gentle(points: str = "[[0, 1.0], [60, 1.0], [120, 0.97], [300, 0.97]]", **edits) -> str:
    """The bundled gentle scenario, cheap (300 accounts, five minutes), with its own path."""
    text = GENTLE.replace("accounts = 1000 ", "accounts = 300 ")
    text = text.replace("duration_s = 1800", "duration_s = 300")
    text = GENTLE_POINTS.sub(f"points = {points}", text)
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def assert_refused(tmp_path, text: str, *fragments: str) -> str:
    """``cascadesim run`` exits 2 with one line naming the fragments, and writes nothing."""
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    result = run_cli("run", "s.toml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 1000, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not (tmp_path / "out").exists()
    return lines[0]


# --- the failures of the fuzzing run ----------------------------------------------------
@pytest.mark.parametrize("value", ["1e15", "1e300", "9.3e18", "1e9", "1e5", "1e-5", "1e-300"])
def test_index_paths_beyond_the_stated_range_are_refused_in_one_line(value, tmp_path):
    text = gentle(f"[[0, 1.0], [60, 1.0], [61, {value}], [300, {value}]]")
    assert_refused(tmp_path, text, "shock.points", "within 0.0001 to 10,000 times its start")


def test_an_integer_past_64_bits_is_refused_where_it_is_read(tmp_path):
    """2**63 as a TOML integer (the third segfault input): TOML's integers are 64-bit."""
    text = gentle("[[0, 1.0], [60, 1.0], [61, 9223372036854775808], [300, 1.0]]")
    assert_refused(
        tmp_path, text, "shock.points[2][1] = 9223372036854775808: an integer within 64 bits"
    )


@pytest.mark.parametrize(
    ("shock", "field"),
    [
        (
            'kind = "index_jump"\nasset = "all"\ndrop_fraction = 0.99999\nat_s = 60\n',
            "drop_fraction",
        ),
        (
            'kind = "recorded_path"\nrelative = false\npoints = [[0, 1e5], [60, 2e9]]\n',
            "shock.points",
        ),
        ('kind = "index_path"\nper_asset = {BTC = [[0, 1.0], [60, 3e4]]}\n', "per_asset.BTC"),
    ],
    ids=["jump", "recorded", "per-asset"],
)
def test_every_shock_kind_is_held_to_the_range(shock, field, tmp_path):
    text = gentle()
    text = text[: text.index("[shock]")] + "[shock]\n" + shock
    assert_refused(tmp_path, text, field, "times its start")


def test_the_ends_of_the_range_run_and_a_far_jump_reports_the_walk_cap(tmp_path):
    """10,000 times the start within one second: the shorts go, and their buy orders walk a
    book its makers left far below; the run ends in seconds and names the walk cap. A fall to
    the lowest index the tick allows (100 ticks: 1 % of the start on gentle's 10 USD tick)
    liquidates the longs and is drawn to that price."""
    cases = [(PATH_RANGE[1], "shorts"), (MIN_TICKS_ABOVE_ZERO * 10 / 100_000, "longs")]
    for value, side in cases:
        text = gentle(f"[[0, 1.0], [60, 1.0], [61, {value:g}], [300, {value:g}]]")
        (tmp_path / "s.toml").write_text(text, encoding="utf-8")
        started = time.monotonic()
        result = run_cli("run", "s.toml", "--out", f"out{value:g}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        # Not a timing assertion: a guard against the minutes the uncapped walk took.
        assert time.monotonic() - started < 300
        assert re.search(rf"\$[0-9.]+[KMB] {side}", result.stdout), result.stdout[-2000:]
        if side == "shorts":
            assert "warning: An order hit the walk cap" in result.stdout


def test_a_fall_below_a_hundred_ticks_is_refused_with_the_tick_that_allows_it(tmp_path):
    text = gentle("[[0, 1.0], [60, 1.0], [61, 0.005], [300, 0.005]]")
    assert_refused(
        tmp_path, text, "shock.points = 0.005", "at least 100 ticks above zero on BTC-binance"
    )


def test_open_interest_of_a_subnormal_number_is_one_line(tmp_path):
    text = gentle(**{"open_interest_usd = 20e6": "open_interest_usd = 5e-324"})
    assert_refused(tmp_path, text, "open_interest_usd = 5e-324", ">= 1")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("depth_1pct_usd = 2e6", "depth_1pct_usd = 1e-320", "depth_1pct_usd = 1e-320"),
        ("funding_rate = 0.0002", "funding_rate = 1e-310", "funding_rate = 1e-310"),
        ("insurance_fund_usd = 5e6", "insurance_fund_usd = 1.7e308", "insurance_fund_usd"),
    ],
    ids=["depth", "funding", "fund"],
)
def test_subnormal_and_near_overflow_numbers_are_one_line(old, new, fragment, tmp_path):
    assert_refused(tmp_path, gentle(**{old: new}), fragment)


def test_a_megabyte_market_name_is_refused_at_once(tmp_path):
    name = "B" * 1_000_000
    text = gentle(**{"[markets.BTC-binance]": f"[markets.{name}]"})
    started = time.monotonic()
    line = assert_refused(tmp_path, text, "at most 100 characters")
    assert time.monotonic() - started < 60
    assert len(line) < 400


def test_a_long_description_is_refused_by_its_stated_limit(tmp_path):
    text = gentle(**{'description = "': 'description = "' + "x" * 20_000})
    assert_refused(tmp_path, text, "description", "at most 10000 characters")


def test_a_one_dollar_spot_market_finishes_and_says_its_index_hit_the_bound(tmp_path):
    """The contagion variant of the fuzzing run (spot depth 0.999999999 USD) ran for 25
    minutes; a dollar of spot depth is refused by validation now, and one of 1 USD runs
    (the engine's spot-impact bound holds its index) and says so."""
    text = gentle(**{"spot_depth_1pct_usd = 50e6": "spot_depth_1pct_usd = 1"})
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    result = run_cli("run", "s.toml", "--out", "thin", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning: An index reached an engine bound" in result.stdout
    assert_refused(
        tmp_path,
        gentle(**{"spot_depth_1pct_usd = 50e6": "spot_depth_1pct_usd = 0.999999999"}),
        "spot_depth_1pct_usd",
        ">= 1",
    )


# --- the engine on its own: safe for any path that reaches it ---------------------------
def crowded_market(path: np.ndarray, **market):
    """Longs and shorts at 5x and 20x on one market at PRICE, following ``path``."""
    positions = longs_at(20, 10) + shorts_at(20, 10) + longs_at(5, 10) + shorts_at(5, 10)
    return single_market(positions, path, arbitrage_capacity_usd_per_s=2e6, **market)


@pytest.mark.parametrize("ratio", [1e15, 1e300, 2.0**63, 1e9, 1e-300])
def test_the_kernels_hold_any_index_within_their_bound(ratio):
    """The segfault inputs, given straight to the engine (no scenario validation): the run
    completes with its accounting intact, every price finite and positive, the index held
    within MAX_INDEX_RATIO of its start, and the bound reported."""
    n_steps = 80
    path = np.full(n_steps + 1, PRICE)
    path[20:] = PRICE * ratio
    result = simulate(crowded_market(path), counterfactual=False)
    assert_accounting(result)
    index = result.outcome.timeline["index_price"]
    assert (index <= PRICE * MAX_INDEX_RATIO * 1.000001).all()
    assert (index >= PRICE / MAX_INDEX_RATIO / 1.000001).all()
    assert result.outcome.flags & layout.STATUS_FLAG_INDEX_BOUND
    assert result.summary["index_bound_hit"]
    assert result.summary["accounts_liquidated"] >= 20  # the side the move ran against


def test_a_far_jump_agrees_with_the_reference_walk_cap_and_index_bound_included():
    n_steps = 40
    path = np.full(n_steps + 1, PRICE)
    path[10:] = PRICE * 3e6
    result, reference = assert_same_run(crowded_market(path, n_levels=512))
    assert result.outcome.flags & layout.STATUS_FLAG_INDEX_BOUND
    assert reference["flags"] & layout.STATUS_FLAG_INDEX_BOUND


def test_a_walk_through_empty_windows_stops_at_the_cap_and_says_so():
    n_levels = 128
    bids = np.zeros(n_levels)
    asks = np.zeros(n_levels)
    profile = np.zeros(n_levels)  # makers quote nothing: every window the walk opens is empty
    out = np.zeros(5)
    origin = walk_book(
        bids, asks, 1000, 1.0, 1, 5.0, np.inf, 1064, profile, 1.0, 0, out
    )  # a buy with no limit
    assert out[3] == 2.0 and out[0] == 0.0
    assert origin == 1000 + MAX_WALK_WINDOW_SHIFTS * (n_levels // 2)
    origin = walk_book(bids, asks, 10**9, 1.0, -1, 5.0, 0.0, 10**9, profile, 1.0, n_levels, out)
    assert out[3] == 2.0 and origin == 10**9 - MAX_WALK_WINDOW_SHIFTS * (n_levels // 2)
    # Within the cap nothing changes: the floor still ends a sell that reaches it first.
    origin = walk_book(bids, asks, 200, 1.0, -1, 5.0, 0.0, 200, profile, 1.0, n_levels, out)
    assert out[3] == 1.0 and origin == 1


# --- what the larger fuzzer found in the newer input files ------------------------------
def damaged_copy(data_folder, tmp_path, relative: str, old: str | None, new: str):
    """A copy of the data folder with ``old`` replaced by ``new`` in one zipped file (the whole
    text when ``old`` is None)."""
    shutil.copytree(data_folder, tmp_path / "copy")
    (target,) = (tmp_path / "copy").rglob(relative)
    with zipfile.ZipFile(target) as archive:
        (member,) = archive.namelist()
        text = archive.read(member).decode()
    assert old is None or old in text
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(member, new if old is None else text.replace(old, new, 1))
    return tmp_path / "copy"


@pytest.mark.parametrize(
    ("relative", "old", "new", "fragment"),
    [
        # A funding file with text where the settlement time goes: pandas compared str to float.
        ("*fundingRate-2025-09.zip", "1758470400007", "abc", "line 2: calc_time = 'abc'"),
        # A kline's open time of -1e308 ms: the date arithmetic overflowed time_t.
        (
            "indexPriceKlines/*/*/*2025-09-22.zip",
            "1758499200000",
            "-1e+308",
            "between 2009 and 2100",
        ),
        # An empty book-depth file: pandas' EmptyDataError.
        ("*bookDepth-2025-09-22.zip", None, "", "cannot read the data file"),
        # An index candle opening at 0: the replayed path divided by it.
        ("indexPriceKlines/*/*/*2025-09-22.zip", ",100005,", ",0,", "open = 0: a price > 0"),
    ],
    ids=["text-time", "time-overflow", "empty", "zero-price"],
)
def test_damaged_data_files_are_one_line(data_folder, tmp_path, relative, old, new, fragment):
    folder = damaged_copy(data_folder, tmp_path, relative, old, new)
    with pytest.raises(CascadesimInputError) as error:
        snapshot_from_files(folder, "2025-09-22")
    message = str(error.value)
    assert "\n" not in message and fragment in message, message


def test_a_sweep_integer_past_64_bits_is_one_line_not_an_overflow(tmp_path):
    """The sweep's distributions converted a 401-digit integer to float: OverflowError."""
    sweep = (bundled_scenarios()["default"].parent / "sweeps" / "exchange_tuning.toml").read_text(
        encoding="utf-8"
    )
    sweep = re.sub(r"^drop_fraction = .*$", "drop_fraction = 1" + "0" * 400, sweep, flags=re.M)
    (tmp_path / "s.toml").write_text(sweep, encoding="utf-8")
    with pytest.raises(CascadesimInputError, match=r"shock\.drop_fraction = 1000.*64 bits"):
        load_sweep(tmp_path / "s.toml")


def test_names_longer_than_a_file_name_are_not_an_os_error(tmp_path):
    """A 5,000-character profile name was looked up as a file: ENAMETOOLONG, a traceback."""
    text = gentle().replace(
        'name = "gentle"\n', 'name = "gentle"\nprofile = "' + "p" * 5000 + '"\n'
    )
    assert_refused(tmp_path, text, "profile = 'ppp")


def test_kernels_compiled_with_bounds_checks_have_a_cache_folder_of_their_own(monkeypatch):
    from numba.core import config

    from cascadesim.engine import compile_cache

    monkeypatch.setattr(config, "BOUNDSCHECK", 0, raising=False)
    plain = compile_cache.engine_cache_dir()
    monkeypatch.setattr(config, "BOUNDSCHECK", 1, raising=False)
    checked = compile_cache.engine_cache_dir()
    assert checked != plain and checked.name == plain.name + "-boundscheck"


def test_a_one_dollar_btc_spot_market_in_contagion_keeps_every_mark_positive():
    """Found by the 15,000-case fuzzing run: BTC's index, pushed 100-fold either way by the
    hedges on a dollar of spot depth, left Binance's ``index + basis average`` at -3.9 M USD.
    The mark is held at one tick or more, and the run's accounting holds."""
    document = ENGINE_DOCUMENTS["contagion"]
    text = dump(document).replace("spot_depth_1pct_usd = 400000000.0", "spot_depth_1pct_usd = 1.0")
    assert text != dump(document)
    result = simulate(Scenario.from_toml_text(text, "contagion.toml").build())
    assert_accounting(result)
    assert result.summary["index_bound_hit"]


@pytest.mark.parametrize(
    ("option", "value"), [("--design-points", "2147483648"), ("--seeds", "101")]
)
def test_a_library_fit_larger_than_any_machine_runs_is_refused_before_it_allocates(
    option, value, tmp_path
):
    """A 15,000-case fuzzing run was killed for memory (24 GB) in the command-line cases; a
    Sobol design of 2**31 points allocated before the first run is the likely cause."""
    result = run_cli("calibrate", "--cross-validate", option, value, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and f"{option} = {value}" in result.stderr
