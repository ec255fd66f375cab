"""Log a selection run to MLflow: one metric per (group, strategy, metric), side by side.

The run goes into the study's experiment (``aira-eval/<study id>``) as a child of the study run,
tagged with what it judged (study ids, strategies, grouping, reference) and linked to the runs of
the searches it judged (``aira_eval.search_runs`` and a ``search_runs.json`` artifact). Its
metrics come from a tidy table (:func:`selection_rows`: ``group, strategy, metric, estimate,
lo, hi``) turned into keys by :func:`tidy_metrics`: ``<metric>/<strategy>`` for the whole study,
``<group>/<metric>/<strategy>`` per group (a task, ...), the interval as ``….lo`` / ``….hi`` —
so MLflow's charts group a metric's strategies together and its compare and
parallel-coordinates views line strategies up. A mean over tasks of raw test scores (or of
anything in raw metric units) is never logged when the tasks use different metrics or
directions: only commensurable metrics (normalized score, medal and valid rates, percentiles,
win rate) and per-task values are. Picks go up as an MLflow table (``picks.json``).

A pooled selection (several studies) is logged into *every* judged study's experiment, as a
child of that study's run and linked to that study's searches (:func:`log_selection_per_study`):
each study's store then holds every selection that used it, whichever study came first on the
command line. The copies carry the same metrics and one ``aira_eval.selection_id``;
``aira_eval.study_ids`` lists every study pooled.

MLflow is imported here only, and any failure becomes a warning in the returned
:class:`TrackingOutcome`: logging never loses or blocks a result.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aira_eval.selection.evaluate import RAW_UNITS
from aira_eval.study.tracking import own_store_uri, study_tracking_uri

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAG = 8000
TIDY_COLUMNS = ("group", "strategy", "metric", "estimate", "lo", "hi")
ALL = "all"


@dataclass
class TrackingOutcome:
    """What happened when logging: the run id, or a warning saying why there is none."""

    tracking_uri: str
    experiment: str
    run_id: str | None = None
    run_name: str | None = None
    warning: str | None = None


#: The study's own store (``sqlite:///<absolute STUDY>/mlflow.db``).
default_tracking_uri = own_store_uri


def selection_rows(summary: Mapping[str, Any], mixed: bool) -> pd.DataFrame:
    """The selection summary as a tidy table (:data:`TIDY_COLUMNS`).

    ``group`` is ``all`` for a study-level estimate of an ungrouped selection, else the group
    (agent) label, with their interval; ``delta/<metric>`` rows hold the paired difference to
    the reference, ``share_favouring/<metric>`` the share of resamples favouring it. Per-task
    means (no interval) have group ``[<label>/]task:<task>``; between-group differences of the
    headline metric have group ``compare:<A - B>``. With ``mixed`` (tasks on different metrics
    or directions), rows pooling :data:`RAW_UNITS` metrics over tasks are left out.
    """
    groups = summary.get("groups") or {ALL: summary}
    rows: list[tuple[str, str, str, Any, Any, Any]] = []
    for label, group in groups.items():
        name_of = ALL if len(groups) == 1 else str(label)
        rows.extend(_group_rows(name_of, group, mixed))
    for row in summary.get("comparison", []):
        if mixed and row["metric"] in RAW_UNITS:
            continue
        group = f"compare:{row['group_a']} - {row['group_b']}"
        rows.append((group, row["strategy"], f"delta/{row['metric']}", row["delta"], row["lo"],
                     row["hi"]))
        share = row.get("share_resamples_favouring", row.get("p_improve"))  # older summaries
        rows.append((group, row["strategy"], f"share_favouring/{row['metric']}", share, None,
                     None))
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


def _group_rows(group: str, block: Mapping[str, Any], mixed: bool
                ) -> list[tuple[str, str, str, Any, Any, Any]]:
    rows: list[tuple[str, str, str, Any, Any, Any]] = []
    for name, strategy in block["strategies"].items():
        rows.append((group, name, "failures", strategy["failures"], None, None))
        for metric, st in strategy["metrics"].items():
            if mixed and metric in RAW_UNITS:
                continue
            rows.append((group, name, metric, st["estimate"], st["ci_low"], st["ci_high"]))
            delta = st["delta"]
            rows.append((group, name, f"delta/{metric}", delta["estimate"], delta["ci_low"],
                         delta["ci_high"]))
            rows.append((group, name, f"share_favouring/{metric}",
                         st["delta"].get("share_resamples_favouring"), None, None))
    prefix = "" if group == ALL else f"{group}/"
    for task, per_strategy in block.get("per_task", {}).items():
        for name, values in per_strategy.items():
            rows.extend((f"{prefix}task:{task}", name, m, v, None, None)
                        for m, v in values.items())
    return rows


def summary_metrics(summary: Mapping[str, Any], mixed: bool = False) -> dict[str, float]:
    """Every MLflow metric of a selection summary (:func:`selection_rows`, :func:`tidy_metrics`)."""
    return tidy_metrics(selection_rows(summary, mixed))


def _finite(value: Any) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def tidy_metrics(table: pd.DataFrame, group_columns: Sequence[str] = ("group",)
                 ) -> dict[str, float]:
    """MLflow metric keys of a tidy table: ``[<group>/…]<metric>/<strategy>[.lo|.hi]``.

    Groups equal to :data:`ALL` are left out of the key. Any number of group columns works (a
    grouped selection passes its own); missing values are not logged.
    """
    out: dict[str, float] = {}
    for row in table.to_dict(orient="records"):
        groups = [str(row[c]) for c in group_columns if str(row[c]) != ALL]
        key = "/".join([*groups, str(row["metric"]), str(row["strategy"])])
        for suffix, col in (("", "estimate"), (".lo", "lo"), (".hi", "hi")):
            if _finite(row[col]):
                out[_clean(key + suffix)] = float(row[col])
    return out


def _clean(key: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / :`` and spaces only."""
    return "".join(c if c.isalnum() or c in "_-./: " else "_" for c in key)[:250]


