"""The ``cascadesim`` command line (Typer): one module per command group.

Nothing heavy is imported at module level, so ``cascadesim --help`` answers at once. The
Typer application and its entry point live in :mod:`cascadesim.cli.app`; ``main`` here is the
console script's name for the latter.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """The ``cascadesim`` console script: :func:`cascadesim.cli.app.main`."""
    # Imported with the package, cascadesim.cli.app would load twice under `python -m
    # cascadesim.cli.app` (runpy's RuntimeWarning on stderr), and its app would shadow it.
    # lazy: `python -m cascadesim.cli.app` must find the module not yet imported
    from cascadesim.cli.app import main as app_main

    app_main(argv)
