"""Resource guards: refuse a run that would not fit in memory, or not finish in its budget.

A scenario's memory is estimated from what is known before anything large is allocated (the
number of accounts each market's open interest needs, the steps, the markets, the book
levels) and compared with the memory the machine has available; a run that would not fit is
refused with a one-line :class:`cascadesim._util.errors.CascadesimInputError` giving the estimate,
its parts and the memory available. A step budget (``cascadesim run --max-steps``) refuses a
run that needs more engine steps before it starts, and a time budget (``--time-budget``) stops
a run between chunks of steps, with nothing written.

The figures per position and per step come from the engine's measured peak (about 139 B per
position, ``benchmarks/README.md``) and from its record layouts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cascadesim._util.errors import CascadesimInputError
from cascadesim._util.formatting import format_bytes

# Engine peak per position (sorted columns, original columns during the sort, per-position
# scratch: benchmarks/README.md measures 139 B), plus the population as generated (37 B of
# columns) and one liquidation event row (102 B), which a deep cascade can write for most
# positions.
BYTES_PER_POSITION = 140 + 37 + 102
BYTES_PER_BOOK_LEVEL = 3 * 8  # profile, bids and asks: float64 per level and market
SNAPSHOTS_PER_PATH = 200  # book snapshots kept per path: at most about 2 x 100 chunks
BYTES_PER_TIMELINE_ROW = 170  # one step of one market (numpy record and its DataFrame row)
MAX_STEPS = 100_000_000  # per path; beyond any scenario worth running at 1 s per step
# Memory the estimate may take: the estimate is rough and the machine has other users.
USABLE_FRACTION = 0.9


def available_memory_bytes() -> int | None:
    """Memory the machine can give this process now (bytes), or None when unknown.

    ``psutil.virtual_memory().available`` when psutil is installed; else ``MemAvailable`` of
    ``/proc/meminfo`` (Linux); else free physical pages from ``sysconf``.
    """
    try:
        import psutil  # lazy: an optional dependency
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of one simulated run (with its counterfactual), by part, in bytes.

    Attributes
    ----------
    positions : int, accounts (one position each) in all markets
    steps : int, engine steps per path
    markets, assets, levels : int, markets, assets and book levels per side window
    paths : int, 2 with the liquidation-free counterfactual, else 1
    """

    positions: int
    steps: int
    markets: int
    assets: int
    levels: int
    paths: int = 2

    @property
    def parts(self) -> dict[str, int]:
        snapshots = min(self.steps, SNAPSHOTS_PER_PATH) + 1
        return {
            "positions": self.positions * BYTES_PER_POSITION,
            "books": self.markets
            * self.levels
            * BYTES_PER_BOOK_LEVEL
            * (1 + snapshots * self.paths),
            "timeline": self.steps * self.markets * BYTES_PER_TIMELINE_ROW * (self.paths + 1),
            "shock": (self.steps + 1) * (self.assets + 2 * self.markets) * 8,
        }

    @property
    def total_bytes(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        """``'12.3 GB (positions 4.2 GB: 20,000,000 x 247 B, books ..., ...)'``."""
        parts = self.parts
        shown = [
            f"positions {format_bytes(parts['positions'])}: {self.positions:,} x "
            f"{BYTES_PER_POSITION} B"
        ]
        shown += [
            f"{name} {format_bytes(size)}" for name, size in parts.items() if name != "positions"
        ]
        return f"{format_bytes(self.total_bytes)} ({', '.join(shown)})"


def check_memory(
    estimate: MemoryEstimate, what: str = "the run", available: int | None = None
) -> None:
    """Refuse, before anything is allocated, a run whose estimate exceeds available memory.

    Parameters
    ----------
    estimate : MemoryEstimate
    what : str, named in the message (``"scenario default"``)
    available : int or None, bytes; default :func:`available_memory_bytes` (when that is
        unknown, nothing is refused)

    Raises
    ------
    CascadesimInputError
        one line with the estimate, its parts, the memory available and what to change
    """
    if available is None:
        available = available_memory_bytes()
    if available is None:
        return
    if estimate.total_bytes > USABLE_FRACTION * available:
        raise CascadesimInputError(
            f"{what} needs about {estimate.describe()} of memory, more than the "
            f"{format_bytes(available)} available: lower open interest or "
            "population.accounts (fewer positions), duration_s (fewer steps) or book_levels"
        )


class BudgetExhausted(CascadesimInputError):
    """A run that cannot finish within its step or time budget (exit code 2, one line)."""


@dataclass
class RunBudget:
    """Limits on one run: engine steps (checked before it starts) and wall-clock seconds
    (checked between chunks of steps; a stopped run returns no result).

    Attributes
    ----------
    max_steps : int or None, engine steps allowed, counting the counterfactual path
    time_budget_s : float or None, seconds from the start of the simulation
    """

    max_steps: int | None = None
    time_budget_s: float | None = None

    def check_steps(self, steps_needed: int, detail: str = "") -> None:
        """Refuse a run that needs more engine steps than ``max_steps``."""
        if self.max_steps is not None and steps_needed > self.max_steps:
            raise BudgetExhausted(
                f"run stopped at step 0 of {steps_needed:,}: step budget exhausted "
                f"(--max-steps = {self.max_steps:,}; the run needs {steps_needed:,} engine "
                f"steps{detail}); nothing was run or written"
            )

    def check_time(self, elapsed_s: float, done: int, total: int) -> None:
        """Stop a run whose elapsed time exceeds ``time_budget_s``."""
        if self.time_budget_s is not None and elapsed_s > self.time_budget_s:
            raise BudgetExhausted(
                f"run stopped at step {done:,} of {total:,}: time budget exhausted "
                f"(--time-budget = {self.time_budget_s:g} s, {elapsed_s:.1f} s used); "
                "nothing was written"
            )
