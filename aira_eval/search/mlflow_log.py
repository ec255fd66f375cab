"""MLflow calls of a study's runs (imported lazily: mlflow is heavy).

Layout in one experiment per study (``aira-eval/<study id>``, a classic-ML experiment):

- one *study* run (tag ``aira_eval.kind=study``): the config as params, ``study.json`` as an
  artifact, the tasks' data as dataset inputs;
- one child *search* run per search (``aira_eval.kind=search``), named ``<task> · <policy> ·
  s<seed>``, tagged ``aira_eval.task/policy/operators/model/seed/agent`` for grouping, with every
  node's own metrics (``node/…``) at ``step = node.step`` and ``timestamp = node.finished_at``,
  the running metrics after it (``best_val/…``, ``oracle/…``, ``gap``, ``count/…``) at ``step =
  number of nodes recorded before it`` (see :mod:`aira_eval.search.curves`), and the node's
  ``node.json`` and ``code.py`` as artifacts;
- selection runs as further children (:mod:`aira_eval.selection.tracking`).

Runs are found again by their tags, never remembered locally, so logging is idempotent against
whatever store it talks to: a node whose step already has :data:`~.curves.LOGGED_KEY` is not
logged twice, whether by a resumed search, the live recorder or ``aira-eval sync``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aira_eval.search.curves import LOGGED_KEY, CurvePoint
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.node import Node
from aira_eval.study.records import SearchMeta

MAX_METRICS = 1000  # MLflow's log_batch limit
EXPERIMENT_KIND = "custom_model_development"  # classic ML, not a GenAI/traces experiment


def make_client(tracking_uri: str) -> Any:
    quiet_mlflow()
    check_sqlite(tracking_uri)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def check_sqlite(tracking_uri: str) -> None:
    """Fail at once if a ``sqlite:///`` store cannot be opened (MLflow itself retries opening
    it for ~100 s, printing a warning per attempt); other stores are not checked.

    Raises:
        sqlite3.Error: the database cannot be opened or read.
        OSError: its directory cannot be created.
    """
    import sqlite3

    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or tracking_uri.endswith(":memory:"):
        return
    path = Path(tracking_uri[len(prefix):].split("?", 1)[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=20)) as db:
        db.execute("PRAGMA schema_version").fetchone()


#: The recorder's background thread (see :mod:`aira_eval.search.recorders`).
RECORDER_THREAD = "mlflow-recorder"
#: MLflow's loggers that print a traceback when its store fails (a full disk, a server gone).
_STORE_LOGGERS = ("mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store")


class _NotOnRecorderThread(logging.Filter):
    """Drops MLflow's own error records (tracebacks) logged on the recorder's thread: the
    recorder reports a failing store itself, once per outage, and logs the details at debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != RECORDER_THREAD


_FILTER = _NotOnRecorderThread()


def quiet_mlflow() -> None:
    """MLflow prints a "View run" line to stdout per finished run, INFO lines when it creates a
    store, and a traceback when a store write fails: library code never prints."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    for name in _STORE_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def is_local(tracking_uri: str) -> bool:
    """A store on this machine (sqlite, a file path), whose artifacts live in the study."""
    return not tracking_uri.startswith(("http://", "https://", "databricks"))


def ensure_experiment(client: Any, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, created (or restored) as needed; ``artifact_root`` for local stores,
    None to use the server's own artifact store."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = artifact_root.resolve().as_uri() if artifact_root is not None else None
        exp_id = str(client.create_experiment(name, artifact_location=location))
    else:
        exp_id = str(exp.experiment_id)
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp_id)
    client.set_experiment_tag(exp_id, "mlflow.experimentKind", EXPERIMENT_KIND)
    return exp_id


def find_run(client: Any, exp_id: str, tags: Mapping[str, str]) -> Any | None:
    """The (first) run of the experiment carrying every tag of ``tags``."""
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    runs = client.search_runs([exp_id], filter_string=query, max_results=1)
    return runs[0] if runs else None


def task_label(task: str) -> str:
    """Short task name: ``builtin:wine`` -> ``wine``, ``tasks/my.yaml`` -> ``my``."""
    tail = task.split(":", 1)[-1]
    return Path(tail).stem if tail.endswith((".yaml", ".yml")) else tail


def search_run_name(meta: SearchMeta, params: Mapping[str, Any] | None = None,
                    differ: frozenset[str] = frozenset()) -> str:
    """``<task> · <policy> · s<seed>``, with the operators and/or the model after the policy
    when the study's searches differ in them (``differ``), so two agents never share a name."""
    parts = [task_label(meta.task), meta.policy]
    if "operators" in differ:
        parts.append(meta.operators)
    if "model" in differ:
        parts.append(str((params or {}).get("model") or "-"))
    return " · ".join([*parts, f"s{meta.seed}"])


