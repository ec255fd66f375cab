"""``aira-eval import aide|dojo`` through the real typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aira_eval.cli.importers import _regrader
from aira_eval.cli.main import app
from aira_eval.search.operators.base import TaskBrief
from aira_eval.study.table import read_nodes

runner = CliRunner()


def _flat(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())
AIDE_RUN = "backdoor-trigger-recovery_2-test_run_big"


@pytest.fixture(scope="module")
def logs(shared_data: Path) -> Path:
    path = shared_data / "agent-logs"
    if not path.is_dir():
        pytest.skip(f"no agent logs at {path}")
    return path


def test_import_aide(logs: Path, tmp_path: Path) -> None:
    journal = logs / "aide" / AIDE_RUN / "journal.json"
    out = tmp_path / "study"
    result = runner.invoke(app, ["import", "aide", str(journal), "--task", "peer:backdoor",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["nodes"] == 10 and summary["statuses"] == {"buggy": 10}
    assert summary["with_val"] == summary["with_test"] == 0
    assert len(read_nodes(out / "nodes.parquet")) == 10
    # a second run goes into the same study as another search
    other = logs / "aide" / "perception_temporal_action_loc_2-test_runnnn_last" / "journal.json"
    result = runner.invoke(app, ["import", "aide", str(other), "--task", "peer:perception",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 1 nodes" in result.stdout
    table = read_nodes(out / "nodes.parquet")
    assert len(table) == 11 and table["search_id"].nunique() == 2
    again = runner.invoke(app, ["import", "aide", str(other), "--task", "peer:perception",
                                "--out", str(out)])
    assert again.exit_code == 2 and "already holds search" in _flat(again)


def _aide_journal(path: Path) -> Path:
    """A two-node AIDE journal for builtin:iris: a working script and a crashing one."""
    import numpy as np

    from aira_eval.datasets.registry import resolve_task
    from aira_eval.search.journal import JournalView
    from aira_eval.search.operators.base import OperatorContext
    from aira_eval.search.operators.procedural import ProceduralOperators

    task = resolve_task("builtin:iris")
    ctx = OperatorContext(brief=TaskBrief.from_task(task, 60.0),
                          rng=np.random.default_rng(0), step=0,
                          journal=JournalView([]))
    return write_aide_journal(path, ProceduralOperators(bug_rate=0).draft(ctx).code)


def write_aide_journal(path: Path, good: str = "print(1)") -> Path:
    """A two-node AIDE journal: ``good`` (reported 0.9) and a crashing child."""
    nodes = [
        {"id": "a1", "step": 0, "code": good, "plan": "p", "parent": None, "children": ["a2"],
         "_term_out": ["ok"], "exec_time": 1.0, "is_buggy": False,
         "metric": {"value": 0.9, "maximize": True}, "analysis": ""},
        {"id": "a2", "step": 1, "code": "raise SystemExit(1)", "plan": "p", "parent": "a1",
         "children": [], "_term_out": ["boom"], "exec_time": 0.1, "is_buggy": True,
         "metric": {"value": None, "maximize": None}, "analysis": ""},
    ]
    path.write_text(json.dumps({"nodes": nodes, "node2parent": {"a2": "a1"}}))
    return path


def test_regrade_reruns_and_grades_every_node(tmp_path: Path) -> None:
    assert _regrader() is not None
    journal = _aide_journal(tmp_path / "journal.json")
    out = tmp_path / "s"
    result = runner.invoke(app, ["import", "aide", str(journal), "--task", "builtin:iris",
                                 "--out", str(out), "--regrade", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["with_test"] == 1
    table = read_nodes(out / "nodes.parquet").set_index("node_id")
    good = table.filter(like="a1", axis=0).iloc[0]
    bad = table.filter(like="a2", axis=0).iloc[0]
    assert good["status"] == "ok" and good["valid"] and 0 < good["score_test"] <= 1
    assert bad["status"] == "buggy" and not bad["valid"]


def test_import_dojo(logs: Path, tmp_path: Path) -> None:
    run_dir = next(p for p in sorted((logs / "aira-dojo").iterdir()) if p.is_dir())
    out = tmp_path / "study"
    result = runner.invoke(app, ["import", "dojo", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 9 nodes" in result.stdout and "mlebench:random-acts-of-pizza" in (
        result.stdout)
    table = read_nodes(out / "nodes.parquet")
    assert len(table) == 9 and set(table["status"]) == {"buggy"}
    assert (table["parent_ids"].map(len) > 0).sum() == 4  # four debug steps


def test_bad_input_exits_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["import", "aide", str(tmp_path / "nope.json"), "--task", "t",
                                  "--out", str(tmp_path / "s")])
    assert missing.exit_code == 2 and "does not exist" in _flat(missing)
    (tmp_path / "bad.json").write_text("[1, 2]")
    bad = runner.invoke(app, ["import", "aide", str(tmp_path / "bad.json"), "--task", "t",
                              "--out", str(tmp_path / "s")])
    assert bad.exit_code == 2 and "not an AIDE journal" in _flat(bad)
    no_dir = runner.invoke(app, ["import", "dojo", str(tmp_path / "nope"), "--out",
                                 str(tmp_path / "s")])
    assert no_dir.exit_code == 2 and "does not exist" in _flat(no_dir)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    (tmp_path / "j.json").write_text('{"nodes": []}')
    occupied = runner.invoke(app, ["import", "aide", str(tmp_path / "j.json"), "--task", "t",
                                   "--out", str(tmp_path / "full")])
    assert occupied.exit_code == 2 and "holds no study" in _flat(occupied)


def test_import_refuses_a_study_made_by_search(tmp_path: Path) -> None:
    """An `imports` key would make the search study's --resume fail: nothing is written."""
    from aira_eval.search.config import StudyConfig
    from aira_eval.study.manifest import StudyManifest

    out = tmp_path / "searched"
    StudyManifest(study_id="searched", seed=0, config=StudyConfig().to_dict(), tasks={},
                  versions={}, created_at="2026-01-01T00:00:00+00:00").write(out)
    before = (out / "study.json").read_bytes()
    journal = Path(__file__).resolve().parents[2] / "examples" / "aide-breast-cancer" / \
        "journal.json"
    result = runner.invoke(app, ["import", "aide", str(journal), "--task",
                                 "builtin:breast-cancer", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "made by `aira-eval search`" in _flat(result) and "hint:" in result.output
    assert (out / "study.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["study.json"]


def test_regrade_summary_rounds_the_largest_difference(tmp_path: Path) -> None:
    """The printed summary shows 4 significant digits (not a float's repr); --json keeps all."""
    journal = _aide_journal(tmp_path / "journal.json")
    result = runner.invoke(app, ["import", "aide", str(journal), "--task", "builtin:iris",
                                 "--out", str(tmp_path / "s"), "--regrade"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if "max |diff|" in ln)
    shown = line.split("max |diff| ")[1].split(")")[0]
    table = read_nodes(tmp_path / "s" / "nodes.parquet").set_index("node_id")
    good = table.filter(like="a1", axis=0).iloc[0]
    diff = abs(0.9 - good["score_val"])  # the log's 0.9 vs the re-run's printed score
    assert shown == format(diff, ".4g") and len(shown) <= len("0.0001234")
