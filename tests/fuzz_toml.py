"""Hypothesis strategies for hostile TOML: mutated bundled files and random documents.

Used by ``tests/test_fuzz_inputs.py``. A mutation works on the parsed document (drop a key or
a whole table, swap a value for a wrong type, a huge or tiny number, NaN/inf, unicode or
control characters, an overlong string, add an unknown key, rename a key) and then,
optionally, on the text (truncate it, splice in random characters, drop or repeat a line), so
that both the validators and the TOML parser are exercised.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
import tomllib
from pathlib import Path

from hypothesis import strategies as st

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIO_FILES = sorted((REPO_ROOT / "cascadesim/scenario/bundled").glob("*.toml"))
SWEEP_FILES = sorted((REPO_ROOT / "cascadesim/scenario/bundled" / "sweeps").glob("*.toml"))

# Numbers at the edges of float64 and int64, and the ones validators get wrong most often.
EDGE_NUMBERS = [
    0,
    0.0,
    -0.0,
    1,
    -1,
    2,
    0.5,
    1e-308,
    -1e-308,
    5e-324,
    1e308,
    -1e308,
    1.7976931348623157e308,
    2**31,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    1e19,
    1e30,
    1e-9,
    1.0000000001,
    63,
    64,
    65,
    math.nan,
    math.inf,
    -math.inf,
]
# Text that breaks naive handling: control characters, bidi overrides, NUL, emoji, a huge
# string, digits that look like numbers, names of real fields and venues.
EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "\n",
    "\r\n",
    "\t",
    "\x7f",
    "\u202e",
    "\ufeff",
    "💥",
    "é",
    "ß" * 3,
    "x" * 300,
    "1e308",
    "nan",
    "inf",
    "all",
    "*",
    ".",
    "..",
    "binance",
    "BTC",
    "BTC-binance",
    "index_jump",
    "sell_programme",
    "recorded_path",
    "index_path",
    "../../etc",
    "/dev/zero",
    "default",
    "gentle",
]
# Unicode without surrogates (they cannot be written as UTF-8), control characters included.
UNICODE = st.characters(exclude_categories=("Cs",))


def toml_string(text: str) -> str:
    """A TOML basic string; control characters and DEL escaped as \\uXXXX."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value) -> str:
    """Any value tomllib can produce (and NaN/inf) as TOML text; tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value).__name__)


def dump(document: dict) -> str:
    """A document as TOML: scalars and lists first, then one [header] per nested table."""
    lines: list[str] = []

    def emit(prefix: list[str], table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix:
            lines.append("[" + ".".join(toml_key(p) for p in prefix) + "]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars.items())
        for key, value in tables.items():
            emit([*prefix, key], value)

    emit([], document)
    return "\n".join(lines) + "\n"


# --- values -------------------------------------------------------------------------------
scalars = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.sampled_from(EDGE_TEXT),
    st.text(UNICODE, max_size=12),
    st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)),
)
keys = st.one_of(
    st.sampled_from(
        [
            "kind",
            "name",
            "asset",
            "venue",
            "points",
            "values",
            "",
            "é",
            "a.b",
            "*",
            "population",
            "markets",
            "0",
        ]
    ),
    st.text(UNICODE, min_size=0, max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)
# Fully random documents: a table of anything.
random_documents = st.dictionaries(keys, values, max_size=8)


# --- mutations ----------------------------------------------------------------------------
def locations(document, prefix=()) -> list[tuple]:
    """Every key path and list index in a document (tables and values)."""
    found = []
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, child in items:
        found.append((*prefix, key))
        found += locations(child, (*prefix, key))
    return found


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parent_of(document, path: tuple):
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_document(draw, base: dict, max_mutations: int = 4, numbers_only: bool = False) -> dict:
    """``base`` with one to ``max_mutations`` mutations (``numbers_only``: numbers replaced
    by edge values and scaled to extremes, the structure and types kept, so that most
    results pass the type checks and reach the range checks and the build)."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, max_mutations]))):
        operation = (
            "number"
            if numbers_only
            else draw(
                st.sampled_from(
                    [
                        "drop",
                        "replace",
                        "replace",
                        "number",
                        "number",
                        "number",
                        "number",
                        "add",
                        "rename",
                        "wrap",
                        "empty",
                    ]
                )
            )
        )
        spots = locations(document)
        if operation == "number":  # mostly the numbers: their edges pass the type checks
            spots = [p for p in spots if is_number(parent_of(document, p)[p[-1]])] or spots
        if not spots:
            break
        path = draw(st.sampled_from(spots))
        parent = parent_of(document, path)
        key = path[-1]
        if operation == "number":
            # Keep the type, break the size: what passes a type check and then overflows.
            old = parent[key]
            if is_number(old):
                factor = draw(
                    st.sampled_from(
                        [1e300, 1e-300, 1e20, 1e-20, 1e6, 1e-6, -1, 0, math.inf, math.nan, 2**40]
                    )
                )
                new = old * factor if isinstance(factor, float) else old * factor
                parent[key] = draw(
                    st.sampled_from(
                        [new, int(new) if math.isfinite(new) and abs(new) < 1e30 else new]
                    )
                )
            else:
                parent[key] = draw(st.sampled_from(EDGE_NUMBERS))
        elif operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = draw(values)
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif operation == "rename" and isinstance(parent, dict):
            new_key = draw(keys)
            parent[new_key] = parent.pop(key)
        elif operation == "wrap":
            parent[key] = [parent[key]]
        elif operation == "empty":
            parent[key] = type(parent[key])() if isinstance(parent[key], dict | list | str) else 0
    return document


