"""Journal durability and the derived tree properties of the blinded view."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aira_eval.errors import DataError
from aira_eval.search.journal import JournalView
from aira_eval.search.node import Node, blind
from aira_eval.study.journal import JournalFile


def _node(step: int, parents: list[str] | None = None, status: str = "ok", **scores: float) -> Node:
    return Node(
        node_id=f"n{step}",
        search_id="s",
        step=step,
        batch=step,
        operator="draft" if not parents else "improve",
        parent_ids=parents or [],
        status=status,  # type: ignore[arg-type]
        scores=dict(scores),
    )


def test_append_read_roundtrip(tmp_path: Path) -> None:
    jf = JournalFile(tmp_path / "j.jsonl")
    nodes = [_node(0, val=0.5, test=0.4), _node(1, ["n0"], val=0.6, test=0.7)]
    for n in nodes:
        jf.append(n)
    back = jf.read()
    assert [n.node_id for n in back] == ["n0", "n1"]
    assert back[1].parent_ids == ["n0"]
    assert back[1].scores == {"val": 0.6, "test": 0.7}


def test_torn_last_line_is_dropped_and_repaired(tmp_path: Path) -> None:
    jf = JournalFile(tmp_path / "j.jsonl")
    jf.append(_node(0, val=0.5))
    with jf.path.open("a") as fh:
        fh.write('{"node_id": "n1", "sear')  # killed mid-write
    assert [n.node_id for n in jf.read()] == ["n0"]
    jf.repair()
    jf.append(_node(1, val=0.6))
    assert [n.node_id for n in jf.read()] == ["n0", "n1"]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    jf = JournalFile(tmp_path / "j.jsonl")
    jf.append(_node(0))
    with jf.path.open("a") as fh:
        fh.write("not json\n")
    jf.append(_node(1))
    with pytest.raises(DataError, match="not a valid journal line"):
        jf.read()


def test_blind_view_hides_test_and_select() -> None:
    node = _node(0, val=0.3, test=0.9, select=0.8, search=0.5)
    view = blind(node, "val", lower_is_better=True)
    assert view.fitness == -0.3  # oriented: higher is better
    fields = json.dumps(view.__dict__, default=str)
    assert "0.9" not in fields and "0.8" not in fields
    assert blind(node, "search", lower_is_better=False).fitness == 0.5


def test_buggy_node_has_no_fitness() -> None:
    assert blind(_node(0, status="buggy", val=0.3), "val", False).fitness is None


def test_view_tree_properties() -> None:
    nodes = [
        _node(0, val=0.5),
        _node(1, status="buggy"),
        _node(2, ["n0"], val=0.7),
        _node(3, ["n2"], val=0.6),
    ]
    view = JournalView.from_nodes(nodes, "val", lower_is_better=False)
    assert [n.node_id for n in view.drafts] == ["n0", "n1"]
    assert [n.node_id for n in view.buggy_leaves] == ["n1"]
    best = view.best()
    assert best is not None and best.node_id == "n2"
    assert [n.node_id for n in view.ancestors("n3")] == ["n2", "n0"]
    assert [c.node_id for c in view.children["n0"]] == ["n2"]
    assert not math.isnan(len(view))
