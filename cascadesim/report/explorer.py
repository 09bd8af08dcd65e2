"""explorer.html: the cascade played second by second, for teaching.

One self-contained page (Bokeh, its JavaScript embedded: it opens offline from ``file://``
and asks no server for anything) with linked views around one time cursor, a slider and
play/pause:

- price: index, mark, last and the run without liquidations, the cursor, the waves shaded;
- the order book at the cursor: cumulative bids and asks around the mid against the makers'
  target profile, so the vacuum shows as it opens and refills;
- the liquidation map: open interest by liquidation price before the shock and what remains
  at the cursor;
- running counters (liquidated long and short, accounts, open interest, insurance fund, ADL,
  bad debt), per market with a market picker when there are several;
- the liquidations around the cursor as a table.

The page stays small enough to mail: the price and counters are sampled to at most
``MAX_FRAMES`` moments, the books keep the levels within ``BOOK_HALF_WIDTH`` of the mid on a
grid of ``BOOK_POINTS``, the maps ``MAP_BINS`` bins, the table ``MAX_EVENTS`` events (the
largest of their second when there are more), all as float32 arrays.
"""

from __future__ import annotations

import math

import numpy as np
from bokeh.document import Document
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, CustomJS, NumeralTickFormatter
from bokeh.models.annotations import BoxAnnotation, Legend, LegendItem, Span
from bokeh.models.widgets import (
    Button,
    DataTable,
    Div,
    NumberFormatter,
    Select,
    Slider,
    TableColumn,
)
from bokeh.plotting import figure
from bokeh.resources import INLINE

from cascadesim.engine import layout
from cascadesim.report.book_view import cumulative_depth
from cascadesim.report.waves import run_waves

MAX_FRAMES = 1800
BOOK_HALF_WIDTH = 0.03
BOOK_POINTS = 61
MAP_BINS = 80
MAP_HALF_WIDTH = 0.25
MAX_EVENTS = 3000
TABLE_ROWS = 40
PLAY_MS = 80


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def store(values) -> ColumnDataSource:
    """A flat float32 array carried to the page as one binary column."""
    return ColumnDataSource(data={"v": f32(np.ravel(values))})


def frame_steps(n_steps: int) -> np.ndarray:
    """Indices of the timeline rows the cursor moves through (at most MAX_FRAMES)."""
    if n_steps <= MAX_FRAMES:
        return np.arange(n_steps)
    return np.unique(np.linspace(0, n_steps - 1, MAX_FRAMES).round().astype(np.int64))


def liquidation_kinds(events: np.ndarray) -> np.ndarray:
    return np.isin(events["kind"], layout.LIQUIDATION_KINDS)


def counters(result, m, times: np.ndarray, steps: np.ndarray) -> dict:
    """Running figures at each frame, for market m, a list of markets, or all (None)."""
    timeline = result.outcome.timeline
    chosen = list(range(timeline.shape[1])) if m is None else ([m] if isinstance(m, int) else m)
    columns = np.asarray(chosen, dtype=np.int64)
    part = timeline[steps][:, columns]
    whole = timeline[:, columns]
    long_usd = np.cumsum(whole["liquidated_long_usd"].sum(axis=1))[steps]
    short_usd = np.cumsum(whole["liquidated_short_usd"].sum(axis=1))[steps]
    adl_usd = np.cumsum(whole["adl_notional_usd"].sum(axis=1))[steps]
    events = result.outcome.events
    mine = np.isin(events["market"], columns)
    liquidated = mine & liquidation_kinds(events) & (events["account"] >= 0)
    in_order = np.argsort(events["time"][liquidated], kind="stable")
    accounts = events["account"][liquidated][in_order]
    _, first_rows = np.unique(accounts, return_index=True)
    first_times = np.sort(events["time"][liquidated][in_order][first_rows])
    adl_times = np.sort(events["time"][mine & (events["kind"] == layout.KIND_ADL_COUNTERPARTY)])
    open_interest = (part["long_open_interest"] * part["mark_price"]).sum(axis=1)
    fund = (part["insurance_fund_usd"] + part["backstop_usd"]).sum(axis=1)
    return {
        "long": f32(long_usd),
        "short": f32(short_usd),
        "accounts": f32(np.searchsorted(first_times, times, side="right")),
        "oi": f32(open_interest),
        "fund": f32(fund),
        "adl": f32(np.searchsorted(adl_times, times, side="right")),
        "adl_usd": f32(adl_usd),
    }


