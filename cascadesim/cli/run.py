"""The bodies of ``cascadesim run``, ``liqprice``, ``schema`` and ``scenarios``.

Loaded only when one of these commands runs (see :mod:`cascadesim.cli.commands`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.formatting import format_fraction, format_price, format_usd
from cascadesim.cli.console import (
    DelayedProgress,
    deferred_interrupts,
    interrupted,
    report_interrupt,
    table_console,
)
from cascadesim.engine.compile_cache import record_compile_seconds
from cascadesim.events.modes import scenario_for_mode
from cascadesim.marketdata.exposure import breached_table, exposure_by_tier
from cascadesim.marketdata.positions_file import MAX_REPORTED, read_position_book
from cascadesim.model.calculator import liquidation_price
from cascadesim.model.inverse_calculator import MARGIN_MODES, inverse_liquidation_price
from cascadesim.model.market import CONTRACT_TYPES
from cascadesim.model.position_book import place_book
from cascadesim.model.resources import RunBudget
from cascadesim.report.assumptions import cap_notes
from cascadesim.report.headlines import asset_lines, ordered_groups, price_scope, run_headline
from cascadesim.report.output import (
    check_output_folder,
    load_plotting,
    summary_json,
    write_outputs,
)
from cascadesim.scenario.bundled import bundled_kind, bundled_scenarios, resolve_scenario
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate
from cascadesim.sweep.spec import load_sweep
from cascadesim.sweep.warmup import compile_notice, jit_disabled, warm_up


def liqprice_command(
    venue: str,
    side: str,
    entry: float,
    quantity: float,
    *,
    leverage: float | None,
    margin: float | None,
    mmr: float | None,
    maintenance_amount: float | None,
    max_leverage: float | None,
    asset: str,
    tick: float | None,
    json_output: bool,
    contract: str = "linear",
    margin_mode: str = "isolated",
    contract_size: float | None = None,
) -> None:
    """Body of ``cascadesim liqprice``: the figures as a table or one JSON object.

    A linear position is isolated (its margin backs it alone; a cross account's single
    position with the whole balance as margin is the same computation, so ``cross`` passes
    through); an inverse one goes to :mod:`cascadesim.model.inverse_calculator`.
    """
    if contract not in CONTRACT_TYPES:
        raise invalid("contract", contract, " or ".join(CONTRACT_TYPES))
    if margin_mode not in MARGIN_MODES:
        raise invalid("margin_mode", margin_mode, " or ".join(MARGIN_MODES))
    if contract == "inverse":
        if max_leverage is not None:
            raise invalid("max_leverage", max_leverage, "none for an inverse contract")
        inverse = inverse_liquidation_price(
            venue,
            side,
            entry,
            quantity,
            leverage=leverage,
            margin=margin,
            margin_mode=margin_mode,
            mmr=mmr,
            maintenance_amount=maintenance_amount,
            asset=asset,
            tick=tick,
            contract_size=contract_size,
        )
        if json_output:
            typer.echo(json.dumps(inverse.to_dict()))
        else:
            print_inverse_figures(inverse)
        return
    if contract_size is not None:
        raise invalid("contract_size", contract_size, "only with --contract inverse")
    figures = liquidation_price(
        venue,
        side,
        entry,
        quantity,
        leverage=leverage,
        margin=margin,
        mmr=mmr,
        maintenance_amount=maintenance_amount,
        max_leverage=max_leverage,
        asset=asset,
        tick=tick,
    )
    if json_output:
        typer.echo(json.dumps(figures.to_dict()))
        return
    print_margin_figures(figures)


EVENT_MODES = ("replay", "shock", "as-written")
EVENT_NOTES = {
    "replay": "cascadesim: {name} is an event scenario: run in replay mode, as `cascadesim "
    "validate` runs it (the observed index path imposed; spot impact and market factor off). "
    "Totals are the true ones; validate compares what the aggregators saw (--mode to change)",
    "shock": "cascadesim: {name} is an event scenario: run in shock mode, as `cascadesim "
    "validate --mode shock` runs it (only [event.trigger] imposed; the cascade, spot hedges "
    "and market factor make the rest). Totals are the true ones, not the aggregators' view",
    "as-written": "cascadesim: {name} is an event scenario run as written: its replayed index "
    "path is moved again by the spot impact and market factor it already contains, so the "
    "move and the totals overshoot the day (use --mode replay or shock to compare with it)",
}


def event_variant(scenario: Scenario, mode: str | None) -> tuple[Scenario, str | None]:
    """The scenario ``run`` simulates, and the event mode it is driven in (None: no event)."""
    if scenario.event is None:
        if mode is not None:
            raise invalid("--mode", mode, "only for event scenarios (a file with [event])")
        return scenario, None
    mode = scenario.event.mode if mode is None else mode
    if mode not in EVENT_MODES:
        raise invalid("--mode", mode, "replay, shock or as-written")
    if mode == "as-written":
        return scenario, mode
    return scenario_for_mode(scenario, mode), mode


def run_command(
    scenario: str | None,
    *,
    out: str | None,
    seed: int | None,
    json_output: bool,
    max_steps: int | None,
    time_budget: float | None,
    mode: str | None = None,
    positions: str | None = None,
) -> None:
    """Body of ``cascadesim run``: load, check, simulate with a progress bar, write, print.

    With ``positions`` (a CSV or Parquet book) the book's positions replace the synthetic
    population; its rows already below maintenance at the start are listed on stderr and in
    ``below_maintenance_at_start.csv``, and ``book_exposure.csv`` and the summary's ``book``
    give what the run did to the book's accounts by tier.

    An event scenario runs in its ``event.mode`` (or ``mode``) exactly as ``cascadesim
    validate`` drives it, and says so on stderr: run as written, its replayed path would be
    moved a second time by the spot impact and the market factor it already contains.
    """
    if seed is not None and seed < 0:
        raise CascadesimInputError(f"--seed = {seed}: an integer >= 0")
    if max_steps is not None and max_steps < 1:
        raise CascadesimInputError(f"--max-steps = {max_steps}: an integer >= 1")
    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise CascadesimInputError(f"--time-budget = {time_budget}: seconds, a finite number > 0")
    budget = RunBudget(max_steps=max_steps, time_budget_s=time_budget)
    directory, bar = None, None
    try:
        with deferred_interrupts() as check:
            loaded = Scenario.from_toml(resolve_scenario(scenario))
            driven, event_mode = event_variant(loaded, mode)
            directory = Path(out) if out is not None else Path("cascadesim-out") / loaded.name
            check_output_folder(directory, "--out")  # before a long run, not after it
            budget.check_steps(
                2 * driven.n_steps,
                f" ({loaded.n_steps:,} with liquidations "
                f"and {loaded.n_steps:,} without, for the "
                "counterfactual)",
            )
            check()
            setup = driven.build(seed=seed)  # validates everything before anything is written
            placement = None
            if positions is not None:
                placement = place_position_book(positions, setup, list(loaded.markets))
                setup = placement.setup
            check()
            if event_mode is not None:
                typer.echo(EVENT_NOTES[event_mode].format(name=loaded.name), err=True)
            # matplotlib imports while the engine's kernels load (about half a second saved).
            threading.Thread(target=load_plotting, name="cascadesim-plots", daemon=True).start()
            bar = DelayedProgress(Console(stderr=True))
            result = simulate_with_bar(setup, bar, budget, check)
            if event_mode is not None:
                result.provenance["event_mode"] = event_mode
            tables = {}
            if placement is not None and positions is not None:
                tables = book_tables(result, placement, list(loaded.markets), positions)
            written = write_with_bar(
                result, directory, loaded.to_toml_text(), bar, check, tables=tables
            )
    except (KeyboardInterrupt, SystemError) as error:
        if not interrupted(error):
            raise
        if bar is not None:
            bar.close()
        report_interrupt(
            "cascadesim: interrupted; nothing was written (outputs appear only when complete)"
        )
    except OSError as error:
        if bar is not None:
            bar.close()
        typer.echo(
            f"cascadesim: error: {directory}: cannot write outputs "
            f"({error.strerror or error}); nothing was written",
            err=True,
        )
        raise typer.Exit(code=2) from None
    finally:
        if bar is not None:
            bar.close()
    if json_output:
        typer.echo(summary_json(result.summary), nl=False)
        return
    assert directory is not None  # set before the run
    print_summary(table_console(), result.summary, loaded.name, directory, written)


def warmup_command(json_output: bool) -> None:
    """Body of ``cascadesim warmup``: compile (or load) every kernel, say where and how long."""
    notice = compile_notice()
    if notice is not None and not json_output:
        typer.echo(f"cascadesim: {notice}", err=True)
    report = warm_up()
    if json_output:
        typer.echo(json.dumps(report._asdict()))
        return
    if jit_disabled():
        typer.echo(
            f"engine run as Python in {report.seconds:.1f} s (NUMBA_DISABLE_JIT is set: "
            f"nothing compiled); cache: {report.cache_dir}"
        )
        return
    state = "loaded from the cache" if report.was_cached else "compiled"
    typer.echo(f"engine {state} in {report.seconds:.1f} s; cache: {report.cache_dir}")


def schema_command() -> None:
    """Body of ``cascadesim schema``."""
    typer.echo(json.dumps(Scenario.json_schema(), indent=2))


SCENARIO_KINDS = (
    ("teaching and stress scenarios (cascadesim run NAME)", None),
    ("real days of the event library (cascadesim run NAME, cascadesim validate NAME)", "events"),
    ("sweeps (cascadesim sweep NAME)", "sweeps"),
)


def scenarios_command() -> None:
    """Body of ``cascadesim scenarios``: the bundled files by kind, a line each."""
    for heading, kind in SCENARIO_KINDS:
        files = bundled_scenarios() if kind is None else bundled_kind(kind)
        typer.echo(f"{heading}:")
        width = max((len(name) for name in files), default=0)
        for name, path in files.items():
            typer.echo(f"  {name:<{width}}  {describe_file(path, kind)}")
        typer.echo("")
    profiles = ", ".join(bundled_kind("profiles"))
    typer.echo(f'population profiles (profile = "NAME" in a scenario): {profiles}')


def describe_file(path: Path, kind: str | None) -> str:
    """A bundled file's one-line description (a sweep's from its own table)."""
    try:
        if kind == "sweeps":
            return load_sweep(path).spec.description
        return Scenario.from_toml(path).description
    except CascadesimInputError as error:
        return f"(invalid: {error})"


def print_inverse_figures(figures) -> None:
    """Small aligned table of an inverse position's figures (``InverseMarginFigures``)."""
    coin = figures.asset
    rows = [
        ("venue", f"{figures.venue} (inverse, {figures.margin_mode})"),
        (
            "position",
            f"{figures.side} {figures.contracts:,.6g} contracts x "
            f"{figures.contract_size_usd:g} USD = {figures.face_usd:,.2f} USD "
            f"at {figures.entry_price:,.2f}",
        ),
        ("value at entry", f"{figures.position_value_coin:.8g} {coin}"),
        ("margin", f"{figures.margin_coin:.8g} {coin}"),
        (
            "maintenance at entry",
            f"{figures.maintenance_margin_coin:.8g} {coin} "
            f"(tier {figures.tier + 1} of {figures.tier_count})",
        ),
        ("liquidation price", calculator_price(figures.liquidation_price)),
        ("bankruptcy price", calculator_price(figures.bankruptcy_price)),
        ("convention", figures.convention),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label:<{width}}  {value}")


