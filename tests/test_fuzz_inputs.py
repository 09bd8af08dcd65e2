"""Fuzzed input: hostile scenario files, sweep files and command lines never give a traceback.

Every input is either accepted or refused with :class:`CascadesimInputError`, whose message
is one printable line naming the file and the field; on the command line that is one line on
stderr and exit code 2. A scenario that validates must also build (or be refused the same
way): extreme numbers that pass the range checks must not overflow in the population
generator or allocate the shock path of 1e20 steps.

The in-process checks run a few hundred cases per loader; the command line is fuzzed
in-process through :func:`cascadesim.cli.commands.main` with the simulation, the sweep and the build
replaced by a stop (no engine runs here), and a handful of cases go through a real
subprocess. The nastiest inputs found are kept in ``tests/fuzz_corpus/`` and replayed by
``test_corpus_*`` below.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadesim._util.errors import CascadesimInputError
from cascadesim.cli import commands as cli
from cascadesim.events.parallel import EventWorkers
from cascadesim.marketdata.data_files import snapshot_from_files
from cascadesim.marketdata.positions_file import read_position_book
from cascadesim.marketdata.scenario_file import scenario_text
from cascadesim.model.resources import MemoryEstimate
from cascadesim.scenario.models import Scenario
from cascadesim.sweep.run import plan_chunks
from cascadesim.sweep.spec import load_sweep
from cascadesim.sweep.tune import parse_targets
from tests.cli import run_cli
from tests.fuzz_engine import EngineFuzzer, planned_accounts
from tests.fuzz_toml import (
    EDGE_NUMBERS,
    EDGE_TEXT,
    SCENARIO_FILES,
    SWEEP_FILES,
    TYPE_LIMITS,
    UNICODE,
    bundled_documents,
    dump,
    engine_toml,
    extreme_numbers_toml,
    hostile_toml,
    mutated_text,
    oversized_toml,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
SOURCE = "fuzz.toml"
# A valid scenario with more accounts than this is checked up to its memory estimate, not
# built: a build of the default's 580,000 accounts would take most of the time budget.
MAX_BUILT_ACCOUNTS = 20_000


# CASCADESIM_FUZZ_SCALE=20 runs twenty times the cases, with fresh random ones each run.
FUZZ_SCALE = float(os.environ.get("CASCADESIM_FUZZ_SCALE", "1"))


def fuzz(cases: int) -> settings:
    """Settings of a fuzz test: ``cases`` examples, derandomized at the default scale (the
    same cases on every run, so a failure in CI is reproducible; the corpus keeps what wider
    runs found)."""
    return settings(
        max_examples=max(1, int(cases * FUZZ_SCALE)),
        database=None,
        derandomize=FUZZ_SCALE == 1,
        suppress_health_check=[
            *settings().suppress_health_check,
            HealthCheck.function_scoped_fixture,
        ],
    )


def cheap(document: dict) -> None:
    """Make a bundled scenario cheap to build (300 accounts, ten minutes of steps)."""
    document.setdefault("population", {})["accounts"] = 300
    document["duration_s"] = 600


SCENARIO_DOCUMENTS = bundled_documents(SCENARIO_FILES, cheap)
SWEEP_DOCUMENTS = bundled_documents(SWEEP_FILES)


def assert_one_line(message: str, prefix: str) -> None:
    """The message is a single printable line that starts with ``prefix``."""
    assert message.startswith(prefix), message
    assert message.isprintable(), repr(message)  # no newline, no control character
    assert len(message) > len(prefix) + 3, message


def check_scenario_text(text: str, seed: int = 0) -> str:
    """Validate, then build, scenario text; returns 'refused', 'built' or 'estimated'."""
    try:
        scenario = Scenario.from_toml_text(text, SOURCE)
    except CascadesimInputError as error:
        assert_one_line(str(error), f"{SOURCE}: ")
        return "refused"
    try:
        accounts = planned_accounts(scenario)
        if accounts > MAX_BUILT_ACCOUNTS:
            estimate = MemoryEstimate(
                accounts,
                scenario.n_steps,
                len(scenario.markets),
                len(scenario.assets),
                scenario.book_levels,
            )
            assert estimate.total_bytes > 0 and estimate.describe()
            return "estimated"
        scenario.build(seed=seed)
    except CascadesimInputError as error:
        assert_one_line(str(error), "")
        return "refused"
    return "built"


# --- scenario files -----------------------------------------------------------------------
@fuzz(800)
@given(text=hostile_toml(SCENARIO_DOCUMENTS), seed=st.integers(0, 2**64))
def test_hostile_scenario_files_are_accepted_or_refused_in_one_line(text, seed):
    check_scenario_text(text, seed)


@fuzz(500)
@given(text=extreme_numbers_toml(SCENARIO_DOCUMENTS))
def test_extreme_numbers_in_scenarios_build_or_are_refused_in_one_line(text):
    check_scenario_text(text)


@fuzz(200)
@given(raw=st.binary(max_size=200))
def test_random_bytes_as_a_scenario_file(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("bytes") / "fuzz.toml"
    path.write_bytes(raw)
    try:
        Scenario.from_toml(path)
    except CascadesimInputError as error:
        assert_one_line(str(error), f"{path}: ")


# --- sweep files --------------------------------------------------------------------------
def check_sweep_text(text: str, folder: Path) -> str:
    """Load a sweep file, plan its chunks and estimate each point's memory."""
    path = folder / "fuzz_sweep.toml"
    path.write_text(text, encoding="utf-8")
    try:
        sweep = load_sweep(path)
    except CascadesimInputError as error:
        assert_one_line(str(error), f"{path}: ")
        return "refused"
    chunks = plan_chunks(sweep, sweep.spec.paths, set(), 2)
    assert sum(chunk.stop - chunk.first for chunk in chunks) == sweep.n_points * sweep.spec.paths
    assert len(sweep.hash()) == 16
    return "loaded"


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("sweeps")


