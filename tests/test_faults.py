"""Faults and resource guards: interrupted runs, unwritable outputs, memory and step budgets.

- Ctrl-C, SIGTERM or SIGKILL sent to ``cascadesim run --out DIR`` mid-run leave no output
  folder, or the previous complete one; Ctrl-C and SIGTERM print one line and exit 130, and
  the temporary folder a SIGKILL leaves behind is removed by the next run.
- An output folder that cannot be written (read-only, under a file, a full disk) gives one
  line on stderr, exit 2, and nothing partial.
- A scenario that would not fit in memory is refused before anything is allocated, with the
  estimate in the message; a run over its step budget is refused before it starts, and one
  over its time budget stops between chunks of steps.

Killing a sweep and resuming it, and a Dask worker lost mid-sweep, are tested in
``tests/test_sweep.py`` (``test_resume_after_killing_the_command``,
``test_a_lost_dask_worker_is_retried_with_identical_results``).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascadesim._util.errors import CascadesimInputError
from cascadesim.cli import commands as cli
from cascadesim.model import resources
from cascadesim.model.resources import BudgetExhausted, MemoryEstimate, RunBudget
from cascadesim.report import output
from cascadesim.report.output import STAGING_MARK, write_outputs
from cascadesim.scenario.bundled import bundled_scenarios
from cascadesim.scenario.models import Scenario
from cascadesim.sim.driver import simulate

REPO_ROOT = Path(__file__).resolve().parents[1]
GENTLE = bundled_scenarios()["gentle"]
GENTLE_TEXT = GENTLE.read_text(encoding="utf-8")
# Starts `cascadesim run` after the imports and says so, so that a signal sent after "ready"
# reaches the command, not the interpreter's start-up; then says "simulating" when the first
# chunk of steps has been reported (the progress bar's first "simulating" update), so that a
# test can signal a run it has seen in its step loop, whatever the engine's speed (compiled,
# or the kernels run as Python with NUMBA_DISABLE_JIT=1).
READY_THEN_MAIN = """
import sys
from cascadesim.cli import console
from cascadesim.cli.commands import main

update = console.DelayedProgress.update
said = []


def observed(bar, description, completed=0.0, total=None):
    update(bar, description, completed, total)
    if description == "simulating" and not said:
        said.append(True)
        print("simulating", flush=True)


