"""Atomic file writes: a file appears complete under its name, or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMPORARY_SUFFIX = ".tmp"


def write_atomically(
    path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], object], mode: int = 0o644
) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary stream) to ``path`` atomically.

    The bytes go to ``.<name>.<random>.tmp`` in the destination folder, which is then renamed
    over ``path`` with ``os.replace`` (atomic within one file system): an interrupted write
    leaves the old file or none, never a half-written one, and no temporary file. ``mode``
    (default world-readable, since outputs are meant to be shared) replaces mkstemp's 0600.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX
    )
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            if isinstance(data, bytes | bytearray):
                stream.write(data)
            else:
                data(stream)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return path


def is_file(path: Path) -> bool:
    """``path.is_file()``, False where the name cannot be a file here (longer than the file
    system allows, for example: Python raises ENAMETOOLONG instead of answering)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, False where the name cannot be a folder here (see :func:`is_file`)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False
