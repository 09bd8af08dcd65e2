"""The ``cascadesim`` command line.

Heavy imports (numba, pandas, matplotlib) happen inside the commands so that ``--help``
answers at once. Bad input raises :class:`cascadesim.errors.CascadesimInputError`, which
``main`` prints as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from cascadesim.errors import CascadesimInputError, one_line

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
    max_steps: int | None = typer.Option(
        None, "--max-steps", help="Engine steps the run may take, counting the "
                                  "liquidation-free counterfactual; a scenario that needs more "
                                  "is refused before it starts."),
    time_budget: float | None = typer.Option(
        None, "--time-budget", help="Seconds the simulation may take; past them the run "
                                    "stops between chunks of steps and writes nothing."),
) -> None:
    """Run a scenario; write summary, timeline, liquidations, plots and report.html."""
    from rich.console import Console

    from cascadesim.output import check_output_folder
    from cascadesim.resources import RunBudget
    from cascadesim.scenario import Scenario
    from cascadesim.scenario_io import resolve_scenario

    if seed is not None and seed < 0:
        raise CascadesimInputError(f"--seed = {seed}: an integer >= 0")
    if max_steps is not None and max_steps < 1:
        raise CascadesimInputError(f"--max-steps = {max_steps}: an integer >= 1")
    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise CascadesimInputError(f"--time-budget = {time_budget}: seconds, a finite number > 0")
    budget = RunBudget(max_steps=max_steps, time_budget_s=time_budget)
    directory, bar = None, None
    try:
        with _deferred_interrupts() as check:
            loaded = Scenario.from_toml(resolve_scenario(scenario))
            directory = Path(out) if out is not None else Path("cascadesim-out") / loaded.name
            check_output_folder(directory, "--out")  # before a long run, not after it
            budget.check_steps(2 * loaded.n_steps, f" ({loaded.n_steps:,} with liquidations "
                                                   f"and {loaded.n_steps:,} without, for the "
                                                   "counterfactual)")
            check()
            setup = loaded.build(seed=seed)  # validates everything before anything is written
            check()
            bar = _DelayedProgress(Console(stderr=True))
            result = _simulate_with_bar(setup, bar, budget, check)
            written = _write_with_bar(result, directory, loaded.to_toml_text(), bar, check)
    except (KeyboardInterrupt, SystemError) as error:
        if not interrupted(error):
            raise
        if bar is not None:
            bar.close()
        report_interrupt("cascadesim: interrupted; nothing was written (outputs appear only "
                         "when complete)")
    except OSError as error:
        if bar is not None:
            bar.close()
        typer.echo(f"cascadesim: error: {directory}: cannot write outputs "
                   f"({error.strerror or error}); nothing was written", err=True)
        raise typer.Exit(code=2) from None
    finally:
        if bar is not None:
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
def validate(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Event scenario files or names (scenarios/events/); default: all.")] = None,
    mode: str | None = typer.Option(
        None, "--mode", help="replay (impose the observed path), shock (only the trigger) "
                             "or both; default: each event's event.mode."),
    count: str = typer.Option(
        "aggregator", "--count", help="aggregator (USD figures as the public streams show "
                                      "them) or true."),
    seed: int | None = typer.Option(None, "--seed", help="Seed replacing the scenarios'."),
    seeds: int = typer.Option(
        1, "--seeds", help="Populations per event (seed, seed+1, ...): figures are medians, "
                           "with the pass rate of each."),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON document: a list, one object per event run."),
) -> None:
    """Run the event library; simulated against reported figures (exit 1 if any fails)."""
    from cascadesim.validate_cli import validate_command

    validate_command(scenarios, mode=mode, count=count, seed=seed, json_output=json_output,
                     seeds=seeds)


@app.command()
def calibrate(
    scenarios: Annotated[list[str] | None, typer.Argument(
        help="Event scenario files or names; default: the whole event library.")] = None,
    max_evaluations: int = typer.Option(
        40, "--max-evaluations", help="Library runs the fit may use (~25 s each)."),
    out: str | None = typer.Option(
        None, "--out", help="Profile file to write; default scenarios/profiles/calibrated.toml."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fit leverage mix, size tail, entry spread, withdrawal to the event library."""
    from cascadesim.validate_cli import calibrate_command

    calibrate_command(scenarios, max_evaluations=max_evaluations, out=out,
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


def report_interrupt(message: str) -> None:
    """Print the one line a command gives when Ctrl-C (or a kill) stops it, and exit 130.

    SystemExit, unlike ``typer.Exit``, passes through typer untouched, so ``main`` can tell
    this from a Ctrl-C that typer caught itself (which it reports with a line of its own).
    """
    typer.echo(message, err=True)
    sys.exit(130)


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is, or was caused by, Ctrl-C.

    A KeyboardInterrupt raised while a jitted kernel runs comes out of numba's dispatcher as
    ``SystemError: ... returned a result with an exception set``, chained to it.
    """
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def _deferred_interrupts():
    """Ctrl-C and SIGTERM stop the run at the next check instead of inside a kernel.

    Yields a ``check()`` that raises KeyboardInterrupt once a signal has arrived; the run
    calls it between chunks of steps and between output files. A second Ctrl-C stops at
    once. The previous handlers come back afterwards.
    """
    pending = []

    def handler(signal_number, frame) -> None:
        if pending:  # asked twice: do not wait for the next check
            raise KeyboardInterrupt
        pending.append(signal_number)

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    try:
        previous = {number: signal.signal(number, handler)
                    for number in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield check
        return
    try:
        yield check
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _simulate_with_bar(setup, bar: _DelayedProgress, budget=None, check=None):
    from cascadesim.simulation import simulate

    def steps_done(done: int, total: int) -> None:
        bar.update("simulating", done, total)
        if check is not None:
            check()

    return simulate(setup, progress=steps_done, budget=budget)


def _write_with_bar(result, directory: Path, scenario_toml: str, bar: _DelayedProgress,
                    check=None):
    from cascadesim.output import write_outputs

    stages = ["summary", "timeline", "liquidations", "plots", "report"]

    def on_stage(name: str) -> None:
        bar.update(f"writing {name}", stages.index(name), len(stages))
        if check is not None:
            check()

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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure the user can cause is one line, exit 2.

    Click's usage errors (an unknown option, a value of the wrong type) would be a framed
    block of several lines; they are printed as one line here, like input errors. Ctrl-C
    outside a command's own handling prints one line and exits with 130.
    """
    click = _click_exceptions()
    try:
        code = app(args=argv, prog_name="cascadesim", standalone_mode=False)
    except CascadesimInputError as error:
        print(f"cascadesim: error: {error}", file=sys.stderr)
        sys.exit(2)
    except click.NoArgsIsHelpError as error:
        print(error.ctx.get_help() if error.ctx else error.format_message(), file=sys.stderr)
        sys.exit(2)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "cascadesim"
        print(f"{command}: error: {one_line(error.format_message())} (see {command} --help)",
              file=sys.stderr)
        sys.exit(2)
    except click.ClickException as error:
        print(f"cascadesim: error: {one_line(error.format_message())}", file=sys.stderr)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("cascadesim: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as error:
        # The file system refused (a name too long, a folder that vanished, a full disk):
        # the environment, not a bug, so one line as for bad input.
        print(f"cascadesim: error: {describe_os_error(error)}", file=sys.stderr)
        sys.exit(2)
    if code == 130:  # typer turned a Ctrl-C outside a command's own handling into 130
        print("cascadesim: interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def describe_os_error(error: OSError) -> str:
    """``'<file>': <reason>`` on one line, a long file name shortened."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return one_line(reason)
    name = str(error.filename)
    if len(name) > 80:
        name = name[:38] + "..." + name[-38:]
    return one_line(f"'{name}': {reason}")


def _click_exceptions():
    """The module of the click exceptions typer raises: recent typer vendors click as
    ``typer._click`` (its classes are not click's), older typer uses click itself."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


if __name__ == "__main__":
    main()
