"""Writing a run's outputs: complete or absent.

Every file is written into a temporary sibling folder first
(``.<name>.partial-<pid>-<random>`` next to the output folder) and moved into place only when
all of them are complete: an interrupted or failing run leaves the output folder as it was
(absent, or holding the previous run's complete files), and the temporary folder is removed
on any Python-level exception or interruption; one left by a killed process (SIGKILL) is
removed by the next run into the same place. A fresh output folder appears in one
``rename``; into an existing one each file is moved with ``os.replace``, which is atomic per
file, so a reader never sees a half-written file. Files of the folder that this run does
not write are left alone.

Parquet files carry the provenance (scenario hash, seed, scenario name, package version) in
their schema metadata, under the key ``cascadesim`` (a JSON object) and as individual
``cascadesim.<key>`` entries.
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cascadesim._util.errors import CascadesimInputError
from cascadesim.report.run_report import write_report

if TYPE_CHECKING:
    from cascadesim.report.figures import RenderedPlot

SUMMARY_FILE = "summary.json"
TIMELINE_FILE = "timeline.parquet"
LIQUIDATIONS_FILE = "liquidations.parquet"
REPORT_FILE = "report.html"
EXPLORER_FILE = "explorer.html"
SCENARIO_FILE = "scenario.toml"


def json_default(value):
    """JSON for numpy scalars and arrays (the summary is plain Python otherwise)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def summary_json(summary: dict) -> str:
    """The summary as pretty JSON text (NaN and inf are written as null)."""
    return json.dumps(clean(summary), indent=2, default=json_default, allow_nan=False) + "\n"


def clean(value):
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    return value


def provenance_metadata(provenance: dict) -> dict[bytes, bytes]:
    """Parquet schema metadata entries for a run's provenance."""
    entries = {b"cascadesim": json.dumps(provenance, default=json_default).encode()}
    for key, value in provenance.items():
        entries[f"cascadesim.{key}".encode()] = str(value).encode()
    return entries


def write_parquet(frame, path: Path, provenance: dict) -> Path:
    """Write a DataFrame to Parquet with the provenance in the schema metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata.update(provenance_metadata(provenance))
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def read_provenance(path: str | Path) -> dict:
    """The provenance stored in a Parquet file written by :func:`write_parquet`."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(b"cascadesim", b"{}"))


def check_output_folder(directory: Path, option: str = "--out") -> None:
    """Refuse, before a run, an output folder that cannot be written.

    The folder may not exist yet; the nearest existing folder above it must be a folder
    (not a file) that this user may write into. The write itself can still fail (a full
    disk, root on a read-only mount); that is reported when it happens.

    Raises
    ------
    CascadesimInputError
        one line naming the option, the path and the reason
    """
    try:
        check_folder_writable(directory, option)
    except OSError as error:  # a name too long, a loop of links: refused as the input it is
        shown = str(directory) if len(str(directory)) <= 80 else str(directory)[:77] + "..."
        raise CascadesimInputError(f"{option} = '{shown}': {error.strerror or error}") from None


def check_folder_writable(directory: Path, option: str) -> None:
    """The checks of :func:`check_output_folder`; OSError passes through."""
    if directory.exists() and not directory.is_dir():
        raise CascadesimInputError(f"{option} = '{directory}': a folder (this is a file)")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise CascadesimInputError(
            f"{option} = '{directory}': '{existing}' is a file, not a folder"
        )
    try:
        longest = os.pathconf(existing if existing.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        longest = 255
    # The last part is also written as the staging folder's ".<name>.partial-<pid>-<random>".
    parts = [*directory.parts[:-1], staging_name(directory)] if directory.parts else []
    for part in parts:
        if len(os.fsencode(part)) > longest:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), part)
    parent = existing if existing != directory else directory.parent
    for folder in {parent, existing}:
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise CascadesimInputError(
                f"{option} = '{directory}': cannot write in '{folder}' (permission denied)"
            )


STAGING_MARK = ".partial-"


def staging_name(directory: Path) -> str:
    """``.<name>.partial-<pid>-<random>``: the pid tells a later run whether it is stale."""
    return f".{directory.name}{STAGING_MARK}{os.getpid()}-{secrets.token_hex(6)}"