def calculator_price(price: float) -> str:
    """A USD price, or 'never' where none exists (a short no rise can liquidate)."""
    return "never" if not math.isfinite(price) else f"{price:,.2f} USD"


def print_margin_figures(figures) -> None:
    """Small aligned table of a :class:`cascadesim.model.calculator.MarginFigures`."""
    table = Table(
        title=f"{figures.venue} {figures.asset} {figures.side} "
        f"{figures.quantity:g} @ {figures.entry_price:,.2f} USD",
        show_header=False,
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("liquidation price", f"{figures.liquidation_price:,.2f} USD")
    table.add_row("bankruptcy price", f"{figures.bankruptcy_price:,.2f} USD")
    table.add_row("initial margin", f"{figures.initial_margin:,.2f} USD")
    table.add_row("maintenance margin", f"{figures.maintenance_margin:,.2f} USD (at entry)")
    table.add_row("tier", f"{figures.tier + 1} of {figures.tier_count} (at liquidation)")
    table.add_row("convention", figures.convention)
    table_console().print(table)


def simulate_with_bar(setup, bar: DelayedProgress, budget=None, check=None):
    """Simulate with the bar; a run that must compile the engine first says so and how long."""
    notice = compile_notice()
    if notice is not None:
        bar.update(notice)
        if not bar.console.is_terminal:  # the bar shows only on a terminal
            typer.echo(f"cascadesim: {notice}", err=True)

    def steps_done(done: int, total: int) -> None:
        bar.update("simulating", done, total)
        if check is not None:
            check()

    started = time.perf_counter()
    result = simulate(setup, progress=steps_done, budget=budget)
    if notice is not None:
        record_compile_seconds(time.perf_counter() - started)
    return result


def place_position_book(path: str, setup, market_names: list[str]):
    """The setup with a book's positions as its population; breached rows said on stderr."""
    book = read_position_book(path, market_names, setup.markets)
    placement = place_book(setup, book, replace=True)
    breached = placement.breached
    if len(breached):
        typer.echo(
            f"cascadesim: {len(breached):,} of {len(book):,} positions of {book.source} are at "
            "or below maintenance margin at the start price and are not run (listed in "
            "below_maintenance_at_start.csv):",
            err=True,
        )
        names = breached.account_names
        for k in range(min(len(breached), MAX_REPORTED)):
            market = market_names[int(breached.market[k])]
            side = "long" if breached.side[k] > 0 else "short"
            typer.echo(
                f"  {book.source}:{int(breached.row[k])}: {names[int(breached.account[k])]} "
                f"{market} {side} {breached.quantity[k]:g} at {breached.entry_price[k]:g}, "
                f"margin {breached.margin[k]:g}",
                err=True,
            )
        if len(breached) > MAX_REPORTED:
            typer.echo(f"  ... and {len(breached) - MAX_REPORTED:,} more", err=True)
    return placement


def book_tables(result, placement, market_names: list[str], path: str) -> dict:
    """The book's figures into the summary (``book``) and its two tables into the outputs."""
    exposure = exposure_by_tier(result, placement)
    breached = breached_table(placement, market_names)
    placed = placement.placed
    result.summary["book"] = {
        "file": str(path),
        "positions_run": len(placed),
        "accounts": int(np.unique(placed.account).size),
        "below_maintenance_at_start": len(breached),
        "by_account_tier": exposure.to_dict(orient="records"),
    }
    return {
        "book_exposure.csv": exposure,
        "below_maintenance_at_start.csv": breached,
    }


def write_with_bar(
    result, directory: Path, scenario_toml: str, bar: DelayedProgress, check=None, tables=None
):
    stages = ["summary", "timeline", "liquidations", "plots", "report", "explorer"]

    def on_stage(name: str) -> None:
        bar.update(f"writing {name}", stages.index(name), len(stages))
        if check is not None:
            check()

    return write_outputs(result, directory, scenario_toml, on_stage=on_stage, tables=tables)


def print_summary(console, summary: dict, name: str, directory: Path, written) -> None:
    """The headline figures of a run as a rich table, then where the files are."""

    def usd(value: float | None) -> str:
        return format_usd(value, digits=2)

    def fraction(value: float | None) -> str:
        return format_fraction(value, digits=2)

    amplification = summary.get("amplification")
    n_markets = len(summary["markets"])
    scope = "" if n_markets == 1 else f" (all {n_markets} markets)"
    where = price_scope(summary)
    start = summary["price_start"]
    table = Table(
        title=f"cascadesim run: {name}" + (f", {where}" if n_markets == 1 else scope),
        show_header=False,
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("liquidated, longs" + scope, usd(summary["liquidated_long_usd"])),
        ("liquidated, shorts" + scope, usd(summary["liquidated_short_usd"])),
        ("liquidated, total" + scope, usd(summary["liquidated_total_usd"])),
        ("accounts liquidated" + scope, f"{summary['accounts_liquidated']:,}"),
        ("largest liquidation" + scope, usd(summary["largest_liquidation_usd"])),
        (
            "open interest before / after" + scope,
            f"{usd(summary['open_interest_before_usd'])} / "
            f"{usd(summary['open_interest_after_usd'])}",
        ),
        ("open interest change (contracts)" + scope, fraction(summary["open_interest_change"])),
        (
            f"price start / low ({where})",
            f"{format_price(start)} / {format_price(summary['price_min'], start)} USD",
        ),
        (f"max drawdown ({summary['price_market']})", fraction(summary["max_drawdown"])),
        (
            f"without liquidations ({summary['price_market']})",
            fraction(summary["counterfactual_max_drawdown"]),
        ),
        (
            f"amplification ({summary['price_market']})",
            "n/a" if amplification is None else f"{amplification:.2f} x",
        ),
        ("insurance fund change" + scope, usd(summary["insurance_fund_change_usd"])),
        ("bad debt" + scope, usd(summary["bad_debt_usd"])),
        (
            "auto-deleveraged" + scope,
            f"{summary['adl_count']:,} positions, {usd(summary['adl_notional_usd'])}",
        ),
        ("seed / scenario hash", f"{summary['seed']} / {summary['scenario_hash']}"),
    ]
    collateral = summary.get("collateral")
    if collateral is not None:
        rows[4:4] = [
            (
                "collateral accounts liquidated",
                f"{collateral['accounts_liquidated']:,} of {collateral['accounts']:,} "
                f"({collateral['accounts_liquidated_without_loss']:,} with no loss on the index)",
            )
        ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(run_headline(summary))
    for line in asset_lines(summary):
        console.print(f"  {line}")
    for key, title in (("by_asset", "asset"), ("by_venue", "venue")):
        if len(summary[key]) > 1:
            console.print(breakdown_table(summary[key], title))
    if "book" in summary:
        console.print(book_table(summary["book"]))
    for note in summary.get("estimates", []):
        console.print(f"estimate: {note}")
    for note in cap_notes(summary):
        console.print(f"warning: {note}")
    snapshot = summary.get("snapshot")
    if snapshot:
        console.print(
            f"inputs: {snapshot['data']} market data of {snapshot['taken_utc']}: "
            f"{len(snapshot['sources'])} values read (venue, endpoint, time in summary.json), "
            f"{len(snapshot['estimates'])} estimated"
        )
        for path, reason in snapshot["estimates"].items():
            console.print(f"estimate: {path}: {reason}")
    console.print(f"{len(written)} files in {directory}/ (open report.html)")


def breakdown_table(groups: dict, kind: str) -> Table:
    """One row per venue or asset: liquidations by side, accounts, fund, ADL, bad debt."""
    table = Table(title=f"by {kind}")
    table.add_column(kind)
    for column in ("longs", "shorts", "accounts", "fund change", "ADL", "bad debt", "move"):
        table.add_column(column, justify="right")
    for group_name in ordered_groups(groups):
        group = groups[group_name]
        fund = group["insurance_fund_change_usd"]
        table.add_row(
            group_name,
            format_usd(group["liquidated_long_usd"]),
            format_usd(group["liquidated_short_usd"]),
            f"{group['accounts_liquidated']:,}",
            "shared" if fund is None else format_usd(fund),
            f"{group['adl_count']:,}, {format_usd(group['adl_notional_usd'])}",
            format_usd(group["bad_debt_usd"]),
            f"-{format_fraction(group['max_drawdown'])} ({group['price_market']})",
        )
    return table


def book_table(book: dict) -> Table:
    """The position book's accounts by tier: what the run liquidated and who paid."""
    table = Table(
        title=f"{Path(book['file']).name}: {book['positions_run']:,} positions run, "
        f"{book['below_maintenance_at_start']:,} below maintenance at the start"
    )
    for column in ("tier (USD)", "accounts", "liquidated", "liq. accts", "shortfall", "bad debt"):
        table.add_column(column, justify="left" if column == "tier (USD)" else "right")
    table.add_column("ADL", justify="right")
    for row in book["by_account_tier"]:
        table.add_row(
            row["tier"],
            f"{row['accounts']:,}",
            format_usd(row["liquidated_long_usd"] + row["liquidated_short_usd"]),
            f"{row['accounts_liquidated']:,}",
            format_usd(row["shortfall_usd"]),
            format_usd(row["bad_debt_usd"]),
            f"{row['adl_closes']:,}",
        )
    return table
