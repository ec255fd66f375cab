"""aira_eval.datasets imports in one direction: no cycle between its modules (eager or lazy
imports alike), and nothing from the packages above it (search, study, selection, cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import aira_eval.datasets

ROOT = Path(aira_eval.datasets.__file__).parent


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d.startswith("aira_eval")}
    return graph


def test_datasets_imports_nothing_above_it() -> None:
    outside = {
        (module, dep) for module, deps in _imports().items() for dep in deps
        if not dep.startswith("aira_eval.datasets") and dep != "aira_eval.errors"
    }
    assert outside == set()


def test_datasets_modules_import_without_cycles() -> None:
    graph = _imports()
    edges = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(edges[module]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert cycles == []
    assert "aira_eval.datasets.task" in edges  # the walk saw the package
