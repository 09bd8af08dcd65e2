"""The bodies of ``cascadesim explain`` and ``cascadesim explore``.

Both take a scenario (run here, nothing written) or a result folder of ``cascadesim run``,
which is run again from its ``scenario.toml`` and seed (the engine is deterministic: the
same seed gives the same run, checked against the folder's ``summary.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import write_atomically
from cascadesim.events.modes import scenario_for_mode
from cascadesim.marketdata.positions_file import read_position_book
from cascadesim.model.position_book import place_book
from cascadesim.report.output import SCENARIO_FILE, SUMMARY_FILE
from cascadesim.report.story import story_json
from cascadesim.scenario.bundled import resolve_scenario
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate


def rerun(target: str | None):
    """(Result, name, folder or None) of a scenario or of a result folder run again."""
    folder = Path(target) if target is not None else None
    if folder is not None and folder.is_dir():
        return rerun_folder(folder)
    scenario = Scenario.from_toml(resolve_scenario(target))
    driven = (
        scenario if scenario.event is None else scenario_for_mode(scenario, scenario.event.mode)
    )
    return simulate(driven), scenario.name, None


def rerun_folder(folder: Path):
    scenario_path = folder / SCENARIO_FILE
    summary_path = folder / SUMMARY_FILE
    if not scenario_path.is_file() or not summary_path.is_file():
        raise invalid(
            "RESULT_DIR",
            str(folder),
            f"a folder written by `cascadesim run` (with {SCENARIO_FILE} and {SUMMARY_FILE})",
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CascadesimInputError(f"{summary_path}: not a readable summary ({error})") from None
    text = scenario_path.read_text(encoding="utf-8")
    scenario = Scenario.from_toml_text(text, source=str(scenario_path))
    mode = summary.get("event_mode")
    driven = scenario
    if scenario.event is not None and mode in ("replay", "shock"):
        driven = scenario_for_mode(scenario, mode)
    setup = driven.build(seed=summary.get("seed"))
    book = summary.get("book")
    if book is not None:
        path = Path(book["file"])
        if not path.is_file():
            raise invalid("book", str(path), "the position book the run used (it is not there)")
        placement = place_book(
            setup, read_position_book(path, list(scenario.markets), setup.markets), replace=True
        )
        setup = placement.setup
    result = simulate(setup)
    again, before = result.summary["liquidated_total_usd"], summary.get("liquidated_total_usd")
    if before is not None and not math.isclose(again, before, rel_tol=1e-9, abs_tol=1e-6):
        typer.echo(
            f"cascadesim: warning: the run again liquidated {again:,.0f} USD where "
            f"{summary_path} says {before:,.0f} (a different cascadesim version?)",
            err=True,
        )
    return result, scenario.name, folder


def explain_command(target: str | None, json_output: bool) -> None:
    """Print the cascade's numbered story (or, with --json, the story and its waves)."""
    result, name, _ = rerun(target)
    told = story_json(result)
    if json_output:
        typer.echo(json.dumps({"scenario": name, **told}))
        return
    typer.echo(f"The cascade of {name}:")
    for line in told["story"]:
        typer.echo(line)


def explore_command(target: str, out: str | None) -> None:
    """Write explorer.html for a result folder (or a scenario) and say where."""
    # lazy: Bokeh takes about half a second to import; only the explorer needs it
    from cascadesim.report.explorer import explorer_html

    if out is not None and Path(out).suffix != ".html":  # before the run, not after it
        raise invalid("--out", out, "an .html file")
    result, name, folder = rerun(target)
    path = Path(out) if out is not None else (folder or Path(".")) / "explorer.html"
    write_atomically(path, explorer_html(result, f"cascadesim explorer: {name}").encode("utf-8"))
    typer.echo(
        f"cascadesim: wrote {path} ({path.stat().st_size / 1e6:.1f} MB; open it in a browser)"
    )
