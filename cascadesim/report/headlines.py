"""Headlines that name what they describe: one for the whole run, then one line per asset.

A figure without its market misleads as soon as a run has several: the deepest fall of a
BTC-led cascade may be DOGE's on one venue. So every line here says its scope ("all 9
markets", an asset and the market its move is quoted on, a market by name). The lines are
plain text; the CLI prints them and the report escapes them.
"""

from __future__ import annotations

from cascadesim._util.formatting import format_fraction, format_price, format_usd

# More assets than this and the per-asset lines stop; the report's By-asset table has all.
MAX_ASSET_LINES = 8


def liquidated_clause(figures: dict) -> str:
    """'$X liquidated ($L longs, $S shorts), N accounts' for a summary or a group."""
    return (
        f"{format_usd(figures['liquidated_total_usd'])} liquidated "
        f"({format_usd(figures['liquidated_long_usd'])} longs, "
        f"{format_usd(figures['liquidated_short_usd'])} shorts), "
        f"{figures['accounts_liquidated']:,} accounts"
    )


def move_clause(figures: dict, market: str | None = None) -> str:
    """'fell 6.2 % on M (100,000 to 93,810 USD) against 5.0 % without liquidations (1.24x)'."""
    start, low = figures["price_start"], figures["price_min"]
    where = "" if market is None else f" on {market}"
    if figures["max_drawdown"] <= 0.0 and not figures.get("counterfactual_max_drawdown"):
        # A rise (or a flat path): "fell 0.0 %" would misread it.
        return f"did not fall below its start{where} ({format_price(start)} USD)"
    text = (
        f"fell {format_fraction(figures['max_drawdown'])}{where} "
        f"({format_price(start)} to {format_price(low, start)} USD)"
    )
    counterfactual = figures.get("counterfactual_max_drawdown")
    if counterfactual is not None:
        text += f" against {format_fraction(counterfactual)} without liquidations"
        if figures.get("amplification") is not None:
            text += f" ({figures['amplification']:.2f}x)"
    return text


def ordered_groups(groups: dict) -> list[str]:
    """Venue or asset names of a breakdown, most liquidated first."""
    return sorted(groups, key=lambda name: -groups[name]["liquidated_total_usd"])


def run_headline(summary: dict) -> str:
    """One sentence for the whole run: totals over all markets, the lead asset's move."""
    markets = summary["markets"]
    if len(markets) == 1:
        row = markets[0]
        return f"{row['market']}: {liquidated_clause(summary)}. The price {move_clause(row)}."
    assets = summary["by_asset"]
    lead = summary["lead_asset"]
    group = assets[lead]
    text = (
        f"All {len(markets)} markets: {liquidated_clause(summary)}. "
        f"{lead}, the asset with the most open interest, "
        f"{move_clause(group, group['price_market'])}"
    )
    if len(assets) == 1:
        text += f" (the largest of its {len(group['markets'])} markets)"
    text += "."
    amplified = summary.get("most_amplified_market")
    if amplified is not None and amplified != group["price_market"]:
        row = next(row for row in markets if row["market"] == amplified)
        text += f" Largest amplification: {amplified}, which {move_clause(row)}."
    return text


def asset_lines(summary: dict) -> list[str]:
    """One line per asset, most liquidated first (none for a run of one asset)."""
    assets = summary["by_asset"]
    if len(assets) < 2:
        return []
    order = ordered_groups(assets)
    lines = []
    for name in order[:MAX_ASSET_LINES]:
        group = assets[name]
        count = len(group["markets"])
        where = f"{count} market{'s' if count != 1 else ''}"
        lines.append(
            f"{name} ({where}): {liquidated_clause(group)}; "
            f"{move_clause(group, group['price_market'])}."
        )
    if len(order) > MAX_ASSET_LINES:
        lines.append(
            f"... and {len(order) - MAX_ASSET_LINES} more assets (see the By-asset table)."
        )
    return lines


def price_scope(summary: dict) -> str:
    """Which market the summary's top-level price figures belong to, in words."""
    markets = summary["markets"]
    if len(markets) == 1:
        return markets[0]["market"]
    return f"{summary['price_market']}, the deepest fall of {len(markets)} markets"
