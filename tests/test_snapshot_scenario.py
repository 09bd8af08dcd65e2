"""From a live snapshot (fixture-fed ccxt) to a scenario file that runs, and its provenance.

``cascadesim snapshot`` runs in this process with ``new_exchange`` replaced by exchanges
whose requests are served from ``tests/fixtures/ccxt`` (see tests/ccxt_fixtures.py): ccxt's
parsing, the reader, the writer and the run all execute, and nothing touches the network.
"""

from __future__ import annotations

import json
import re
import socket

import ccxt
import pandas as pd
import pytest

from cascadesim._util.toml import load_toml
from cascadesim.marketdata import live
from cascadesim.scenario.models import Scenario
from tests.ccxt_fixtures import offline
from tests.cli import run_cli

ADDRESS = "0x" + "ab" * 20
MARKET_KEYS = ("price_usd", "open_interest_usd", "funding_rate", "depth_1pct_usd", "depth_shape")


@pytest.fixture(autouse=True)
def offline_venues(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(live, "new_exchange", lambda venue, **config: offline(venue))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snap")
    (folder / "addresses.txt").write_text(f"# large accounts\n{ADDRESS}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live, "new_exchange", lambda venue, **config: offline(venue))
        done = run_cli(
            "snapshot",
            "--venues",
            "binance,bybit,okx,hyperliquid",
            "--assets",
            "BTC",
            "--addresses",
            "addresses.txt",
            "--out",
            "today.toml",
            "--name",
            "today",
            cwd=folder,
        )
    return folder, done


def test_the_snapshot_writes_a_scenario_of_every_venue(written):
    folder, done = written
    assert done.returncode == 0, done.stderr
    scenario = Scenario.from_toml(folder / "today.toml")
    assert sorted(scenario.markets) == ["BTC-binance", "BTC-bybit", "BTC-hyperliquid", "BTC-okx"]
    assert scenario.profile == "library" and scenario.population_model is not None
    assert scenario.snapshot is not None and scenario.snapshot.data == "live"


def test_every_market_value_names_its_venue_endpoint_and_time_or_says_estimate(written):
    folder, _ = written
    text = (folder / "today.toml").read_text()
    lines = text.splitlines()
    table = ""
    for k, line in enumerate(lines):
        if line.startswith("["):
            table = line
            continue
        if not table.startswith("[markets.") or not re.match(r"^\w+ = ", line):
            continue
        comment = line.split("  # ", 1)[1] if "  # " in line else lines[k - 1].lstrip("# ")
        if line.split(" = ")[0] in ("asset", "venue", "source"):
            continue
        stamped = re.search(r" at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", comment)
        assert stamped or comment.startswith("estimate:"), line
    sources = Scenario.from_toml(folder / "today.toml").snapshot.sources
    for market in ("BTC-binance", "BTC-bybit", "BTC-okx", "BTC-hyperliquid"):
        for key in MARKET_KEYS:
            assert f"markets.{market}.{key}" in sources, (market, key)
        assert sources[f"markets.{market}.price_usd"].startswith(market.split("-")[1] + " ")


def test_what_could_not_be_read_is_one_line_each(written):
    _, done = written
    lines = [line for line in done.stderr.splitlines() if line.startswith("cascadesim: not read")]
    assert any("binance BTC: tiers: AuthenticationError" in line for line in lines)
    assert any("hyperliquid BTC: open interest history" in line for line in lines)
    # Each problem is one line: everything on stderr is a problem line or the closing one.
    assert done.stderr.splitlines() == [*lines]
    assert done.stdout.startswith("cascadesim: wrote today.toml (BTC-binance, BTC-bybit, ")
    assert all("Traceback" not in line for line in done.stderr.splitlines())


def test_named_positions_join_the_population(written):
    folder, _ = written
    data = load_toml((folder / "today.toml").read_text())
    [named] = data["named_positions"]
    assert (named["account"], named["market"], named["side"]) == (
        ADDRESS,
        "BTC-hyperliquid",
        "long",
    )
    scenario = Scenario.from_toml(folder / "today.toml")
    setup = scenario.build()
    labels = setup.labels["named_accounts"]
    assert labels["accounts"] == [ADDRESS]
    first = labels["first_account"]
    rows = setup.positions.account == first
    assert rows.sum() == 1
    assert bool(setup.positions.cross[rows][0])
    assert setup.positions.quantity[rows][0] == 1.0


def test_the_run_keeps_the_snapshot_provenance(written):
    folder, _ = written
    done = run_cli("run", "today.toml", "--out", "out", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    snapshot = summary["snapshot"]
    assert snapshot["taken_utc"].endswith("Z")
    assert "markets.BTC-okx.open_interest_usd" in snapshot["sources"]
    assert "okx" in snapshot["sources"]["markets.BTC-okx.open_interest_usd"]
    assert "markets.BTC-binance.insurance_fund_usd" in snapshot["estimates"]
    on_disk = json.loads((folder / "out" / "summary.json").read_text())
    assert on_disk["snapshot"] == snapshot


def test_nothing_reachable_exits_2_with_one_line_per_venue(tmp_path, monkeypatch):
    def down(venue, **config):
        exchange = offline(venue)

        def fail(url, method="GET", headers=None, body=None):
            raise ccxt.NetworkError("connection refused")

        exchange.fetch = fail
        return exchange

    monkeypatch.setattr(live, "new_exchange", down)
    done = run_cli("snapshot", "--venues", "binance,okx", "--out", "x.toml", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split(":")[2].strip() for line in lines[:2]] == ["binance", "okx"]
    assert all("unreachable: NetworkError" in line for line in lines[:2])
    assert lines[-1].startswith("cascadesim: error: snapshot: no market with a price")
    assert not (tmp_path / "x.toml").exists()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["--venues", "dydx"],
            "--venues = 'dydx': venues read live: binance, bybit, okx, hyperliquid",
        ),
        (["--drop", "1.5"], "--drop = 1.5: a fraction between 0 and 1"),
        (["--date", "2025-09-22"], "--date is for --from-files"),
    ],
)
def test_bad_options_are_refused_in_one_line(tmp_path, arguments, expected):
    done = run_cli("snapshot", *arguments, "--out", "x.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"cascadesim: error: {expected}" or expected in done.stderr


def test_a_bad_address_names_its_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_text(f"{ADDRESS}\n0x123\n")
    done = run_cli("snapshot", "--addresses", "a.txt", "--out", "x.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "cascadesim: error: a.txt:2 = '0x123': an address: 0x and 40 hex digits"
    )


def test_a_sweep_runs_on_the_snapshot_unchanged(written):
    folder, _ = written
    (folder / "drops.toml").write_text(
        'name = "drops"\nscenario = "today.toml"\npaths = 2\nseed = 1\n\n[fixed]\n'
        'duration_s = 900\n\n[shock]\nkind = "index_jump"\n'
        'drop_fraction = {distribution = "uniform", low = 0.03, high = 0.06}\nat_s = 30\n'
        "ramp_s = 60\n"
    )
    done = run_cli("sweep", "drops.toml", "--out", "sweep", cwd=folder)
    assert done.returncode == 0, done.stderr
    paths = pd.read_parquet(folder / "sweep" / "paths.parquet")
    assert len(paths) == 2
