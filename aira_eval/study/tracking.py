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


def absolute_tracking_uri(uri: str | None) -> str | None:
    """``uri`` with a relative local store made absolute against the current directory
    (``sqlite:///mlflow.db`` -> ``sqlite:////home/me/mlflow.db``, ``./mlruns`` -> an absolute
    path), so that a study records the store the user meant, whatever directory a later
    command runs in; every other URI (servers, ``databricks``, absolute paths) unchanged."""
    if not uri:
        return uri
    if uri.startswith("sqlite:///"):
        path, sep, query = uri[len("sqlite:///"):].partition("?")
        if path and not path.startswith("/") and path != ":memory:":
            return f"sqlite:///{Path(path).expanduser().resolve()}{sep}{query}"
        return uri
    if uri.startswith("file:") and not uri.startswith("file:/"):
        return Path(uri[len("file:"):]).resolve().as_uri()
    if ":" not in uri and ("/" in uri or uri.startswith(".")):  # a plain path: a file store
        return str(Path(uri).expanduser().resolve())
    return uri


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
