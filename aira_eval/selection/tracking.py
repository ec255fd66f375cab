"""Log a selection run to MLflow: one metric per strategy and metric, side by side.

Metric keys are ``<strategy>.<metric>`` (the study-level estimate) with suffixes ``.ci_low``,
``.ci_high`` (the chosen interval), ``.delta``, ``.delta.ci_low``, ``.delta.ci_high`` (paired
difference to the reference), ``.share_favouring`` (share of paired resamples where the
difference favours it) and ``.prob_improvement`` (rliable's, headline metric); plus
``<strategy>.failures``. With several
groups (agents) every key starts with the group label (``greedy.best-val.test_score``), and the
between-group differences of the headline metric are ``compare.<A - B>.<strategy>.<metric>``
with ``.ci_low``, ``.ci_high``, ``.p_improve``. Characters MLflow refuses in a key become ``_``.
Missing values (NaN) are not logged. The run is named ``select-<UTC timestamp>`` in an
experiment named after the study, in the study's store (default
``sqlite:///STUDY/mlflow.db``, artifacts under ``STUDY/mlartifacts``). MLflow is imported here
only, and any failure becomes a warning in the returned :class:`TrackingOutcome`: logging never
loses or blocks a result.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100


@dataclass
class TrackingOutcome:
    """What happened when logging: the run id, or a warning saying why there is none."""

    tracking_uri: str
    experiment: str
    run_id: str | None = None
    run_name: str | None = None
    warning: str | None = None


def default_tracking_uri(study_dir: Path) -> str:
    """``sqlite:///<absolute STUDY>/mlflow.db``."""
    return f"sqlite:///{(study_dir / 'mlflow.db').resolve()}"


_NOT_IN_KEYS = re.compile(r"[^A-Za-z0-9_.\-/ ]+")


def metric_key(*parts: str) -> str:
    """An MLflow metric key from parts (characters MLflow refuses become ``_``)."""
    return ".".join(_NOT_IN_KEYS.sub("_", p).strip("_") or "_" for p in parts)


def summary_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Flatten a selection summary into MLflow metric keys (module docstring)."""
    out: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if value is not None and math.isfinite(float(value)):
            out[key] = float(value)

    groups = summary["groups"]
    for label, group in groups.items():
        prefix = [] if len(groups) == 1 else [str(label)]
        for name, block in group["strategies"].items():
            put(metric_key(*prefix, name, "failures"), block["failures"])
            for metric, stats in block["metrics"].items():
                key = metric_key(*prefix, name, metric)
                put(key, stats["estimate"])
                put(f"{key}.ci_low", stats["ci_low"])
                put(f"{key}.ci_high", stats["ci_high"])
                put(f"{key}.delta", stats["delta"]["estimate"])
                put(f"{key}.delta.ci_low", stats["delta"]["ci_low"])
                put(f"{key}.delta.ci_high", stats["delta"]["ci_high"])
                put(f"{key}.share_favouring", stats["delta"]["share_resamples_favouring"])
                put(f"{key}.prob_improvement",
                    stats.get("prob_improvement", {}).get("estimate"))
    for row in summary.get("comparison", []):
        key = metric_key("compare", f"{row['group_a']} - {row['group_b']}", row["strategy"],
                         row["metric"])
        put(key, row["delta"])
        put(f"{key}.ci_low", row["lo"])
        put(f"{key}.ci_high", row["hi"])
        put(f"{key}.p_improve", row["p_improve"])
    return out


def summary_params(summary: Mapping[str, Any]) -> dict[str, str]:
    """Run parameters: the options, sources and counts, as strings (MLflow's limit: 6000)."""
    params = {f"option.{k}": str(v) for k, v in summary["options"].items()}
    params.update({f"count.{k}": str(v) for k, v in summary["counts"].items()})
    params["sources"] = ", ".join(summary["sources"])
    params["headline_metric"] = str(summary["headline_metric"])
    return {k: v[:6000] for k, v in params.items()}


def _experiment_id(client: Any, name: str, study_dir: Path) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return str(experiment.experiment_id)
    location = (study_dir / "mlartifacts").resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def log_selection(summary: Mapping[str, Any], files: Mapping[str, Path], study_dir: Path,
                  experiment: str, tracking_uri: str | None = None) -> TrackingOutcome:
    """Log one selection run (metrics, params, result files as artifacts).

    Args:
        summary: :func:`~aira_eval.selection.summary.run_selection`'s summary.
        files: result files to attach (``picks.parquet``, ``summary.json``).
        study_dir: the study whose store is the default.
        experiment: experiment name (the study id).
        tracking_uri: MLflow tracking URI; default :func:`default_tracking_uri`.

    Returns:
        :class:`TrackingOutcome`; ``warning`` is set (and ``run_id`` may be None) on failure.
    """
    uri = tracking_uri or default_tracking_uri(study_dir)
    outcome = TrackingOutcome(tracking_uri=uri, experiment=experiment)
    try:
        outcome.run_name = "select-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        outcome.run_id = _log(summary, files, study_dir, experiment, uri, outcome.run_name)
    except Exception as err:  # MLflow down, a locked store, a bad URI: never fatal
        outcome.warning = f"MLflow logging to {uri} failed ({type(err).__name__}: {err})"
    return outcome


def _log(summary: Mapping[str, Any], files: Mapping[str, Path], study_dir: Path,
         experiment: str, uri: str, run_name: str) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_id = _experiment_id(client, experiment, study_dir)
    tags = {"aira_eval.kind": "selection",
            "aira_eval.version": str(summary.get("aira_eval_version", ""))}
    run = client.create_run(exp_id, run_name=run_name, tags=tags)
    run_id = str(run.info.run_id)
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in summary_metrics(summary).items()]
        params = [Param(k, v) for k, v in summary_params(summary).items()]
        for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])
        for i in range(0, len(params), MAX_PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i:i + MAX_PARAMS_PER_BATCH],
                             tags=[RunTag("mlflow.note.content", "aira-eval select")]
                             if i == 0 else [])
        for path in files.values():
            client.log_artifact(run_id, str(path), artifact_path="selection")
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id
