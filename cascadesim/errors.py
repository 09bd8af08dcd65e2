"""Exceptions raised by the public API for bad input.

Every message is one line that names the argument (or scenario field path), the value given
and what is allowed, so the command line can print it as it is and exit with code 2.
"""

from __future__ import annotations


class CascadesimInputError(ValueError):
    """Invalid input to a public function, a scenario file or a command-line option."""


def invalid(name: str, value: object, allowed: str) -> CascadesimInputError:
    """Build the standard one-line error: ``<name> = <value>: <allowed>``."""
    return CascadesimInputError(f"{name} = {value!r}: {allowed}")
