"""Scenario and sweep files: reading, TOML parsing, and errors as one line.

pydantic's ``ValidationError`` and tomllib's ``TOMLDecodeError`` become
``<file>: <field.path> = <value>: <what is allowed>``. The functions take the model class as an
argument, so this module imports no scenario model.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from cascadesim._util.errors import CascadesimInputError

SHOCK_KINDS = ("index_jump", "index_path", "sell_programme", "recorded_path")


# --- reading ------------------------------------------------------------------------------
def read_text_file(path: Path, kind: str) -> str:
    """UTF-8 text of a ``kind`` file ("scenario", "sweep"); one-line errors naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CascadesimInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CascadesimInputError(f"{path}: a folder, not a {kind} file") from None
    except OSError as error:
        raise CascadesimInputError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CascadesimInputError(f"{path}: not UTF-8 text (byte {error.start})") from None


def validate_toml(model: type[BaseModel], text: str, source: str, context: dict | None = None):
    """Parse TOML text into ``model``; errors are one line prefixed with ``source``.

    ``context`` is passed to pydantic's validators (``ValidationInfo.context``): a scenario's
    folder, for example, which its relative file paths are resolved from.
    """
    data = parse_toml(text, source)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise CascadesimInputError(f"{source}: {describe_validation_error(error, model)}") from None


def parse_toml(text: str, source: str) -> dict:
    """The table of TOML text; every way the parser can fail is one line naming ``source``.

    Besides syntax errors, tomllib's recursive parser overflows Python's stack on arrays or
    inline tables nested about a thousand deep, and an integer of more than 4,300 digits
    exceeds Python's int-string limit: neither belongs in a scenario, and both are refused.
    """
    try:
        table = tomllib.loads(text)
        outside = integer_outside_64_bits(table)
    except tomllib.TOMLDecodeError as error:
        raise CascadesimInputError(f"{source}: {describe_toml_error(error)}") from None
    except RecursionError:
        raise CascadesimInputError(
            f"{source}: arrays or tables nested too deeply to read; a scenario file nests a "
            "few levels"
        ) from None
    except ValueError as error:  # an integer past Python's int-string limit
        raise CascadesimInputError(
            f"{source}: a number too long to read ({str(error).split(':')[0]}); numbers in "
            "these files have at most 4,300 digits"
        ) from None
    if outside is not None:
        key, value = outside
        shown = (
            str(value)
            if len(str(value)) <= 40
            else f"{str(value)[:20]}... ({len(str(value))} digits)"
        )
        raise CascadesimInputError(
            f"{source}: {key} = {shown}: an integer within 64 bits (TOML's range: "
            f"{-(2**63)} to {2**63 - 1}); write a larger number as a float (1e30)"
        )
    return table


def integer_outside_64_bits(value, key: str = "") -> tuple[str, int] | None:
    """The first integer of a parsed table outside TOML's 64-bit range, with its key path.

    tomllib reads integers of any size, but TOML allows 64 bits and every consumer converts
    them to int64 or float64 (an integer of 400 digits overflows a float).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (key or "(value)", value) if not -(2**63) <= value < 2**63 else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for name, item in items:
        where = f"{key}[{name}]" if isinstance(name, int) else f"{key}.{name}" if key else str(name)
        found = integer_outside_64_bits(item, where)
        if found is not None:
            return found
    return None


def describe_toml_error(error: tomllib.TOMLDecodeError) -> str:
    """``line N: <message>`` from tomllib's ``<message> (at line N, column M)``."""
    message = str(error)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        text = message[: match.start()]
        return f"line {match.group(1)}: {text[:1].lower()}{text[1:]} (column {match.group(2)})"
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        text = message[: match.start()]
        return f"end of file: {text[:1].lower()}{text[1:]}"
    return message


@contextlib.contextmanager
def prefixed(source: Path | str | None) -> Iterator[None]:
    """Prefix one-line input errors raised inside the block with ``<source>: ``."""
    try:
        yield
    except CascadesimInputError as error:
        message = str(error)
        if source is None or message.startswith(f"{source}: "):
            raise
        raise CascadesimInputError(f"{source}: {message}") from None


