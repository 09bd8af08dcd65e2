"""A self-contained HTML report of one simulated path.

The report is one file that opens offline: the plots are embedded as base64 PNG data URIs,
the CSS is inline, there is no JavaScript and no web font. Every string that comes from the
scenario or the result is passed through :func:`html.escape`, since a scenario name or a
market name is user input.
"""

from __future__ import annotations

import os
import pathlib
import tomllib
from collections.abc import Iterable

from cascadesim._util.formatting import format_fraction, format_price, format_usd
from cascadesim.report.assumptions import cap_notes, run_assumptions
from cascadesim.report.headlines import asset_lines, ordered_groups, run_headline
from cascadesim.report.page import (
    PlotSource,
    assumptions_box,
    escape,
    exact,
    figures_html,
    header_cells,
    page,
    recorded,
    scroll_table,
    value_cells,
    write_page,
)
from cascadesim.report.story import cascade_story

REPORT_NAME = "report.html"

# What each plot shows, keyed by the file stem write_plots gives it.
CAPTIONS = {
    "price": (
        "Price with and without liquidations. The solid line is the perp price (mid) of the "
        "simulated path, the dashed line the same shock with the liquidation engine off. The "
        "gap between them is the cascade: forced selling that pushed the price further than "
        "the shock alone. Bars: USD liquidated per time bin, longs red, shorts green."
    ),
    "liquidation_map": (
        "Liquidation map before the shock: how much notional (USD) would be liquidated if the "
        "price reached each level, longs below the start price, shorts above. The curves add "
        "it up from the start price outwards; clusters are where a move feeds on itself."
    ),
    "book_depth": (
        "Order-book depth: USD resting at each price or better, bids (green) below the mid and "
        "asks (red) above, before the shock, at the trough and at the end. A thin side at the "
        "trough is the liquidity vacuum: market makers pulled their quotes."
    ),
    "open_interest": (
        "Open interest (USD at the mark price) with and without liquidations, and the "
        "insurance fund, which gains when liquidations fill better than the bankruptcy price "
        "and pays when they fill worse."
    ),
    "breakdown": (
        "Liquidations by venue (left) and by asset (right), longs red and shorts green, "
        "with each bar's total, the positions auto-deleveraged and any bad debt."
    ),
    "assets": (
        "One panel per asset, all on one price scale: each venue's perp price change from its "
        "start, a dot at its first liquidation (the order the cascade spread in), the asset's "
        "largest market without liquidations dashed, and the asset's liquidations per time "
        "bin as grey bars (right axis)."
    ),
    "asset_liquidation_maps": (
        "Liquidation map per asset, its venues added up, in % from each market's start price: "
        "how much would be liquidated if the price reached each level. Darker bars, where "
        "they appear, are cross-margin positions whose level at the start is on the far side "
        "of the price: the account's other positions hold or drain its margin, so a long can "
        "sit above the price and a short below it."
    ),
    "liquidation_heatmap": (
        "Liquidation heatmap of the most liquidated market's asset (all its venues): the "
        "colour is the notional still waiting at each liquidation level, from the positions "
        "open before the shock at their start levels; as the price line crosses a band the "
        "run liquidates it and the band fades. Positions opened during the run are not in it."
    ),
}

HOW_TO_READ = (
    "The simulator places a synthetic population of leveraged positions on each market, then "
    "replays a price shock through an order book and a margin engine. When the mark price "
    "crosses a position's liquidation price, the venue closes it with a market order; that "
    "order eats into the book, moves the price and can trigger the next liquidations: the "
    "cascade. The same shock is also run with liquidations switched off (the counterfactual). "
    "<em>Amplification</em> is the drawdown with liquidations divided by the drawdown without: "
    "2.0x means liquidations doubled the fall. <em>Bad debt</em> is loss that neither the "
    "trader's margin nor the insurance fund covered; <em>ADL</em> counts profitable opposite "
    "positions closed by auto-deleveraging to cover it. Amounts are in USD; $1.2M is 1.2 "
    "million and $3.4B 3.4 billion dollars (hover over a figure for its exact value)."
)


