"""Plots and the HTML report: files exist, are valid PNG/HTML, and the report is self-contained.

The setups are built by hand (no scenario file) and kept small, 2,000 positions per market
over 600 one-second steps, so that once numba has compiled a run takes well under a second.
"""

from __future__ import annotations

import base64
import html.parser
import re
import struct

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

import cascadesim.report
from cascadesim._util.formatting import format_usd
from cascadesim.model.market import AssetSpec, EngineSetup, MarketSpec, PositionArrays
from cascadesim.report import plots
from cascadesim.report.figures import render_plots, write_plots
from cascadesim.report.output import write_outputs
from cascadesim.report.run_report import write_report
from cascadesim.sim.driver import simulate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_STEPS = 600
TIERS = {
    "tier_floor_usd": (0.0, 50_000.0, 600_000.0, 3e6),
    "tier_mmr": (0.004, 0.005, 0.01, 0.025),
    "tier_max_leverage": (125.0, 100.0, 50.0, 20.0),
}
SCENARIO_TOML = """name = "plots <test> & report"
seed = 7
[shock]
index_drop = 0.08  # fraction
"""


def population(
    rng: np.random.Generator, n: int, market: int, price: float, first_account: int
) -> PositionArrays:
    """Leveraged positions around ``price`` (USD), 70 % long, none under water at the start."""
    side = np.where(rng.random(n) < 0.7, 1, -1).astype(np.int8)
    leverage = rng.choice([3.0, 5.0, 10.0, 20.0, 25.0, 50.0, 75.0], size=n)
    notional = np.exp(rng.normal(np.log(20_000.0), 1.2, n))
    entry = price * np.exp(rng.normal(0.0, 0.01, n))
    quantity = notional / entry
    margin = notional / leverage
    # Drop positions that would start at or below maintenance margin (the engine rejects them).
    equity = margin + side * quantity * (price - entry)
    keep = equity > 0.03 * quantity * price
    count = int(keep.sum())
    return PositionArrays(
        market=np.full(count, market, dtype=np.int32),
        account=first_account + np.arange(count),
        side=side[keep],
        quantity=quantity[keep],
        entry_price=entry[keep],
        margin=margin[keep],
    )


def index_drop(price: float, drop: float, start_s: int, length_s: int) -> np.ndarray:
    """Index path (USD, n_steps + 1): flat, then a linear fall of ``drop`` over ``length_s``."""
    t = np.arange(N_STEPS + 1)
    return price * (1.0 - drop * np.clip((t - start_s) / length_s, 0.0, 1.0))


def concatenate(parts: list[PositionArrays]) -> PositionArrays:
    """One position table from several markets' tables."""
    return PositionArrays(
        *(
            np.concatenate([getattr(part, name) for part in parts])
            for name in ("market", "account", "side", "quantity", "entry_price", "margin")
        )
    )


@pytest.fixture(scope="module")
def single_market_result():
    rng = np.random.default_rng(7)
    market = MarketSpec(depth_1pct_usd=3e6, **TIERS)
    positions = population(rng, 2_000, 0, market.price, 0)
    setup = EngineSetup(
        markets=[market],
        assets=[AssetSpec()],
        positions=positions,
        index_path=index_drop(market.price, 0.08, 60, 300)[:, None],
    )
    return simulate(setup)


@pytest.fixture(scope="module")
def two_market_result():
    rng = np.random.default_rng(11)
    btc = MarketSpec(depth_1pct_usd=3e6, **TIERS)
    eth = MarketSpec(
        name="ETH-bybit",
        asset="ETH",
        venue="bybit",
        price=3_000.0,
        tick_size=0.5,
        depth_1pct_usd=2e6,
        **TIERS,
    )
    first = population(rng, 2_000, 0, btc.price, 0)
    second = population(rng, 2_000, 1, eth.price, len(first))
    # ETH falls later and less than BTC, so the contagion plot has an order of events to show.
    index_path = np.column_stack(
        [index_drop(btc.price, 0.08, 60, 200), index_drop(eth.price, 0.06, 150, 200)]
    )
    setup = EngineSetup(
        markets=[btc, eth],
        assets=[AssetSpec(), AssetSpec(name="ETH")],
        positions=concatenate([first, second]),
        index_path=index_path,
    )
    return simulate(setup)


