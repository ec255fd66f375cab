"""Which MLflow tracking store a study's runs live in: one rule for every command.

``aira-eval search`` (and ``--resume``), ``select``, ``sync``, ``ui`` and ``report`` all ask
:func:`study_tracking_uri`, so after ``search --tracking-uri X`` every later command talks to X
without being told again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def own_store_uri(study_dir: Path) -> str:
    """``sqlite:///<absolute STUDY>/mlflow.db``: the study's own store."""
    return f"sqlite:///{(study_dir / 'mlflow.db').resolve()}"


def recorded_tracking_uri(study_dir: Path) -> str | None:
    """The tracking URI the study was run with (``study.json`` config ``mlflow_uri``; a resume
    with ``--tracking-uri`` records its new one); None when none was given (or no manifest)."""
    try:
        raw = json.loads((study_dir / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    config = raw.get("config") if isinstance(raw, dict) else None
    uri = config.get("mlflow_uri") if isinstance(config, dict) else None
    return str(uri) if uri else None


def study_tracking_uri(study_dir: Path, tracking_uri: str | None = None) -> str:
    """The store of ``study_dir``'s runs: ``tracking_uri`` when given, else the one the study
    was run with (:func:`recorded_tracking_uri`), else ``MLFLOW_TRACKING_URI``, else the
    study's own ``mlflow.db`` (:func:`own_store_uri`)."""
    return (tracking_uri or recorded_tracking_uri(study_dir)
            or os.environ.get("MLFLOW_TRACKING_URI") or own_store_uri(study_dir))
