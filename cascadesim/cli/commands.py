"""The ``cascadesim`` command line.

Heavy imports (numba, pandas, matplotlib) happen inside the commands so that ``--help``
answers at once. Bad input raises :class:`cascadesim._util.errors.CascadesimInputError`, which
``main`` prints as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from cascadesim._util.errors import CascadesimInputError
from cascadesim.cli.console import (
    describe_os_error,
    report_command_line_error,
)

# The venue profiles (cascadesim.model.venues.VENUES), spelled out so that --help imports nothing.
VENUE_HELP = "binance, bybit, okx, hyperliquid, dydx, bitmex, htx, bitget, gate or deribit."

app = typer.Typer(
    name="cascadesim",
    help="Simulate liquidation cascades in crypto perpetual-futures markets.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _commands() -> None:
    """Simulate liquidation cascades in crypto perpetual-futures markets."""
    # Typer runs a lone command without its name; a callback keeps `cascadesim <command>`.


@app.command()
def liqprice(
    venue: str = typer.Option(..., help=VENUE_HELP),
    side: str = typer.Option(..., help="long or short."),
    entry: float = typer.Option(..., help="Entry price, USD per base unit."),
    quantity: float = typer.Option(
        ..., help="Position size: base units (linear), contracts (inverse)."
    ),
    leverage: float | None = typer.Option(None, help="Initial leverage (or give --margin)."),
    margin: float | None = typer.Option(
        None,
        help="Margin (or give --leverage): USD (linear), the coin (inverse); the isolated "
        "margin, or the cross wallet balance with --margin-mode cross.",
    ),
    contract: str = typer.Option(
        "linear", help="linear (USDT/USDC-margined) or inverse (coin-margined)."
    ),
    margin_mode: str = typer.Option(
        "isolated",
        help="isolated, or cross: one position backed by the whole wallet balance.",
    ),
    contract_size: float | None = typer.Option(
        None, help="Inverse: USD per contract; default the venue's (Binance BTC 100, Bybit 1)."
    ),
    mmr: float | None = typer.Option(None, help="Maintenance margin rate; replaces the tiers."),
    maintenance_amount: float | None = typer.Option(
        None, help="USD deducted from maintenance margin (with --mmr)."
    ),
    max_leverage: float | None = typer.Option(
        None, help="Hyperliquid: market max leverage, MMR = 1/(2 x max leverage)."
    ),
    asset: str = typer.Option("BTC", help="Base asset; picks the venue's tier table."),
    tick: float | None = typer.Option(
        None, help="Price tick (USD) to round to; default: the venue's where known."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Liquidation and bankruptcy price of a linear or inverse perpetual position."""
    from cascadesim.cli.run import liqprice_command  # lazy: keeps --help instant

    liqprice_command(
        venue,
        side,
        entry,
        quantity,
        leverage=leverage,
        margin=margin,
        contract=contract,
        margin_mode=margin_mode,
        contract_size=contract_size,
        mmr=mmr,
        maintenance_amount=maintenance_amount,
        max_leverage=max_leverage,
        asset=asset,
        tick=tick,
        json_output=json_output,
    )


