"""Population profiles: named sets of population and market defaults a scenario can adopt.

A scenario with ``profile = "calibrated"`` takes ``scenarios/profiles/calibrated.toml`` as
defaults under its own keys: the profile's ``[population]`` tables fill in whatever the
scenario's ``[population]`` does not set, and its ``[market_defaults]`` fill in market keys
(``withdrawal_flow_sensitivity``, ...) that a market does not set. ``cascadesim calibrate``
writes the fitted parameters into such a profile (see :mod:`cascadesim.events.calibrate`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim.scenario.bundled import bundled_directory

MARKET_DEFAULT_KEYS = ("withdrawal_flow_sensitivity", "withdrawal_vol_sensitivity")


def profile_directory() -> Path:
    """``profiles/`` beside the bundled scenarios."""
    return bundled_directory() / "profiles"


def load_profile(name: str) -> dict:
    """The TOML of a named profile (raises a one-line error for an unknown name)."""
    path = profile_directory() / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in profile_directory().glob("*.toml"))
        raise invalid(
            "profile", name, "a profile of scenarios/profiles: " + (", ".join(known) or "none")
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CascadesimInputError(f"{path}: cannot read the profile ({error})") from None
    unknown = set(data) - {"population", "market_defaults", "calibration"}
    if unknown:
        raise CascadesimInputError(
            f"{path}: {sorted(unknown)[0]}: not a profile table; "
            "allowed: population, market_defaults, calibration"
        )
    for key in data.get("market_defaults", {}):
        if key not in MARKET_DEFAULT_KEYS:
            raise CascadesimInputError(
                f"{path}: market_defaults.{key}: allowed: " + ", ".join(MARKET_DEFAULT_KEYS)
            )
    return data


def merge_under(base: dict, defaults: dict) -> dict:
    """``base`` with ``defaults`` filled in where ``base`` has no key (tables recursively)."""
    merged = dict(base)
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = merge_under(merged[key], value)
    return merged


def apply_profile(data: dict) -> dict:
    """Scenario data with its named profile's defaults filled in (no profile: unchanged)."""
    name = data.get("profile")
    if not isinstance(name, str):
        return data
    profile = load_profile(name)
    merged = dict(data)
    merged["population"] = merge_under(
        dict(data.get("population", {})), profile.get("population", {})
    )
    defaults = profile.get("market_defaults", {})
    if defaults and isinstance(data.get("markets"), dict):
        merged["markets"] = {
            market: merge_under(values, defaults) if isinstance(values, dict) else values
            for market, values in data["markets"].items()
        }
    return merged