def agent_fields(meta: SearchMeta, params: Mapping[str, Any]) -> tuple[str, str]:
    """What besides the policy tells agents apart in a run's name: operators, model."""
    return meta.operators, str(params.get("model") or "")


def agent_key(meta: SearchMeta, params: Mapping[str, Any]) -> str:
    """policy · operators · model (the model only for LLM operators)."""
    return " · ".join(str(p) for p in (meta.policy, meta.operators, params.get("model")) if p)


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    def text(v: Any) -> str:
        return json.dumps(v, sort_keys=True) if isinstance(v, list | dict) else str(v)

    return [Param(str(k)[:250], text(v)[:6000]) for k, v in sorted(values.items())]


def _log_params(client: Any, run_id: str, values: Mapping[str, Any]) -> None:
    params = _params(values)
    for i in range(0, len(params), 100):
        client.log_batch(run_id, params=params[i:i + 100])


def study_run(client: Any, exp_id: str, study_dir: Path, manifest: StudyManifest
              ) -> tuple[str, str | None]:
    """Find or create the study's parent run (config params, ``study.json``, dataset inputs);
    returns ``(run_id, status before)`` (None: created)."""
    tags = {"aira_eval.kind": "study", "aira_eval.study_id": manifest.study_id}
    found = find_run(client, exp_id, tags)
    if found is not None:
        return str(found.info.run_id), str(found.info.status)
    run = client.create_run(exp_id, run_name=f"study {manifest.study_id}", tags=tags,
                            start_time=_created_ms(manifest))
    run_id = str(run.info.run_id)
    _log_params(client, run_id, manifest.config)
    client.log_artifact(run_id, str(study_dir / "study.json"))
    log_datasets(client, run_id, list(manifest.tasks.values()))
    return run_id, None


def _created_ms(manifest: StudyManifest) -> int | None:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(manifest.created_at).timestamp() * 1000)
    except ValueError:
        return None


def log_datasets(client: Any, run_id: str, infos: Sequence[TaskInfo]) -> None:
    """Each task's prepared data as a dataset input (name, digest of its files, source)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    inputs = []
    for info in infos:
        files = json.dumps(info.checksums, sort_keys=True).encode()
        digest = hashlib.md5(files, usedforsecurity=False).hexdigest()[:16]
        source = CodeDatasetSource({"aira_eval.task": info.task, "metric": info.metric})
        data = MetaDataset(source, name=task_label(info.task), digest=digest)  # type: ignore[abstract]
        inputs.append(DatasetInput(data._to_mlflow_entity(),
                                   [InputTag("mlflow.data.context", "task")]))
    if inputs:
        client.log_inputs(run_id, datasets=inputs)


def search_run(client: Any, exp_id: str, parent_id: str | None, meta: SearchMeta,
               params: Mapping[str, Any], info: TaskInfo | None,
               start_ms: int | None = None, differ: frozenset[str] = frozenset()
               ) -> tuple[str, str | None]:
    """Find or create a search's run (named by :func:`search_run_name` with ``differ``);
    returns ``(run_id, status before)`` (None: created)."""
    key = {"aira_eval.kind": "search", "aira_eval.study_id": meta.study_id,
           "aira_eval.search_id": meta.search_id}
    found = find_run(client, exp_id, key)
    if found is not None:
        return str(found.info.run_id), str(found.info.status)
    tags = {**key, "aira_eval.task": meta.task, "aira_eval.policy": meta.policy,
            "aira_eval.operators": meta.operators,
            "aira_eval.model": str(params.get("model") or ""),
            "aira_eval.seed": str(meta.seed), "aira_eval.agent": agent_key(meta, params),
            "aira_eval.oracle_run": str(meta.fitness == "test").lower()}
    if parent_id:
        tags["mlflow.parentRunId"] = parent_id
    run = client.create_run(exp_id, run_name=search_run_name(meta, params, differ), tags=tags,
                            start_time=start_ms)
    run_id = str(run.info.run_id)
    _log_params(client, run_id, params)
    if info is not None:
        log_datasets(client, run_id, [info])
    return run_id, None


def logged_steps(client: Any, run_id: str) -> set[int]:
    """Steps of the nodes the run already holds."""
    return {int(m.step) for m in client.get_metric_history(run_id, LOGGED_KEY)}


def _ms(seconds: float) -> int:
    return int((seconds if math.isfinite(seconds) else time.time()) * 1000)


def _metrics(point: CurvePoint) -> list[Any]:
    """A point's metrics: its node's own at the node's step, the running ones at its x."""
    from mlflow.entities import Metric

    node = point.node
    return ([Metric(k, float(v), _ms(node.finished_at), node.step)
             for k, v in point.own.items()]
            + [Metric(k, float(v), _ms(point.time_s), point.x)
               for k, v in point.running.items()])


