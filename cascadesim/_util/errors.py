"""Exceptions raised by the public API for bad input.

Every message is one line that names the argument (or scenario field path), the value given
and what is allowed, so the command line can print it as it is and exit with code 2.
"""

from __future__ import annotations


def one_line(text: str) -> str:
    """``text`` with every unprintable character (newlines, other control characters, bidi
    overrides, line separators) written as a Python escape such as ``\\n`` or ``\\u202e``.

    Scenario keys and values come from files that may hold anything; escaping them keeps an
    error message on one line, and keeps a terminal from acting on what it prints.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class CascadesimInputError(ValueError):
    """Invalid input to a public function, a scenario file or a command-line option.

    The message is forced onto one printable line (see :func:`one_line`).
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(one_line(str(message)), *args)


MAX_VALUE_CHARS = 200


def invalid(name: str, value: object, allowed: str) -> CascadesimInputError:
    """Build the standard one-line error: ``<name> = <value>: <allowed>``.

    A value whose repr is longer than ``MAX_VALUE_CHARS`` (a 10,000-character name) is cut,
    so that the message stays readable.
    """
    shown = repr(value)
    if len(shown) > MAX_VALUE_CHARS:
        shown = shown[: MAX_VALUE_CHARS - 3] + "..."
    return CascadesimInputError(f"{name} = {shown}: {allowed}")