def summary_params(summary: Mapping[str, Any]) -> dict[str, str]:
    """Run parameters: the options, sources and counts, as strings (MLflow's limit: 6000)."""
    params = {f"option.{k}": str(v) for k, v in summary["options"].items()}
    params.update({f"count.{k}": str(v) for k, v in summary["counts"].items()})
    params["sources"] = ", ".join(summary["sources"])
    params["headline_metric"] = str(summary["headline_metric"])
    return {k: v[:6000] for k, v in params.items()}


def log_selection(summary: Mapping[str, Any], files: Mapping[str, Path], study_dir: Path,
                  experiment: str, tracking_uri: str | None = None, *,
                  table: pd.DataFrame | None = None, picks: pd.DataFrame | None = None,
                  mixed: bool = False, label: str | None = None,
                  linked: Sequence[str] | None = None,
                  extra_tags: Mapping[str, str] | None = None) -> TrackingOutcome:
    """Log one selection run (metrics, params, tags, result files and picks table).

    Args:
        summary: :func:`~aira_eval.selection.summary.run_selection`'s summary.
        files: result files to attach (``picks.parquet``, ``summary.json``).
        study_dir: the study whose store is the default.
        experiment: experiment name (the study's).
        tracking_uri: MLflow tracking URI; default the study's
            (:func:`~aira_eval.study.tracking.study_tracking_uri`).
        table: the tidy metrics table; default :func:`selection_rows` of ``summary``.
        picks: the picks, logged as an MLflow table.
        mixed: the tasks use different metrics (see :func:`selection_rows`).
        label: what the selection was (``all.by-policy``), appended to the run name.
        linked: the study ids whose study run is the parent (when exactly one) and whose search
            runs are linked; default the summary's ``study_ids``.
        extra_tags: further tags of the run.

    Returns:
        :class:`TrackingOutcome`; ``warning`` is set (and ``run_id`` may be None) on failure.
    """
    uri = study_tracking_uri(study_dir, tracking_uri)
    outcome = TrackingOutcome(tracking_uri=uri, experiment=experiment)
    rows = table if table is not None else selection_rows(summary, mixed)
    stamp = "select-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    outcome.run_name = f"{stamp} {label}" if label else stamp
    target = _Target(study_dir, experiment, uri, outcome.run_name,
                     list(linked if linked is not None else summary.get("study_ids", [])),
                     dict(extra_tags or {}))
    try:
        outcome.run_id = _log(summary, files, target, tidy_metrics(rows), picks)
    except Exception as err:  # MLflow down, a locked store, a bad URI: never fatal
        outcome.warning = f"MLflow logging to {uri} failed ({type(err).__name__}: {err})"
    return outcome


def log_selection_per_study(summary: Mapping[str, Any], files: Mapping[str, Path],
                            studies: Sequence[tuple[str, Path]],
                            tracking_uri: str | None = None, *,
                            table: pd.DataFrame | None = None,
                            picks: pd.DataFrame | None = None, mixed: bool = False,
                            label: str | None = None) -> list[TrackingOutcome]:
    """Log a selection into the experiment of every study it judged (the module's rule).

    Args:
        studies: ``(study id, study dir)`` of every source, in order; a study's store is
            ``tracking_uri`` when given, else the one it was run with, else
            ``MLFLOW_TRACKING_URI``, else its own ``mlflow.db``
            (:func:`~aira_eval.study.tracking.study_tracking_uri`). A study named twice in
            one store is logged once.
        Others: as :func:`log_selection`.

    Returns:
        One :class:`TrackingOutcome` per store and study, in the order of ``studies``.
    """
    from aira_eval.study.manifest import mlflow_experiment

    targets: dict[tuple[str, str], tuple[str, Path]] = {}
    for study_id, study_dir in studies:
        uri = study_tracking_uri(study_dir, tracking_uri)
        targets.setdefault((uri, study_id), (study_id, study_dir))
    rows = table if table is not None else selection_rows(summary, mixed)
    tags = {"aira_eval.selection_id": uuid.uuid4().hex[:16],
            "aira_eval.pooled": str(len({s for s, _ in studies}) > 1).lower()}
    return [log_selection(summary, files, study_dir, mlflow_experiment(study_id), uri,
                          table=rows, picks=picks, mixed=mixed, label=label,
                          linked=[study_id], extra_tags={**tags, "aira_eval.study_id": study_id})
            for (uri, _), (study_id, study_dir) in targets.items()]


