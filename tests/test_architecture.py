"""The package's layout as a contract: no import cycle, imports one way, lazy imports named.

An AST walk over every module of ``cascadesim`` (function-level imports included) builds the
graph of imports between its modules. The tests fail on a cycle, on an import against the
layer order of ``docs/architecture.md``, and on a function-level import without a
``# lazy: <reason>`` comment; the remaining lazy imports are printed with their reasons.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cascadesim"

# Subpackage -> the subpackages it may import (itself included). ``cascadesim`` is the
# package's own __init__ (lazy re-exports of the public API) and ``_version``.
BELOW = {
    "_version": set(),
    "_util": set(),
    "engine": set(),
    "model": {"engine", "_util", "_version"},
}
BELOW["scenario"] = BELOW["model"] | {"model"}
BELOW["sim"] = BELOW["model"] | {"model"}
BELOW["report"] = BELOW["sim"] | {"sim", "scenario"}
BELOW["events"] = BELOW["report"] - {"report"}
BELOW["sweep"] = BELOW["report"] | {"report"}
BELOW["marketdata"] = BELOW["sim"] | {"sim", "scenario"}
BELOW["cli"] = BELOW["sweep"] | {"sweep", "events", "marketdata"}
ALLOWED = {layer: below | {layer} for layer, below in BELOW.items()}
ALLOWED["cascadesim"] = set(BELOW) | {"cascadesim"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "cascadesim"


def resolve(node: ast.ImportFrom | ast.Import, importer: str) -> list[str]:
    """The package modules an import statement loads (a ``from X import submodule`` too)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    base = node.module or ""
    if node.level:
        package = (
            importer if MODULES[importer].name == "__init__.py" else importer.rsplit(".", 1)[0]
        )
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{base}" if base else package
    if base not in MODULES:
        return []
    targets = [base]
    targets += [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return targets


def imports() -> list[tuple[str, str, int, bool, str]]:
    """(importer, imported, line, function-level, source lines) for every package import."""
    found = []
    for name, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        # Function bodies: imports that run when called, not when the module loads.
        in_functions = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            text = "\n".join(lines[max(node.lineno - 2, 0) : node.end_lineno])
            nested = id(node) in in_functions
            for target in resolve(node, name):
                if target != name:
                    found.append((name, target, node.lineno, nested, text))
            if nested and not resolve(node, name):
                found.append((name, "", node.lineno, nested, text))
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return result


def test_the_walk_sees_the_package():
    found = imports()
    assert len(MODULES) > 40
    assert ("cascadesim.scenario.models", "cascadesim.scenario.build") in {
        (a, b) for a, b, *_ in found
    }
    assert any(nested for *_, nested, _ in found)  # function-level imports are walked


def test_cycle_detection_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_at_module_or_function_level():
    edges: dict[str, set[str]] = {}
    for importer, imported, *_ in imports():
        if imported:
            edges.setdefault(importer, set()).add(imported)
    assert cycles(edges) == []


def test_imports_run_one_way_between_subpackages():
    wrong = [
        f"{importer}:{line} imports {imported}"
        for importer, imported, line, _, _ in imports()
        if imported and layer(imported) not in ALLOWED[layer(importer)]
    ]
    assert wrong == []


def test_every_lazy_import_says_why(capsys):
    lazy = [(importer, line, text) for importer, _, line, nested, text in imports() if nested]
    unexplained = sorted(
        {f"{importer}:{line}" for importer, line, text in lazy if "# lazy:" not in text}
    )
    assert unexplained == []
    with capsys.disabled():
        reasons = sorted(
            {
                (importer, line, text.split("# lazy:")[1].split("\n")[0].strip())
                for importer, line, text in lazy
            }
        )
        print(f"\n{len(reasons)} lazy imports remain:")
        for importer, line, reason in reasons:
            print(f"  {importer}:{line}: {reason}")


@pytest.mark.parametrize(
    "name", ["engine", "model", "scenario", "sim", "events", "sweep", "report", "cli", "_util"]
)
def test_every_subpackage_says_what_it_holds(name):
    init = PACKAGE / name / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))


def test_the_public_api_is_reachable_from_the_package_without_loading_numba():
    import subprocess
    import sys

    probe = (
        "import sys, cascadesim\n"
        "assert 'numba' not in sys.modules and 'pandas' not in sys.modules\n"
        "from cascadesim.sim import Result, simulate\n"
        "from cascadesim.scenario import Scenario\n"
        "from cascadesim.sweep import run_sweep\n"
        "from cascadesim.model import RunBudget, liquidation_price\n"
        "assert cascadesim.simulate is simulate and cascadesim.Result is Result\n"
        "assert cascadesim.Scenario is Scenario and cascadesim.run_sweep is run_sweep\n"
        "assert cascadesim.liquidation_price is liquidation_price\n"
        "assert cascadesim.RunBudget is RunBudget\n"
        "try:\n"
        "    cascadesim.nothing_here\n"
        "except AttributeError as error:\n"
        "    assert 'nothing_here' in str(error)\n"
        "else:\n"
        "    raise SystemExit('an unknown attribute was found')\n"
        "figures = cascadesim.liquidation_price('binance', 'long', 100000, 1, leverage=20)\n"
        "assert 90000 < figures.liquidation_price < 100000\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=PACKAGE.parent.parent, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
