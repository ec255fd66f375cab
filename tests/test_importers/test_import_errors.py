"""Import of broken or mislabelled logs (audit-d F9): a corrupt log is a data error with a
hint; a metric that is not a number gives a buggy node that says so; a run whose own config
names another task than ``--task`` is warned about."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.errors import DataError
from aira_eval.importers import parse_aide_journal, parse_dojo_run, write_imported_study
from aira_eval.study.table import read_nodes

runner = CliRunner()


def _aide(run: Path, nodes: list[dict[str, Any]], data_dir: str | None = None) -> Path:
    run.mkdir(parents=True)
    (run / "journal.json").write_text(json.dumps({"nodes": nodes}))
    if data_dir:
        (run / "config.yaml").write_text(
            "data_dir: !!python/object/apply:pathlib.PosixPath\n"
            + "".join(f"- {p}\n" for p in ["/", *data_dir.strip("/").split("/")]))
    return run / "journal.json"


def _node(node_id: str, value: Any, buggy: bool = False) -> dict[str, Any]:
    return {"id": node_id, "code": "print(1)", "step": int(node_id[1:]), "parent": None,
            "is_buggy": buggy, "metric": {"value": value, "maximize": True}}


def test_corrupt_logs_are_data_errors_with_a_hint(tmp_path: Path) -> None:
    bad = tmp_path / "aide" / "journal.json"
    bad.parent.mkdir()
    bad.write_text('{"nodes": [')
    with pytest.raises(DataError, match="is not valid JSON") as info:
        parse_aide_journal(bad, task="t")
    assert info.value.hint
    bad.write_bytes(b'{"nodes": ["\xff\xfe"]}')
    with pytest.raises(DataError, match="is not UTF-8"):
        parse_aide_journal(bad, task="t")
    run = tmp_path / "dojo"
    run.mkdir()
    (run / "JOURNAL.jsonl").write_text('{"timestamp": "t", "step": 1, "data": {"step": 1}}\n'
                                       '{"timestamp": "t", "st\n')
    with pytest.raises(DataError, match=r"JOURNAL.jsonl:2 is not valid JSON"):
        parse_dojo_run(run, task="t")
    (run / "JOURNAL.jsonl").unlink()
    (run / "Greedy_search_data.json").write_text('{"nodes": [{"step": 1}')
    with pytest.raises(DataError, match=r"Greedy_search_data\.json is not valid JSON"):
        parse_dojo_run(run, task="t")
    (run / "Greedy_search_data.json").write_text('{"nodes": [{"step": 1, "code": "x"}]}')
    (run / "dojo_config.json").write_text("{")
    with pytest.raises(DataError, match=r"dojo_config\.json is not valid JSON"):
        parse_dojo_run(run, task="t")


def test_cli_corrupt_log_exits_1_with_a_hint(tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "trunc.json"
    bad.parent.mkdir()
    bad.write_text('{"nodes": [')
    result = runner.invoke(app, ["import", "aide", str(bad), "--task", "builtin:iris",
                                 "--out", str(tmp_path / "ib")])
    assert result.exit_code == 1, result.output
    assert "is not valid JSON" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output


def test_a_metric_that_is_not_a_number(tmp_path: Path) -> None:
    journal = _aide(tmp_path / "run", [_node("a0", "abc"), _node("a1", 0.9),
                                       _node("a2", float("nan")), _node("a3", None)])
    search = parse_aide_journal(journal, task="builtin:iris")
    status = {n.node_id: (n.status, n.reason) for n in search.nodes}
    assert status["a1"] == ("ok", None)
    assert status["a0"][0] == "buggy" and "'abc' is not a finite number" in str(status["a0"][1])
    assert status["a2"][0] == "buggy" and "nan" in str(status["a2"][1])
    assert status["a3"] == ("buggy", "the log has no metric value for this node: no "
                                     "validation score")
    assert search.nodes[0].meta["log_metric"] == "abc"
    assert any("2 node(s) logged a metric value that is not a number" in n
               for n in search.notes)
    write_imported_study(search, tmp_path / "study")
    table = read_nodes(tmp_path / "study" / "nodes.parquet").set_index("node_id")
    assert table.loc["a0", "status"] == "buggy" and math.isnan(table.loc["a0", "score_val"])
    assert table.loc["a1", "score_val"] == 0.9


def test_dojo_metric_that_is_not_a_number(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    node = {"step": 1, "id": "n1", "code": "x = 1", "metric": "n/a", "is_buggy": False,
            "parents": [], "operators_used": ["draft"], "metric_maximize": True}
    (run / "JOURNAL.jsonl").write_text(json.dumps({"timestamp": "t", "step": 1, "data": node}))
    search = parse_dojo_run(run, task="mlebench:spaceship-titanic")
    assert search.nodes[0].status == "buggy"
    assert "'n/a' is not a finite number" in str(search.nodes[0].reason)


def test_folder_of_runs_of_other_tasks_warns_per_run(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _aide(logs / "iris_run", [_node("a0", 0.9)], "/bench/iris/env")
    _aide(logs / "pizza_run", [_node("a0", 0.9)],
          "/cache/mlebench/random-acts-of-pizza/prepared/public")
    _aide(logs / "plain_run", [_node("a0", 0.9)], "/home/data")  # names no task
    _aide(logs / "pizza_again", [_node("a0", 0.9)], "/x/random_acts_of_pizza/env")
    result = runner.invoke(app, ["import", "aide", str(logs), "--task", "builtin:iris",
                                 "--out", str(tmp_path / "study")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert all("imported as task builtin:iris" in w for w in warnings)
    assert any("aide__pizza_run:" in w and "'random-acts-of-pizza'" in w for w in warnings)
    assert any("aide__pizza_again:" in w for w in warnings)
    summary = runner.invoke(app, ["import", "aide", str(logs / "pizza_run"), "--task",
                                  "mlebench:random-acts-of-pizza", "--out",
                                  str(tmp_path / "other"), "--json"])
    assert json.loads(summary.stdout)["warnings"] == []


def test_dojo_task_option_against_its_config(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    node = {"step": 1, "id": "n1", "code": "x = 1", "metric": 0.5, "is_buggy": False,
            "parents": [], "operators_used": ["draft"]}
    (run / "JOURNAL.jsonl").write_text(json.dumps({"timestamp": "t", "step": 1, "data": node}))
    (run / "dojo_config.json").write_text(json.dumps(
        {"task": {"name": "random-acts-of-pizza", "benchmark": "mlebench"}}))
    assert parse_dojo_run(run).warnings == []
    assert parse_dojo_run(run, task="mlebench:random-acts-of-pizza").warnings == []
    warned = parse_dojo_run(run, task="mlebench:spaceship-titanic").warnings
    assert len(warned) == 1 and "dojo_config.json names task 'mlebench:random-acts-of-pizza'" \
        in warned[0]


def test_real_aide_folder_with_one_task(shared_data: Path, tmp_path: Path) -> None:
    logs = shared_data / "agent-logs" / "aide"
    if not logs.is_dir():
        pytest.skip(f"no agent logs at {logs}")
    result = runner.invoke(app, ["import", "aide", str(logs), "--task",
                                 "backdoor-trigger-recovery", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "perception_temporal_action_loc" in warnings[0]
