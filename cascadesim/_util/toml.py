"""TOML I/O shared by every layer: tomllib reads, tomli-w writes."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w


def dump_toml(data: dict[str, Any]) -> str:
    """TOML text of a table (``None`` values are left out: TOML has no null)."""
    return tomli_w.dumps(_without_none(data))


def toml_literal(value: Any) -> str:
    """One value as TOML text, as tomli-w writes it (a long array spans several lines)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def load_toml(text: str) -> dict[str, Any]:
    """The table of TOML text (raises :class:`tomllib.TOMLDecodeError`)."""
    return tomllib.loads(text)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
