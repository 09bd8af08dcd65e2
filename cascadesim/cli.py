"""The ``cascadesim`` command line.

Heavy imports (numba, pandas, matplotlib) happen inside the commands so that ``--help``
answers at once. Bad input raises :class:`cascadesim.errors.CascadesimInputError`, which
``main`` prints as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


@app.command()
def run(
    scenario: str | None = typer.Argument(
        None, help="Scenario TOML file, or the name of a bundled scenario (see `cascadesim "
                   "scenarios`); default: the bundled default."),
    out: str | None = typer.Option(
        None, "--out", help="Output folder; default ./cascadesim-out/<scenario name>/."),
    seed: int | None = typer.Option(None, "--seed", help="Seed replacing the scenario's."),
    json_output: bool = typer.Option(
        False, "--json", help="Print only the summary, as one JSON object, on stdout."),
) -> None:
    """Run a scenario; write summary, timeline, liquidations, plots and report.html."""
    from rich.console import Console

    from cascadesim.scenario import Scenario
    from cascadesim.scenario_io import resolve_scenario

    if seed is not None and seed < 0:
        raise CascadesimInputError(f"--seed = {seed}: an integer >= 0")
    loaded = Scenario.from_toml(resolve_scenario(scenario))
    directory = Path(out) if out is not None else Path("cascadesim-out") / loaded.name
    if directory.exists() and not directory.is_dir():
        raise CascadesimInputError(f"--out = '{directory}': a folder (this is a file)")
    setup = loaded.build(seed=seed)  # validates everything before anything is written
    errors = Console(stderr=True)
    bar = _DelayedProgress(errors)
    try:
        result = _simulate_with_bar(setup, bar)
        try:
            written = _write_with_bar(result, directory, loaded.to_toml_text(), bar)
        except OSError as error:
            bar.close()
            typer.echo(f"cascadesim: error: {directory}: cannot write outputs "
                       f"({error.strerror or error})", err=True)
            raise typer.Exit(code=1) from None
    finally:
        bar.close()
    if json_output:
        from cascadesim.output import summary_json

        typer.echo(summary_json(result.summary), nl=False)
        return
    _print_summary(Console(), result.summary, loaded.name, directory, written)


@app.command()
def sweep(
    sweep_file: str = typer.Argument(
        ..., help="Sweep TOML file, or the name of a bundled sweep (scenarios/sweeps/)."),
    paths: int | None = typer.Option(None, "--paths", help="Paths per design point, "
                                                           "replacing the sweep file's."),
    workers: int = typer.Option(1, "--workers", help="Processes on this machine, or the "
                                                     "LocalCluster's workers with "
                                                     "--scheduler local."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="'local' (a Dask LocalCluster) or the address of a Dask "
                                  "scheduler, e.g. tcp://10.0.0.5:8786."),
    out: str | None = typer.Option(
        None, "--out", help="Output folder; default ./cascadesim-out/<sweep name>/. A re-run "
                            "into the same folder resumes."),
    json_output: bool = typer.Option(
        False, "--json", help="Print only a JSON object (points, files) on stdout."),
) -> None:
    """Monte Carlo ensemble and parameter sweep: paths, points, plots and report.html."""
    from cascadesim.sweep_cli import sweep_command

    sweep_command(sweep_file, paths=paths, workers=workers, scheduler=scheduler, out=out,
                  json_output=json_output)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    import json

    from cascadesim.scenario import Scenario

    typer.echo(json.dumps(Scenario.json_schema(), indent=2))


@app.command()
def scenarios() -> None:
    """List the bundled scenarios, one line each: name and description."""
    from cascadesim.scenario import Scenario
    from cascadesim.scenario_io import bundled_scenarios

    bundled = bundled_scenarios()
    width = max((len(name) for name in bundled), default=0)
    for name, path in bundled.items():
        try:
            description = Scenario.from_toml(path).description
        except CascadesimInputError as error:
            description = f"(invalid: {error})"
        typer.echo(f"{name:<{width}}  {description}")


class _DelayedProgress:
    """A rich progress bar on stderr that appears only once a run has taken a second.

    It is shown only on a terminal, so piped or captured output stays clean. A timer thread
    starts it, because the first run spends a while compiling before any step reports.
    """

    def __init__(self, console, delay_s: float = 1.0) -> None:
        import threading

        self.console = console
        self.progress = None
        self.task = None
        self.description = "preparing"
        self.total: float | None = None
        self.completed = 0.0
        self.lock = threading.Lock()
        self.timer = threading.Timer(delay_s, self.start)
        self.timer.daemon = True
        if console.is_terminal:
            self.timer.start()

    def start(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with self.lock:
            if self.progress is not None or self.timer is None:
                return
            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                     TimeElapsedColumn(), console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=self.total,
                                               completed=self.completed)

    def update(self, description: str, completed: float = 0.0,
               total: float | None = None) -> None:
        with self.lock:
            self.description, self.completed, self.total = description, completed, total
            if self.progress is not None:
                self.progress.update(self.task, description=description, completed=completed,
                                     total=total)

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.progress is not None:
                self.progress.stop()
                self.progress = None


def _simulate_with_bar(setup, bar: _DelayedProgress):
    from cascadesim.simulation import simulate

    def steps_done(done: int, total: int) -> None:
        bar.update("simulating", done, total)

    return simulate(setup, progress=steps_done)


def _write_with_bar(result, directory: Path, scenario_toml: str, bar: _DelayedProgress):
    from cascadesim.output import write_outputs

    stages = ["summary", "timeline", "liquidations", "plots", "report"]

    def on_stage(name: str) -> None:
        bar.update(f"writing {name}", stages.index(name), len(stages))

    return write_outputs(result, directory, scenario_toml, on_stage=on_stage)


def _print_summary(console, summary: dict, name: str, directory: Path, written) -> None:
    """The headline figures of a run as a rich table, then where the files are."""
    from rich.table import Table

    def usd(value: float | None) -> str:
        if value is None:
            return "n/a"
        for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:,.2f} {unit} USD"
        return f"{value:,.0f} USD"

    def fraction(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f} %"

    amplification = summary.get("amplification")
    table = Table(title=f"cascadesim run: {name}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("liquidated, longs", usd(summary["liquidated_long_usd"])),
        ("liquidated, shorts", usd(summary["liquidated_short_usd"])),
        ("liquidated, total", usd(summary["liquidated_total_usd"])),
        ("accounts liquidated", f"{summary['accounts_liquidated']:,}"),
        ("largest liquidation", usd(summary["largest_liquidation_usd"])),
        ("open interest before / after", f"{usd(summary['open_interest_before_usd'])} / "
                                         f"{usd(summary['open_interest_after_usd'])}"),
        ("price start / low", f"{summary['price_start']:,.2f} / {summary['price_min']:,.2f} USD"),
        ("max drawdown", fraction(summary["max_drawdown"])),
        ("without liquidations", fraction(summary["counterfactual_max_drawdown"])),
        ("amplification", "n/a" if amplification is None else f"{amplification:.2f} x"),
        ("insurance fund change", usd(summary["insurance_fund_change_usd"])),
        ("bad debt", usd(summary["bad_debt_usd"])),
        ("auto-deleveraged", f"{summary['adl_count']:,} positions, "
                             f"{usd(summary['adl_notional_usd'])}"),
        ("seed / scenario hash", f"{summary['seed']} / {summary['scenario_hash']}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(f"{len(written)} files in {directory}/ (open report.html)")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CascadesimInputError as error:
        print(f"cascadesim: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