# (summary key, row label, formatter) for the totals table and the per-market columns.
USD = format_usd
FIELDS = (
    ("liquidated_total_usd", "Liquidated, total", USD),
    ("liquidated_long_usd", "Liquidated, longs", USD),
    ("liquidated_short_usd", "Liquidated, shorts", USD),
    ("accounts_liquidated", "Accounts liquidated", lambda value: f"{value:,}"),
    ("largest_liquidation_usd", "Largest single liquidation", USD),
    ("open_interest_before_usd", "Open interest before", USD),
    ("open_interest_after_usd", "Open interest after", USD),
    ("open_interest_change", "Open-interest change (contracts)", format_fraction),
    ("price_start", "Start price (USD)", format_price),
    ("price_min", "Lowest price (USD)", format_price),
    ("max_drawdown", "Max drawdown", format_fraction),
    ("counterfactual_max_drawdown", "Drawdown without liquidations", format_fraction),
    ("amplification", "Amplification", lambda value: "n/a" if value is None else f"{value:.2f}x"),
    ("insurance_fund_change_usd", "Insurance fund change", USD),
    ("bad_debt_usd", "Bad debt", USD),
    ("adl_count", "Positions auto-deleveraged", lambda value: f"{value:,}"),
    ("adl_notional_usd", "Auto-deleveraged notional", USD),
)


def scenario_name(result, scenario_toml: str) -> str:
    """The scenario's name: from provenance, the setup's labels, the TOML, else a default."""
    for source in (result.provenance, getattr(result.setup, "labels", {}) or {}):
        for key in ("scenario_name", "scenario", "name"):
            if isinstance(source.get(key), str) and source[key]:
                return source[key]
    try:
        document = tomllib.loads(scenario_toml or "")
    except tomllib.TOMLDecodeError:
        document = {}
    name = document.get("name")
    return name if isinstance(name, str) and name else "unnamed scenario"


def headline(summary: dict) -> str:
    """The run's headline and one line per asset, each naming its scope (already HTML)."""
    lines = asset_lines(summary)
    text = f'<p class="headline">{escape(run_headline(summary))}</p>'
    if lines:
        text += '<ul class="assets">' + "".join(f"<li>{escape(line)}</li>" for line in lines)
        text += "</ul>"
    return text


# Figures of the totals table quoted from one market, not summed over all of them.
PRICE_KEYS = frozenset(
    {"price_start", "price_min", "max_drawdown", "counterfactual_max_drawdown", "amplification"}
)


def totals_table(summary: dict) -> str:
    """Two-column table of the headline figures; each row says its market or 'all markets'."""
    n_markets = len(summary["markets"])
    rows = []
    for key, label, formatter in FIELDS:
        if key not in summary:
            continue
        value = summary[key]
        if n_markets > 1:
            label += f" ({summary['price_market']})" if key in PRICE_KEYS else " (all markets)"
        rows.append(
            f'<tr><th scope="row">{escape(label)}</th>'
            f'<td title="{escape(exact(value))}">{escape(formatter(value))}</td></tr>'
        )
    caption = ""
    if n_markets > 1:
        caption = (
            f"<caption>Sums over all {n_markets} markets; the price rows are those of "
            f"{escape(summary['price_market'])}, the deepest fall.</caption>"
        )
    return "<table>" + caption + "\n" + "\n".join(rows) + "\n</table>"


def shared_or_usd(value: float | None) -> str:
    """A group's fund change, or 'shared' where its fund also covers other markets."""
    return "shared" if value is None else USD(value)


# (key, column heading, formatter) of the By-venue and By-asset tables.
GROUP_COLUMNS = (
    ("liquidated_long_usd", "Longs", USD),
    ("liquidated_short_usd", "Shorts", USD),
    ("liquidated_total_usd", "Total", USD),
    ("accounts_liquidated", "Accounts", lambda value: f"{value:,}"),
    ("insurance_fund_change_usd", "Fund change", lambda value: shared_or_usd(value)),
    ("adl_count", "ADL closes", lambda value: f"{value:,}"),
    ("adl_notional_usd", "ADL notional", USD),
    ("bad_debt_usd", "Bad debt", USD),
    ("max_drawdown", "Fall", format_fraction),
    ("amplification", "Amplification", lambda value: "n/a" if value is None else f"{value:.2f}x"),
)


