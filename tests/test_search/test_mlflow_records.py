"""MLflow contents read back through the MLflow client; MLflow failures lose nothing."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from aira_eval.search.config import StudyConfig
from aira_eval.search.study_runner import StudyEvents, default_tracking_uri, run_study
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import run_small, small_config

mlflow = pytest.importorskip("mlflow")


def _client(out: Path):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=default_tracking_uri(out))


def test_one_run_per_search_with_every_node(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = run_small(out, steps=3, mlflow=True, policies=["greedy", "random"])
    assert result.mlflow_errors == []
    frame = read_nodes(out / "nodes.parquet")
    client = _client(out)
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
    runs = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    assert sorted(r.info.run_name for r in runs) == ["iris · greedy · s0", "iris · random · s0"]
    (study,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'study'")
    assert study.data.params["steps"] == "3" and study.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(study.info.run_id)] == ["study.json"]
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    for run in runs:
        sid = run.data.tags["aira_eval.search_id"]
        nodes = frame[frame["search_id"] == sid]
        assert run.data.tags["mlflow.parentRunId"] == study.info.run_id
        policy = run.data.tags["aira_eval.policy"]
        assert run.data.tags["aira_eval.agent"] == f"{policy} · procedural"
        assert run.data.tags["aira_eval.seed"] == "0"
        assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["iris"]
        assert run.data.params["task"] == "builtin:iris"
        assert run.data.params["seed"] == "0"
        assert run.data.params["steps"] == "3"
        assert run.data.tags["aira_eval.oracle_run"] == "false"
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "node/score_test")
        ok = nodes[nodes["score_test"].notna()]
        assert sorted(m.step for m in history) == sorted(ok["step"])
        for m in history:
            want = ok.loc[ok["step"] == m.step, "score_test"].iloc[0]
            assert math.isclose(m.value, want)
        for _, node in nodes.iterrows():
            base = f"nodes/{node['node_id']}"
            code = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{base}/code.py")
            assert code == (out / node["code_path"]).read_text()
            record = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/{base}/node.json")
            assert record["status"] == node["status"]
            assert record["operator"] == node["operator"]
            assert record["parent_ids"] == list(node["parent_ids"])


def _status_soon(client, run_id: str, want: str, timeout_s: float = 120.0) -> str:  # type: ignore[no-untyped-def]
    """The run's status once it is ``want`` (the recorder logs in the background), or the last
    one seen after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = str(client.get_run(run_id).info.status)
        if status == want or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_resume_logs_only_missing_nodes_and_runs_again(tmp_path: Path) -> None:
    out = tmp_path / "study"
    run_small(out, steps=2, mlflow=True, workers=1)
    client = _client(out)
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    (study,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'study'")
    assert (run.info.status, study.info.status) == ("FINISHED", "FINISHED")
    during: list[str] = []

    def on_node(plan: object, node: object) -> None:  # while the resumed search runs
        if not during:
            during.extend(_status_soon(client, r.info.run_id, "RUNNING") for r in (run, study))

    run_study(small_config(), out, resume=True, overrides={"steps": 4},
              events=StudyEvents(on_node=on_node))
    assert during == ["RUNNING", "RUNNING"]
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 4
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "count/nodes")]
    assert sorted(steps) == [0, 1, 2, 3]  # each node once
    after = client.get_run(run.info.run_id).info
    assert after.status == "FINISHED"
    assert after.end_time == int(frame["finished_at"].max() * 1000)  # the last node's end
    assert client.get_run(study.info.run_id).info.status == "FINISHED"

    run_study(small_config(), out, resume=True, overrides={"steps": 4})  # nothing to run
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert client.get_run(study.info.run_id).info.status == "FINISHED"


def test_resume_closes_a_finished_search_whose_run_a_kill_left_running(tmp_path: Path) -> None:
    """``kill -9`` after a search's outcome is written but before its run is closed leaves the
    run RUNNING; the resume that finds the search complete (nothing to run) closes it once."""
    out = tmp_path / "study"
    run_small(out, steps=2, mlflow=True, workers=1)
    client = _client(out)
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    (study,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'study'")
    summary = {k: v for k, v in run.data.metrics.items() if k.startswith("summary/")}
    for run_id in (run.info.run_id, study.info.run_id):  # as the killed run left them
        client.update_run(run_id, status="RUNNING")
    result = run_study(small_config(), out, resume=True)
    assert result.outcomes[0].resumed_from == 2 and result.mlflow_errors == []
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert client.get_run(study.info.run_id).info.status == "FINISHED"
    for key, value in summary.items():  # closed with the search's own summary, once
        history = client.get_metric_history(run.info.run_id, key)
        assert [(m.step, m.value) for m in history] == [(1, value)]  # not twice at a step
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "count/nodes")]
    assert sorted(steps) == [0, 1]


def test_mlflow_failure_never_loses_a_node(tmp_path: Path) -> None:
    out = tmp_path / "study"
    (tmp_path / "a-file").write_text("not a directory")
    bad = StudyConfig.from_dict({**small_config().to_dict(), "mlflow": True, "steps": 2,
                                 "mlflow_uri": f"sqlite:///{tmp_path}/a-file/x.db"})
    result = run_study(bad, out)
    assert result.mlflow_errors, "the broken store should have been reported"
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 2
