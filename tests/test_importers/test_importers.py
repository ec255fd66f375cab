"""Importers: the real AIDE and aira-dojo fixtures, plus hand-built logs with scores."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from aira_eval.errors import UsageError
from aira_eval.importers import (
    parse_aide_journal,
    parse_dojo_run,
    write_imported_study,
)
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest
from aira_eval.study.table import read_nodes

AIDE_RUNS = {"backdoor-trigger-recovery_2-test_run_big": 10,
             "perception_temporal_action_loc_2-test_runnnn_last": 1}


@pytest.fixture(scope="module")
def logs(shared_data: Path) -> Path:
    path = shared_data / "agent-logs"
    if not path.is_dir():
        pytest.skip(f"no agent logs at {path}")
    return path


@pytest.fixture(scope="module")
def dojo_run(logs: Path) -> Path:
    return next(p for p in sorted((logs / "aira-dojo").iterdir()) if p.is_dir())


@pytest.mark.parametrize("run", sorted(AIDE_RUNS))
def test_aide_fixtures(logs: Path, run: str, tmp_path: Path) -> None:
    path = logs / "aide" / run / "journal.json"
    raw = json.loads(path.read_text())
    search = parse_aide_journal(path, task="peer-task")
    assert len(search.nodes) == AIDE_RUNS[run] == len(raw["nodes"])
    assert [n.node_id for n in search.nodes] == [n["id"] for n in raw["nodes"]]
    assert all(n.status == "buggy" for n in search.nodes)  # every node failed in these runs
    assert all(not n.scores for n in search.nodes)
    assert all(n.parent_ids == [] and n.operator == "draft" for n in search.nodes)  # no links
    first = search.nodes[0]
    assert first.reason is not None and first.reason.startswith(raw["nodes"][0]["exc_type"])
    assert first.code == raw["nodes"][0]["code"] and first.plan == raw["nodes"][0]["plan"]
    assert first.exec_time == pytest.approx(raw["nodes"][0]["exec_time"])
    assert "Traceback" in search.stdout[first.node_id]
    assert search.notes  # direction unknown: every metric is None

    study = tmp_path / "study"
    write_imported_study(search, study)
    table = read_nodes(study / "nodes.parquet")
    assert len(table) == AIDE_RUNS[run]
    assert set(table["status"]) == {"buggy"} and not table["valid"].any()
    assert set(table["operator"]) == {"draft"} and set(table["task"]) == {"peer-task"}
    for row in table.itertuples():
        assert (study / row.code_path).read_text() == search.nodes[row.Index].code
    manifest = StudyManifest.read(study)
    assert manifest.config["importer"] == "aide"
    assert manifest.config["source"] == str(path.resolve())
    assert manifest.config["checksum"].startswith("sha256:")
    assert manifest.tasks["peer-task"].metric == "unknown"


def test_dojo_fixture(dojo_run: Path, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in (dojo_run / "checkpoint_journal.jsonl").open()]
    step_id = {d["step"]: d["id"] for d in lines}
    search = parse_dojo_run(dojo_run)
    assert search.task == "mlebench:random-acts-of-pizza"
    assert (search.policy, search.seed, search.fitness) == ("dojo-greedy", 42, "val")
    assert search.lower_is_better is False  # the root's metric_maximize is True
    real = [d for d in lines if d["code"]]  # the virtual root (step 0) has no code
    assert len(search.nodes) == len(real) == 9
    assert all(n.status == "buggy" for n in search.nodes)
    assert all("test" not in n.scores and "val" not in n.scores for n in search.nodes)
    by_id = {n.node_id: n for n in search.nodes}
    for d in real:
        node = by_id[d["id"]]
        expected = [step_id[p] for p in d["parents"] if p != 0]
        assert node.parent_ids == expected
        assert node.operator == d["operators_used"][0]
        assert node.step == d["step"]
        for child in d["children"]:  # the checkpoint's children links agree
            assert d["id"] in by_id[step_id[child]].parent_ids
        tokens = sum(m["usage"]["prompt_tokens"] for m in d["operators_metrics"])
        assert node.usage.prompt_tokens == tokens
    assert [by_id[step_id[8]].depth, by_id[step_id[8]].debug_depth] == [2, 2]  # 1 -> 6 -> 8
    study = tmp_path / "study"
    write_imported_study(search, study)
    table = read_nodes(study / "nodes.parquet")
    assert len(table) == 9 and set(table["policy"]) == {"dojo-greedy"}
    assert sorted(table["operator"].tolist()) == ["debug"] * 4 + ["draft"] * 5
    journal = JournalFile(study / "searches" / search.search_id / "journal.jsonl").read()
    assert [n.node_id for n in journal] == [n.node_id for n in search.nodes]
    with pytest.raises(UsageError, match="already holds search"):
        write_imported_study(parse_dojo_run(dojo_run), study)


def _aide_node(node_id: str, step: int, value: float | None, buggy: bool) -> dict[str, Any]:
    return {"id": node_id, "step": step, "code": f"print({step})", "plan": "p", "ctime": 1.0e9,
            "parent": None, "children": [], "_term_out": ["out\n"], "exec_time": 2.0,
            "exc_type": "ValueError" if buggy else None, "analysis": "a", "is_buggy": buggy,
            "metric": {"value": value, "maximize": None if value is None else False}}


def test_aide_lineage_scores_and_direction(tmp_path: Path) -> None:
    journal = {
        "nodes": [_aide_node("a", 0, 0.30, False), _aide_node("b", 1, 0.25, False),
                  _aide_node("c", 2, None, True), _aide_node("d", 3, 0.20, False)],
        "node2parent": {"b": "a", "c": "b", "d": "c"}, "__version": "2",
    }
    path = tmp_path / "run" / "journal.json"
    path.parent.mkdir()
    path.write_text(json.dumps(journal))
    search = parse_aide_journal(path, task="builtin:diabetes")
    ops = [(n.node_id, n.operator, n.parent_ids, n.depth, n.debug_depth, n.status)
           for n in search.nodes]
    assert ops == [("a", "draft", [], 0, 0, "ok"), ("b", "improve", ["a"], 1, 0, "ok"),
                   ("c", "improve", ["b"], 2, 0, "buggy"), ("d", "debug", ["c"], 3, 1, "ok")]
    assert [n.scores.get("val") for n in search.nodes] == [0.30, 0.25, None, 0.20]
    assert search.lower_is_better is True and not search.notes
    write_imported_study(search, tmp_path / "study")
    table = read_nodes(tmp_path / "study" / "nodes.parquet")
    assert table["score_val"].tolist()[:2] == [0.30, 0.25] and math.isnan(table["score_val"][2])
    assert table["lower_is_better"].all() and table["score_test"].isna().all()


def _dojo_line(step: int, parents: list[int], metric: float | None, test: float | None,
               buggy: bool, op: str) -> str:
    node = {"step": step, "id": f"id{step}", "plan": "", "code": "x = 1" if step else "",
            "metric": metric, "metric_maximize": True if step == 0 else None,
            "is_buggy": buggy, "analysis": "", "operators_metrics": [], "children": [],
            "parents": parents, "creation_time": 1.0, "term_out": "", "exec_time": 3,
            "exit_code": 0, "operators_used": [op, "analysis"] if step else [],
            "metric_info/validity_feedback": "ok"}
    if test is not None:
        node["metric_info/score"] = test
    return json.dumps({"timestamp": "t", "step": step, "data": node})


def test_dojo_with_test_scores(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = [_dojo_line(0, [], None, None, True, ""), _dojo_line(1, [0], 0.7, 0.72, False,
                                                                  "draft"),
             _dojo_line(2, [1], 0.75, 0.71, False, "improve"),
             _dojo_line(3, [2], None, None, True, "improve")]
    (run / "JOURNAL.jsonl").write_text("\n".join(lines) + "\n")
    search = parse_dojo_run(run, task="mlebench:spaceship-titanic")
    assert [n.scores for n in search.nodes] == [{"val": 0.7, "test": 0.72},
                                                {"val": 0.75, "test": 0.71}, {}]
    assert [n.parent_ids for n in search.nodes] == [[], ["id1"], ["id2"]]
    assert search.policy == "dojo-search"
    write_imported_study(search, tmp_path / "study")
    table = read_nodes(tmp_path / "study" / "nodes.parquet")
    assert table["valid"].tolist() == [True, True, False]
    assert table["score_test"].tolist()[:2] == [0.72, 0.71]


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        parse_aide_journal(tmp_path / "nope.json", task="t")
    (tmp_path / "x.json").write_text('{"foo": 1}')
    with pytest.raises(UsageError, match="not an AIDE journal"):
        parse_aide_journal(tmp_path / "x.json", task="t")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no aira-dojo journal"):
        parse_dojo_run(tmp_path / "empty")
    (tmp_path / "empty" / "JOURNAL.jsonl").write_text("")
    with pytest.raises(UsageError, match="--task"):
        parse_dojo_run(tmp_path / "empty")


def test_contamination_load_study_falls_back_to_the_journals(tmp_path: Path) -> None:
    """Without nodes.parquet or a node's code file, the checks read both from the journals."""
    from aira_eval.checks._study import load_study

    journal = {"nodes": [_aide_node("a", 0, 0.30, False), _aide_node("b", 1, 0.25, False)],
               "node2parent": {"b": "a"}, "__version": "2"}
    path = tmp_path / "run" / "journal.json"
    path.parent.mkdir()
    path.write_text(json.dumps(journal))
    study = tmp_path / "study"
    write_imported_study(parse_aide_journal(path, task="builtin:diabetes"), study)
    table = read_nodes(study / "nodes.parquet")
    (study / "nodes.parquet").unlink()
    (study / table["code_path"][1]).unlink()
    data = load_study(study)
    assert not (study / "nodes.parquet").exists()  # a check does not write into the study
    assert data.nodes["node_id"].tolist() == ["a", "b"]
    assert data.nodes["score_val"].tolist() == [0.30, 0.25]
    assert data.codes == {"a": "print(0)", "b": "print(1)"}