@st.composite
def mutated_text(draw, text: str) -> str:
    """Text-level damage: truncation, a splice of random characters, a lost or doubled line."""
    operation = draw(
        st.sampled_from(["none", "none", "truncate", "splice", "drop_line", "double_line"])
    )
    if operation == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if operation == "splice":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(UNICODE, min_size=1, max_size=6)) + text[at:]
    lines = text.splitlines(keepends=True)
    if operation in ("drop_line", "double_line") and lines:
        k = draw(st.integers(0, len(lines) - 1))
        lines[k : k + 1] = [] if operation == "drop_line" else [lines[k], lines[k]]
        return "".join(lines)
    return text


def bundled_documents(files: list[Path], shrink=None) -> dict[str, dict]:
    """Parsed bundled files by stem; ``shrink(document)`` may make them cheaper to build."""
    documents = {}
    for path in files:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        if shrink is not None:
            shrink(document)
        documents[path.stem] = document
    return documents


@st.composite
def hostile_toml(draw, documents: dict[str, dict]) -> str:
    """TOML text: a mutated bundled document (mostly), or a random one."""
    if draw(st.integers(0, 9)) == 0:
        document = draw(random_documents)
    else:
        base = documents[draw(st.sampled_from(sorted(documents)))]
        document = draw(mutated_document(base))
    return draw(mutated_text(dump(document)))


@st.composite
def extreme_numbers_toml(draw, documents: dict[str, dict]) -> str:
    """TOML text: a bundled document with a few numbers at extremes, otherwise intact."""
    base = documents[draw(st.sampled_from(sorted(documents)))]
    return dump(draw(mutated_document(base, numbers_only=True)))


# --- issue 20's mutation classes --------------------------------------------------------
# Values at the limits of their types, and the path and depth values that reached the
# kernels: what validation must bound before any arithmetic on them.
TYPE_LIMITS = [
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    2.2250738585072014e-308,
    5e-324,
    -5e-324,
    1e-300,
    1e300,
    -0.0,
]
PATH_VALUES = [
    # Refused: outside 1e-4..1e4, or past 64 bits.
    5e-324,
    1e-300,
    1e-9,
    1e-5,
    10_001.0,
    1e9,
    1e15,
    1e300,
    2**63,
    # Accepted (the lowest by the tick rule on a coarse tick only): the engine's whole range.
    1e-4,
    1.0001e-4,
    0.005,
    0.01,
    0.02,
    0.1,
    0.5,
    0.97,
    1.0,
    1.03,
    2.0,
    10.0,
    100.0,
    1_000.0,
    9_999.0,
    10_000.0,
]
# Depths and sizes at and just above their 1 USD floor, and below it.
DEPTH_VALUES = [5e-324, 1e-9, 0.999999999, 1.0, 1.0000001, 10.0, 1_000.0, 1e5]
MARKET_SIZE_KEYS = ("depth_1pct_usd", "open_interest_usd", "volume_24h_usd", "insurance_fund_usd")
# Plausible-but-extreme rescaling of any number: most such cases pass validation and run.
SCALES = [0.0, 0.01, 0.1, 0.5, 2.0, 10.0, 100.0]