# --- pydantic errors as one line ----------------------------------------------------------
def describe_validation_error(error: ValidationError, root: type[BaseModel]) -> str:
    """The first error as ``<field.path> = <value>: <what is allowed>``."""
    errors = error.errors(include_url=False)
    # An unknown key first: a misspelt field also shows up as the real one "missing".
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    context = first.get("ctx") or {}
    original = context.get("error")
    if isinstance(original, CascadesimInputError):
        return str(original)
    loc = file_loc(root, list(first["loc"]))
    kind = first["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc.append(str(context.get("discriminator", "kind")).strip("'"))
    path = field_path(loc)
    value = (
        "(missing)"
        if kind in ("missing", "union_tag_not_found")
        else short_repr(
            context.get("tag", first["input"]) if kind == "union_tag_invalid" else first["input"]
        )
    )
    if kind == "extra_forbidden":
        parent = walk(root, list(first["loc"])[:-1])
        if not is_model(parent):
            return f"{path} = {value}: not a field here (see `cascadesim schema`)"
        close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{path} = {value}: not a field here{hint}; allowed: " + ", ".join(
            parent.model_fields
        )
    allowed = allowed_text(kind, first["msg"], context)
    description = field_description(root, list(first["loc"]))
    if description and kind not in ("value_error", "assertion_error"):
        allowed = f"{allowed} ({description})"
    return f"{path} = {value}: {allowed}"


def field_path(loc: list) -> str:
    """``('markets', 'BTC', 'points', 2)`` -> ``markets.BTC.points[2]``.

    A key that is not plain (spaces, control characters, quotes, more than 60 characters)
    is shown quoted and shortened, as :func:`short_repr` shows values.
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        part = str(part)
        if not re.fullmatch(r"[\w.*-]{1,60}", part):
            part = short_repr(part)
        text += f".{part}" if text else part
    return text or "(scenario)"


def short_repr(value: object, limit: int = 60) -> str:
    """repr of a value, shortened to one readable fragment."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def allowed_text(kind: str, message: str, context: dict) -> str:
    """What pydantic's error type says is allowed, in the scenario's words."""

    def number(key: str) -> str:
        return f"{context[key]:g}" if isinstance(context.get(key), int | float) else "?"

    texts = {
        "missing": "a required field",
        "greater_than": lambda: f"a number > {number('gt')}",
        "greater_than_equal": lambda: f"a number >= {number('ge')}",
        "less_than": lambda: f"a number < {number('lt')}",
        "less_than_equal": lambda: f"a number <= {number('le')}",
        "float_type": "a number",
        "float_parsing": "a number",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "string_type": "text in quotes",
        "bool_type": "true or false",
        "literal_error": lambda: f"one of {context.get('expected', '')}",
        "union_tag_invalid": lambda: f"one of {context.get('expected_tags', '')}",
        "union_tag_not_found": "a kind: one of " + ", ".join(repr(k) for k in SHOCK_KINDS),
        "list_type": "a list [...]",
        "dict_type": "a table",
        "model_type": "a table",
        "model_attributes_type": "a table",
        "too_short": lambda: f"at least {context.get('min_length')} items",
        "too_long": lambda: f"at most {context.get('max_length')} items",
        "finite_number": "a finite number",
        "string_pattern_mismatch": "letters, digits, '_', '.' or '-', starting with a letter "
        "or digit",
        "string_too_long": lambda: f"at most {context.get('max_length')} characters",
    }
    text = texts.get(kind)
    if callable(text):
        return str(text())
    if isinstance(text, str):
        return text
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message[:1].lower() + message[1:]


def is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def strip(annotation):
    """Remove Annotated and Optional wrappers (keeps real unions)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def union_member(union, tag):
    """The model of a tagged union whose tag field (a one-value Literal) is ``tag``, or None."""
    for member in typing.get_args(union):
        if not is_model(member):
            continue
        for field in member.model_fields.values():
            literal = strip(field.annotation)
            if typing.get_origin(literal) is typing.Literal and typing.get_args(literal) == (tag,):
                return member
    return None


def file_loc(root, loc: list) -> list:
    """A pydantic error location as the file's keys: the tags pydantic inserts after a
    tagged union (``shock.index_jump.at_s``) are dropped (``shock.at_s``)."""
    shown: list = []
    annotation = root
    for part in loc:
        union = strip(annotation) if annotation is not None else None
        if typing.get_origin(union) in (typing.Union, types.UnionType):
            member = union_member(union, part)
            if member is not None:
                annotation = member
                continue
        shown.append(part)
        annotation = None if annotation is None else walk(annotation, [part])
    return shown


def walk(root, loc: list):
    """The annotation (model class, list, ...) at a pydantic error location, or None."""
    annotation = root
    for part in loc:
        annotation = strip(annotation)
        origin = typing.get_origin(annotation)
        if is_model(annotation):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = union_member(annotation, part)
            if annotation is None:
                return None
        else:
            return None
    return strip(annotation)


def field_description(root, loc: list) -> str | None:
    """The description of the field at ``loc`` (skipping list indices), if any."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    if not loc:
        return None
    parent = walk(root, loc[:-1])
    if is_model(parent) and isinstance(loc[-1], str) and loc[-1] in parent.model_fields:
        return parent.model_fields[loc[-1]].description
    return None