def market_groups(result) -> dict[str, list[int]]:
    """'venue: binance' and 'asset: BTC' -> their markets, where a group has two or more."""
    groups: dict[str, list[int]] = {}
    for m, spec in enumerate(result.setup.markets):
        groups.setdefault(f"venue: {spec.venue}", []).append(m)
    for m, spec in enumerate(result.setup.markets):
        groups.setdefault(f"asset: {spec.asset}", []).append(m)
    return {label: members for label, members in groups.items() if len(members) > 1}


def book_frames(result, m: int) -> dict:
    """Cumulative depth on a grid of distances from the mid, per snapshot, and the target."""
    grid = np.linspace(0.0, BOOK_HALF_WIDTH, BOOK_POINTS)
    snapshots = result.outcome.book_snapshots
    bids, asks, mids, times = [], [], [], []
    for snapshot in snapshots:
        mid, bid_prices, bid_depth, ask_prices, ask_depth = cumulative_depth(
            snapshot, m, BOOK_HALF_WIDTH
        )
        times.append(snapshot.step * result.setup.step_seconds)
        mids.append(mid if math.isfinite(mid) else float("nan"))
        bids.append(cumulative_on(grid, mid, bid_prices, bid_depth, below=True))
        asks.append(cumulative_on(grid, mid, ask_prices, ask_depth, below=False))
    spec = result.setup.markets[m]
    depth_usd = spec.depth_1pct_usd * (spec.price if spec.reciprocal_scale else 1.0)
    target = depth_usd * (np.maximum(grid, 1e-12) / 0.01) ** spec.depth_shape
    target[0] = 0.0
    return {
        "grid": f32(grid),
        "bids": f32(bids),
        "asks": f32(asks),
        "mid": f32(mids),
        "time": f32(times),
        "target": f32(target),
    }


def cumulative_on(grid, mid, prices, depth, below: bool) -> np.ndarray:
    """USD resting within each grid distance of the mid (0 where the book is empty)."""
    if not prices.size or not math.isfinite(mid):
        return np.zeros(grid.size)
    distance = (mid - prices) / mid if below else (prices - mid) / mid
    return np.interp(grid, distance, depth, left=0.0, right=float(depth[-1]))


def liquidation_map(result, m: int, snapshot_times: np.ndarray) -> dict:
    """Open notional (USD at the start price) by liquidation price: at the start and at each
    book snapshot's time, longs and shorts apart."""
    spec = result.setup.markets[m]
    start = float(spec.price)
    edges = np.linspace(start * (1 - MAP_HALF_WIDTH), start * (1 + MAP_HALF_WIDTH), MAP_BINS + 1)
    positions = result.initial_positions
    price = positions.liquidation_price
    # Only this market's rows inside the map: every snapshot re-bins just those.
    rows = np.flatnonzero(
        (positions.market == m)
        & (positions.status != layout.STATUS_PENDING)
        & np.isfinite(price)
        & (price >= edges[0])
        & (price < edges[-1])
    )
    slot = np.full(positions.quantity.size, -1, dtype=np.int64)
    slot[rows] = np.arange(rows.size)
    bins = np.clip(np.searchsorted(edges, price[rows], side="right") - 1, 0, MAP_BINS - 1)
    quantity = positions.quantity[rows]
    # Inverse views carry the coin value of the face as quantity: x entry is its USD face.
    start_usd = quantity * (positions.entry_price[rows] if spec.reciprocal_scale else start)
    long_side = positions.side[rows] > 0
    events = result.outcome.events
    closing = (events["market"] == m) & (events["position"] >= 0)
    closing[closing] = slot[events["position"][closing]] >= 0
    order = np.argsort(events["time"][closing], kind="stable")
    event_slots = slot[events["position"][closing][order]]
    event_times = events["time"][closing][order]
    event_qty = events["quantity"][closing][order]
    remaining = quantity.astype(np.float64).copy()
    longs, shorts = [], []
    done = 0
    for t in snapshot_times:
        upto = int(np.searchsorted(event_times, t, side="right"))
        if upto > done:
            np.subtract.at(remaining, event_slots[done:upto], event_qty[done:upto])
            done = upto
        weight = start_usd * np.clip(remaining / np.maximum(quantity, 1e-300), 0.0, 1.0)
        longs.append(np.bincount(bins[long_side], weights=weight[long_side], minlength=MAP_BINS))
        shorts.append(np.bincount(bins[~long_side], weights=weight[~long_side], minlength=MAP_BINS))
    centres = (edges[:-1] + edges[1:]) / 2
    return {
        "centre": f32(centres),
        "width": float(edges[1] - edges[0]),
        "long": f32(longs),
        "short": f32(shorts),
    }


