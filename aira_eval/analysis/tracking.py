"""Log a report to MLflow, as artifacts (``report/``) of the study's latest selection run.

Logs only where a store exists — the URI given, the study's recorded ``mlflow_uri`` or an
existing ``STUDY/mlflow.db`` — never creating one in a study run with ``--no-mlflow``;
otherwise the returned mapping's ``skipped`` says why. When the store has no selection run
yet, a run named ``report-<UTC timestamp>`` (tag ``aira_eval.kind = report``) is made in the
study's experiment. Optional and failure-tolerant:
any error becomes the ``warning`` of the returned mapping; the report on disk is unaffected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aira_eval.study import Study


def _run_id(client: Any, experiment_id: str, study_ids: list[str]) -> tuple[str, bool]:
    """The latest selection run of the experiment (and False), or a new report run (True), a
    child of the study run when it reports on one study."""
    from aira_eval.selection.tracking import linked_runs

    runs = client.search_runs([experiment_id], "tags.`aira_eval.kind` = 'selection'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if runs:
        return str(runs[0].info.run_id), False
    name = "report-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parent, _ = linked_runs(client, experiment_id, study_ids)
    tags = {"aira_eval.kind": "report", "aira_eval.study_ids": ",".join(study_ids)}
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    return str(run.info.run_id), True


def _store(study: Study, tracking_uri: str | None) -> tuple[str | None, str]:
    """Where to log: the store every command uses (``study_tracking_uri``: the URI given,
    the recorded one, ``MLFLOW_TRACKING_URI``), but the study's own ``STUDY/mlflow.db`` only
    when it exists; else None and why. A store is never created inside a study here."""
    from aira_eval.study.tracking import own_store_uri, study_tracking_uri

    if study.path is None:
        return None, "an in-memory study has no MLflow store"
    config = study.manifest.config if study.manifest else {}
    uri = study_tracking_uri(study.path, tracking_uri)
    if uri != own_store_uri(study.path) or (study.path / "mlflow.db").is_file():
        return uri, ""
    why = "the study was run with --no-mlflow" if config.get("mlflow") is False else \
        "the study has no MLflow store"
    return None, f"{why} (no {study.path.name}/mlflow.db); pass --mlflow-uri to log it anyway"


def log_report(study: Study, out: Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Attach the report directory ``out`` to the study's selection run (module docstring)."""
    from aira_eval.selection.tracking import _experiment_id
    from aira_eval.study.manifest import mlflow_experiment

    result: dict[str, Any] = {"run_id": None, "warning": None, "skipped": None}
    uri, why_not = _store(study, tracking_uri)
    if uri is None or study.path is None:
        result["skipped"] = f"report not logged to MLflow: {why_not}"
        return result
    result["tracking_uri"] = uri
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        experiment = mlflow_experiment("+".join(dict.fromkeys(study.study_ids)))
        exp_id = _experiment_id(client, experiment, study.path, uri)
        run_id, created = _run_id(client, exp_id, list(dict.fromkeys(study.study_ids)))
        client.log_artifacts(run_id, str(out), artifact_path="report")
        if created:
            client.set_terminated(run_id)
        result["run_id"] = run_id
    except Exception as err:  # MLflow down, a locked store, a bad URI: never fatal
        result["warning"] = f"MLflow logging to {uri} failed ({type(err).__name__}: {err})"
    return result
