"""Run fuzzed scenarios through the engine in a child process with numba's bounds checks on.

A scenario the fuzzer writes is validated, built and simulated (with its counterfactual) in a
long-lived child process started with ``NUMBA_BOUNDSCHECK=1`` (its compiled kernels are
cached in a folder of their own, see :func:`cascadesim.engine.compile_cache.engine_cache_dir`,
so the cold bounds-checked compile of minutes happens once per engine version). The parent
gives each case a time limit; a case whose child dies by a signal (a segfault), exits, or
runs past the limit is a failure, as is a traceback, a refusal that is not one printable
line, or an exit-0 run whose figures are not internally consistent:

- liquidated long + short = total, every figure finite;
- money conserved (the ledger's total), each market's net quantity zero, long open interest
  equal to short at every step, books finite and non-negative, mark prices finite and > 0;
- no insurance fund below zero.

The child is restarted after a failure, so one bad case does not hide the next.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import traceback

SOURCE = "fuzz.toml"
# Cases larger than this are checked by the loader fuzzers, not run: the engine fuzzer is
# about what the kernels do with odd values, not about large runs.
MAX_RUN_ACCOUNTS = 3_000
MAX_RUN_STEPS = 3_600


@dataclasses.dataclass
class CaseResult:
    """What one case did: ``status`` is 'ran', 'refused', 'skipped' (too large to run here)
    or 'failed' (``detail`` says how)."""

    status: str
    detail: str = ""


def run_case(text: str) -> CaseResult:
    """Validate, build and simulate ``text``; check the result (in the child process)."""
    from cascadesim._util.errors import CascadesimInputError
    from cascadesim.scenario.models import Scenario
    from cascadesim.sim.driver import simulate

    try:
        scenario = Scenario.from_toml_text(text, SOURCE)
        if scenario.n_steps > MAX_RUN_STEPS or planned_accounts(scenario) > MAX_RUN_ACCOUNTS:
            return CaseResult("skipped")
        setup = scenario.build()
        result = simulate(setup)
    except CascadesimInputError as error:
        message = str(error)
        if "\n" in message or not message.isprintable() or len(message) > 2000:
            return CaseResult("failed", f"not a one-line error: {message[:500]!r}")
        return CaseResult("refused", message[:300])
    except Exception:  # a traceback is what the fuzzer looks for: report it whole
        return CaseResult("failed", traceback.format_exc()[-3000:])
    problems = consistency_problems(result)
    return CaseResult("failed", "; ".join(problems)) if problems else CaseResult("ran")


def planned_accounts(scenario) -> int:
    """Accounts the scenario's population would generate (without generating them)."""
    from cascadesim.scenario.build import account_count, market_population

    return sum(
        account_count(name, market_population(scenario, spec, name))
        for spec, name in zip(scenario.market_specs(), scenario.markets, strict=True)
    )


def consistency_problems(result) -> list[str]:
    """What is wrong with a finished run's figures (empty: nothing)."""
    import numpy as np

    from tests.test_extreme_markets import assert_accounting

    problems = []
    summary = result.summary
    long, short = summary["liquidated_long_usd"], summary["liquidated_short_usd"]
    if not math.isclose(long + short, summary["liquidated_total_usd"], rel_tol=1e-9, abs_tol=1e-6):
        problems.append(f"long {long} + short {short} != total {summary['liquidated_total_usd']}")
    for key, value in summary.items():
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"summary {key} = {value}")
    try:
        assert_accounting(result)
    except AssertionError as error:
        problems.append(f"accounting: {str(error)[:500]}")
    fund = np.asarray(result.outcome.timeline["insurance_fund_usd"])
    if fund.size and fund.min() < -1e-6 * max(1.0, float(np.abs(fund).max())):
        problems.append(f"insurance fund below zero: {fund.min()}")
    return problems


def serve(connection) -> None:
    """The child's loop: receive scenario text, send back a CaseResult, until None."""
    while True:
        text = connection.recv()
        if text is None:
            return
        connection.send(run_case(text))


class EngineFuzzer:
    """A child process that runs cases with bounds checks; restarted after each failure.

    Parameters
    ----------
    time_limit_s : float, per case
    """

    def __init__(self, time_limit_s: float) -> None:
        self.time_limit_s = time_limit_s
        self.process = None
        self.connection = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        saved = os.environ.get("NUMBA_BOUNDSCHECK")
        # A spawned child reads its environment at start: numba sees it at its import.
        os.environ["NUMBA_BOUNDSCHECK"] = "1"
        try:
            self.process = context.Process(target=serve, args=(child_end,), daemon=True)
            self.process.start()
        finally:
            if saved is None:
                os.environ.pop("NUMBA_BOUNDSCHECK", None)
            else:
                os.environ["NUMBA_BOUNDSCHECK"] = saved
        child_end.close()
        self.connection = parent_end

    def run(self, text: str, time_limit_s: float | None = None) -> CaseResult:
        """One case; a crash, a hang or a silent exit of the child is a failed case."""
        if self.process is None or not self.process.is_alive():
            self.start()
        assert self.connection is not None and self.process is not None
        self.connection.send(text)
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        if self.connection.poll(limit):
            try:
                return self.connection.recv()
            except EOFError:
                pass
        else:
            self.stop()
            return CaseResult("failed", f"no answer within {limit:g} s (a hang)")
        self.process.join(5)
        code = self.process.exitcode
        self.process = None
        return CaseResult("failed", f"the engine process died (exit code {code})")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(10)
        self.process = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def close(self) -> None:
        if self.process is not None and self.process.is_alive() and self.connection is not None:
            try:
                self.connection.send(None)
                self.process.join(10)
            except (BrokenPipeError, OSError):
                pass
        self.stop()
