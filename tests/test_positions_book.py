"""An exchange's own book of positions: reading, checking, placing and what the run did to it.

The hand-made book runs on the bundled default scenario (BTC on Binance, a 6 % index slide
from 100,000 to 94,000). Liquidation prices are computed here from Binance's published tier
2 (0.5 %, 50 USD maintenance amount; notional 50k to 600k USD), not read from the program.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.marketdata.exposure import exposure_by_tier
from cascadesim.marketdata.positions_file import BookFileError, read_position_book
from cascadesim.model.position_book import place_book
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate
from tests.cli import run_cli

HEADER = "account,market,side,quantity,entry_price,margin,margin_mode"
MMR, AMOUNT = 0.005, 50.0  # Binance BTCUSDT tier 2


def long_margin_for(liquidation_price: float, entry: float = 100_000.0) -> float:
    """Isolated margin of a 1 BTC long that makes ``liquidation_price`` its liquidation price.

    Equity margin + (P - E) meets maintenance P x mmr - amount at P = (E - margin - amount)
    / (1 - mmr).
    """
    return entry - AMOUNT - liquidation_price * (1.0 - MMR)


@pytest.fixture(scope="module")
def scenario():
    return Scenario.from_toml(resolve_scenario("default"))


@pytest.fixture(scope="module")
def setup(scenario):
    return scenario.build()


def write_book(path, rows: list[str]) -> str:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def book_run(tmp_path_factory, scenario, setup):
    folder = tmp_path_factory.mktemp("book")
    path = write_book(
        folder / "book.csv",
        [
            f"crossed,BTC-binance,long,1,100000,{long_margin_for(94_300):.4f},isolated",
            f"spared,BTC-binance,long,1,100000,{long_margin_for(93_700):.4f},isolated",
            "hedger,BTC-binance,short,2,100000,20000,cross",
            "underwater,BTC-binance,long,1,100000,300,isolated",
        ],
    )
    book = read_position_book(path, list(scenario.markets), setup.markets)
    placement = place_book(setup, book, replace=True)
    result = simulate(placement.setup, counterfactual=False)
    return book, placement, result


def test_a_long_whose_liquidation_price_the_slide_crosses_is_liquidated_and_one_below_is_not(
    book_run,
):
    book, placement, result = book_run
    timeline = result.timeline
    low = float(timeline["mark_price"].min())
    assert 93_700 < low < 94_300  # the test's premise: the mark's low lies between the two
    events = result.liquidations
    owners = placement.owner[events["account"].to_numpy()]
    names = {str(book.account_names[int(k)]) for k in owners}
    assert names == {"crossed"}
    assert set(events["side"]) == {"long"}
    assert events["quantity"].sum() == pytest.approx(1.0)


def test_positions_below_maintenance_at_the_start_are_listed_and_not_run(book_run):
    book, placement, _ = book_run
    assert len(placement.breached) == 1
    assert str(book.account_names[int(placement.breached.account[0])]) == "underwater"
    assert int(placement.breached.row[0]) == 5  # the fifth line of the file
    assert len(placement.setup.positions) == 3


def test_exposure_by_tier_counts_the_liquidated_account_in_its_tier(book_run):
    _, placement, result = book_run
    table = exposure_by_tier(result, placement).set_index("tier")
    # Every account holds 100k-200k USD of notional: all three run in the 100k-1M tier.
    assert table.loc["100k-1M", "accounts"] == 3
    assert table.loc["100k-1M", "notional_usd"] == pytest.approx(400_000.0)
    assert table.loc["100k-1M", "accounts_liquidated"] == 1
    assert table["accounts_liquidated"].sum() == 1
    liquidated = result.liquidations["notional"].sum()
    assert table.loc["100k-1M", "liquidated_long_usd"] == pytest.approx(liquidated)
    assert 93_000 < liquidated < 95_000  # 1 BTC near its liquidation price


def test_the_book_replaces_the_synthetic_population(book_run, setup):
    _, placement, _ = book_run
    assert len(setup.positions) > 1000
    assert placement.setup.collateral is None
    assert placement.setup.n_accounts == 3


def test_an_inverse_market_reads_face_value_and_coin_margin(tmp_path):
    scenario = Scenario.from_toml(resolve_scenario("inverse_vs_linear"))
    setup = scenario.build()
    names = list(scenario.markets)
    inverse = next(n for n, m in scenario.markets.items() if m.contract == "inverse")
    spec = setup.markets[names.index(inverse)]
    price = scenario.markets[inverse].price_usd
    # 10,000 USD of contracts long at the start price with 0.05 coin: 2x in coin terms.
    path = write_book(tmp_path / "inv.csv", [f"a,{inverse},long,10000,{price},0.05,isolated"])
    book = read_position_book(path, names, setup.markets)
    placement = place_book(setup, book, replace=True)
    rows = placement.setup.positions
    assert rows.side[0] == -1  # an inverse long is the engine's short in x = K / price
    assert rows.quantity[0] == pytest.approx(10_000 / spec.reciprocal_scale)
    assert rows.entry_price[0] == pytest.approx(spec.reciprocal_scale / price)
    assert rows.margin[0] == 0.05


def test_a_parquet_book_reads_like_the_csv(tmp_path, scenario, setup):
    frame = pd.DataFrame(
        {
            "account": ["a", "b"],
            "market": ["BTC-binance"] * 2,
            "side": ["long", "short"],
            "quantity": [1.0, 0.5],
            "entry_price": [100_000.0, 99_000.0],
            "margin": [10_000.0, 5_000.0],
        }
    )
    frame.to_parquet(tmp_path / "book.parquet")
    book = read_position_book(tmp_path / "book.parquet", list(scenario.markets), setup.markets)
    assert list(book.side) == [1, -1]
    assert list(book.row) == [1, 2]
    assert not book.cross.any()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["a,BTC-binance,long,abc,100000,1000,isolated"], "book.csv:2: quantity = 'abc': a number"),
        (["a,BTC-binance,long,nan,100000,1000,isolated"], "book.csv:2: quantity = nan: a finite"),
        (["a,BTC-binance,long,-1,100000,1000,isolated"], "book.csv:2: quantity = -1.0: a finite"),
        (["a,BTC-binance,long,1,100000,,isolated"], "book.csv:2: margin = nan: a finite"),
        (["a,ETH-binance,long,1,100000,1000,isolated"], "book.csv:2: market = 'ETH-binance'"),
        (["a,BTC-binance,up,1,100000,1000,isolated"], "book.csv:2: side = 'up': long or short"),
        (["a,BTC-binance,long,1,100000,1000,both"], "book.csv:2: margin_mode = 'both'"),
        ([",BTC-binance,long,1,100000,1000,isolated"], "book.csv:2: account = '': an account"),
        (
            ["a,BTC-binance,long,1,100000,1000,isolated", "a,BTC-binance,long,2,99000,900,cross"],
            "book.csv:3: account = 'a': one position per account, market and side",
        ),
    ],
)
def test_each_bad_row_is_named_by_file_line_column_value_and_what_is_allowed(
    tmp_path, scenario, setup, rows, expected
):
    path = write_book(tmp_path / "book.csv", rows)
    with pytest.raises(BookFileError) as caught:
        read_position_book(path, list(scenario.markets), setup.markets)
    assert str(caught.value).splitlines()[0].startswith(expected)


def test_a_hedged_pair_is_not_a_duplicate(tmp_path, scenario, setup):
    path = write_book(
        tmp_path / "book.csv",
        ["a,BTC-binance,long,1,100000,9000,cross", "a,BTC-binance,short,1,100000,9000,cross"],
    )
    assert len(read_position_book(path, list(scenario.markets), setup.markets)) == 2


def test_many_bad_rows_list_twenty_then_a_count(tmp_path, scenario, setup):
    rows = [f"a{k},BTC-binance,long,-1,100000,1000,isolated" for k in range(25)]
    rows.insert(3, "x,BTC-binance,sideways,1,100000,1000,isolated")
    path = write_book(tmp_path / "book.csv", rows)
    with pytest.raises(BookFileError) as caught:
        read_position_book(path, list(scenario.markets), setup.markets)
    lines = str(caught.value).splitlines()
    assert len(lines) == 21
    assert lines[-1] == "book.csv: 6 more bad rows"
    assert lines[3] == "book.csv:5: side = 'sideways': long or short"  # in file order
    assert lines[0].startswith("book.csv:2: quantity = -1.0")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("account,market,side,quantity,entry_price", "margin missing"),
        ("account,market,side,quantity,entry_price,margin,colour", "column 'colour'"),
    ],
)
def test_wrong_columns_are_refused_in_one_line(tmp_path, scenario, setup, header, expected):
    path = tmp_path / "book.csv"
    path.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    with pytest.raises(CascadesimInputError, match=expected):
        read_position_book(path, list(scenario.markets), setup.markets)


def test_collateral_other_than_the_settlement_coin_is_refused(tmp_path, scenario, setup):
    path = tmp_path / "book.csv"
    path.write_text(
        HEADER + ",collateral\n"
        "a,BTC-binance,long,1,100000,9000,isolated,USDT\n"
        "b,BTC-binance,long,1,100000,9000,isolated,ETH\n"
    )
    with pytest.raises(BookFileError, match="book.csv:3: collateral = 'ETH'"):
        read_position_book(path, list(scenario.markets), setup.markets)


def test_cli_runs_a_book_and_reports_its_exposure(tmp_path):
    path = write_book(
        tmp_path / "book.csv",
        [
            f"crossed,BTC-binance,long,1,100000,{long_margin_for(94_300):.4f},isolated",
            "underwater,BTC-binance,long,1,100000,300,isolated",
        ],
    )
    done = run_cli("run", "default", "--positions", path, "--out", "out", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["book"]["positions_run"] == 1
    assert summary["book"]["below_maintenance_at_start"] == 1
    assert "book.csv:3: underwater BTC-binance long" in done.stderr
    exposure = pd.read_csv(tmp_path / "out" / "book_exposure.csv").set_index("tier")
    assert exposure.loc["100k-1M", "accounts_liquidated"] == 1
    breached = pd.read_csv(tmp_path / "out" / "below_maintenance_at_start.csv")
    assert list(breached["account"]) == ["underwater"]


def test_cli_refuses_a_bad_book_with_exit_2_and_writes_nothing(tmp_path):
    path = write_book(
        tmp_path / "book.csv",
        ["a,BTC-binance,long,-1,100000,1000,isolated", "b,BTC-binance,long,1,0,1000,isolated"],
    )
    done = run_cli("run", "default", "--positions", path, "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "cascadesim: error: book.csv:2: quantity = -1.0: a finite number > 0 (coin on a linear "
        "market, USD face value on an inverse one)",
        "cascadesim: error: book.csv:3: entry_price = 0.0: a finite number > 0 (USD)",
    ]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_account_keeps_its_other_rows_when_one_is_below_maintenance(tmp_path, scenario, setup):
    path = write_book(
        tmp_path / "book.csv",
        [
            "a,BTC-binance,long,1,100000,300,isolated",  # 0.3 %: below Binance's 0.5 %
            "b,BTC-binance,long,1,100000,20000,isolated",
            "a,BTC-binance,short,1,100000,20000,isolated",
        ],
    )
    book = read_position_book(path, list(scenario.markets), setup.markets)
    placement = place_book(setup, book, replace=True)
    rows = placement.setup.positions
    assert list(rows.side) == [1, -1]
    assert sorted(rows.account.tolist()) == [0, 1]
    names = [str(book.account_names[int(k)]) for k in placement.owner[rows.account]]
    assert names == ["b", "a"]  # each kept row still belongs to its own account
    assert int(placement.breached.row[0]) == 2
