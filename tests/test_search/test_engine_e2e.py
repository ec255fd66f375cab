"""End-to-end searches on builtin tasks: every node run, graded, journaled, tabled."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import comparable, run_small


def test_study_records_every_node(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = run_small(out, policies=["greedy", "random"], steps=4)
    assert not result.interrupted
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 8
    assert set(frame["search_id"]) == {"builtin-iris__greedy__s0", "builtin-iris__random__s0"}
    ok = frame[frame["status"] == "ok"]
    assert len(ok) >= 6, frame[["status", "reason"]]
    for col in ("score_val", "score_search", "score_select", "score_test"):
        assert ok[col].notna().all(), col
    assert (ok["n_test"] > 0).all() and (ok["n_search"] > 0).all()
    assert ok["valid"].all()
    assert not frame["oracle_run"].any()
    # journal is the source of truth: same node ids, code on disk
    for search_id, group in frame.groupby("search_id"):
        nodes = JournalFile(out / "searches" / str(search_id) / "journal.jsonl").read()
        assert sorted(n.node_id for n in nodes) == sorted(group["node_id"])
        for node in nodes:
            assert (out / str(node.code_path)).read_text() == node.code
    manifest = StudyManifest.read(out)
    assert manifest.config["steps"] == 4
    assert "scikit-learn" in manifest.versions and manifest.tasks["builtin:iris"].checksums


def test_same_seed_same_search(tmp_path: Path) -> None:
    a = read_nodes(run_small(tmp_path / "a", steps=3).study_dir / "nodes.parquet")
    b = read_nodes(run_small(tmp_path / "b", steps=3).study_dir / "nodes.parquet")
    assert comparable(a).equals(comparable(b))


def test_oracle_run_is_marked(tmp_path: Path) -> None:
    out = tmp_path / "oracle"
    run_small(out, fitness="test", steps=2)
    frame = read_nodes(out / "nodes.parquet")
    assert frame["oracle_run"].all() and (frame["fitness"] == "test").all()
    meta = json.loads((out / "searches" / "builtin-iris__greedy__s0" / "search.json").read_text())
    assert meta["params"]["oracle_run"] is True


def test_existing_study_needs_resume(tmp_path: Path) -> None:
    out = tmp_path / "s"
    run_small(out, steps=1)
    with pytest.raises(UsageError, match="--resume"):
        run_small(out, steps=1)


def test_search_fitness_needs_holdout(tmp_path: Path, mlebench_data: Path) -> None:
    with pytest.raises(UsageError, match="search"):
        run_small(tmp_path / "s", tasks=["mlebench:spaceship-titanic"], fitness="search",
                  data_dir=str(mlebench_data), heldouts=False)


def test_failing_operator_output_is_a_node_not_a_crash(tmp_path: Path) -> None:
    """A node timeout is recorded with its reason; the search goes on to its budget."""
    out = tmp_path / "t"
    run_small(out, steps=3, node_timeout_s=0.5, workers=1)
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 3
    assert (frame["status"] == "timeout").all()
    assert frame["reason"].str.contains("time limit").all()
    assert all(math.isnan(v) for v in frame["score_test"])


def test_wall_clock_budget_stops_the_search(tmp_path: Path) -> None:
    result = run_small(tmp_path / "t", steps=50, time_budget_s=1.0, workers=1)
    (outcome,) = result.outcomes
    assert outcome.stopped == "time"
    assert 1 <= len(outcome.nodes) < 50
