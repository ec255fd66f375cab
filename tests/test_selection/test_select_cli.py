"""``aira-eval select`` end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes, write_study

runner = CliRunner()
FAST = ["--resamples", "300", "--no-mlflow"]
Builder = Callable[..., tuple[Path, Any]]


def _run(*args: str) -> Any:
    return runner.invoke(app, ["select", *args])


def test_compares_every_strategy_and_writes_results(build_study: Builder) -> None:
    study, synth = build_study()
    result = _run(str(study), *FAST, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    names = list(summary["strategies"])
    assert names == ["best-val", "oracle", "topk", "shrinkage", "lcb", "best-search",
                     "best-select", "last", "random"]
    best_val = summary["strategies"]["best-val"]["metrics"]["normalized_score"]
    assert best_val["ci_low"] <= best_val["estimate"] <= best_val["ci_high"]
    assert best_val["delta"]["estimate"] == 0.0
    # accuracy and error tasks: their raw scores have no mean (null, said why)
    assert summary["strategies"]["best-val"]["metrics"]["test_score"]["estimate"] is None
    assert "test_score" in summary["not_pooled"]["metrics"]
    assert summary["counts"] == {"tasks": 3, "searches": 12, "nodes": 144,
                                 "valid_nodes": int(synth.frame["valid"].sum()),
                                 "oracle_run_searches": 0, "groups": 1}
    picks = pd.read_parquet(study / "selection" / "all" / "picks.parquet")
    assert len(picks) == 9 * 12
    on_disk = json.loads((study / "selection" / "all" / "summary.json").read_text())
    assert on_disk["strategies"].keys() == summary["strategies"].keys()
    assert summary["outputs"]["picks"] == str(study / "selection" / "all" / "picks.parquet")
    table = pd.read_parquet(study / "selection" / "all" / "summary.parquet")
    assert len(table) == 9 * 17  # one row per (group, strategy, metric)
    assert json.loads((study / "selection" / "index.json").read_text())["latest_full"] == "all"


def test_table_output_and_chosen_strategies(build_study: Builder) -> None:
    study, _ = build_study(holdouts=False)
    result = _run(str(study), *FAST, "-s", "shrinkage", "-s", "lcb", "--ci", "bca",
                  "--task-bootstrap", "--k", "2", "--z", "1.5")
    assert result.exit_code == 0, result.output
    for name in ("best-val", "shrinkage", "lcb"):  # the reference comes along
        assert name in result.stdout
    assert "BCa" in result.stdout and "oracle" not in result.stdout
    summary = json.loads((study / "selection" / "shrinkage-lcb.z1.5" / "summary.json")
                         .read_text())
    assert summary["options"]["task_bootstrap"] is True
    assert summary["options"]["z"] == 1.5


def test_holdout_strategies_skipped_or_refused_without_holdouts(build_study: Builder) -> None:
    study, _ = build_study(holdouts=False)
    result = _run(str(study), *FAST)
    assert result.exit_code == 0
    assert "skipped best-search" in result.stderr
    refused = _run(str(study), *FAST, "-s", "best-select")
    assert refused.exit_code == 2
    assert "not applicable" in refused.stderr


def test_several_studies_and_a_nodes_file(build_study: Builder, tmp_path: Path) -> None:
    a, _ = build_study("a")
    b, _ = build_study("b", seed=1)
    out = tmp_path / "combined"
    result = _run(str(a), str(b / "nodes.parquet"), *FAST, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["searches"] == 24 and summary["study_ids"] == ["a", "b"]
    assert (out / "picks.parquet").exists() and not (a / "selection").exists()


def test_mlflow_run_has_one_metric_per_strategy_and_metric(build_study: Builder) -> None:
    study, _ = build_study()
    result = _run(str(study), "--resamples", "200", "-s", "oracle", "--json")
    assert result.exit_code == 0, result.output
    tracking = json.loads(result.stdout)["mlflow"]
    assert tracking["warning"] is None, tracking
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{study / 'mlflow.db'}")
    run = client.get_run(tracking["run_id"])
    assert run.info.run_name.startswith("select-")
    assert client.get_experiment(run.info.experiment_id).name == "aira-eval/study"
    metrics = run.data.metrics
    for key in ("normalized_score/best-val", "normalized_score/best-val.lo", "any_medal/oracle",
                "delta/normalized_score/oracle.hi", "share_favouring/normalized_score/oracle"):
        assert key in metrics, key
    tasks = json.loads((study / "study.json").read_text())["tasks"].values()
    assert len({(t["metric"], t["lower_is_better"]) for t in tasks}) > 1  # mixed metrics:
    assert not any(k.startswith(("test_score/", "regret/")) for k in metrics)  # no raw means
    per_task = [k for k in metrics if k.startswith("task:") and "/test_score/" in k]
    assert len(per_task) == 2 * len(tasks)  # ... but each task's own test score, per strategy
    assert metrics["normalized_score/best-val.lo"] <= metrics["normalized_score/best-val"]
    assert metrics["normalized_score/best-val.hi"] >= metrics["normalized_score/best-val"]
    history = client.get_metric_history(run.info.run_id, "any_medal/oracle")
    assert history[0].timestamp > 1_600_000_000_000  # a real time, not 1970
    assert run.data.tags["aira_eval.kind"] == "selection"
    assert run.data.tags["aira_eval.strategies"] == "best-val,oracle"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "selection")}
    assert artifacts == {"selection/picks.parquet", "selection/summary.json",
                         "selection/per_task.parquet",
                         "selection/summary.parquet"}
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"picks.json", "search_runs.json"} <= top


def test_mlflow_failure_is_a_warning(build_study: Builder, tmp_path: Path) -> None:
    study, _ = build_study()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _run(str(study), "--resamples", "200", "-s", "best-val",
                  "--mlflow-uri", f"sqlite:///{blocker}/sub/mlflow.db")
    assert result.exit_code == 0, result.output
    assert "MLflow logging" in result.stderr
    assert (study / "selection" / "best-val" / "summary.json").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "shrinkge"], "Did you mean shrinkage"),
    (["--reference", "nope"], "unknown strategy"),
    (["--ci", "basic"], "--ci"),
    (["--resamples", "0"], "--resamples"),
    (["--k", "0"], "k (--k) must be at least 1"),
])
def test_usage_errors_exit_2(build_study: Builder, args: list[str], message: str) -> None:
    study, _ = build_study()
    result = _run(str(study), *FAST, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    if not args[0].startswith("-s") and args[0] != "--reference":
        assert "hint:" in result.stderr  # every bad option says how to fix it


def test_out_naming_a_file_is_a_usage_error(build_study: Builder, tmp_path: Path) -> None:
    study, _ = build_study()
    taken = tmp_path / "taken"
    taken.write_text("precious")
    result = _run(str(study), *FAST, "--out", str(taken))
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert taken.read_text() == "precious"


def test_a_torn_journal_line_is_announced(tmp_path: Path) -> None:
    from tests.test_search.fake_study import write_fake_study

    out = tmp_path / "study"
    write_fake_study(out, policies=("greedy",))
    (out / "nodes.parquet").unlink(missing_ok=True)  # built from the journals
    journal = out / "searches" / "builtin-wine__greedy__s0" / "journal.jsonl"
    with journal.open("a", encoding="utf-8") as fh:
        fh.write('{"node_id": "cut sh')
    result = _run(str(out), *FAST)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "torn last line" in result.stderr


def test_input_errors_exit_2(tmp_path: Path) -> None:
    info = {"t1": TaskInfo(task="t1", lower_is_better=False, metric="m")}
    missing = _run(str(tmp_path / "nowhere"), *FAST)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    failed = write_study(tmp_path / "failed", make_nodes([{"val": 0.9, "valid": False}]), info)
    none_valid = _run(str(failed), *FAST)
    assert none_valid.exit_code == 2 and "no valid node" in none_valid.stderr
    newer = write_study(tmp_path / "newer", make_nodes([{"val": 0.9, "test": 0.8}]), info)
    table = pq.read_table(newer / "nodes.parquet")
    meta = {**(table.schema.metadata or {}), b"aira_eval.schema_version": b"7"}
    pq.write_table(table.replace_schema_metadata(meta), newer / "nodes.parquet")
    too_new = _run(str(newer), *FAST)
    assert too_new.exit_code == 2 and "newer" in too_new.stderr


def test_failures_reported_in_the_table(tmp_path: Path) -> None:
    info = {"t1": TaskInfo(task="t1", lower_is_better=False, metric="m",
                           thresholds={"gold": 0.9, "silver": 0.8, "bronze": 0.7,
                                       "median": 0.5}, sample_score=0.0)}
    frames = [make_nodes([{"val": 0.9, "test": 0.85}], search_id="ok", seed=0),
              make_nodes([{"val": 0.9, "valid": False}], search_id="bad", seed=1)]
    study = write_study(tmp_path / "s", pd.concat(frames, ignore_index=True), info)
    result = _run(str(study), *FAST, "-s", "best-val", "--json")
    assert result.exit_code == 0, result.output
    block = json.loads(result.stdout)["strategies"]["best-val"]
    assert block["failures"] == 1
    assert block["metrics"]["test_score"]["estimate"] == pytest.approx(0.85)
    assert block["metrics"]["any_medal"]["estimate"] == pytest.approx(0.5)
    assert block["metrics"]["valid_submission"]["estimate"] == pytest.approx(0.5)
    table = _run(str(study), *FAST, "-s", "best-val")
    assert "failed submissions" in table.stdout
