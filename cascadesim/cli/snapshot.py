"""The body of ``cascadesim snapshot``: a scenario file of the market from live APIs or files.

Loaded only when the command runs (see :mod:`cascadesim.cli.commands`).
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from pathlib import Path

import typer

from cascadesim._util.errors import CascadesimInputError, invalid
from cascadesim._util.files import write_atomically
from cascadesim.marketdata.data_files import snapshot_from_files
from cascadesim.marketdata.live import ADDRESS, fetch_addresses, take_snapshot
from cascadesim.marketdata.observation import NamedPosition, utc_text
from cascadesim.marketdata.scenario_file import StressShock, scenario_text
from cascadesim.scenario.base import NAME_PATTERN

LIVE_VENUES = ("binance", "bybit", "okx", "hyperliquid")
MAX_ADDRESSES = 1000


def names(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise invalid(option, text, "a comma-separated list")
    return list(dict.fromkeys(items))


def read_addresses(path: str) -> list[str]:
    """One 0x address per line (blank lines and '#' comments skipped)."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CascadesimInputError(f"--addresses = {path!r}: cannot read it ({error})") from None
    addresses = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not ADDRESS.match(text):
            raise invalid(f"{file.name}:{number}", text, "an address: 0x and 40 hex digits")
        addresses.append(text.lower())
    if len(addresses) > MAX_ADDRESSES:
        raise invalid("--addresses", f"{len(addresses)} addresses", f"at most {MAX_ADDRESSES}")
    return list(dict.fromkeys(addresses))


def check_shock(drop: float, at_s: float, ramp_s: float, duration_s: float) -> StressShock:
    if not (0 < drop < 1):
        raise invalid("--drop", drop, "a fraction between 0 and 1 (0.05: the index loses 5 %)")
    for option, value in (("--at", at_s), ("--ramp", ramp_s)):
        if not (math.isfinite(value) and value >= 0):
            raise invalid(option, value, "seconds, a finite number >= 0")
    if not (math.isfinite(duration_s) and at_s + ramp_s < duration_s <= 7 * 86_400):
        raise invalid(
            "--duration",
            duration_s,
            f"more than --at + --ramp ({at_s + ramp_s:g} s), at most 7 days",
        )
    return StressShock(drop_fraction=drop, at_s=at_s, ramp_s=ramp_s, duration_s=duration_s)


def snapshot_command(
    *,
    venues: str,
    assets: str,
    out: str,
    from_files: str | None,
    date: str | None,
    addresses: str | None,
    drop: float,
    at_s: float,
    ramp_s: float,
    duration_s: float,
    name: str | None,
    history_days: int,
) -> None:
    """Read the market, write the scenario file, say what was read and what was not."""
    shock = check_shock(drop, at_s, ramp_s, duration_s)
    if not (1 <= history_days <= 90):
        raise invalid("--history-days", history_days, "from 1 to 90")
    asset_list = [a.upper() for a in names(assets, "--assets")]
    command = "cascadesim snapshot " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    target = Path(out)
    if target.suffix != ".toml":
        raise invalid("--out", out, "a .toml file to write")
    if not target.parent.is_dir():
        raise invalid("--out", out, f"a file in an existing folder ({target.parent} is not one)")
    wanted = read_addresses(addresses) if addresses is not None else []
    if from_files is not None:
        if date is None:
            raise CascadesimInputError("--from-files needs --date YYYY-MM-DD (the day to start)")
        snapshot = snapshot_from_files(from_files, date, asset_list, command=command)
        data = "files"
    else:
        if date is not None:
            raise CascadesimInputError("--date is for --from-files (a live snapshot is of now)")
        venue_list = names(venues, "--venues")
        for venue in venue_list:
            if venue not in LIVE_VENUES:
                raise invalid("--venues", venue, "venues read live: " + ", ".join(LIVE_VENUES))
        snapshot = take_snapshot(venue_list, asset_list, history_days=history_days, command=command)
        data = "live"
    named: list[NamedPosition] = []
    if wanted:
        named, problems = fetch_addresses(wanted, asset_list, now_ms=snapshot.taken_ms)
        snapshot.problems.extend(problems)
        kept = {m.name for m in snapshot.markets}
        dropped = [p for p in named if p.market not in kept]
        named = [p for p in named if p.market in kept]
        snapshot.problems.extend(
            f"{p.account} {p.market}: no such market in the snapshot: position left out"
            for p in dropped
        )
    scenario_name = name or "snapshot-" + utc_text(snapshot.taken_ms).replace(":", "").replace(
        "-", ""
    ).rstrip("Z").replace("T", "-")
    if not re.match(NAME_PATTERN, scenario_name):
        raise invalid("--name", scenario_name, "letters, digits, '.', '_' and '-'")
    for line in snapshot.problems:
        typer.echo(f"cascadesim: not read: {line}", err=True)
    text = scenario_text(snapshot, name=scenario_name, shock=shock, named=named, data=data)
    write_atomically(target, text.encode("utf-8"))
    read = ", ".join(m.name for m in snapshot.markets)
    typer.echo(f"cascadesim: wrote {target} ({read}; {len(named)} named positions)")
