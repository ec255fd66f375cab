"""Backfill a study's MLflow runs from its journals (``aira-eval sync``).

The journal is the source of truth; this logs whatever a tracking store lacks: a search run that
was never created, the nodes logged while a server was down, a whole study moved to another
machine and synced to a server after the fact. The store is asked which nodes it holds, so
syncing twice logs nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest, mlflow_experiment
from aira_eval.study.records import read_search_meta
from aira_eval.study.tracking import own_store_uri, study_tracking_uri


@dataclass
class SyncReport:
    tracking_uri: str
    experiment: str
    searches: int
    runs_created: int
    nodes_logged: int
    study_run_id: str | None


#: The study's own store (``sqlite:///<absolute STUDY>/mlflow.db``).
default_tracking_uri = own_store_uri


def _end_status(outcome: dict[str, Any]) -> str:
    """A run's status from its search's recorded outcome: KILLED when it was interrupted."""
    return "KILLED" if outcome.get("stopped") == "interrupted" else "FINISHED"


def sync_study(study_dir: Path, tracking_uri: str | None = None) -> SyncReport:
    """Log every search and node of ``study_dir`` the store does not hold yet, in
    ``tracking_uri`` or the study's store (:func:`~aira_eval.study.tracking.study_tracking_uri`).

    Raises:
        UsageError: ``study_dir`` is not a study; DataError from a broken manifest. MLflow's own
            errors (store unreachable) propagate: the caller reports them.
    """
    from aira_eval.search.recorders import StudyLogger, outcome_summary

    if not (study_dir / "study.json").exists():
        raise UsageError(f"{study_dir} is not a study directory (no study.json)",
                         hint="Pass the --out directory of `aira-eval search`.")
    manifest = StudyManifest.read(study_dir)
    uri = study_tracking_uri(study_dir, tracking_uri)
    logger = StudyLogger(uri, study_dir, manifest)
    searches = sorted((study_dir / "searches").glob("*/search.json"))
    for path in searches:
        raw = json.loads(path.read_text(encoding="utf-8"))
        meta = read_search_meta(path.parent)
        nodes = JournalFile(path.parent / "journal.jsonl").read()
        logger.open_search(meta, dict(raw.get("params") or {}), nodes)
        outcome = raw.get("outcome")
        if outcome is not None:
            logger.close_search(meta.search_id, outcome_summary(outcome), _end_status(outcome))
    logger.flush()
    outcomes = [json.loads(p.read_text()).get("outcome") for p in searches]
    if outcomes and all(o is not None for o in outcomes):
        logger.finish_study("KILLED" if any(_end_status(o) == "KILLED" for o in outcomes)
                            else "FINISHED")
    return SyncReport(uri, mlflow_experiment(manifest.study_id), len(searches),
                      logger.runs_created, logger.nodes_logged, logger.study_run_id)