@fuzz(600)
@given(text=st.one_of(hostile_toml(SWEEP_DOCUMENTS), extreme_numbers_toml(SWEEP_DOCUMENTS)))
def test_hostile_sweep_files_are_accepted_or_refused_in_one_line(text, sweep_folder):
    check_sweep_text(text, sweep_folder)


# --- command-line arguments ---------------------------------------------------------------
class ReachedTheEngine(BaseException):
    """Raised instead of building or simulating: the arguments were all accepted."""


def stop(*args, **kwargs):
    raise ReachedTheEngine


@pytest.fixture
def no_engine(monkeypatch, tmp_path):
    """Replace every way into a long computation by a stop; work in an empty folder."""
    import cascadesim.cli.run
    import cascadesim.cli.sweep
    import cascadesim.cli.validate

    monkeypatch.setattr(Scenario, "build", stop)
    monkeypatch.setattr(cascadesim.cli.run, "simulate_with_bar", stop)
    monkeypatch.setattr(cascadesim.cli.run, "simulate", stop)
    monkeypatch.setattr(cascadesim.cli.sweep, "run_sweep", stop)
    monkeypatch.setattr(cascadesim.cli.validate, "validate_event", stop)
    # Event runs would go to worker processes, where the stop above does not reach.
    monkeypatch.setattr(EventWorkers, "map", lambda self, run, jobs: [run(job) for job in jobs])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(argv: list[str], capsys) -> tuple[int | str, str, str]:
    """``cascadesim <argv>`` in this process: (exit code or 'engine', stdout, stderr)."""
    capsys.readouterr()
    try:
        cli.main(argv)
        code: int | str = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except ReachedTheEngine:
        code = "engine"
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_exit(argv: list[str], code, err: str) -> None:
    """Exit 0 (or reached the engine), or 2 with one line on stderr; never a traceback."""
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2, "engine"), (argv, code, err)
    if code == 2 and "Usage:" not in err:  # the help text, for a command line with nothing
        assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
        assert err.rstrip("\n").isprintable(), (argv, err)


def command_options() -> dict[str, list[str]]:
    """Every command of the app and its option names (new commands are fuzzed too)."""
    import typer.main

    group = typer.main.get_command(cli.app)
    return {
        name: [
            option for param in command.params for option in param.opts if option.startswith("-")
        ]
        for name, command in group.commands.items()
    }