def log_nodes(client: Any, run_id: str, points: Sequence[CurvePoint], meta: SearchMeta) -> None:
    """Log nodes' metrics (batched) and their ``nodes/<id>/{node.json,code.py}`` artifacts."""
    metrics = [m for point in points for m in _metrics(point)]
    metrics.sort(key=lambda m: m.key == LOGGED_KEY)  # the marks last, should batches be split
    with tempfile.TemporaryDirectory(prefix="aira-mlflow-") as tmp:
        for point in points:
            node = point.node
            folder = Path(tmp) / node.node_id
            folder.mkdir()
            (folder / "node.json").write_text(json.dumps(_record(node, meta), default=str))
            (folder / "code.py").write_text(node.code)
        client.log_artifacts(run_id, tmp, "nodes")
    # metrics last: LOGGED_KEY marks a node as logged, so a failure above retries it whole
    for i in range(0, len(metrics), MAX_METRICS):
        client.log_batch(run_id, metrics=metrics[i:i + MAX_METRICS])


def _record(node: Node, meta: SearchMeta) -> dict[str, Any]:
    return {"node_id": node.node_id, "step": node.step, "operator": node.operator,
            "parent_ids": node.parent_ids, "status": node.status, "reason": node.reason,
            "scores": node.scores, "val_folds": node.val_folds,
            "oracle_run": meta.fitness == "test"}


#: Tags holding the budget a search (study) last ran with: MLflow params are immutable, so the
#: ``steps`` / ``time_budget_s`` params keep the first run's values after a resume changed them.
BUDGET_TAGS = {"steps": "aira_eval.steps", "time_budget_s": "aira_eval.time_budget_s"}


def set_budget_tags(client: Any, run_id: str, params: Mapping[str, Any]) -> None:
    """Tag the run with the budget of this run of the search (or study)."""
    for key, tag in BUDGET_TAGS.items():
        if params.get(key) is not None:
            client.set_tag(run_id, tag, str(params[key]))


def close_run(client: Any, run_id: str, summary: Mapping[str, float],
              end_ms: int | None = None, step: int = 0, status: str = "FINISHED") -> None:
    """Log the search's summary metrics (real timestamps) at ``step`` (its last node's x: a
    resumed search's new summary goes to a new step, and one already at ``step`` is not logged
    again) and end the run with ``status`` (``FINISHED``; ``KILLED`` for a search interrupted
    before its budget) at ``end_ms``: the last node's end, so a study synced later keeps its
    real duration."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(f"summary/{k}", float(v), now, step) for k, v in summary.items()
               if math.isfinite(float(v))]
    if metrics and not any(int(m.step) == step for m in
                           client.get_metric_history(run_id, metrics[0].key)):
        client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, status=status, end_time=end_ms)