def event_table(result) -> dict:
    """The liquidations for the table: all, or the largest of each second past MAX_EVENTS."""
    events = result.outcome.events
    chosen = np.flatnonzero(events["kind"] != layout.KIND_NETTED)
    total = chosen.size
    if chosen.size > MAX_EVENTS:
        seconds = np.floor(events["time"][chosen])
        order = np.lexsort((-events["notional"][chosen], seconds))
        ranked = chosen[order]
        boundaries = np.flatnonzero(np.diff(seconds[order]) != 0) + 1
        starts = np.concatenate(([0], boundaries))
        lengths = np.diff(np.concatenate((starts, [ranked.size])))
        rank = np.arange(ranked.size) - np.repeat(starts, lengths)  # 0: largest of its second
        # The most events per second that keeps the page within MAX_EVENTS (at least one).
        kept_within = np.cumsum(np.bincount(rank))  # events with rank < k + 1
        keep = int(np.searchsorted(kept_within, MAX_EVENTS, side="right"))
        chosen = np.sort(ranked[rank < max(keep, 1)])[:MAX_EVENTS]
    entry, leverage, liquidation = teaching_fields(result, chosen)
    return {
        "rows": chosen,
        "shown": int(chosen.size),
        "total": int(total),
        "columns": {
            "time": f32(events["time"][chosen]),
            "market": [result.market_names[int(m)] for m in events["market"][chosen]],
            "side": np.where(events["side"][chosen] > 0, "long", "short").tolist(),
            "kind": [layout.KIND_NAMES[int(k)] for k in events["kind"][chosen]],
            "notional": f32(events["notional"][chosen]),
            "entry": f32(entry),
            "leverage": f32(leverage),
            "liquidation": f32(liquidation),
            "fill": f32(events["fill_price"][chosen]),
            "equity": f32(
                events["equity_usd"][chosen]
                if "equity_usd" in (events.dtype.names or ())
                else np.full(chosen.size, np.nan)
            ),
        },
    }


def teaching_fields(result, rows: np.ndarray):
    """Entry, leverage and liquidation price of event rows: the event log's own (each event's
    position just before its close), else the position's at the start (NaN for the aggregate
    agents)."""
    events = result.outcome.events
    names = events.dtype.names or ()
    if {"entry_price", "leverage", "liquidation_price"} <= set(names):
        return (
            events["entry_price"][rows],
            events["leverage"][rows],
            events["liquidation_price"][rows],
        )
    positions = result.initial_positions
    index = events["position"][rows]
    ours = index >= 0
    safe = np.where(ours, index, 0)
    inverse = np.asarray([s.inverse for s in result.setup.markets])[positions.market[safe]]
    notional = positions.quantity[safe] * np.where(inverse, 1.0, positions.entry_price[safe])
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = notional / positions.margin[safe]
    nan = np.full(rows.size, np.nan)
    return (
        np.where(ours, positions.entry_price[safe], nan),
        np.where(ours, leverage, nan),
        np.where(ours, positions.liquidation_price[safe], nan),
    )


def market_payload(result, m: int, steps: np.ndarray) -> dict:
    timeline = result.outcome.timeline
    rows = timeline[steps, m]
    counterfactual = result.counterfactual_outcome
    payload = {
        "index": f32(rows["index_price"]),
        "mark": f32(rows["mark_price"]),
        "last": f32(rows["last_price"]),
        "counterfactual": f32(
            counterfactual.timeline[steps, m]["mark_price"]
            if counterfactual is not None
            else np.full(steps.size, np.nan)
        ),
    }
    return payload


