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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CascadesimInputError as error:
        print(f"cascadesim: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
