"""docs/api.md: its examples run as written (the search example only in the slow suite)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_selection.conftest import agent_study

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_a_search_and_a_select_example() -> None:
    search, select = _blocks()
    assert "ae.run_study(" in search and "ae.select(" in select


def test_select_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    agent_study(tmp_path / "study", effect=0.05, n_nodes=8)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_blocks()[1], str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "(2000, 2, 2) ['greedy', 'mcts'] ['best-val', 'topk']" in out
    assert "VAL/TEST" in out and "share_resamples_favouring" in out


@pytest.mark.slow
def test_search_then_select_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for block in _blocks():
        exec(compile(block, str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert "4 searches" in out and "['greedy', 'random']" in out