@app.command()
def tiers(
    venue: str = typer.Argument(..., help=VENUE_HELP),
    asset: str = typer.Argument(
        ..., help="BTC, ETH, SOL, XRP or DOGE; 'other' for the fallback other assets get."
    ),
    price: float | None = typer.Option(
        None,
        "--price",
        help="USD per unit of the asset at which OKX's and Deribit's tiers (set by position "
        "size) are shown; default a round reference price. Other venues tier in USD and "
        "ignore it.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A venue profile's margin tier table, its source and the liquidation fee."""
    from cascadesim.cli.tiers import tiers_command  # lazy: keeps --help instant

    tiers_command(venue, asset, price=price, json_output=json_output)


@app.command()
def run(
    scenario: str | None = typer.Argument(
        None,
        help="Scenario TOML file, or the name of a bundled scenario (see `cascadesim "
        "scenarios`); default: the bundled default.",
    ),
    out: str | None = typer.Option(
        None, "--out", help="Output folder; default ./cascadesim-out/<scenario name>/."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed replacing the scenario's."),
    json_output: bool = typer.Option(
        False, "--json", help="Print only the summary, as one JSON object, on stdout."
    ),
    max_steps: int | None = typer.Option(
        None,
        "--max-steps",
        help="Engine steps the run may take, counting the "
        "liquidation-free counterfactual; a scenario that needs more "
        "is refused before it starts.",
    ),
    time_budget: float | None = typer.Option(
        None,
        "--time-budget",
        help="Seconds the simulation may take; past them the run "
        "stops between chunks of steps and writes nothing.",
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="Event scenarios only: replay or shock, driven as `cascadesim validate` drives "
        "them, or as-written (the file's \\[shock] with every coupling on); default: the "
        "file's event.mode.",
    ),
    positions: str | None = typer.Option(
        None,
        "--positions",
        help="A position book (.csv or .parquet: account, market, side, quantity, "
        "entry_price, margin; optional margin_mode, leverage, collateral) that replaces the "
        "synthetic population: an exchange's own positions.",
    ),
) -> None:
    """Run a scenario; write summary, timeline, liquidations, plots and report.html."""
    from cascadesim.cli.run import run_command  # lazy: keeps --help instant

    run_command(
        scenario,
        out=out,
        seed=seed,
        json_output=json_output,
        max_steps=max_steps,
        time_budget=time_budget,
        mode=mode,
        positions=positions,
    )


@app.command()
def snapshot(
    out: str = typer.Option(..., "--out", help="The scenario file to write (.toml)."),
    venues: str = typer.Option(
        "binance,bybit,okx,hyperliquid",
        "--venues",
        help="Venues read live through ccxt (pip install 'cascadesim[live]').",
    ),
    assets: str = typer.Option("BTC,ETH,SOL", "--assets", help="Assets, comma-separated."),
    from_files: str | None = typer.Option(
        None,
        "--from-files",
        help="A folder of the exchanges' downloaded data files (Binance metrics, bookDepth, "
        "klines, mark and index klines, fundingRate) instead of the live APIs; with --date.",
    ),
    date: str | None = typer.Option(
        None, "--date", help="With --from-files: the day (YYYY-MM-DD, UTC) the scenario starts."
    ),
    addresses: str | None = typer.Option(
        None,
        "--addresses",
        help="A file of Hyperliquid addresses, one per line: their published positions are "
        "added as named accounts.",
    ),
    drop: float = typer.Option(0.05, "--drop", help="Index drop of the stress (0.05 = 5 %)."),
    at: float = typer.Option(300.0, "--at", help="Seconds before the drop begins."),
    ramp: float = typer.Option(300.0, "--ramp", help="Seconds over which the index falls."),
    duration: float = typer.Option(3600.0, "--duration", help="Simulated seconds."),
    name: str | None = typer.Option(None, "--name", help="Scenario name; default from the time."),
    history_days: int = typer.Option(
        30, "--history-days", help="Days of candles and open-interest history read."
    ),
) -> None:
    """Write a scenario of today's market (or a past day's start) from venue data."""
    from cascadesim.cli.snapshot import snapshot_command  # lazy: keeps --help instant

    snapshot_command(
        venues=venues,
        assets=assets,
        out=out,
        from_files=from_files,
        date=date,
        addresses=addresses,
        drop=drop,
        at_s=at,
        ramp_s=ramp,
        duration_s=duration,
        name=name,
        history_days=history_days,
    )


@app.command()
def explain(
    target: str | None = typer.Argument(
        None,
        help="A result folder of `cascadesim run` (run again from its scenario.toml and "
        "seed), or a scenario file or bundled name; default: the bundled default.",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="One JSON object: the numbered story and the waves as a list."
    ),
) -> None:
    """The cascade as a short numbered story: shock, first liquidations, waves, why it stopped."""
    from cascadesim.cli.explain import explain_command  # lazy: keeps --help instant

    explain_command(target, json_output)


@app.command()
def explore(
    target: str = typer.Argument(
        ..., help="A result folder of `cascadesim run`, or a scenario file or bundled name."
    ),
    out: str | None = typer.Option(
        None, "--out", help="The page to write; default explorer.html in the result folder."
    ),
) -> None:
    """Write explorer.html: the run played second by second (opens offline in a browser)."""
    from cascadesim.cli.explain import explore_command  # lazy: keeps --help instant

    explore_command(target, out)


@app.command()
def sweep(
    sweep_file: str = typer.Argument(
        ...,
        help="Sweep TOML file, or the name of a bundled sweep (cascadesim scenarios lists them).",
    ),
    paths: int | None = typer.Option(
        None, "--paths", help="Paths per design point, replacing the sweep file's."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Processes on this machine, or the LocalCluster's workers with --scheduler local.",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="'local' (a Dask LocalCluster) or the address of a Dask "
        "scheduler, e.g. tcp://10.0.0.5:8786.",
    ),
    out: str | None = typer.Option(
        None,
        "--out",
        help="Output folder; default ./cascadesim-out/<sweep name>/. A re-run "
        "into the same folder resumes.",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print only a JSON object (points, files) on stdout."
    ),
) -> None:
    """Monte Carlo ensemble and parameter sweep: paths, points, plots and report.html."""
    from cascadesim.cli.sweep import sweep_command  # lazy: keeps --help instant

    sweep_command(
        sweep_file,
        paths=paths,
        workers=workers,
        scheduler=scheduler,
        out=out,
        json_output=json_output,
    )


@app.command()
def stress(
    scenario: str | None = typer.Argument(
        None, help="Scenario TOML file or bundled name: today's market; default: default."
    ),
    library: str | None = typer.Option(
        None,
        "--library",
        help="A folder of event TOML files (index_path shocks); default: the bundled events.",
    ),
    window: str = typer.Option(
        "full",
        "--window",
        help="full (each day's whole path, usually 86,400 s) or compressed (the day squeezed "
        "into the scenario's duration_s).",
    ),
    workers: int = typer.Option(
        1, "--workers", help="Processes sharing the days (the same table as one)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="'local' (a Dask LocalCluster) or a Dask scheduler address."
    ),
    out: str | None = typer.Option(
        None, "--out", help="Output folder; default ./cascadesim-out/<scenario>-stress/."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print only the table, as a JSON list of rows."
    ),
) -> None:
    """Historical stress: what each real day of the event library would flush today."""
    from cascadesim.cli.stress import stress_command  # lazy: keeps --help instant

    stress_command(
        scenario,
        library=library,
        window=window,
        workers=workers,
        scheduler=scheduler,
        out=out,
        json_output=json_output,
    )


@app.command()
def tune(
    sweep_file: str = typer.Argument(
        ..., help="Sweep TOML file or bundled sweep name: its design parameters are searched."
    ),
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help='A constraint on a points-table figure, e.g. "adl_probability <= 0.01"; '
            "repeat for several.",
        ),
    ] = None,
    prefer: Annotated[
        list[str] | None,
        typer.Option(
            "--prefer",
            help="PARAM=low|high: the less restrictive end of a parameter the command cannot "
            "tell (insurance funds and mmr_scale: low; leverage.max: high).",
        ),
    ] = None,
    trials: int = typer.Option(40, "--trials", help="Candidate points evaluated in all."),
    paths: int | None = typer.Option(
        None, "--paths", help="Paths per candidate, replacing the sweep file's."
    ),
    workers: int = typer.Option(1, "--workers", help="Processes on this machine."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="'local' (a Dask LocalCluster) or a Dask scheduler address."
    ),
    out: str | None = typer.Option(
        None, "--out", help="Output folder; default ./cascadesim-out/<sweep>-tune/."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print only answer.json."),
) -> None:
    """Least restrictive swept parameters that meet the targets (exit 1 if none does)."""
    from cascadesim.cli.tune import tune_command  # lazy: keeps --help instant

    tune_command(
        sweep_file,
        targets=target or [],
        prefer=prefer or [],
        trials=trials,
        paths=paths,
        workers=workers,
        scheduler=scheduler,
        out=out,
        json_output=json_output,
    )


@app.command()
def validate(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help="Event scenario files or bundled event names; default: all of them."),
    ] = None,
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="replay (impose the observed path), shock (only the trigger) "
        "or both; default: each event's event.mode.",
    ),
    count: str = typer.Option(
        "aggregator",
        "--count",
        help="aggregator (USD figures as the public streams show them) or true.",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed replacing the scenarios'."),
    seeds: int = typer.Option(
        1,
        "--seeds",
        help="Populations per event (seed, seed+1, ...): figures are medians, "
        "with the pass rate of each.",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON document: a list, one object per event run."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Processes sharing the event runs (the same figures as one); default: one per "
        "core, at most one per run.",
    ),
) -> None:
    """Run the event library; simulated against reported figures (exit 1 if any fails)."""
    from cascadesim.cli.validate import validate_command  # lazy: keeps --help instant

    validate_command(
        scenarios,
        mode=mode,
        count=count,
        seed=seed,
        json_output=json_output,
        seeds=seeds,
        workers=workers,
    )


