"""The ``cascadesim`` command line (Typer): one module per command group.

Nothing heavy is imported at module level, so ``cascadesim --help`` answers at once.
"""

from cascadesim.cli.commands import app, main

__all__ = ["app", "main"]