COMMANDS = command_options()
ARGUMENT_VALUES = st.one_of(
    st.sampled_from(
        [
            "-1",
            "0",
            "1",
            "2",
            "20",
            "100000",
            "1e308",
            "-1e308",
            "1e-308",
            "nan",
            "inf",
            "-inf",
            "-0",
            "0x10",
            "1_000",
            "9" * 40,
            "",
            " ",
            "x",
            "💥",
            "binance",
            "hyperliquid",
            "dydx",
            "long",
            "short",
            "BTC",
            "gentle",
            "default",
            "exchange_tuning",
            "local",
            "tcp://127.0.0.1:1",
            "replay",
            "true",
            "aggregator",
            "/nonexistent/x.toml",
            "cascadesim/scenario/bundled/gentle.toml",
            "--",
            "-",
            "--help",
        ]
    ),
    st.sampled_from([text for text in EDGE_TEXT if "\x00" not in text]),
    st.text(UNICODE.filter(lambda c: c != "\x00"), max_size=10),
)


@st.composite
def command_lines(draw) -> list[str]:
    """A command, then options of that command (and unknown ones) with random values."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    tokens = [name]
    options = COMMANDS[name] or ["--nothing"]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind < 6:
            tokens += [draw(st.sampled_from(options)), draw(ARGUMENT_VALUES)]
        elif kind < 8:
            tokens.append(draw(ARGUMENT_VALUES))
        else:
            tokens.append(
                draw(
                    st.sampled_from(["--bogus", "-x", "--out=", "--seed=-5", "--json", "--no-json"])
                )
            )
    return tokens


@fuzz(600)
@given(argv=command_lines())
def test_command_line_arguments_exit_0_or_2_in_one_line(argv, no_engine, capsys):
    code, _, err = run_main(argv, capsys)
    assert_clean_exit(argv, code, err)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_an_unknown_option_in_one_line(command, no_engine, capsys):
    code, _, err = run_main([command, "--no-such-option"], capsys)
    assert code == 2 and "--no-such-option" in err
    assert_clean_exit([command], code, err)


# --- the corpus of the nastiest cases -----------------------------------------------------
def corpus_cases(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.toml"))


def expectation(path: Path) -> str:
    """The first line of a corpus file: ``# expect: <text of the error>`` or ``# expect: ok``."""
    first = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    assert first.startswith("# expect: "), path
    return first[len("# expect: ") :]


@pytest.mark.parametrize("path", corpus_cases("scenario"), ids=lambda p: p.stem)
def test_corpus_scenarios(path):
    expected = expectation(path)
    text = path.read_text(encoding="utf-8")
    if expected == "ok":
        assert check_scenario_text(text) in ("built", "estimated")
        return
    with pytest.raises(CascadesimInputError) as error:
        scenario = Scenario.from_toml_text(text, SOURCE)
        scenario.build()
    assert expected in str(error.value)
    assert_one_line(str(error.value), "")


@pytest.mark.parametrize("path", corpus_cases("sweep"), ids=lambda p: p.stem)
def test_corpus_sweeps(path, tmp_path):
    expected = expectation(path)
    if expected == "ok":
        assert check_sweep_text(path.read_text(encoding="utf-8"), tmp_path) == "loaded"
        return
    with pytest.raises(CascadesimInputError) as error:
        load_sweep(path)
    assert expected in str(error.value)
    assert_one_line(str(error.value), f"{path}: ")