PAGE_STYLE = """
<style>
body { font-family: system-ui, sans-serif; margin: 12px; color: #222; }
.counters table { border-collapse: collapse; font-size: 14px; }
.counters td { padding: 2px 10px; border-bottom: 1px solid #eee; }
.counters td.value { text-align: right; font-variant-numeric: tabular-nums; }
.book-summary { font-size: 13px; color: #444; }
</style>
"""

UPDATE_JS = """
// The frame nearest the slider's time (frames are at most MAX_FRAMES moments of the run).
const tv = times.data.v;
let k = 0, lo0 = 0, hi0 = tv.length - 1;
while (lo0 < hi0) {
  const c0 = (lo0 + hi0 + 1) >> 1;
  if (tv[c0] <= slider.value) lo0 = c0; else hi0 = c0 - 1;
}
k = lo0;
const t = tv[k];
const m = picker ? picker.value : names[0];
const mi = names.indexOf(m);
cursor.location = t;
const f = (x) => {
  if (!isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1e9) return "$" + (x / 1e9).toFixed(2) + "B";
  if (a >= 1e6) return "$" + (x / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return "$" + (x / 1e3).toFixed(1) + "K";
  return "$" + x.toFixed(0);
};
const p = (x) => isFinite(x) ? x.toLocaleString("en-US", {maximumSignificantDigits: 7}) : "n/a";
// Price series of the chosen market.
const ps = prices[m];
price_src.data = {t: times.data.v, index: ps.index.data.v, mark: ps.mark.data.v,
                  last: ps.last.data.v, counterfactual: ps.counterfactual.data.v};
// Counters: the chosen market and all markets.
const group = grouping ? grouping.value : "all markets";
const c = counters[m], all = counters[group];
const line = (label, key, fmt, name) =>
  `<tr><td>${label}</td><td class="value" data-name="${name}">${fmt(c[key].data.v[k])}</td>` +
  (names.length > 1 ? `<td class="value">${fmt(all[key].data.v[k])}</td>` : "") + "</tr>";
const n = (x) => Math.round(x).toLocaleString("en-US");
counters_div.text = `<div class="counters"><table>` +
  `<tr><td><b>t = ${t.toFixed(0)} s</b></td><td class="value"><b>${m}</b></td>` +
  (names.length > 1 ? `<td class="value"><b>${group}</b></td>` : "") + `</tr>` +
  `<tr><td>mark</td><td class="value" data-name="mark">${p(ps.mark.data.v[k])}</td>` +
  (names.length > 1 ? "<td></td>" : "") + "</tr>" +
  line("liquidated longs", "long", f, "liquidated_long") +
  line("liquidated shorts", "short", f, "liquidated_short") +
  line("accounts liquidated", "accounts", n, "accounts") +
  line("open interest", "oi", f, "open_interest") +
  line("insurance fund + backstop", "fund", f, "fund") +
  line("ADL closes", "adl", n, "adl") +
  line("ADL notional", "adl_usd", f, "adl_usd") +
  `<tr><td>bad debt (end of run)</td>` +
  `<td class="value" data-name="bad_debt">${f(bad_debt[m])}</td>` +
  (names.length > 1 ? `<td class="value">${f(bad_debt[group])}</td>` : "") + "</tr>" +
  `</table></div>`;
// The book snapshot at or before the cursor.
const b = books[m];
const bt = b.time.data.v;
let j = 0;
while (j + 1 < bt.length && bt[j + 1] <= t) j++;
const g = b.grid.data.v, np_ = g.length, mid = b.mid.data.v[j];
const bx = [], by = [], ax = [], ay = [], tx = [], ty = [], ux = [], uy = [];
for (let i = 0; i < np_; i++) {
  bx.push(mid * (1 - g[i])); by.push(b.bids.data.v[j * np_ + i]);
  ax.push(mid * (1 + g[i])); ay.push(b.asks.data.v[j * np_ + i]);
  tx.push(mid * (1 - g[i])); ty.push(b.target.data.v[i]);
  ux.push(mid * (1 + g[i])); uy.push(b.target.data.v[i]);
}
bid_src.data = {x: bx, y: by}; ask_src.data = {x: ax, y: ay};
target_bid_src.data = {x: tx, y: ty}; target_ask_src.data = {x: ux, y: uy};
const one = Math.round(0.01 / g[1]);
book_div.text = `<div class="book-summary">book at t = ${bt[j].toFixed(0)} s, mid ${p(mid)}: ` +
  `bids within 1 % <span data-name="bid_1pct">${f(b.bids.data.v[j * np_ + one])}</span>, ` +
  `asks within 1 % <span data-name="ask_1pct">${f(b.asks.data.v[j * np_ + one])}</span> ` +
  `(makers' target ${f(b.target.data.v[one])} a side)</div>`;
// The liquidation map at the same snapshot.
const mp = maps[m], nb = mp.centre.data.v.length;
map_src.data = {x: mp.centre.data.v,
                long: mp.long.data.v.slice(j * nb, (j + 1) * nb),
                short: mp.short.data.v.slice(j * nb, (j + 1) * nb),
                long0: mp.long.data.v.slice(0, nb), short0: mp.short.data.v.slice(0, nb)};
map_cursor.location = ps.mark.data.v[k];
// The liquidations nearest the cursor.
const ev = table_store.data, et = ev.time;
let lo = 0, hi = et.length;
while (lo < hi) { const mid2 = (lo + hi) >> 1; if (et[mid2] <= t) lo = mid2 + 1; else hi = mid2; }
// The latest rows of the chosen market, newest first.
const picked = [];
for (let r = lo - 1; r >= 0 && picked.length < rows_shown; r--) {
  if (names.length === 1 || ev.market[r] === m) picked.push(r);
}
const rows = {};
for (const key of Object.keys(ev)) rows[key] = picked.map((r) => ev[key][r]);
table_src.data = rows;
"""