def png_size(path) -> tuple[int, int]:
    """Width and height (pixels) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class StrictParser(html.parser.HTMLParser):
    """Collects tags, attributes and text; unbalanced tags are reported as errors."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_outputs(result, directory, expected_stems):
    paths = write_plots(result, directory)
    assert [path.stem for path in paths] == expected_stems
    for path in paths:
        assert path.exists() and path.parent == directory
        width, height = png_size(path)
        assert 600 <= width <= 2500 and 400 <= height <= 1500, (path.name, width, height)
    report = write_report(result, directory, SCENARIO_TOML, paths)
    assert report == directory / "report.html" and report.exists()
    # Written atomically: no temporary files left behind.
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [p.name for p in paths] + ["report.html"]
    )

    text = report.read_text(encoding="utf-8")
    parser = StrictParser()
    parser.feed(text)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    assert not re.search(r"https?://", text), "the report must not reference the network"
    assert all(url.startswith("data:image/png;base64,") for url in parser.urls)
    assert text.count("data:image/png;base64,") == len(paths) == len(parser.images)
    for path, source in zip(paths, parser.images, strict=True):
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        assert source == "data:image/png;base64," + encoded
    body = " ".join(parser.text)
    summary = result.summary
    for key in (
        "liquidated_total_usd",
        "liquidated_long_usd",
        "open_interest_before_usd",
        "insurance_fund_change_usd",
    ):
        assert format_usd(summary[key]) in body, key
    assert f"{summary['accounts_liquidated']:,}" in body
    assert f"{100 * summary['max_drawdown']:.1f} %" in body
    for name in result.market_names:
        assert name in body
    # The scenario is shown verbatim, its markup escaped.
    assert 'name = "plots <test> & report"' in body
    assert "<test>" not in text
    assert summary["version"] in body
    return paths


def test_single_market_plots_and_report(single_market_result, tmp_path):
    result = single_market_result
    assert result.summary["liquidated_total_usd"] > 0, "the test setup should liquidate"
    check_outputs(
        result,
        tmp_path,
        ["price", "liquidation_map", "liquidation_heatmap", "book_depth", "open_interest"],
    )


def test_two_markets_add_the_breakdown_and_asset_panels(two_market_result, tmp_path):
    result = two_market_result
    assert len(result.market_names) == 2
    assert sorted(result.summary["by_asset"]) == ["BTC", "ETH"]
    check_outputs(
        result,
        tmp_path / "out",
        [
            "price",
            "breakdown",
            "assets",
            "asset_liquidation_maps",
            "liquidation_map",
            "liquidation_heatmap",
            "book_depth",
            "open_interest",
        ],
    )


@pytest.mark.parametrize(
    "method",
    [
        "plot_price",
        "plot_liquidation_map",
        "plot_book_depth",
        "plot_open_interest",
        "plot_assets",
        "plot_breakdown",
        "plot_liquidation_heatmap",
    ],
)
def test_plot_functions_return_labelled_figures(two_market_result, method):
    figure = getattr(cascadesim.report, method)(two_market_result)
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.get_axes() if ax.get_visible()]
    assert axes
    # Every panel says what its vertical axis is; the bottom panel (or each of side-by-side
    # panels) says what the horizontal axis is.
    assert all(
        ax.get_ylabel()
        for ax in axes
        if ax.get_label() != "<colorbar>"
        and (ax.get_subplotspec() is None or ax.get_subplotspec().is_first_col())
    )
    assert any(ax.get_xlabel() for ax in axes)
    assert any(ax.get_title() for ax in axes) or figure.get_suptitle()
    figure.canvas.draw()  # renders without error on Agg


def test_plot_of_a_named_market(two_market_result):
    figure = cascadesim.report.plot_price(two_market_result, "ETH-bybit")
    title = figure.get_axes()[0].get_title()
    assert title.startswith("ETH-bybit")
    with pytest.raises(ValueError, match="unknown market"):
        cascadesim.report.plot_price(two_market_result, "DOGE-nowhere")


def test_format_usd():
    assert format_usd(1_234_567.0) == "$1.2M"
    assert format_usd(3.4e9) == "$3.4B"
    assert format_usd(-850_000.0) == "-$850.0K"
    assert format_usd(12.0) == "$12"
    assert format_usd(float("nan")) == "n/a"


def test_quiet_run_without_counterfactual(tmp_path):
    """A shock too small to liquidate anyone, run without the counterfactual, still reports."""
    rng = np.random.default_rng(3)
    market = MarketSpec(depth_1pct_usd=3e6, **TIERS)
    setup = EngineSetup(
        markets=[market],
        assets=[AssetSpec()],
        positions=population(rng, 500, 0, market.price, 0),
        index_path=index_drop(market.price, 0.001, 60, 300)[:, None],
    )
    result = simulate(setup, counterfactual=False)
    assert result.counterfactual_timeline is None
    assert result.summary["liquidated_total_usd"] == 0
    check_outputs(
        result,
        tmp_path,
        ["price", "liquidation_map", "liquidation_heatmap", "book_depth", "open_interest"],
    )
    assert "no liquidations" in cascadesim.report.plot_price(result).get_axes()[0].get_title()


def step_patches(axes) -> dict[str, StepPatch]:
    """The filled step patches (the liquidation bars) of a panel, by legend label."""
    return {patch.get_label(): patch for patch in axes.patches if isinstance(patch, StepPatch)}


