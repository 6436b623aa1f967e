"""No import circle inside the receiver: endpoint modules declare their routes and
OpenAPI operations, ``routes.py`` alone assembles them, and nothing below imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import services.receiver

RECEIVER = Path(services.receiver.__file__).parent
PACKAGE = "services.receiver"


def _graph() -> dict[str, set[str]]:
    """Module -> the receiver modules it imports (at any depth, lazily too)."""
    names = {f"{PACKAGE}.{path.stem}" for path in RECEIVER.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in RECEIVER.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[f"{PACKAGE}.{path.stem}"] = found & names
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (empty when there is none)."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str]:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return []
        for target in sorted(graph.get(module, ())):
            found = visit(target, [*trail, module])
            if found:
                return found
        done.add(module)
        return []

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return []


def test_the_receiver_has_no_import_circle() -> None:
    graph = _graph()
    assert len(graph) > 10
    assert _cycle(graph) == []


def test_only_the_app_imports_routes() -> None:
    importers = {module for module, targets in _graph().items() if f"{PACKAGE}.routes" in targets}
    assert importers == {f"{PACKAGE}.app"}


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