ARGUMENT_CASES = json.loads((CORPUS / "args.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=lambda case: " ".join(case["argv"])[:40])
def test_corpus_command_lines(case, no_engine, capsys):
    code, _, err = run_main(case["argv"], capsys)
    assert code == case["exit"], err
    assert case["stderr"] in err
    assert_clean_exit(case["argv"], code, err)


@pytest.mark.parametrize(
    "name", ["control_character_key", "huge_duration", "values_without_weights", "truncated"]
)
def test_real_command_prints_one_line_and_exits_2(name, tmp_path):
    """The installed entry point, in its own process: one stderr line, exit 2, no output."""
    path = CORPUS / "scenario" / f"{name}.toml"
    result = run_cli("run", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("cascadesim: error: ") and expectation(path) in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, not even an empty folder


@pytest.mark.parametrize(
    "body, message",
    [
        ("a = " + "[" * 1000 + "]" * 1000, "nested too deeply"),
        ("seed = " + "9" * 5000, "a number too long to read"),
    ],
)
def test_deep_nesting_and_huge_integers_are_one_line_errors(body, message):
    """tomllib's RecursionError and Python's int-string limit never reach the user."""
    from cascadesim.scenario.models import Scenario  # lazy: keeps the test self-contained

    with pytest.raises(CascadesimInputError, match=message) as raised:
        Scenario.from_toml_text('name = "x"\n' + body, source="hostile.toml")
    assert str(raised.value).startswith("hostile.toml: ") and "\n" not in str(raised.value)


# --- issue 20: the engine under bounds checks, oversized values, the newer input files ---
def cheap_engine(document: dict) -> None:
    """300 accounts and five minutes: a fuzzed case runs in about a second."""
    document.setdefault("population", {})["accounts"] = 300
    document["duration_s"] = 300


ENGINE_DOCUMENTS = bundled_documents(SCENARIO_FILES, cheap_engine)
# Per case, bounds checks on; the cheap scenarios run in one to three seconds. The first
# case includes the cold bounds-checked compile (minutes, once per engine version).
ENGINE_CASE_LIMIT_S = 120.0
ENGINE_WARM_UP_LIMIT_S = 1800.0
FUZZ_REPORT = os.environ.get("CASCADESIM_FUZZ_REPORT")
OUTCOMES: dict[str, dict[str, int]] = {}


def count(test: str, status: str) -> None:
    """Tally a case's outcome; with CASCADESIM_FUZZ_REPORT=FILE the tallies go to FILE."""
    tally = OUTCOMES.setdefault(test, {})
    tally[status] = tally.get(status, 0) + 1
    if FUZZ_REPORT:
        Path(FUZZ_REPORT).write_text(json.dumps(OUTCOMES, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def engine_fuzzer():
    fuzzer = EngineFuzzer(ENGINE_CASE_LIMIT_S)
    warm = fuzzer.run(dump(ENGINE_DOCUMENTS["gentle"]), time_limit_s=ENGINE_WARM_UP_LIMIT_S)
    assert warm.status == "ran", warm.detail
    yield fuzzer
    fuzzer.close()


# With the JIT off (the coverage job) the engine runs as Python, a hundred times slower: a few
# cases cover its lines; the JIT-on runs are the fuzzing.
ENGINE_CASES = 4 if os.environ.get("NUMBA_DISABLE_JIT") == "1" else 60


@fuzz(ENGINE_CASES)
@given(text=engine_toml(ENGINE_DOCUMENTS))
def test_fuzzed_scenarios_run_under_bounds_checks_or_are_refused(text, engine_fuzzer):
    """No segfault (the child would die), hang (the time limit), traceback or inconsistent
    result; see tests/fuzz_engine.py for the checks on each exit-0 run."""
    result = engine_fuzzer.run(text)
    count("engine", result.status)
    assert result.status != "failed", f"{result.detail}\n--- case ---\n{text[:4000]}"


OVERSIZED_TEXTS = [path.read_text(encoding="utf-8") for path in SCENARIO_FILES]


@fuzz(150)
@given(text=oversized_toml(OVERSIZED_TEXTS))
def test_oversized_values_in_scenario_files_are_one_line(text):
    """Nesting thousands deep, integers of thousands of digits, megabyte strings and keys."""
    count("oversized scenario", check_scenario_text(text))


@fuzz(80)
@given(text=oversized_toml([path.read_text(encoding="utf-8") for path in SWEEP_FILES]))
def test_oversized_values_in_sweep_files_are_one_line(text, sweep_folder):
    count("oversized sweep", check_sweep_text(text, sweep_folder))


BOOK_HEADER = "account,market,side,quantity,entry_price,margin,margin_mode"
BOOK_ROWS = [
    "a1,BTC-binance,long,1,100000,5000,isolated",
    "a2,BTC-binance,short,2.5,101000,20000,cross",
    "0xabc,BTC-binance,long,0.01,99000,100,isolated",
]
BOOK_FIELD = st.one_of(
    st.sampled_from([str(v) for v in EDGE_NUMBERS + TYPE_LIMITS]),
    st.sampled_from(EDGE_TEXT),
    st.sampled_from(
        ["long", "short", "cross", "isolated", "BTC-binance", "1e400", "-0", "x" * 5000]
    ),
    st.text(UNICODE, max_size=12),
)


@st.composite
def position_book_text(draw) -> str:
    """A small valid book with cells, rows or the header damaged."""
    rows = [row.split(",") for row in BOOK_ROWS * draw(st.integers(1, 3))]
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, len(row) - 1))] = draw(BOOK_FIELD).replace(",", ";")
    header = BOOK_HEADER
    damage = draw(st.sampled_from(["none", "none", "column", "header", "extra", "truncate"]))
    if damage == "column":
        rows = [row[:-1] for row in rows]
    elif damage == "header":
        header = header.replace("quantity", draw(st.sampled_from(["", "qty", "quantity,quantity"])))
    elif damage == "extra":
        rows = [[*row, draw(BOOK_FIELD).replace(",", ";")] for row in rows]
    text = "\n".join([header, *(",".join(row) for row in rows)]) + "\n"
    return text[: draw(st.integers(0, len(text)))] if damage == "truncate" else text


@pytest.fixture(scope="module")
def gentle_markets():
    scenario = Scenario.from_toml_text(dump(ENGINE_DOCUMENTS["gentle"]), SOURCE)
    return list(scenario.markets), scenario.market_specs()


@fuzz(300)
@given(text=position_book_text())
def test_hostile_position_books_are_read_or_refused_one_line_per_row(
    text, gentle_markets, tmp_path_factory
):
    path = tmp_path_factory.mktemp("book") / "book.csv"
    path.write_text(text, encoding="utf-8")
    names, specs = gentle_markets
    try:
        book = read_position_book(path, names, specs)
    except CascadesimInputError as error:
        lines = str(error).splitlines()
        assert 1 <= len(lines) <= 101, len(lines)  # one per bad row, then a count
        for line in lines:
            assert line.isprintable() and len(line) < 2000, repr(line[:200])
        count("position book", "refused")
        return
    quantity = np.asarray(book.quantity)
    assert np.isfinite(quantity).all() and (quantity > 0).all()
    count("position book", "read")


TARGET_TEXT = st.one_of(
    st.builds(
        "{} {} {}".format,
        st.sampled_from(["adl_probability", "bad_debt_p99", "drawdown_p95", "nope", "", "x" * 300]),
        st.sampled_from(["<=", ">=", "<", "=", "==", "", "=<"]),
        st.sampled_from([str(v) for v in EDGE_NUMBERS + TYPE_LIMITS] + ["1%", "abc", "1e99999"]),
    ),
    st.text(UNICODE, max_size=40),
)


@fuzz(400)
@given(texts=st.lists(TARGET_TEXT, min_size=1, max_size=3))
def test_hostile_tune_targets_are_parsed_or_refused_in_one_line(texts):
    try:
        targets = parse_targets(texts)
    except CascadesimInputError as error:
        assert_one_line(str(error), "--target")
        count("tune targets", "refused")
        return
    assert all(math.isfinite(target.value) for target in targets)
    count("tune targets", "parsed")


@fuzz(60)
@given(data=st.data())
def test_damaged_market_data_files_give_a_scenario_or_one_line(data, data_folder, tmp_path_factory):
    """``snapshot --from-files``: one of the day's files (zipped or not) with its text damaged
    or its numbers set to extremes; the snapshot either writes a scenario that validates or
    is refused in one line."""
    copy = tmp_path_factory.mktemp("vision")
    shutil.copytree(data_folder, copy, dirs_exist_ok=True)
    files = sorted(p for p in copy.rglob("*") if p.suffix in (".csv", ".zip"))
    target = data.draw(st.sampled_from(files))
    if target.suffix == ".zip":
        with zipfile.ZipFile(target) as archive:
            (member,) = archive.namelist()
            text = archive.read(member).decode()
    else:
        text = target.read_text()
    numbers = list(re.finditer(r"-?\d+\.?\d*(e[+-]?\d+)?", text))
    for _ in range(data.draw(st.integers(1, 3))):
        if numbers and data.draw(st.booleans()):
            match = data.draw(st.sampled_from(numbers))
            value = str(data.draw(st.sampled_from(EDGE_NUMBERS + TYPE_LIMITS)))
            text = text[: match.start()] + value + text[match.end() :]
            numbers = list(re.finditer(r"-?\d+\.?\d*(e[+-]?\d+)?", text))
        else:
            text = data.draw(mutated_text(text))
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr(member, text)
    else:
        target.write_text(text)
    try:
        snapshot = snapshot_from_files(copy, "2025-09-22")
        scenario = Scenario.from_toml_text(scenario_text(snapshot, name="fuzzed"), SOURCE)
    except CascadesimInputError as error:
        assert_one_line(str(error), "")
        count("market data files", "refused")
        return
    assert scenario.markets
    count("market data files", "scenario")