console.DelayedProgress.update = observed
print("ready", flush=True)
main(sys.argv[1:])
"""
# Long enough that a run signalled after its first chunk of steps (a hundredth of them) is
# still running, short enough that, with the JIT off, the next chunk (where the run checks
# for a signal) comes within seconds.
LONG_S = 400_000


def scenario_file(folder: Path, duration_s: int, name: str = "faulty") -> Path:
    """gentle with another name and duration (longer: still running when it is signalled)."""
    text = GENTLE_TEXT.replace('name = "gentle"', f'name = "{name}"')
    text = text.replace("duration_s = 1800", f"duration_s = {duration_s}")
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_run(*arguments: str, cwd: Path) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [sys.executable, "-c", READY_THEN_MAIN, "run", *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def staging_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if STAGING_MARK in p.name]


def wait_until_simulating(process: subprocess.Popen) -> None:
    """Wait until the run says its step loop has reported a first chunk (see
    READY_THEN_MAIN): the run is then certainly mid-simulation, with 99 chunks to go."""
    line = process.stdout.readline().strip()
    if line != "simulating":
        process.kill()
        _, stderr = process.communicate(timeout=60)
        raise AssertionError(f"no 'simulating' line (got {line!r}); stderr: {stderr}")


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory):
    """A complete output folder from an earlier, short run (the one a fault must keep)."""
    folder = tmp_path_factory.mktemp("previous")
    short = scenario_file(folder, 120)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cascadesim.cli.commands",
            "run",
            str(short),
            "--out",
            str(folder / "out"),
            "--json",
        ],
        cwd=folder,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return folder / "out"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# --- interruptions of `cascadesim run` ----------------------------------------------------
@pytest.mark.parametrize(
    "signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"]
)
def test_interrupted_run_exits_130_in_one_line_and_writes_nothing(
    signal_number, tmp_path, previous_run
):
    # previous_run: the kernels are compiled (and cached) before a run is interrupted.
    long = scenario_file(tmp_path, LONG_S)
    process = start_run(str(long), "--out", str(tmp_path / "out"), cwd=tmp_path)
    wait_until_simulating(process)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.count("\n") == 1 and "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists() and staging_leftovers(tmp_path) == []


def test_sigkill_mid_run_keeps_the_previous_complete_output(previous_run, tmp_path):
    before = snapshot(previous_run)
    long = scenario_file(tmp_path, LONG_S)
    process = start_run(str(long), "--out", str(previous_run), cwd=tmp_path)
    wait_until_simulating(process)
    process.kill()
    process.wait(timeout=60)
    assert snapshot(previous_run) == before


def test_sigkill_while_writing_leaves_a_temporary_folder_the_next_run_removes(tmp_path):
    scenario = scenario_file(tmp_path, 1800)
    process = start_run(str(scenario), "--out", str(tmp_path / "out"), cwd=tmp_path)
    # The temporary folder appears when the outputs start to be written (the plots take a
    # second or more): kill the run then, half-way through its files.
    while not staging_leftovers(tmp_path):
        assert process.poll() is None, "the run finished before its outputs were written"
        time.sleep(0.005)
    process.kill()
    process.wait(timeout=60)
    assert staging_leftovers(tmp_path) and not (tmp_path / "out").exists()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cascadesim.cli.commands",
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert staging_leftovers(tmp_path) == [] and (tmp_path / "out" / "summary.json").is_file()


def test_a_live_runs_temporary_folder_is_left_alone(gentle_result, tmp_path):
    """Only folders of processes that no longer exist are stale."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out{STAGING_MARK}{dead.pid}-0123456789ab"
    live = tmp_path / f".out{STAGING_MARK}{os.getppid()}-0123456789ab"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "summary.json").write_text("{half a file")
    write_outputs(gentle_result, tmp_path / "out", plots=False, report=False)
    assert not stale.exists() and live.exists()
    assert (tmp_path / "out" / "summary.json").is_file()


def test_ctrl_c_during_a_sweep_on_two_processes_stops_them_and_exits_130(tmp_path):
    """Ctrl-C once stopped a process-pool sweep only after every queued chunk had run."""
    psutil = pytest.importorskip("psutil")
    from tests.test_orphans import start_sweep

    process = start_sweep(tmp_path)
    partial = tmp_path / "out" / ".partial"
    while len(list(partial.glob("chunk-*.parquet"))) < 4:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    workers = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)  # it used to wait for all 40,000 paths
    assert process.returncode == 130, stderr
    assert stderr.count("\n") == 1 and "run the same command again to resume" in stderr
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
    assert not (tmp_path / "out" / "paths.parquet").exists()


# --- output folders that cannot be written ------------------------------------------------
@pytest.fixture(scope="module")
def gentle_result():
    return simulate(Scenario.from_toml(GENTLE))


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT])
def test_a_failing_disk_gives_one_line_exit_2_and_nothing_partial(
    code, gentle_result, tmp_path, monkeypatch, capsys
):
    import cascadesim.cli.run

    monkeypatch.setattr(cascadesim.cli.run, "simulate", lambda *a, **k: gentle_result)

    def failing_parquet(frame, path, provenance):
        path.write_bytes(b"PAR1 half a file")  # what a full disk leaves: part of a file
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(output, "write_parquet", failing_parquet)
    status, err = run_main(["run", "gentle", "--out", str(tmp_path / "out")], capsys)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert os.strerror(code) in err and err.startswith("cascadesim: error: ")
    assert list(tmp_path.iterdir()) == []


