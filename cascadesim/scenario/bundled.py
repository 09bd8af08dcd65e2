"""The bundled scenario, event, sweep and profile files (package data in ``bundled/``)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.files import is_file


def bundled_directory() -> Path:
    """The folder of the bundled files: ``cascadesim/scenario/bundled`` (package data)."""
    return Path(str(importlib.resources.files("cascadesim.scenario") / "bundled"))


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario files by name (file stem), sorted, ``default`` first."""
    directory = bundled_directory()
    paths = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    ordered = sorted(paths, key=lambda p: (p.stem != "default", p.stem))
    return {path.stem: path for path in ordered}


def bundled_kind(kind: str) -> dict[str, Path]:
    """Bundled files of one kind (``events``, ``sweeps``, ``profiles``) by name, sorted."""
    directory = bundled_directory() / kind
    return {p.stem: p for p in sorted(directory.glob("*.toml"))} if directory.is_dir() else {}


def resolve_scenario(argument: str | None) -> Path:
    """A scenario argument (file path, bundled name or event name; None = default) -> a
    file path."""
    scenarios = bundled_scenarios()
    events = bundled_kind("events")
    bundled = {**events, **scenarios}
    if argument is None:
        argument = "default"
    path = Path(argument)
    if is_file(path) or path.suffix == ".toml" or "/" in argument or "\\" in argument:
        return path
    if argument in bundled:
        return bundled[argument]
    raise CascadesimInputError(
        f"{argument}: no such file, and not a bundled scenario "
        f"(bundled: {', '.join(scenarios) or 'none found'}) or one of the {len(events)} "
        "events (`cascadesim scenarios` lists them)"
    )
