"""The package's shape: imports go one way and modules stay small.

An import cycle hides in a function-level import as well as at the top of a module, so the
graph is read from the source (every ``import`` except those under ``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sheetai"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            found.extend(_imports(ast.Module(body=node.orelse, type_ignores=[])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        found.extend(_imports(node))
    return found


def _targets(module: str, path: Path) -> set[str]:
    """The sheetai modules ``module`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.append(sub if sub in MODULES else base)
        targets.update(n for n in names if n in MODULES and n != module)
    return targets


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges between modules, a package's ``__init__`` re-exports left out.

    ``from ..backends import open_backend`` reaches the package's ``__init__``, which imports
    every backend: counting that as an edge would call any backend that imports a sibling a
    cycle. The ``__init__`` modules are checked on their own for importing in a fresh interpreter.
    """
    inits = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    return {m: {t for t in ts if t not in inits} for m, ts in graph.items() if m not in inits}


GRAPH = {module: _targets(module, path) for module, path in MODULES.items()}


def _area(module: str) -> str:
    """The part of the package a module belongs to: ``sheetai.engine.plan`` -> ``engine``."""
    return module.split(".")[1] if "." in module else ""


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_package_edges(GRAPH)) == []


def test_the_parts_of_the_package_import_one_way() -> None:
    # engine -> quality -> engine through a function-level import is no cycle of modules, but
    # it is two parts that each need the other: quality builds on the engine, not the reverse.
    areas: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        if _area(module):  # the root __init__ re-exports the public API of every part
            areas.setdefault(_area(module), set()).update(
                _area(t) for t in targets if _area(t) not in ("", _area(module))
            )
    assert _cycles(areas) == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    too_big = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert too_big == {}, f"split these by responsibility (at most {MAX_LINES} lines each)"
