"""The layer order of docs/architecture.md, checked on every import in ``src/litedepth``.

A package may import packages of its own floor or below, never above; packages never form a
cycle. Imports inside functions count (a lazy import is still a dependency). Deprecated
aliases of moved modules (modules that set ``MOVED_TO``) are skipped: they only point at the
new place for one release.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "litedepth"

#: floor of every top-level package / module, ground floor first (docs/architecture.md)
FLOORS: dict[str, int] = {
    "errors": 0, "utils": 0, "__init__": 0, "version": 0,
    "io": 1, "geometry": 1, "losses": 1, "weights": 1,
    "models": 2, "metrics": 2,
    "data": 3, "export": 3,
    "teachers": 4, "tasks": 4,
    "inference": 5,
    "apps": 6, "profiling": 6,
    "cli": 7, "__main__": 7,
}


def _package(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


@functools.cache
def _edges() -> dict[str, set[tuple[str, str]]]:
    """``{package: {(imported package, importing file)}}`` over every non-alias module."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "MOVED_TO" for t in n.targets)
               for n in tree.body):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "litedepth" and len(parts) > 1 and parts[1] != _package(rel):
                    edges[_package(rel)].add((parts[1], str(rel)))
    return edges


def test_every_package_has_a_floor():
    packages = {_package(p.relative_to(SRC)) for p in SRC.rglob("*.py")}
    assert packages <= set(FLOORS), f"packages without a floor in docs/architecture.md: {packages - set(FLOORS)}"


def test_no_import_from_a_higher_floor():
    upward = sorted(f"{where}: {pkg} (floor {FLOORS[pkg]}) imports {target} (floor {FLOORS[target]})"
                    for pkg, targets in _edges().items() for target, where in targets
                    if FLOORS.get(target, 99) > FLOORS[pkg])
    assert not upward, "imports from a higher floor:\n" + "\n".join(upward)


def test_no_cycle_between_packages():
    graph = {pkg: {t for t, _ in targets} for pkg, targets in _edges().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_moved_modules_still_import_with_a_warning():
    import importlib
    import sys

    for old, new in (("litedepth.data.io", "litedepth.io.images"), ("litedepth.utils.video_io", "litedepth.io.video"),
                     ("litedepth.teachers.cache", "litedepth.io.pseudo_labels"),
                     ("litedepth.inference.visualize", "litedepth.utils.visualize")):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
            module = importlib.import_module(old)
        assert module is importlib.import_module(new)
