"""What every command shares on the console: one-line failures, the delayed progress bar,
Ctrl-C and SIGTERM handling. Imports only typer (and rich inside the bar), so ``--help``
stays instant.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import TYPE_CHECKING

import typer

from cascadesim._util.errors import one_line

if TYPE_CHECKING:  # rich loads only when a bar is shown
    from rich.progress import Progress, TaskID


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with code 2."""
    typer.echo(f"cascadesim: error: {message}", err=True)
    raise typer.Exit(code=2)


class DelayedProgress:
    """A rich progress bar on stderr that appears only once a run has taken a second.

    It is shown only on a terminal, so piped or captured output stays clean. A timer thread
    starts it, because the first run spends a while compiling before any step reports.
    """

    def __init__(self, console, delay_s: float = 1.0) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.description = "preparing"
        self.total: float | None = None
        self.completed = 0.0
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = threading.Timer(delay_s, self.start)
        self.timer.daemon = True
        if console.is_terminal:
            self.timer.start()

    def start(self) -> None:
        # lazy: rich loads only when a bar is shown, so --help stays instant
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with self.lock:
            if self.progress is not None or self.timer is None:
                return
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                self.description, total=self.total, completed=int(self.completed)
            )

    def update(self, description: str, completed: float = 0.0, total: float | None = None) -> None:
        with self.lock:
            self.description, self.completed, self.total = description, completed, total
            if self.progress is not None and self.task is not None:
                self.progress.update(
                    self.task, description=description, completed=completed, total=total
                )

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.progress is not None:
                self.progress.stop()
                self.progress = None


def report_interrupt(message: str) -> None:
    """Print the one line a command gives when Ctrl-C (or a kill) stops it, and exit 130.

    SystemExit, unlike ``typer.Exit``, passes through typer untouched, so ``main`` can tell
    this from a Ctrl-C that typer caught itself (which it reports with a line of its own).
    """
    typer.echo(message, err=True)
    sys.exit(130)


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is, or was caused by, Ctrl-C.

    A KeyboardInterrupt raised while a jitted kernel runs comes out of numba's dispatcher as
    ``SystemError: ... returned a result with an exception set``, chained to it.
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, KeyboardInterrupt):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def deferred_interrupts():
    """Ctrl-C and SIGTERM stop the run at the next check instead of inside a kernel.

    Yields a ``check()`` that raises KeyboardInterrupt once a signal has arrived; the run
    calls it between chunks of steps and between output files. A second Ctrl-C stops at
    once. The previous handlers come back afterwards.
    """
    pending: list[int] = []

    def handler(signal_number, frame) -> None:
        if pending:  # asked twice: do not wait for the next check
            raise KeyboardInterrupt
        pending.append(signal_number)

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    try:
        previous = {
            number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)
        }
    except ValueError:  # not the main thread: leave signals alone
        yield check
        return
    try:
        yield check
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def describe_os_error(error: OSError) -> str:
    """``'<file>': <reason>`` on one line, a long file name shortened."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return one_line(reason)
    name = str(error.filename)
    if len(name) > 80:
        name = name[:38] + "..." + name[-38:]
    return one_line(f"'{name}': {reason}")


def report_command_line_error(error: typer.TyperException) -> int:
    """Print a command-line error typer raised as one line (or the help); its exit code.

    A usage error carries the context of the command it came from: a command given no
    arguments answers with its help, as ``no_args_is_help`` asks; any other usage error is
    ``<command>: error: <message> (see <command> --help)``.
    """
    message = error.format_message()
    context = getattr(error, "ctx", None)
    if context is not None and message == context.get_help():
        print(message, file=sys.stderr)
        return 2
    if context is not None:
        command = context.command_path
        print(f"{command}: error: {one_line(message)} (see {command} --help)", file=sys.stderr)
        return 2
    print(f"cascadesim: error: {one_line(message)}", file=sys.stderr)
    return int(getattr(error, "exit_code", 1) or 1)


# Tables printed to a pipe or a file are as wide as their cells, not cut to 80 columns.
PIPE_WIDTH = 200


def table_console(stderr: bool = False):
    """A rich Console for tables: the terminal's width, or ``PIPE_WIDTH`` off a terminal
    (rich would otherwise truncate the cells of a table written to a file to 80 columns)."""
    # lazy: rich loads only when a table is printed, so --help stays instant
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPE_WIDTH)
    return console
