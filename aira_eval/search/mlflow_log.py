"""MLflow calls of the search recorder (imported lazily: mlflow is heavy)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from aira_eval.search.node import Node


def make_client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client: Any, name: str, artifact_root: Path) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_root.resolve().as_uri()))


def _state(search_dir: Path) -> dict[str, Any]:
    path = search_dir / "mlflow.json"
    return json.loads(path.read_text()) if path.exists() else {"run_id": None, "logged": []}


def _save_state(search_dir: Path, state: dict[str, Any]) -> None:
    path = search_dir / "mlflow.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def handle(client: Any, experiment: str, artifact_root: Path, kind: str, payload: Any) -> None:
    if kind == "open":
        _open(client, experiment, artifact_root, *payload)
    elif kind == "node":
        _node(client, *payload)
    elif kind == "close":
        _close(client, *payload)


def _open(client: Any, experiment: str, root: Path, search_dir: Path, meta: Any,
          params: dict[str, Any]) -> None:
    from mlflow.entities import Param, RunTag

    state = _state(search_dir)
    if state.get("run_id"):
        client.set_terminated(state["run_id"], status="RUNNING")
        return
    exp_id = experiment_id(client, experiment, root)
    tags = {
        "aira_eval.search_id": meta.search_id,
        "aira_eval.task": meta.task,
        "aira_eval.policy": meta.policy,
        "aira_eval.oracle_run": str(meta.fitness == "test").lower(),
        "mlflow.runName": meta.search_id,
    }
    run = client.create_run(exp_id, run_name=meta.search_id, tags=tags)
    plist = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
    client.log_batch(run.info.run_id, params=plist, tags=[RunTag(k, v) for k, v in tags.items()])
    state["run_id"] = run.info.run_id
    _save_state(search_dir, state)


def _node(client: Any, search_dir: Path, node: Node, meta: Any) -> None:
    from mlflow.entities import Metric

    state = _state(search_dir)
    run_id = state.get("run_id")
    if not run_id or node.node_id in state["logged"]:
        return
    ts = int((node.finished_at if not math.isnan(node.finished_at) else 0) * 1000)
    metrics = [
        Metric(f"score_{name}", float(value), ts, node.step)
        for name, value in sorted(node.scores.items())
        if value is not None and not math.isnan(value)
    ]
    metrics.append(Metric("status_ok", 1.0 if node.status == "ok" else 0.0, ts, node.step))
    if not math.isnan(node.exec_time):
        metrics.append(Metric("exec_time", float(node.exec_time), ts, node.step))
    client.log_batch(run_id, metrics=metrics)
    record = {
        "node_id": node.node_id, "step": node.step, "operator": node.operator,
        "parent_ids": node.parent_ids, "status": node.status, "reason": node.reason,
        "scores": node.scores, "val_folds": node.val_folds, "oracle_run": meta.fitness == "test",
    }
    client.log_dict(run_id, record, f"nodes/{node.node_id}/node.json")
    client.log_text(run_id, node.code, f"nodes/{node.node_id}/code.py")
    state["logged"].append(node.node_id)
    _save_state(search_dir, state)


def _close(client: Any, search_dir: Path, summary: dict[str, float]) -> None:
    from mlflow.entities import Metric

    state = _state(search_dir)
    run_id = state.get("run_id")
    if not run_id:
        return
    metrics = [Metric(k, float(v), 0, 0) for k, v in summary.items() if not math.isnan(v)]
    if metrics:
        client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, status="FINISHED")