def sum_per_bin(values: np.ndarray, keys: np.ndarray, edges: np.ndarray, closed: str) -> list:
    """Sum of ``values`` whose key falls in each bin, one bin at a time.

    ``closed="right"``: (edges[i], edges[i + 1]], the first bin also taking the left edge;
    ``closed="left"``: [edges[i], edges[i + 1]), the last bin also taking the right edge.
    """
    sums = []
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        if closed == "right":
            inside = (keys > low) & (keys <= high) if i else (keys >= low) & (keys <= high)
        else:
            last = i == len(edges) - 2
            inside = (keys >= low) & ((keys <= high) if last else (keys < high))
        sums.append(float(values[inside].sum()))
    return sums


def test_liquidation_bars_are_the_per_bin_totals(two_market_result):
    """The price plot's bars are two stacked step patches holding each bin's liquidated USD."""
    result = two_market_result
    m = plots.market_index(result)
    name = result.market_names[m]
    _, bar_axes = plot_axes = cascadesim.report.plot_price(result).get_axes()
    assert len(plot_axes) == 2
    patches = step_patches(bar_axes)
    assert set(patches) == {"Longs liquidated (forced sells)", "Shorts liquidated (forced buys)"}
    longs = patches["Longs liquidated (forced sells)"].get_data()
    shorts = patches["Shorts liquidated (forced buys)"].get_data()
    np.testing.assert_array_equal(longs.edges, shorts.edges)
    assert np.all(longs.baseline == 0)
    np.testing.assert_array_equal(shorts.baseline, longs.values)  # shorts stacked on longs

    # Each step's row carries the time at its end: a bin (t0, t1] holds the steps ending in it.
    rows = result.timeline[result.timeline["market"] == name]
    seconds = longs.edges * plots.time_axis(result).scale
    times = rows["time"].to_numpy(dtype=np.float64)
    for column, drawn in (
        ("liquidated_long_usd", longs.values),
        ("liquidated_short_usd", shorts.values - shorts.baseline),
    ):
        values = rows[column].to_numpy(dtype=np.float64)
        expected = sum_per_bin(values, times, seconds, closed="right")
        np.testing.assert_allclose(drawn, expected, rtol=1e-9, atol=1e-6)
        # The axis runs past the last liquidation, so the bars hold the market's total.
        total = result.summary["markets"][m][column]
        assert float(np.sum(drawn)) == pytest.approx(total, rel=1e-9)
    assert result.summary["markets"][m]["liquidated_long_usd"] > 0


def test_liquidation_map_bars_are_the_notional_per_price_bin(two_market_result):
    """The map's bars are one step patch per side holding each price bin's notional (USD)."""
    result = two_market_result
    m = plots.market_index(result)
    axes = cascadesim.report.plot_liquidation_map(result).get_axes()[0]
    patches = step_patches(axes)
    longs = patches["Longs liquidated if the price falls to this level"].get_data()
    shorts = patches["Shorts liquidated if the price rises to this level"].get_data()
    np.testing.assert_array_equal(longs.edges, shorts.edges)

    positions = result.initial_positions
    rows = (positions.market == m) & (positions.quantity > 0) & (positions.liquidation_price > 0)
    levels = positions.liquidation_price[rows]
    notional = positions.quantity[rows] * levels
    is_long = positions.side[rows] > 0
    for drawn, side in ((longs.values, is_long), (shorts.values, ~is_long)):
        expected = sum_per_bin(notional[side], levels[side], longs.edges, closed="left")
        np.testing.assert_allclose(drawn, expected, rtol=1e-9, atol=1e-6)
    # Longs sit below the start price and shorts above it: no bin holds both.
    assert not np.any((longs.values > 0) & (shorts.values > 0))
    assert longs.values.sum() > 0 and shorts.values.sum() > 0


def test_outputs_draw_each_figure_once_and_embed_its_bytes(
    two_market_result, tmp_path, monkeypatch
):
    """write_outputs draws every figure once; report.html embeds the PNG files' own bytes."""
    draws: list[Figure] = []
    draw = Figure.draw

    def counted_draw(figure, renderer):
        draws.append(figure)
        return draw(figure, renderer)

    monkeypatch.setattr(Figure, "draw", counted_draw)
    written = write_outputs(two_market_result, tmp_path / "out", SCENARIO_TOML)
    pngs = [path for path in written if path.suffix == ".png"]
    assert len(pngs) == 8
    assert len(draws) == 8 and len(set(map(id, draws))) == 8  # eight figures, one draw each
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    for path in pngs:
        png_size(path)  # a PNG
        assert "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() in text


def test_rendered_plots_are_the_files_written(single_market_result, tmp_path):
    """render_plots gives the stems and bytes that write_plots writes (drawing is repeatable)."""
    rendered = render_plots(single_market_result)
    paths = write_plots(single_market_result, tmp_path)
    assert [plot.stem for plot in rendered] == [path.stem for path in paths]
    for plot, path in zip(rendered, paths, strict=True):
        assert plot.png == path.read_bytes()