@app.command()
def calibrate(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help="Event scenario files or names; default: the whole event library."),
    ] = None,
    max_evaluations: int = typer.Option(
        40,
        "--max-evaluations",
        help="Most library runs the fit may use (~25 s each); it stops earlier once its "
        "tolerances are met.",
    ),
    out: str | None = typer.Option(
        None,
        "--out",
        help="Profile file to write; default ./calibrated.toml in the current folder. Never "
        "a bundled profile: calibrate refuses to write into the installed package. Scenarios "
        'adopt the file with profile = "<path>".',
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Processes sharing each evaluation's event runs (the same fit as one); "
        "default: one per core, at most one per event.",
    ),
    cross_validate: bool = typer.Option(
        False,
        "--cross-validate",
        help="Fit the population model's and the opening flow's global parameters to the "
        "library on a response surface, refit with each event left out, and print the "
        "in-sample and leave-one-out tables; writes a library profile (--out, default "
        "./library.toml).",
    ),
    design_points: int = typer.Option(
        4, "--design-points", help="--cross-validate: Sobol points besides the start."
    ),
    seeds: int = typer.Option(
        2, "--seeds", help="--cross-validate: populations at the start point (seed spread)."
    ),
    report: str | None = typer.Option(
        None, "--report", help="--cross-validate: write the whole record as JSON here."
    ),
    markdown: str | None = typer.Option(
        None, "--markdown", help="--cross-validate: write the tables as Markdown here."
    ),
    runs_cache: str | None = typer.Option(
        None,
        "--runs-cache",
        help="--cross-validate: keep every event run in this JSON file and reuse the runs "
        "it holds (an interrupted fit resumes).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="--cross-validate: run the events on Dask: 'local' (a LocalCluster of "
        "--workers processes) or a scheduler address (tcp://host:8786).",
    ),
) -> None:
    """Fit the library's global parameters to the event library (see --cross-validate)."""
    if cross_validate:
        # lazy: keeps --help instant
        from cascadesim.cli.cross_validate import cross_validate_command
        from cascadesim.cli.validate import resolve_events  # lazy: keeps --help instant

        cross_validate_command(
            resolve_events(scenarios),
            design_points=design_points,
            seeds=seeds,
            out=out,
            report_path=report,
            markdown_path=markdown,
            runs_cache=runs_cache,
            json_output=json_output,
            workers=workers,
            scheduler=scheduler,
        )
        return
    from cascadesim.cli.validate import calibrate_command  # lazy: keeps --help instant

    calibrate_command(
        scenarios,
        max_evaluations=max_evaluations,
        out=out,
        json_output=json_output,
        workers=workers,
    )