def remove_stale_staging(directory: Path) -> list[Path]:
    """Remove temporary folders of ``directory`` left by runs that were killed (SIGKILL, a
    power cut): those whose process no longer exists. Those of live runs are left alone."""
    removed: list[Path] = []
    prefix = f".{directory.name}{STAGING_MARK}"
    try:
        candidates = [p for p in directory.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or unknown: never remove its folder
    return True


@contextmanager
def staging_directory(directory: Path) -> Iterator[Path]:
    """A temporary folder next to ``directory``, removed unless its files were committed.

    The temporary folders of killed runs found beside it are removed first.
    """
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(directory)
    # mkdir (not mkdtemp, whose folder is private) so that the final folder gets the umask's
    # permissions; the pid and random suffix keep concurrent runs apart.
    staging = parent / staging_name(directory)
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def commit(staging: Path, directory: Path) -> list[Path]:
    """Move every file of ``staging`` into ``directory``; returns the final paths."""
    names = sorted(p.name for p in staging.iterdir())
    if not directory.exists():
        try:
            os.rename(staging, directory)
            return sorted(p for p in directory.rglob("*") if p.is_file())
        except OSError:
            directory.mkdir(parents=True, exist_ok=True)  # created meanwhile: move file by file
    written = []
    for name in names:
        if (staging / name).is_dir():  # a sub-folder: merge it file by file
            written += commit(staging / name, directory / name)
        else:
            os.replace(staging / name, directory / name)
            written.append(directory / name)
    return written


def load_plotting():
    """The figure functions, importing matplotlib on first use (about a second).

    The run command calls this in a background thread as the engine loads, so that the
    import overlaps the loading of the compiled kernels (which releases the GIL).
    """
    # lazy: matplotlib costs about a second and only runs that draw figures need it
    from cascadesim.report.figures import render_plots, save_plots

    return render_plots, save_plots


def write_outputs(
    result,
    directory: str | Path,
    scenario_toml: str | None = None,
    plots: bool = True,
    report: bool = True,
    on_stage: Callable[[str], None] | None = None,
    tables: dict | None = None,
    explorer: bool = True,
) -> list[Path]:
    """Write summary, timeline, liquidations, plots and report into ``directory``.

    Parameters
    ----------
    result : cascadesim.sim.result.Result
    directory : output folder; created (with its parents) only when everything is written
    scenario_toml : str or None, the scenario text embedded in the report
    plots, report, explorer : bool, whether to write the PNG plots, ``report.html`` and
        ``explorer.html`` (the run played second by second); the scenario's text is kept as
        ``scenario.toml``, so that ``cascadesim explore`` and ``explain`` can run it again
    on_stage : callable(str) or None, told the name of each stage as it starts
    tables : dict of file name -> pandas.DataFrame, further tables written as CSV (a
        position book's exposure by tier and its rows below maintenance at the start)

    Returns
    -------
    list of Path, the files written, in their final place
    """
    directory = Path(directory)
    provenance = dict(result.provenance)
    provenance.setdefault("version", result.summary.get("version"))

    def stage(name: str) -> None:
        if on_stage is not None:
            on_stage(name)

    with staging_directory(directory) as staging:
        stage("summary")
        (staging / SUMMARY_FILE).write_text(summary_json(result.summary), encoding="utf-8")
        stage("timeline")
        write_parquet(result.timeline, staging / TIMELINE_FILE, provenance)
        stage("liquidations")
        write_parquet(result.liquidations, staging / LIQUIDATIONS_FILE, provenance)
        for name, frame in (tables or {}).items():
            frame.to_csv(staging / name, index=False)
        rendered: list[RenderedPlot] = []
        if plots:
            render_plots, save_plots = load_plotting()
            stage("plots")
            # Each figure is drawn once: the report embeds the bytes written as its PNG file.
            rendered = render_plots(result)
            save_plots(rendered, staging)
        if report:
            stage("report")
            write_report(result, staging, scenario_toml or "", rendered)
        if explorer:
            stage("explorer")
            # lazy: Bokeh takes about half a second to import; only the explorer needs it
            from cascadesim.report.explorer import explorer_html

            title = f"cascadesim explorer: {provenance.get('scenario', 'run')}"
            (staging / EXPLORER_FILE).write_text(explorer_html(result, title), encoding="utf-8")
        if scenario_toml:
            (staging / SCENARIO_FILE).write_text(scenario_toml, encoding="utf-8")
        return commit(staging, directory)