def path_lists(document: dict) -> list[list]:
    """Every [seconds, value] point list of the document's shock."""
    shock = document.get("shock")
    if not isinstance(shock, dict):
        return []
    lists = [shock["points"]] if isinstance(shock.get("points"), list) else []
    per_asset = shock.get("per_asset")
    if isinstance(per_asset, dict):
        lists += [points for points in per_asset.values() if isinstance(points, list)]
    return [points for points in lists if points and all(isinstance(p, list) for p in points)]


@st.composite
def engine_document(draw, base: dict) -> dict:
    """``base`` (a cheap scenario) with one to three of: an extreme path point, a depth or
    size near its floor, a number rescaled by up to 100, a number at its type's limit, or the
    number mutations of :func:`mutated_document` -- structure kept, so that most cases pass
    validation and reach the engine."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(
            st.sampled_from(["path", "path", "path", "depth", "depth", "scale", "scale", "limit"])
        )
        numbers = [p for p in locations(document) if is_number(parent_of(document, p)[p[-1]])]
        if operation == "path" and path_lists(document):
            points = draw(st.sampled_from(path_lists(document)))
            point = draw(st.sampled_from(points))
            if len(point) == 2:
                point[1] = draw(st.sampled_from(PATH_VALUES))
        elif operation == "depth":
            markets = [m for m in (document.get("markets") or {}).values() if isinstance(m, dict)]
            assets = [a for a in (document.get("assets") or {}).values() if isinstance(a, dict)]
            if assets and (not markets or draw(st.booleans())):
                draw(st.sampled_from(assets))["spot_depth_1pct_usd"] = draw(
                    st.sampled_from(DEPTH_VALUES)
                )
            elif markets:
                draw(st.sampled_from(markets))[draw(st.sampled_from(MARKET_SIZE_KEYS))] = draw(
                    st.sampled_from(DEPTH_VALUES)
                )
        elif operation == "scale" and numbers:
            path = draw(st.sampled_from(numbers))
            parent = parent_of(document, path)
            parent[path[-1]] = float(parent[path[-1]]) * draw(st.sampled_from(SCALES))
        elif operation == "limit" and numbers:
            path = draw(st.sampled_from(numbers))
            parent_of(document, path)[path[-1]] = draw(st.sampled_from(TYPE_LIMITS))
    return document


@st.composite
def engine_toml(draw, documents: dict[str, dict]) -> str:
    """TOML text of a cheap bundled scenario mutated by :func:`engine_document`."""
    base = documents[draw(st.sampled_from(sorted(documents)))]
    return dump(draw(engine_document(base)))


VALUE_LINE = re.compile(r"^([A-Za-z0-9_.\"-]+\s*=\s*)(\S.*)$", re.M)


@st.composite
def oversized_toml(draw, texts: list[str]) -> str:
    """A bundled file with one value replaced at the text level by something huge: TOML
    nested thousands deep, an integer of thousands of digits, or a string of megabytes
    (built as text: Python itself refuses to print such an integer, and dump() would
    recurse as deep as the nesting)."""
    text = draw(st.sampled_from(texts))
    lines = list(VALUE_LINE.finditer(text))
    match = draw(st.sampled_from(lines))
    kind = draw(st.sampled_from(["list", "table", "integer", "string", "key"]))
    size = draw(st.sampled_from([10, 100, 999, 1000, 1001, 4299, 4300, 4301, 20_000, 200_000]))
    if kind == "list":
        value = "[" * size + "1" + "]" * size
    elif kind == "table":
        value = "{a = " * size + "1" + "}" * size
    elif kind == "integer":
        value = draw(st.sampled_from(["", "-"])) + "1" + "0" * size
    elif kind == "string":
        value = '"' + "x" * (size * draw(st.sampled_from([1, 10]))) + '"'
    else:  # a key of that size, in its own table
        return text + f"\n[markets.{'k' * size}]\n"
    return text[: match.start(2)] + value + text[match.end(2) :]
