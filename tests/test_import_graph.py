"""Imports inside sheetai go one way: no module imports, even indirectly, a module importing it.

Read from the source (module-level imports only; an import inside a function is a deliberate
deferral), so a cycle shows here before it shows as a half-initialised module at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sheetai"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, name, known) for name, path in paths.items()}


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for following in graph.get(node, ()):
            if following == start:
                return [*trail, start]
            if following not in seen:
                seen.add(following)
                stack.append((following, [*trail, following]))
    return None


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_cycle(module: str) -> None:
    # A package's __init__ re-exporting its submodules is not a cycle Python trips on.
    graph = {m: {d for d in deps if not _is_parent(d, m)} for m, deps in GRAPH.items()}
    assert _cycle_from(module, graph) is None, " -> ".join(_cycle_from(module, graph) or [])


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")
