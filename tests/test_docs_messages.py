"""Output lines the docs show but cannot generate (a server's URL, a random port) still match
what the CLI prints: each must fully match one of the CLI's own message templates (the
f-strings passed to ``print``/``fail`` in ``aira_eval/cli``, markup stripped, every ``{...}``
standing for any text). The generated outputs are checked by ``tests/test_docs_outputs.py``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKUP = re.compile(r"\[/?[a-z ]*\]")  # rich markup such as [yellow] ... [/]
#: (page, the start of a documented output line that no command of the docs build can print)
ILLUSTRATIVE = [
    ("docs/mlflow.md", "MLflow UI: "),
    ("docs/mlflow.md", "synced my-study to "),
    ("docs/search.md", "warning: 1 search(es) steered by test scores"),
]


def _template(node: ast.expr) -> re.Pattern[str] | None:
    """The regex of a string or f-string literal, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts: list[str] = [re.escape(MARKUP.sub("", node.value))]
    elif isinstance(node, ast.JoinedStr):
        parts = [re.escape(MARKUP.sub("", v.value))
                 if isinstance(v, ast.Constant) and isinstance(v.value, str) else ".+?"
                 for v in node.values]
    else:
        return None
    literal = sum(len(p) for p in parts if p != ".+?")
    return re.compile("".join(parts).strip()) if literal >= 8 else None  # not f"{x}" alone


def _cli_templates() -> list[re.Pattern[str]]:
    found = []
    for path in sorted((ROOT / "aira_eval" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in ("print", "fail", "echo"):
                    pattern = _template(node.args[0])
                    if pattern is not None:
                        found.append(pattern)
    return found


def _documented(page: str, start: str) -> str:
    lines = [ln for ln in (ROOT / page).read_text().splitlines() if ln.startswith(start)]
    assert len(lines) == 1, f"{page}: expected one line starting {start!r}, found {lines}"
    return lines[0]


@pytest.mark.parametrize(("page", "start"), ILLUSTRATIVE)
def test_illustrative_output_matches_a_cli_message(page: str, start: str) -> None:
    line = _documented(page, start)
    templates = _cli_templates()
    assert len(templates) > 20  # the walk found the CLI's messages
    assert any(t.fullmatch(line) for t in templates), f"{page}: no CLI message prints {line!r}"


def test_a_changed_message_is_caught() -> None:
    line = _documented("docs/mlflow.md", "synced my-study to ")
    assert not any(t.fullmatch(line.replace("node(s) logged", "nodes logged"))
                   for t in _cli_templates())
