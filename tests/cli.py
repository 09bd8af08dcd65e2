"""Run the ``cascadesim`` command in tests: in this process by default, or in a fresh one.

A fresh interpreter costs 2-4 s on the project's two cores (Python, numba and pandas start
up, and the kernels load from the cache) and most command-line tests check what the command
prints and writes, not how an interpreter starts. So :func:`run_cli` calls the console
script's ``main`` here, with the working folder, stdout, stderr and the SIGTERM handler it
installs restored afterwards, and returns what ``subprocess.run`` would. Tests of start-up
itself (signals, the first import, the exit of a real process) pass ``fresh_process=True``;
an exception that escapes ``main`` fails the test, as a traceback on stderr would.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *arguments: str, cwd: Path, fresh_process: bool = False, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``cascadesim ARGUMENTS`` run in ``cwd``; stdout and stderr as text, and the exit code."""
    if fresh_process:
        return subprocess.run(
            [sys.executable, "-m", "cascadesim.cli.commands", *arguments],
            cwd=cwd,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    from cascadesim.cli.commands import main

    stdout, stderr = io.StringIO(), io.StringIO()
    folder = os.getcwd()
    sigterm = signal.getsignal(signal.SIGTERM)
    code = 0
    try:
        os.chdir(cwd)
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                main(list(arguments))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os.chdir(folder)
        signal.signal(signal.SIGTERM, sigterm)
    return subprocess.CompletedProcess(
        ["cascadesim", *arguments], code, stdout.getvalue(), stderr.getvalue()
    )
