"""The ``cascadesim`` command line.

Heavy imports (numba, pandas, matplotlib) happen inside the commands so that ``--help``
answers at once. Bad input raises :class:`cascadesim.errors.CascadesimInputError`, which
``main`` prints as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys

import typer

from cascadesim.errors import CascadesimInputError

app = typer.Typer(
    name="cascadesim",
    help="Simulate liquidation cascades in crypto perpetual-futures markets.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with code 2."""
    typer.echo(f"cascadesim: error: {message}", err=True)
    raise typer.Exit(code=2)


@app.callback()
def _commands() -> None:
    """Simulate liquidation cascades in crypto perpetual-futures markets."""
    # Typer runs a lone command without its name; a callback keeps `cascadesim <command>`.


@app.command()
def liqprice(
    venue: str = typer.Option(..., help="binance, bybit, okx, hyperliquid or dydx."),
    side: str = typer.Option(..., help="long or short."),
    entry: float = typer.Option(..., help="Entry price, USD per base unit."),
    quantity: float = typer.Option(..., help="Position size, base units."),
    leverage: float | None = typer.Option(None, help="Initial leverage (or give --margin)."),
    margin: float | None = typer.Option(None, help="Isolated margin, USD (or give --leverage)."),
    mmr: float | None = typer.Option(None, help="Maintenance margin rate; replaces the tiers."),
    maintenance_amount: float | None = typer.Option(
        None, help="USD deducted from maintenance margin (with --mmr)."),
    max_leverage: float | None = typer.Option(
        None, help="Hyperliquid: market max leverage, MMR = 1/(2 x max leverage)."),
    asset: str = typer.Option("BTC", help="Base asset; picks the venue's tier table."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Liquidation and bankruptcy price of an isolated linear perpetual position."""
    from cascadesim.margin import liquidation_price

    figures = liquidation_price(
        venue, side, entry, quantity, leverage=leverage, margin=margin, mmr=mmr,
        maintenance_amount=maintenance_amount, max_leverage=max_leverage, asset=asset,
    )
    if json_output:
        import json

        typer.echo(json.dumps(figures.to_dict()))
        return
    _print_margin_figures(figures)


def _print_margin_figures(figures) -> None:
    """Small aligned table of a :class:`cascadesim.margin.MarginFigures`."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{figures.venue} {figures.asset} {figures.side} "
                  f"{figures.quantity:g} @ {figures.entry_price:,.2f} USD", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("liquidation price", f"{figures.liquidation_price:,.2f} USD")
    table.add_row("bankruptcy price", f"{figures.bankruptcy_price:,.2f} USD")
    table.add_row("initial margin", f"{figures.initial_margin:,.2f} USD")
    table.add_row("maintenance margin", f"{figures.maintenance_margin:,.2f} USD (at entry)")
    table.add_row("tier", f"{figures.tier + 1} of {figures.tier_count} (at liquidation)")
    Console().print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CascadesimInputError as error:
        print(f"cascadesim: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
