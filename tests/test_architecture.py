"""The package's layers: no module imports from a layer above it.

Data flows one way (docs: DESIGN): datasets → study ← search; study → selection, checks,
importers, analysis; the CLI and the public API (``aira_eval/__init__``) on top. This test
reads every module's imports (top-level and inside functions) with ``ast`` and fails on any
import that points up or sideways where the design says it must not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aira_eval"
BASE = {"errors", "_version"}
ALLOWED: dict[str, set[str]] = {
    "datasets": BASE | {"datasets"},
    "study": BASE | {"datasets", "study"},
    "search": BASE | {"datasets", "study", "search"},
    "selection": BASE | {"datasets", "study", "selection"},
    "checks": BASE | {"datasets", "study", "checks"},
    "importers": BASE | {"datasets", "study", "importers"},
    "analysis": BASE | {"datasets", "study", "selection", "analysis"},
    "api": BASE | {"datasets", "study", "search", "selection", "checks", "importers",
                   "analysis", "api"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" \
        else "api"


def _imported_layers(path: Path) -> list[tuple[int, str, str]]:
    """(line, imported module, its layer) of every ``aira_eval`` import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "aira_eval" else \
                [f"aira_eval.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "aira_eval" and len(parts) > 1:
                out.append((node.lineno, name, parts[1]))
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) != "cli")


def test_every_layer_is_known() -> None:
    layers = {_layer(p) for p in MODULES}
    unknown = layers - set(ALLOWED) - BASE - {"__main__"}
    assert not unknown, f"add these packages to ALLOWED: {unknown}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    layer = _layer(path)
    if layer in BASE or layer == "__main__":
        return
    allowed = ALLOWED[layer]
    bad = [f"line {line}: {name}" for line, name, target in _imported_layers(path)
           if target not in allowed and target != "__version__"]
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports from above: {bad}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    fake = tmp_path / "mod.py"
    fake.write_text("def f():\n    from aira_eval.search.node import Node\n")
    assert _imported_layers(fake) == [(2, "aira_eval.search.node", "search")]
