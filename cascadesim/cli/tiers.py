"""``cascadesim tiers VENUE ASSET``: a venue profile's margin tier table and its source."""

from __future__ import annotations

import json
import math

import typer
from rich.table import Table

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.cli.console import table_console
from cascadesim.model.tier_tables import REFERENCE_PRICE_USD
from cascadesim.model.venues import VENUES, TierTable, VenueProfile

# The asset name that shows the fallback table every asset without its own table gets.
OTHER = "other"


def tiers_command(venue: str, asset: str, *, price: float | None, json_output: bool) -> None:
    """Body of ``cascadesim tiers``: the table as rich text or one JSON object."""
    profile = venue_profile(venue)
    key = asset_key(profile, asset)
    table = tier_table(profile, key, price)
    fee = profile.liquidation_fee_rate if key == OTHER else profile.liquidation_fee_for(key)
    document = {
        "venue": profile.name,
        "asset": key,
        "source": table.source,
        "estimate": table.is_estimate,
        "price_usd": table.price_usd,
        "tiers": [
            {
                "tier": n + 1,
                "from_usd": float(table.floors[n]),
                "to_usd": float(table.floors[n + 1]) if n + 1 < len(table) else None,
                "max_leverage": float(table.max_leverage[n]),
                "mmr": float(table.mmr[n]),
                "maintenance_amount_usd": float(table.maintenance_amount[n]),
            }
            for n in range(len(table))
        ],
        "liquidation_fee_rate": fee,
        "liquidation_fee_source": profile.liquidation_fee_source,
    }
    if json_output:
        typer.echo(json.dumps(document))
        return
    print_tiers(document)


def venue_profile(venue: str) -> VenueProfile:
    name = str(venue).lower()
    if name not in VENUES:
        raise invalid("venue", venue, "one of " + ", ".join(VENUES))
    return VENUES[name]


def asset_key(profile: VenueProfile, asset: str) -> str:
    """Upper-case asset with a table of its own, or ``other``; else the input error."""
    key = str(asset).strip()
    if key.lower() == OTHER:
        return OTHER
    if not profile.has_own_tiers(key):
        listed = sorted(profile.tier_tables)
        raise invalid(
            "asset",
            asset,
            f"one of {', '.join(listed)} (the assets with a table of their own on "
            f"{profile.name}), or {OTHER!r} for the fallback estimate any other asset gets",
        )
    return key.upper()


def tier_table(profile: VenueProfile, key: str, price: float | None) -> TierTable:
    """The table, with a table tiered by position size (OKX) in USD at ``price``."""
    table = profile.default_tiers if key == OTHER else profile.tiers(key)
    if price is None:
        return table
    if not (isinstance(price, int | float) and math.isfinite(price) and price > 0.0):
        raise invalid("--price", price, "a finite price > 0, USD per unit of the asset")
    try:
        return table.at_price(price)
    except CascadesimInputError:
        raise invalid(
            "--price", price, "a price at which the tier floors stay finite USD"
        ) from None


def usd(value: float) -> str:
    """Whole dollars as such, cents where there are any."""
    return f"{value:,.0f}" if value == round(value) else f"{value:,.2f}"


def print_tiers(document: dict) -> None:
    """Aligned table of the tiers, then the price used, the source and the liquidation fee."""
    table = Table(title=f"{document['venue']} {document['asset']} margin tiers")
    for heading in ("tier", "from (USD)", "to (USD)", "max leverage", "MMR", "maint. amount (USD)"):
        table.add_column(heading, justify="right")
    for row in document["tiers"]:
        table.add_row(
            str(row["tier"]),
            f"{row['from_usd']:,.0f}",
            "" if row["to_usd"] is None else f"{row['to_usd']:,.0f}",
            f"{row['max_leverage']:g}x",
            f"{100 * row['mmr']:.4g} %",
            usd(row["maintenance_amount_usd"]),
        )
    console = table_console()
    console.print(table)
    if document["price_usd"] is not None:
        reference = REFERENCE_PRICE_USD.get(document["asset"])
        note = (
            " (reference price; --price sets another)" if document["price_usd"] == reference else ""
        )
        console.print(
            f"tiers set in {document['asset']} (contracts x contract value), shown at "
            f"{document['price_usd']:,.6g} USD per {document['asset']}{note}",
            highlight=False,
        )
    console.print(f"source: {document['source']}", highlight=False, soft_wrap=True)
    console.print(
        f"liquidation fee: {100 * document['liquidation_fee_rate']:.4g} % of notional; "
        f"{document['liquidation_fee_source']}",
        highlight=False,
        soft_wrap=True,
    )