@app.command()
def warmup(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Compile every engine kernel ahead of time (once per install; a CI image or a Dask
    worker can call it), or load them from the cache if compiled before."""
    from cascadesim.cli.run import warmup_command  # lazy: keeps --help instant

    warmup_command(json_output)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    from cascadesim.cli.run import schema_command  # lazy: keeps --help instant

    schema_command()


@app.command()
def scenarios() -> None:
    """List the bundled scenarios, one line each: name and description."""
    from cascadesim.cli.run import scenarios_command  # lazy: keeps --help instant

    scenarios_command()


def stop_like_ctrl_c() -> None:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, until a command defers both."""

    def handler(signal_number, frame) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding application): leave it alone
        pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure the user can cause is one line, exit 2.

    Click's usage errors (an unknown option, a value of the wrong type) would be a framed
    block of several lines; they are printed as one line here, like input errors. Ctrl-C
    outside a command's own handling prints one line and exits with 130, and so does a
    SIGTERM that arrives before a command installs its own handling (while the engine's
    modules are still being imported, say).
    """
    stop_like_ctrl_c()
    try:
        code = app(args=argv, prog_name="cascadesim", standalone_mode=False)
    except CascadesimInputError as error:
        for line in str(error).splitlines() or [""]:  # a position book: one line per bad row
            print(f"cascadesim: error: {line}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("cascadesim: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as error:  # typer's public base of its command-line errors
        sys.exit(report_command_line_error(error))
    except OSError as error:
        # The file system refused (a name too long, a folder that vanished, a full disk):
        # the environment, not a bug, so one line as for bad input.
        print(f"cascadesim: error: {describe_os_error(error)}", file=sys.stderr)
        sys.exit(2)
    if code == 130:  # typer turned a Ctrl-C outside a command's own handling into 130
        print("cascadesim: interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