def group_table(groups: dict, kind: str) -> str:
    """One row per venue or asset, most liquidated first (see ``sim.result.breakdown``)."""
    order = ordered_groups(groups)
    head = header_cells([kind.title(), "Markets", "Fall quoted on"])
    head += header_cells(label for _, label, _ in GROUP_COLUMNS)
    body = [
        f"<tr><td>{escape(name)}</td><td>{escape(', '.join(groups[name]['markets']))}</td>"
        f"<td>{escape(groups[name]['price_market'])}</td>"
        f"{value_cells(groups[name], GROUP_COLUMNS)}</tr>"
        for name in order
    ]
    shared = sorted({name for group in groups.values() for name in group["fund_shared_with"]})
    note = (
        f"<p>Fund change <em>shared</em>: the {kind}'s markets share an insurance fund with "
        f"{escape(', '.join(shared))}, and a shared fund's loss is not split by market.</p>"
        if shared
        else ""
    )
    return scroll_table(head, body) + note


def markets_table(markets: list[dict]) -> str:
    """One row per market, one column per figure."""
    columns = [
        (key, label, formatter) for key, label, formatter in FIELDS if markets and key in markets[0]
    ]
    head = header_cells(["Market", "Asset", "Venue"]) + header_cells(l for _, l, _ in columns)
    body = [
        f"<tr><td>{escape(row.get('market', ''))}</td>"
        f"<td>{escape(row.get('asset', ''))}</td>"
        f"<td>{escape(row.get('venue', ''))}</td>{value_cells(row, columns)}</tr>"
        for row in markets
    ]
    return scroll_table(head, body)


def warnings(summary: dict) -> str:
    """Notes on engine limits that were reached, since they qualify every figure."""
    notes = cap_notes(summary)
    return "".join(f'<p class="warning">{escape(note)}</p>' for note in notes)


def story_html(result) -> str:
    """The numbered story (cascadesim.report.story) as an ordered list."""
    lines, _ = cascade_story(result)
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<ol class="story">{items}</ol><p>Play it second by second in explorer.html.</p>'


def render_report(result, scenario_toml: str, plots: Iterable[PlotSource]) -> str:
    """The report's HTML text (see :func:`write_report`)."""
    summary = result.summary
    name = scenario_name(result, scenario_toml)
    seed = summary.get("seed", result.provenance.get("seed"))
    scenario_hash = summary.get("scenario_hash") or result.provenance.get("scenario_hash")
    version = summary.get("version") or result.provenance.get("version")
    provenance = (
        f"seed <code>{escape(recorded(seed))}</code> &middot; scenario hash "
        f"<code>{escape(recorded(scenario_hash))}</code> &middot; cascadesim "
        f"<code>{escape(recorded(version))}</code> &middot; {len(result.market_names)} "
        f"market{'s' if len(result.market_names) != 1 else ''}, "
        f"{result.setup.n_steps:,} steps of {result.setup.step_seconds:g} s"
    )
    breakdowns = "".join(
        f"<h2>By {kind}</h2>\n{group_table(summary[key], kind)}"
        for key, kind in (("by_venue", "venue"), ("by_asset", "asset"))
        if len(summary.get(key, {})) > 1
    )
    body = f"""<h1>Liquidation cascade: {escape(name)}</h1>
<p class="provenance">{provenance}</p>
{headline(summary)}
{warnings(summary)}
{assumptions_box(run_assumptions(result))}
<h2>The cascade, step by step</h2>
{story_html(result)}
<h2>Summary</h2>
{totals_table(summary)}
<h2>By market</h2>
{markets_table(summary.get("markets", []))}
{breakdowns}
<h2>How to read this</h2>
<p>{HOW_TO_READ}</p>
<h2>Plots</h2>
{figures_html(plots, CAPTIONS)}
<h2>Scenario</h2>
<pre>{escape(scenario_toml or "")}</pre>"""
    footer = f"Generated by cascadesim {escape(version)}."
    return page(f"cascadesim report: {name}", body, footer)


def write_report(
    result,
    directory: str | os.PathLike,
    scenario_toml: str,
    plots: Iterable[PlotSource],
) -> pathlib.Path:
    """Write ``report.html`` for a result into ``directory``, atomically.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    directory : path, created if missing
    scenario_toml : str, the scenario file's text, shown verbatim (escaped) in the report
    plots : iterable of PNG files (as :func:`cascadesim.report.plots.write_plots` returns
        them) or of (file stem, PNG bytes) pairs (as
        :func:`cascadesim.report.plots.render_plots` returns them), embedded in this order

    Returns
    -------
    pathlib.Path
        The report's path. It is written under a temporary name and renamed, so it is
        complete or absent.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return write_page(directory / REPORT_NAME, render_report(result, scenario_toml, list(plots)))
