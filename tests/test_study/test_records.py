"""The node table is rebuilt from the journals, re-reading only journals that changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_eval.search.node import Node
from aira_eval.study.journal import JournalFile
from aira_eval.study.records import NodeTableBuilder, SearchMeta, write_search_meta
from aira_eval.study.table import read_nodes


def _search(study: Path, sid: str, steps: int) -> JournalFile:
    meta = SearchMeta("st", sid, "builtin:iris", "greedy", "procedural", 0, "val", False)
    write_search_meta(study / "searches" / sid, meta, {})
    journal = JournalFile(study / "searches" / sid / "journal.jsonl")
    for step in range(steps):
        journal.append(_node(sid, step))
    return journal


def _node(sid: str, step: int) -> Node:
    return Node(node_id=f"{sid}-n{step}", search_id=sid, step=step, batch=step,
                operator="draft", status="ok", scores={"val": 0.5, "test": 0.4})


def test_rebuild_rereads_only_changed_journals(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _search(tmp_path, "a", 2)
    b = _search(tmp_path, "b", 1)
    builder = NodeTableBuilder(tmp_path)
    reads: list[Path] = []
    original = JournalFile.read

    def counting(self: JournalFile) -> list[Node]:
        reads.append(self.path)
        return original(self)

    monkeypatch.setattr(JournalFile, "read", counting)
    assert builder.rebuild() == 3
    assert len(reads) == 2
    b.append(_node("b", 1))
    assert builder.rebuild() == 4
    assert reads[2:] == [b.path]  # only the changed journal was parsed again
    frame = read_nodes(tmp_path / "nodes.parquet")
    assert sorted(frame["node_id"]) == ["a-n0", "a-n1", "b-n0", "b-n1"]
