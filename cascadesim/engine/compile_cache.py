"""Where the engine's compiled kernels are cached, and when that cache is still valid.

Numba keys a cached kernel to its own source file and to the folder that file lives in.
Two consequences hurt this package. A reinstall, or a second virtual environment, puts
the same source in a new folder, so the engine compiles again (minutes on two cores) although
nothing changed. And a kernel that inlines kernels of other files (``inline="always"``)
keeps their old code when only those files change, because its own file's stamp is the same.

:class:`EngineCacheLocator` fixes both for this package's kernels: every engine kernel is
cached in one folder named after a fingerprint of the whole engine (every kernel module of
``cascadesim/engine``), outside the install tree. The same engine source finds its
compiled kernels from any install; any edit to any engine file makes a fresh folder.
Numba itself still checks its own version and the machine's CPU in every index file.

The folder is ``$CASCADESIM_CACHE_DIR``, else ``$NUMBA_CACHE_DIR/cascadesim``, else the
user's cache folder (``$XDG_CACHE_HOME/cascadesim`` or ``~/.cache/cascadesim``); where none
can be written, numba's own locators take over. Importing :mod:`cascadesim.engine` installs
the locator, before any kernel is decorated.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from functools import cache, lru_cache
from pathlib import Path

from numba.core import caching, config

ENGINE_DIR = Path(__file__).resolve().parent
# A cold compile's duration is written here after a compile, for the next estimate.
COMPILE_RECORD = "compile_seconds.txt"
# Folders of other engine versions unused for this long are removed when a new one is made.
STALE_AFTER_S = 30 * 24 * 3600


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """Fingerprint of this engine's source: :func:`source_fingerprint` of its folder."""
    return source_fingerprint(ENGINE_DIR)


# Files of the engine folder that hold no kernel: editing them changes no compiled code.
NOT_KERNELS = frozenset({"__init__.py", "compile_cache.py"})


def source_fingerprint(folder: Path) -> str:
    """Hex digest of the ``*.py`` files in ``folder`` (names and bytes), sorted by name.

    :data:`NOT_KERNELS` are left out.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        if path.name in NOT_KERNELS:
            continue
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def cache_root() -> Path:
    """The folder that holds the cache folders of every engine version."""
    explicit = os.environ.get("CASCADESIM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:
        return Path(numba_dir) / "cascadesim"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cascadesim"


def engine_cache_dir() -> Path:
    """The folder this engine's compiled kernels are cached in."""
    python = f"py{sys.version_info[0]}{sys.version_info[1]}"
    # Kernels compiled with bounds checks (NUMBA_BOUNDSCHECK=1, as the fuzzer runs them) are
    # other machine code for the same source: they get a folder of their own.
    checked = "-boundscheck" if getattr(config, "BOUNDSCHECK", None) else ""
    return cache_root() / f"engine-{engine_fingerprint()}-{python}{checked}"


def is_compiled(kernel_name: str = "step.run_steps") -> bool:
    """Whether the cache holds compiled code of ``kernel_name`` (``module.function``).

    True does not promise that every signature a run needs is there, only that the engine
    has been compiled for this source before; the step loop is compiled for one signature.
    """
    folder = engine_cache_dir()
    return folder.is_dir() and any(folder.glob(f"{kernel_name}-*.nbi"))


def last_compile_seconds() -> float | None:
    """How long the last cold compile of the engine took on this machine, if recorded."""
    try:
        return float((engine_cache_dir() / COMPILE_RECORD).read_text().strip())
    except (OSError, ValueError):
        return None


def record_compile_seconds(seconds: float) -> None:
    """Remember a cold compile's duration for the next estimate (best effort)."""
    try:
        (engine_cache_dir() / COMPILE_RECORD).write_text(f"{seconds:.1f}\n")
    except OSError:
        pass


def remove_stale_versions(keep: Path, now: float | None = None) -> list[Path]:
    """Delete other engine versions' cache folders unused for :data:`STALE_AFTER_S`."""
    removed: list[Path] = []
    now = time.time() if now is None else now
    for folder in keep.parent.glob("engine-*"):
        if folder == keep or not folder.is_dir():
            continue
        try:
            newest = max((f.stat().st_mtime for f in folder.iterdir()), default=0.0)
            if now - max(newest, folder.stat().st_mtime) < STALE_AFTER_S:
                continue
            for item in folder.iterdir():
                item.unlink()
            folder.rmdir()
            removed.append(folder)
        except OSError:
            continue  # another process may be using or removing it: leave it
    return removed


class EngineCacheLocator(caching._CacheLocator):
    """Numba cache locator for the kernels of ``cascadesim/engine``.

    The source stamp is the fingerprint of the whole engine rather than of the kernel's own
    file, and the folder does not depend on where the package is installed.
    """

    def __init__(self, py_func, py_file):
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(engine_cache_dir())

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return engine_fingerprint()

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            if Path(py_file).resolve().parent != ENGINE_DIR:
                return None
        except OSError:
            return None
        self = cls(py_func, py_file)
        # not writable: numba's own locators decide
        return self if prepare_folder(self._cache_path) else None


@cache
def prepare_folder(path: str) -> bool:
    """Create the cache folder if needed; whether it can be written. Once per folder and
    process, not once per kernel decorated at import."""
    folder = Path(path)
    fresh = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    if fresh:
        remove_stale_versions(folder)
    return True


def install() -> None:
    """Put :class:`EngineCacheLocator` first among numba's cache locators (idempotent)."""
    # numba 0.68 renamed its private _CacheImpl to CacheImpl; both hold the locator list.
    implementation = vars(caching).get("CacheImpl") or vars(caching)["_CacheImpl"]
    locators = implementation._locator_classes
    if EngineCacheLocator not in locators:
        locators.insert(0, EngineCacheLocator)