def explorer_html(result, title: str) -> str:
    """The explorer page of a run (see the module docstring); a string of HTML."""
    names = list(result.market_names)
    timeline = result.outcome.timeline
    steps = frame_steps(timeline.shape[0])
    times = timeline["time"][steps, 0]
    snapshot_times = np.asarray(
        [s.step * result.setup.step_seconds for s in result.outcome.book_snapshots]
    )
    prices = {}
    books = {}
    maps = {}
    counter_stores = {}
    for m, name in enumerate(names):
        prices[name] = {key: store(v) for key, v in market_payload(result, m, steps).items()}
        frames = book_frames(result, m)
        books[name] = {key: store(v) for key, v in frames.items()}
        mapped = liquidation_map(result, m, snapshot_times)
        maps[name] = {key: store(v) for key, v in mapped.items() if key != "width"}
        if m == 0:  # the views open on the first market's first snapshot
            start_book, start_map = frames, mapped
        counter_stores[name] = {
            key: store(v) for key, v in counters(result, m, times, steps).items()
        }
    counter_stores["all markets"] = {
        key: store(v) for key, v in counters(result, None, times, steps).items()
    }
    bad_debt = {row["market"]: row["bad_debt_usd"] for row in result.summary["markets"]}
    bad_debt["all markets"] = result.summary["bad_debt_usd"]
    groups = market_groups(result)
    for label, members in groups.items():
        counter_stores[label] = {
            key: store(v) for key, v in counters(result, members, times, steps).items()
        }
        bad_debt[label] = sum(result.summary["markets"][k]["bad_debt_usd"] for k in members)
    table = event_table(result)
    first = names[0]

    price_src = ColumnDataSource(
        data={
            "t": f32(times),
            "index": prices[first]["index"].data["v"],
            "mark": prices[first]["mark"].data["v"],
            "last": prices[first]["last"].data["v"],
            "counterfactual": prices[first]["counterfactual"].data["v"],
        }
    )
    price = figure(
        height=300, sizing_mode="stretch_width", title="Price (USD)", x_axis_label="seconds"
    )
    renderers = [
        ("index", price.line("t", "index", source=price_src, color="#888888", line_width=1.5)),
        ("mark", price.line("t", "mark", source=price_src, color="#1f77b4", line_width=2)),
        ("last", price.line("t", "last", source=price_src, color="#ff7f0e", line_width=1)),
        (
            "without liquidations",
            price.line(
                "t", "counterfactual", source=price_src, color="#555555", line_dash="dashed"
            ),
        ),
    ]
    price.yaxis.formatter = NumeralTickFormatter(format="0,0.[00]")
    # Bokeh's stubs type renderers by glyph; a Line renderer is one.
    items = [LegendItem(label=k, renderers=[r]) for k, r in renderers]  # type: ignore[list-item]
    price.add_layout(Legend(items=items, location="top_right"))
    waves, _ = run_waves(result)
    for wave in waves:
        price.add_layout(
            BoxAnnotation(
                left=wave.start_s, right=wave.end_s, fill_color="#d62728", fill_alpha=0.08
            )
        )
    cursor = Span(location=float(times[0]), dimension="height", line_color="#d62728", line_width=2)
    price.add_layout(cursor)

    grid, mid = start_book["grid"], float(start_book["mid"][0])
    below, above = mid * (1 - grid), mid * (1 + grid)
    bid_src = ColumnDataSource(data={"x": below, "y": start_book["bids"][0]})
    ask_src = ColumnDataSource(data={"x": above, "y": start_book["asks"][0]})
    target_bid_src = ColumnDataSource(data={"x": below, "y": start_book["target"]})
    target_ask_src = ColumnDataSource(data={"x": above, "y": start_book["target"]})
    book = figure(
        height=300,
        sizing_mode="stretch_width",
        title="Order book at the cursor: USD resting within each distance of the mid",
        x_axis_label="price (USD)",
        y_axis_label="cumulative USD",
    )
    book.varea(x="x", y1=0, y2="y", source=bid_src, fill_color="#2ca02c", fill_alpha=0.3)
    book.line("x", "y", source=bid_src, color="#2ca02c", line_width=2, legend_label="bids")
    book.varea(x="x", y1=0, y2="y", source=ask_src, fill_color="#d62728", fill_alpha=0.3)
    book.line("x", "y", source=ask_src, color="#d62728", line_width=2, legend_label="asks")
    book.line(
        "x", "y", source=target_bid_src, color="#444444", line_dash="dashed",
        legend_label="makers' target",
    )  # fmt: skip
    book.line("x", "y", source=target_ask_src, color="#444444", line_dash="dashed")
    book.legend.location = "top_center"
    book.xaxis.formatter = NumeralTickFormatter(format="0,0.[00]")
    book.yaxis.formatter = NumeralTickFormatter(format="$0.0a")

    width = start_map["width"]
    map_src = ColumnDataSource(
        data={
            "x": start_map["centre"],
            "long": start_map["long"][0],
            "short": start_map["short"][0],
            "long0": start_map["long"][0],
            "short0": start_map["short"][0],
        }
    )
    liq_map = figure(
        height=300,
        sizing_mode="stretch_width",
        title="Liquidation map: open notional by liquidation price (outline: before the shock)",
        x_axis_label="liquidation price (USD)",
        y_axis_label="USD at the start price",
    )
    liq_map.vbar(x="x", top="long", width=width, source=map_src, color="#d62728", alpha=0.6,
                 legend_label="longs still open")  # fmt: skip
    liq_map.vbar(x="x", top="short", width=width, source=map_src, color="#2ca02c", alpha=0.6,
                 legend_label="shorts still open")  # fmt: skip
    liq_map.step(x="x", y="long0", source=map_src, mode="center", color="#7f0000")
    liq_map.step(x="x", y="short0", source=map_src, mode="center", color="#004d00")
    liq_map.legend.location = "top_left"
    liq_map.xaxis.formatter = NumeralTickFormatter(format="0,0.[00]")
    liq_map.yaxis.formatter = NumeralTickFormatter(format="$0.0a")
    map_cursor = Span(location=float(result.setup.markets[0].price), dimension="height",
                      line_color="#1f77b4", line_width=2)  # fmt: skip
    liq_map.add_layout(map_cursor)

    columns = table["columns"]
    table_src = ColumnDataSource(data={key: [] for key in columns})
    money = NumberFormatter(format="$0,0")
    price_format = NumberFormatter(format="0,0.[0000]")
    data_table = DataTable(
        source=table_src,
        columns=[
            TableColumn(field="time", title="time (s)", formatter=NumberFormatter(format="0,0")),
            TableColumn(field="market", title="market"),
            TableColumn(field="side", title="side"),
            TableColumn(field="notional", title="size (USD)", formatter=money),
            TableColumn(field="entry", title="entry", formatter=price_format),
            TableColumn(
                field="leverage", title="leverage", formatter=NumberFormatter(format="0.0")
            ),
            TableColumn(field="liquidation", title="liquidation price", formatter=price_format),
            TableColumn(field="fill", title="fill price", formatter=price_format),
            TableColumn(field="equity", title="equity at trigger", formatter=money),
            TableColumn(field="kind", title="kind"),
        ],
        sizing_mode="stretch_width",
        height=320,
        index_position=None,
        reorderable=False,
        name="liquidations",
    )
    shown = (
        f"all {table['total']:,} events"
        if table["shown"] == table["total"]
        else f"{table['shown']:,} of {table['total']:,} events (the largest of each second)"
    )
    table_title = Div(
        text=f"<b>Liquidations up to the cursor on the chosen market</b> (the {TABLE_ROWS} "
        f"latest, newest first; {shown} in the page)"
    )

    spacing = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    slider = Slider(start=float(times[0]), end=float(max(times[-1], times[0] + spacing)),
                    value=float(times[0]), step=spacing, title="seconds (drag, or press play)",
                    sizing_mode="stretch_width", name="cursor")  # fmt: skip
    play = Button(label="▶ play", button_type="primary", width=90, name="play")
    picker = (
        Select(title="market", value=first, options=names, width=220, name="market")
        if len(names) > 1
        else None
    )
    grouping = (
        Select(
            title="second column: all markets, a venue or an asset",
            value="all markets",
            options=list[str | None](["all markets", *groups]),
            width=260,
            name="grouping",
        )
        if len(names) > 1
        else None
    )
    counters_div = Div(text="", width=420, name="counters")
    book_div = Div(text="", name="book_summary")
    table_store = {
        key: np.asarray(v) if not isinstance(v, list) else v for key, v in columns.items()
    }
    args = dict(
        slider=slider,
        times=store(times),
        names=names,
        picker=picker,
        grouping=grouping,
        cursor=cursor,
        prices=prices,
        counters=counter_stores,
        bad_debt=bad_debt,
        counters_div=counters_div,
        books=books,
        bid_src=bid_src,
        ask_src=ask_src,
        target_bid_src=target_bid_src,
        target_ask_src=target_ask_src,
        book_div=book_div,
        maps=maps,
        map_src=map_src,
        map_cursor=map_cursor,
        table_store=ColumnDataSource(data=table_store),
        table_src=table_src,
        rows_shown=TABLE_ROWS,
        price_src=price_src,
    )
    update = CustomJS(args=args, code=UPDATE_JS)
    slider.js_on_change("value", update)
    if picker is not None:
        picker.js_on_change("value", update)
    if grouping is not None:
        grouping.js_on_change("value", update)
    play.js_on_click(
        CustomJS(
            args=dict(slider=slider, play=play, every=PLAY_MS),
            code="""
if (window._cascade_timer) {
  clearInterval(window._cascade_timer); window._cascade_timer = null; play.label = "▶ play";
} else {
  if (slider.value >= slider.end) slider.value = slider.start;
  play.label = "❚❚ pause";
  window._cascade_timer = setInterval(() => {
    if (slider.value >= slider.end) {
      clearInterval(window._cascade_timer); window._cascade_timer = null; play.label = "▶ play";
    } else { slider.value = Math.min(slider.end, slider.value + slider.step); }
  }, every);
}
""",
        )
    )
    heading = Div(
        text=f"<h2>{escape(title)}</h2><p>Move the cursor through the run: the price, the "
        "order book, the liquidation map, the counters and the table follow it. Shaded: the "
        "waves of liquidations.</p>",
        sizing_mode="stretch_width",
    )
    controls = row([play, slider] + [w for w in (picker, grouping) if w is not None],
                   sizing_mode="stretch_width")  # fmt: skip
    page = column(
        heading,
        controls,
        row(price, counters_div, sizing_mode="stretch_width"),
        book_div,
        row(book, liq_map, sizing_mode="stretch_width"),
        table_title,
        data_table,
        sizing_mode="stretch_width",
    )
    # The first frame is drawn when the page loads, by the same code the slider runs.
    document = Document()
    document.add_root(page)
    document.js_on_event("document_ready", update)
    html = file_html(document, INLINE, title=title)
    # After the charset line, the first thing in the head (a "</head>" appears inside BokehJS).
    charset = '<meta charset="utf-8">'
    return html.replace(charset, charset + PAGE_STYLE, 1)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
