"""A study against a real ``mlflow server`` (sqlite backend, local artifacts, loopback), read
back over its REST API; the server stopped mid-study, then ``sync`` backfills, idempotently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.search.mlflow_server import MlflowServer, start_server
from aira_eval.search.mlflow_sync import sync_study
from aira_eval.search.study_runner import StudyEvents, run_study
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import small_config

mlflow = pytest.importorskip("mlflow")


def _serve(root: Path, port: int | None = None) -> MlflowServer:
    server = start_server(f"sqlite:///{root / 'server.db'}", root / "server.log",
                          port=port, artifacts_dir=root / "artifacts")
    server.wait_ready()
    return server


def _search_runs(client, exp_id: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    runs = client.search_runs([exp_id], "tags.`aira_eval.kind` = 'search'")
    return {r.data.tags["aira_eval.search_id"]: r for r in runs}


@pytest.mark.slow  # two server starts and a study: minutes on a loaded 2-core machine
def test_server_down_mid_study_then_sync_backfills_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    root, out = tmp_path / "server", tmp_path / "study"
    server = _serve(root)
    port = int(server.url.rsplit(":", 1)[1])
    seen: list[int] = []

    def on_node(plan: object, node: object) -> None:
        seen.append(1)
        if len(seen) == 2:
            server.stop()  # the server goes away mid-study

    try:
        config = small_config(mlflow=True, mlflow_uri=server.url, steps=4, workers=1)
        result = run_study(config, out, events=StudyEvents(on_node=on_node))
        assert result.mlflow_errors, "the stopped server should have been reported"
        frame = read_nodes(out / "nodes.parquet")
        assert len(frame) == 4  # the search went on: every node is in the journal
        server = _serve(root, port)
        client = MlflowClient(tracking_uri=server.url)
        exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
        before = _search_runs(client, exp.experiment_id) if exp is not None else {}
        logged = {sid: len(client.get_metric_history(r.info.run_id, "count/nodes"))
                  for sid, r in before.items()}
        assert sum(logged.values()) < 4

        report = sync_study(out, server.url)
        assert report.nodes_logged == 4 - sum(logged.values())
        exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
        (run,) = _search_runs(client, exp.experiment_id).values()
        _check_search_run(client, run, frame, out)
        again = sync_study(out, server.url)
        assert (again.nodes_logged, again.runs_created) == (0, 0)
        assert len(client.get_metric_history(run.info.run_id, "count/nodes")) == 4

        moved = tmp_path / "elsewhere" / "study"  # a study moved to another machine
        shutil.move(out, moved)
        assert sync_study(moved, server.url).nodes_logged == 0  # same study: nothing new
        local = sync_study(moved, f"sqlite:///{tmp_path / 'other.db'}")
        assert (local.runs_created, local.nodes_logged) == (1, 4)
        _check_selection(client, server.url, moved, run.info.run_id)
    finally:
        server.stop()


def _check_search_run(client, run, frame, out: Path) -> None:  # type: ignore[no-untyped-def]
    assert run.info.run_name == "iris · greedy · s0"
    tags = run.data.tags
    assert (tags["aira_eval.task"], tags["aira_eval.policy"], tags["aira_eval.seed"]) == (
        "builtin:iris", "greedy", "0")
    study = client.get_run(tags["mlflow.parentRunId"])
    assert study.data.tags["aira_eval.kind"] == "study"
    ok = frame[frame["status"] == "ok"].sort_values("finished_at")
    best = client.get_metric_history(run.info.run_id, "best_val/score_val")
    assert max(m.value for m in best) == ok["score_val"].max()
    assert [m.value for m in sorted(best, key=lambda m: m.timestamp)] == sorted(
        m.value for m in best)  # best so far never gets worse (iris: higher is better)
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "node/ok"))
    assert steps == sorted(frame["step"])
    node = frame.iloc[0]
    path = client.download_artifacts(run.info.run_id, f"nodes/{node['node_id']}/code.py")
    assert Path(path).read_text() == (out / node["code_path"]).read_text()


def _check_selection(client, url: str, study: Path, search_run: str) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["select", str(study), "--resamples", "200", "-s",
                                      "oracle", "--tracking-uri", url, "--json"])
    assert result.exit_code == 0, result.output
    tracking = json.loads(result.stdout)["mlflow"]
    assert tracking["warning"] is None, tracking
    run = client.get_run(tracking["run_id"])
    assert run.data.tags["aira_eval.search_runs"] == search_run
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["aira_eval.kind"] == "study"
    assert "normalized_score/oracle" in run.data.metrics or "test_score/oracle" in run.data.metrics
