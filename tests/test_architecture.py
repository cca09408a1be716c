"""The import rule of ARCHITECTURE.md: the sending and receiving sides stay independent readings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "receiver": {"simulator", "contract_tests", "devtools", "tests", "bench"},
    "simulator": {"receiver", "contract_tests", "devtools", "tests", "bench"},
    "contract_tests": {"receiver", "devtools", "tests", "bench"},
    "fixtures": {"receiver", "simulator", "contract_tests", "devtools", "tests", "bench"},
}


NAMESPACE = "inventory_push_kit"  # the kit's one import name: inventory_push_kit.receiver is folder receiver/


def part(module: str) -> str:
    """The part (top-level folder) a module belongs to: ``inventory_push_kit.receiver.web`` -> ``receiver``."""
    return module.removeprefix(f"{NAMESPACE}.").split(".")[0]


def absolute_imports(path: Path) -> list[str]:
    """Every module path imported absolutely (``from inventory_push_kit import fixtures`` counts as
    ``inventory_push_kit.fixtures``), including ``importlib.import_module("…")``."""
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules += ([f"{NAMESPACE}.{alias.name}" for alias in node.names] if node.module == NAMESPACE
                        else [node.module])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            modules.append(node.args[0].value)
    return modules


def imported_packages(path: Path) -> set[str]:
    return {part(module) for module in absolute_imports(path)}


# The one exception: the receiver's resend sends as the platforms do, with the simulator's senders
# (nothing that receives imports it; the CLI imports it only inside its command).
ALLOWED = {"receiver/resend.py": {"simulator"}}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_part_imports_only_what_the_rule_allows(package: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package]
                                            - ALLOWED.get(str(path.relative_to(ROOT)), set()))
        for path in (ROOT / package).rglob("*.py")
    }
    assert {file: bad for file, bad in offences.items() if bad} == {}


@pytest.mark.parametrize("folder", [*FORBIDDEN, "tests", "bench", "devtools"])
def test_the_kit_is_imported_by_its_installed_name_only(folder: str) -> None:
    """``from receiver…`` would work in the repository (its root is on the path) but import a second
    copy of the module under another name, and fail where the kit is installed: every absolute import
    of the kit goes through ``inventory_push_kit`` (relative imports inside a package stay relative)."""
    offences = {
        str(path.relative_to(ROOT)): bare
        for path in (ROOT / folder).rglob("*.py")
        if (bare := sorted({m for m in absolute_imports(path) if m.split(".")[0] in FORBIDDEN}))
    }
    assert offences == {}


# Packages whose modules must not import each other in a circle (module-level imports; an import
# inside a function runs later and does not count).
ACYCLIC = ("receiver", "simulator", "contract_tests")


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: all but those inside functions."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module → the modules of ``packages`` it imports at module level, relative imports resolved. A
    ``from X import name`` counts as importing ``X.name`` when that is a module, else ``X``."""
    files = {module_name(root, path): path for package in packages for path in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name.removeprefix(f"{NAMESPACE}.") for alias in node.names}
                continue
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            imported = ".".join([*base, *(node.module.split(".") if node.module else [])])
            imported = imported.removeprefix(f"{NAMESPACE}.")
            targets |= {f"{imported}.{alias.name}" if f"{imported}.{alias.name}" in files else imported
                        for alias in node.names}
        graph[module] = {target for target in targets if target in files and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules, each as one circle ``[a, b, …, a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            group.append(module)
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [circle(graph, group) for group in groups]


def circle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One path through a strongly connected group that comes back to where it starts."""
    start, members = group[0], set(group)
    paths = [[start]]
    while paths:  # breadth first: the shortest circle through ``start``
        path = paths.pop(0)
        for target in sorted(graph[path[-1]] & members):
            if target == start:
                return [*path, start]
            if target not in path:
                paths.append([*path, target])
    raise AssertionError(f"{group} is not strongly connected")


def test_no_import_cycles() -> None:
    found = cycles(import_graph(ROOT, ACYCLIC))
    assert not found, "import cycles: " + "; ".join(" -> ".join(circle) for circle in found)


def test_the_cycle_check_resolves_relative_imports_and_ignores_imports_in_functions(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .sub import helpers\n",
        "core.py": "import json\n\nfrom pkg.sub.helpers import tool\n",
        "late.py": "def later():\n    from . import core\n",
        "sub/__init__.py": "",
        "sub/helpers.py": "from ..core import thing\nfrom . import other\n",
        "sub/other.py": "from pkg import late\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph == {"pkg": {"pkg.sub.helpers"}, "pkg.core": {"pkg.sub.helpers"}, "pkg.late": set(),
                     "pkg.sub": set(), "pkg.sub.helpers": {"pkg.core", "pkg.sub.other"}, "pkg.sub.other": {"pkg.late"}}
    assert cycles(graph) == [["pkg.core", "pkg.sub.helpers", "pkg.core"]]
