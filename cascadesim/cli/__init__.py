"""The ``cascadesim`` command line (Typer): one module per command group.

Nothing heavy is imported at module level, so ``cascadesim --help`` answers at once. The
Typer application and its entry point live in :mod:`cascadesim.cli.commands`; ``main`` here
is the console script's name for the latter.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """The ``cascadesim`` console script: :func:`cascadesim.cli.commands.main`."""
    # Imported with the package, cascadesim.cli.commands would load twice under `python -m
    # cascadesim.cli.commands` (runpy's RuntimeWarning on stderr).
    # lazy: `python -m cascadesim.cli.commands` must find the module not yet imported
    from cascadesim.cli.commands import main as commands_main

    commands_main(argv)
