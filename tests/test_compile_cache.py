"""Where compiled kernels are cached: one folder per engine source, whatever the install path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from numba.core import config as numba_config

from cascadesim.engine import compile_cache
from cascadesim.engine import margin as margin_kernels

PACKAGE = Path(compile_cache.__file__).resolve().parents[1]
# These tests are about compiled code. With the JIT off (NUMBA_DISABLE_JIT=1, the suite's
# coverage run) this process has none, so the tests that start a process start it with the
# JIT on: they check the real cache whichever way the suite runs.
JIT_ON = {"NUMBA_DISABLE_JIT": "0"}


def test_the_fingerprint_covers_every_engine_file(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    before = compile_cache.source_fingerprint(tmp_path)
    assert compile_cache.source_fingerprint(tmp_path) == before  # deterministic
    # A callee's file changing must invalidate its callers' cached (inlined) code too.
    (tmp_path / "b.py").write_text("# b.py, edited\n")
    edited = compile_cache.source_fingerprint(tmp_path)
    assert edited != before
    (tmp_path / "c.py").write_text("")
    assert compile_cache.source_fingerprint(tmp_path) != edited
    (tmp_path / "notes.txt").write_text("not source")
    (tmp_path / "compile_cache.py").write_text("# holds no kernel")
    (tmp_path / "c.py").unlink()
    assert compile_cache.source_fingerprint(tmp_path) == edited


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    for name in ("CASCADESIM_CACHE_DIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.cache_root() == tmp_path / "home" / ".cache" / "cascadesim"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_root() == tmp_path / "xdg" / "cascadesim"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert compile_cache.cache_root() == tmp_path / "numba" / "cascadesim"
    monkeypatch.setenv("CASCADESIM_CACHE_DIR", str(tmp_path / "own"))
    assert compile_cache.cache_root() == tmp_path / "own"
    folder = compile_cache.engine_cache_dir()
    assert folder.parent == tmp_path / "own"
    assert folder.name.startswith(f"engine-{compile_cache.engine_fingerprint()}-py3")


@pytest.mark.skipif(
    bool(numba_config.DISABLE_JIT), reason="the JIT is off: the kernels are plain functions"
)
def test_engine_kernels_are_cached_in_the_engine_folder():
    locator = margin_kernels.liquidation_prices._cache._impl.locator
    assert isinstance(locator, compile_cache.EngineCacheLocator)
    assert Path(locator.get_cache_path()) == compile_cache.engine_cache_dir()
    assert locator.get_source_stamp() == compile_cache.engine_fingerprint()


def test_a_kernel_outside_the_engine_keeps_numbas_own_locator(tmp_path):
    function = test_the_fingerprint_covers_every_engine_file
    assert compile_cache.EngineCacheLocator.from_function(function, __file__) is None


def test_only_other_versions_unused_for_a_month_are_removed(tmp_path):
    current, recent, old = (tmp_path / f"engine-{name}" for name in ("now", "recent", "old"))
    for folder in (current, recent, old):
        folder.mkdir()
        (folder / "step.run_steps-1.py311.nbi").write_bytes(b"x")
    month_ago = time.time() - compile_cache.STALE_AFTER_S - 60
    for path in (old / "step.run_steps-1.py311.nbi", old):
        os.utime(path, (month_ago, month_ago))
    removed = compile_cache.remove_stale_versions(current)
    assert removed == [old]
    assert current.exists() and recent.exists() and not old.exists()


PROBE = """
import json, sys
from cascadesim.engine import compile_cache
from cascadesim.model.calculator import liquidation_price
from cascadesim.engine import margin
liquidation_price("binance", "long", 100000.0, 1.0, leverage=20.0, asset="BTC")
kernels = (margin.liquidation_price, margin.bankruptcy_price)
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
print(json.dumps({"file": margin.__file__, "hits": hits, "misses": misses,
                  "folder": str(compile_cache.engine_cache_dir())}))
"""


def test_a_reinstall_elsewhere_loads_what_the_first_install_compiled(tmp_path):
    # Two copies of the package in two folders stand for two installs of the same version.
    environment = dict(os.environ, CASCADESIM_CACHE_DIR=str(tmp_path / "cache"), **JIT_ON)
    outcomes = []
    for install in ("first", "second"):
        target = tmp_path / install
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PACKAGE, target / "cascadesim", ignore=skip)
        completed = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=target,
            env=dict(environment, PYTHONPATH=str(target)),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stderr
        outcomes.append(json.loads(completed.stdout))
    first, second = outcomes
    assert first["file"] != second["file"] and first["folder"] == second["folder"]
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled in the first install
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded in the second


def test_the_first_run_notice_gives_an_estimate_until_the_engine_is_cached(monkeypatch, tmp_path):
    from cascadesim._util.formatting import format_duration
    from cascadesim.sweep.warmup import DEFAULT_COMPILE_ESTIMATE_S, compile_notice

    monkeypatch.setenv("CASCADESIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba_config, "DISABLE_JIT", 0)  # as when the engine compiles
    expected = format_duration(DEFAULT_COMPILE_ESTIMATE_S)
    assert compile_notice() == f"compiling the engine (once per install, about {expected})"
    folder = compile_cache.engine_cache_dir()
    folder.mkdir(parents=True)
    compile_cache.record_compile_seconds(40.0)  # this machine's own last compile
    assert compile_notice() == "compiling the engine (once per install, about 40 s)"
    (folder / "step.run_steps-351.py311.nbi").write_bytes(b"")
    assert compile_notice() is None


def test_with_the_jit_off_no_compile_is_announced_or_recorded(monkeypatch, tmp_path):
    """NUMBA_DISABLE_JIT=1 runs the kernels as Python: no "compiling the engine" line (it
    would never be true), and no run's duration taken for a compile's."""
    from cascadesim.sweep import warmup

    monkeypatch.setenv("CASCADESIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba_config, "DISABLE_JIT", 0)
    assert warmup.compile_notice() is not None  # an empty cache: a compiling run says so
    monkeypatch.setattr(numba_config, "DISABLE_JIT", 1)
    assert warmup.jit_disabled() and warmup.compile_notice() is None
    monkeypatch.setattr(warmup, "simulate", lambda scenario, counterfactual: None)
    monkeypatch.setattr(warmup, "liquidation_price", lambda *arguments, **options: None)
    compile_cache.engine_cache_dir().mkdir(parents=True)  # where a compile's time would go
    report = warmup.warm_up()
    assert report.was_cached is False and report.cache_dir == str(compile_cache.engine_cache_dir())
    assert compile_cache.last_compile_seconds() is None


def test_warmup_compiles_once_then_loads(monkeypatch, tmp_path):
    from tests.cli import run_cli

    for name, value in JIT_ON.items():  # the fresh processes below compile, or load
        monkeypatch.setenv(name, value)
    outcomes = []
    for _ in range(2):
        result = run_cli("warmup", "--json", cwd=tmp_path, fresh_process=True)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout))
    assert outcomes[0]["cache_dir"] == str(compile_cache.engine_cache_dir())
    assert outcomes[1]["was_cached"] is True  # whatever the first found, it left it cached
    assert compile_cache.is_compiled()