def test_out_under_a_file_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(Scenario, "build", lambda *a, **k: pytest.fail("built"))
    status, err = run_main(["run", "gentle", "--out", str(tmp_path / "file" / "out")], capsys)
    assert status == 2 and err.count("\n") == 1
    assert "is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_read_only_out_folder_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    """A folder the user may not write into. CI runs as root, which writes anywhere, so the
    permission answer is what a non-root user would get (os.access says no), and the folder
    is also made read-only for real for a non-root run."""
    import cascadesim.report.output

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if os.fspath(path) == os.fspath(locked) and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(cascadesim.report.output.os, "access", access)
    monkeypatch.setattr(Scenario, "build", lambda *a, **k: pytest.fail("built"))
    try:
        status, err = run_main(["run", "gentle", "--out", str(locked / "out")], capsys)
    finally:
        locked.chmod(0o755)
    assert status == 2 and err.count("\n") == 1 and "permission denied" in err
    assert list(locked.iterdir()) == []


def test_a_full_disk_during_a_sweep_gives_one_line_and_keeps_no_half_chunk(
    tmp_path, monkeypatch, capsys
):
    import cascadesim.sweep.run
    from tests.test_sweep import TINY

    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(TINY.replace("paths = 3", "paths = 1"), encoding="utf-8")

    def full_disk(partial, chunk, table):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cascadesim.sweep.run, "save_chunk", full_disk)
    status, err = run_main(["sweep", str(sweep_file), "--out", str(tmp_path / "out")], capsys)
    assert status == 2 and err.count("\n") == 1 and os.strerror(errno.ENOSPC) in err
    assert list((tmp_path / "out" / ".partial").glob("chunk-*")) == []
    assert not (tmp_path / "out" / "paths.parquet").exists()


# --- resource guards ----------------------------------------------------------------------
def test_a_scenario_too_large_for_memory_is_refused_before_allocating(monkeypatch, tmp_path):
    import cascadesim.scenario.build

    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 2_000_000_000)
    monkeypatch.setattr(
        cascadesim.scenario.build,
        "synthesize",
        lambda *a, **k: pytest.fail("the population was generated"),
    )
    text = GENTLE_TEXT.replace("accounts = 1000 ", "accounts = 10_000_000 ")
    path = tmp_path / "big.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CascadesimInputError) as error:
        Scenario.from_toml(path).build()
    message = str(error.value)
    assert message.startswith(f"{path}: scenario gentle needs about 2.83 GB")
    assert "10,000,000 x 279 B" in message and "than the 2 GB available" in message
    assert "\n" not in message


def test_memory_estimate_adds_up_its_parts():
    estimate = MemoryEstimate(positions=1_000_000, steps=3600, markets=2, assets=1, levels=4096)
    parts = estimate.parts
    assert parts["positions"] == 1_000_000 * resources.BYTES_PER_POSITION
    assert parts["timeline"] == 3600 * 2 * resources.BYTES_PER_TIMELINE_ROW * 3
    assert parts["books"] == 2 * 4096 * 24 * (1 + 201 * 2)
    assert estimate.total_bytes == sum(parts.values())


def test_simulate_refuses_a_setup_that_would_not_fit(gentle_result, monkeypatch):
    import cascadesim.sim.driver

    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 1_000)
    monkeypatch.setattr(
        cascadesim.sim.driver, "run_path", lambda *a, **k: pytest.fail("the engine ran")
    )
    with pytest.raises(
        CascadesimInputError, match="the run needs about .* than the 1 kB available"
    ):
        simulate(gentle_result.setup)


def test_a_run_over_its_step_budget_is_refused_before_it_starts(gentle_result, monkeypatch):
    import cascadesim.sim.driver

    monkeypatch.setattr(
        cascadesim.sim.driver, "run_path", lambda *a, **k: pytest.fail("the engine ran")
    )
    with pytest.raises(
        BudgetExhausted,
        match="run stopped at step 0 of 3,600: step budget "
        r"exhausted \(--max-steps = 3,599",
    ):
        simulate(gentle_result.setup, budget=RunBudget(max_steps=3599))


def test_a_run_over_its_time_budget_stops_between_chunks_and_writes_nothing(tmp_path, capsys):
    scenario = scenario_file(tmp_path, 600)
    status, err = run_main(
        ["run", str(scenario), "--out", str(tmp_path / "out"), "--time-budget", "1e-9"], capsys
    )
    # The budget is checked after each chunk of 6 steps (1 % of 600): the first one stops it.
    assert status == 2 and err.count("\n") == 1
    assert "run stopped at step 6 of 1,200: time budget exhausted" in err
    assert not (tmp_path / "out").exists() and staging_leftovers(tmp_path) == []
