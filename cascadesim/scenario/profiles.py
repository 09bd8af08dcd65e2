"""Population profiles: sets of population and market defaults a scenario can adopt.

A scenario's ``profile`` names either a bundled profile (``profile = "calibrated"`` takes
``cascadesim/scenario/bundled/profiles/calibrated.toml``) or a profile file: a value that
ends in ``.toml`` or contains ``/`` is a path, absolute or relative to the scenario file's
folder (to the current folder for a scenario that has no file). The profile is taken as
defaults under the scenario's own keys: its ``[population]`` tables fill in whatever the
scenario's ``[population]`` does not set, and its ``[market_defaults]`` fill in market keys
(``withdrawal_flow_sensitivity``, ...) that a market does not set. Its ``[population_model]``
and ``[flow]`` tables fill in the parameters of those tables where the scenario has them
(an empty ``[flow]`` in the scenario switches the opening flow on with the profile's
parameters; a scenario without the table gets no flow). ``cascadesim calibrate``
writes the fitted parameters into such a profile file (see :mod:`cascadesim.events.calibrate`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import is_dir, is_file
from cascadesim.scenario.bundled import bundled_directory
from cascadesim.scenario.files import describe_toml_error

MARKET_DEFAULT_KEYS = ("withdrawal_flow_sensitivity", "withdrawal_vol_sensitivity")
PROFILE_TABLES = ("population", "market_defaults", "population_model", "flow", "calibration")
# Tables a profile fills in only where the scenario opts in by having the table: a
# [population_model] or [flow] table switches a model on, the profile sets its parameters.
OPT_IN_TABLES = ("population_model", "flow")


def profile_directory() -> Path:
    """``profiles/`` beside the bundled scenarios."""
    return bundled_directory() / "profiles"


def bundled_profiles() -> list[str]:
    """Names of the bundled profiles (file stems), sorted."""
    directory = profile_directory()
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def is_profile_path(value: str) -> bool:
    """Whether a ``profile`` value is a file path (ends in ``.toml`` or contains ``/``)."""
    return value.endswith(".toml") or "/" in value


def allowed_profiles() -> str:
    """What a ``profile`` value may be, for error messages."""
    names = ", ".join(bundled_profiles()) or "none"
    return (
        f"a bundled profile ({names}) or a path to a profile .toml file, "
        "absolute or relative to the scenario's folder"
    )


def profile_path(value: str, base_dir: Path | None = None) -> Path:
    """The file of a ``profile`` value: a bundled name, or a path (relative to ``base_dir``).

    Raises a one-line error, ``profile = <value>: <what is allowed>``, for an unknown name or
    a file that does not exist.
    """
    if is_profile_path(value):
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not is_file(path):
            what = "a folder" if is_dir(path) else "no such file"
            where = path.absolute()
            raise invalid("profile", value, f"{what} ({where}); allowed: {allowed_profiles()}")
        return path
    path = profile_directory() / f"{value}.toml"
    if not is_file(path):
        raise invalid("profile", value, allowed_profiles())
    return path


def read_profile_file(path: Path, name: object | None = None) -> dict:
    """The tables of a profile file, checked; errors are one line.

    ``name`` is the ``profile`` value that led to the file (errors then read
    ``profile = <name>: ...``); without it they start with the file.
    """

    def error(what: str) -> CascadesimInputError:
        if name is None:
            return CascadesimInputError(f"{path}: {what}")
        return invalid("profile", name, f"{path}: {what}")

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as problem:
        raise error(f"not a profile file ({describe_toml_error(problem)})") from None
    except UnicodeDecodeError as problem:
        raise error(f"not a profile file (not UTF-8 text, byte {problem.start})") from None
    except OSError as problem:
        raise error(f"cannot read the profile ({problem.strerror or problem})") from None
    unknown = sorted(set(data) - set(PROFILE_TABLES))
    if unknown:
        raise error(f"{unknown[0]}: not a profile table; allowed: " + ", ".join(PROFILE_TABLES))
    for table in PROFILE_TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise error(f"{table}: a table")
    for key in data.get("market_defaults", {}):
        if key not in MARKET_DEFAULT_KEYS:
            raise error(f"market_defaults.{key}: allowed: " + ", ".join(MARKET_DEFAULT_KEYS))
    return data


def load_profile(value: str, base_dir: Path | None = None) -> dict:
    """The tables of the profile a ``profile`` value names (bundled name or file path)."""
    return read_profile_file(profile_path(value, base_dir), value)


def merge_under(base: dict, defaults: dict) -> dict:
    """``base`` with ``defaults`` filled in where ``base`` has no key (tables recursively)."""
    merged = dict(base)
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = merge_under(merged[key], value)
    return merged


def apply_profile(data: dict, base_dir: Path | None = None) -> dict:
    """Scenario data with its profile's defaults filled in (no profile: unchanged).

    ``base_dir`` is the scenario file's folder, which a relative profile path is resolved
    from (None: the current folder).
    """
    name = data.get("profile")
    if not isinstance(name, str):
        return data
    profile = load_profile(name, base_dir)
    merged = dict(data)
    population = data.get("population", {})
    if isinstance(population, dict):
        merged["population"] = merge_under(population, profile.get("population", {}))
    for table in OPT_IN_TABLES:
        if isinstance(data.get(table), dict):
            merged[table] = merge_under(data[table], profile.get(table, {}))
    defaults = profile.get("market_defaults", {})
    if defaults and isinstance(data.get("markets"), dict):
        merged["markets"] = {
            market: merge_under(values, defaults) if isinstance(values, dict) else values
            for market, values in data["markets"].items()
        }
    return merged