@dataclass
class _Target:
    """Where one copy of a selection run goes."""

    study_dir: Path
    experiment: str
    uri: str
    run_name: str
    linked: list[str]
    tags: dict[str, str]


def _experiment_id(client: Any, name: str, study_dir: Path, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return str(experiment.experiment_id)
    local = not uri.startswith(("http://", "https://", "databricks"))
    location = (study_dir / "mlartifacts").resolve().as_uri() if local else None
    exp_id = str(client.create_experiment(name, artifact_location=location))
    client.set_experiment_tag(exp_id, "mlflow.experimentKind", "custom_model_development")
    return exp_id


def linked_runs(client: Any, exp_id: str, study_ids: Sequence[str]) -> tuple[str | None,
                                                                           dict[str, str]]:
    """The study run (when one study is judged) and ``search id -> run id`` of its searches."""
    runs = client.search_runs([exp_id], "tags.`aira_eval.kind` = 'search'", max_results=5000)
    searches = {str(r.data.tags.get("aira_eval.search_id")): str(r.info.run_id) for r in runs
                if r.data.tags.get("aira_eval.study_id") in study_ids}
    parent = None
    if len(study_ids) == 1:
        query = (f"tags.`aira_eval.kind` = 'study' and "
                 f"tags.`aira_eval.study_id` = '{study_ids[0]}'")
        found = client.search_runs([exp_id], query, max_results=1)
        parent = str(found[0].info.run_id) if found else None
    return parent, searches


def _tags(summary: Mapping[str, Any], parent: str | None, searches: Mapping[str, str]
          ) -> dict[str, str]:
    tags = {"aira_eval.kind": "selection",
            "aira_eval.version": str(summary.get("aira_eval_version", "")),
            "aira_eval.study_ids": ",".join(summary.get("study_ids", [])),
            "aira_eval.strategies": ",".join(summary["options"]["strategies"]),
            "aira_eval.reference": str(summary.get("reference", "")),
            "aira_eval.grouping": ",".join(summary.get("by") or []) or ALL,
            "aira_eval.judged_on": "test",
            "mlflow.note.content": "aira-eval select"}
    ids = ",".join(sorted(searches.values()))
    tags["aira_eval.search_runs"] = ids if len(ids) <= MAX_TAG else "see search_runs.json"
    if parent:
        tags["mlflow.parentRunId"] = parent
    return tags


def _log(summary: Mapping[str, Any], files: Mapping[str, Path], target: _Target,
         metrics: Mapping[str, float], picks: pd.DataFrame | None) -> str:
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # never print
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=target.uri)
    exp_id = _experiment_id(client, target.experiment, target.study_dir, target.uri)
    parent, searches = linked_runs(client, exp_id, target.linked)
    tags = {**_tags(summary, parent, searches), **target.tags}
    run = client.create_run(exp_id, run_name=target.run_name, tags=tags)
    run_id = str(run.info.run_id)
    try:
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, 0) for k, v in metrics.items()]
        params = [Param(k, v) for k, v in summary_params(summary).items()]
        for i in range(0, len(batch), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=batch[i:i + MAX_METRICS_PER_BATCH])
        for i in range(0, len(params), MAX_PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i:i + MAX_PARAMS_PER_BATCH])
        for path in files.values():
            client.log_artifact(run_id, str(path), artifact_path="selection")
        client.log_dict(run_id, dict(searches), "search_runs.json")
        if picks is not None:
            client.log_table(run_id, data=_table_safe(picks), artifact_file="picks.json")
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def _table_safe(picks: pd.DataFrame) -> pd.DataFrame:
    """Picks with list cells as JSON text (MLflow tables hold scalars)."""
    out = picks.copy()
    out.attrs = {}
    nested = (list, tuple, dict, np.ndarray)
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, nested)).any():
            out[col] = out[col].map(lambda v: json.dumps(
                v if isinstance(v, dict) else list(v) if isinstance(v, nested) else v,
                default=str))
    return out
