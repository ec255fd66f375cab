"""A relative local tracking store is recorded absolute: every later command, from any
directory, talks to the store the user meant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aira_eval.search.config import StudyConfig
from aira_eval.search.study_runner import prepare_study
from aira_eval.study.tracking import absolute_tracking_uri, study_tracking_uri


def test_relative_local_stores_become_absolute(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{here / 'mlflow.db'}"
    assert absolute_tracking_uri("sqlite:///runs/m.db?timeout=5") == \
        f"sqlite:///{here / 'runs' / 'm.db'}?timeout=5"
    assert absolute_tracking_uri("./mlruns") == str(here / "mlruns")
    assert absolute_tracking_uri("file:mlruns") == (here / "mlruns").as_uri()
    for unchanged in ("sqlite:////abs/m.db", "sqlite:///:memory:", "http://host:5000",
                      "databricks", "file:///abs/mlruns", "/abs/mlruns", None, ""):
        assert absolute_tracking_uri(unchanged) == unchanged


def test_search_records_the_absolute_store_and_resume_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = StudyConfig(tasks=["builtin:iris"], steps=1, mlflow_uri="sqlite:///m.db")
    prepared = prepare_study(config, tmp_path / "study", resume=False)
    assert prepared.mlflow_uri == f"sqlite:///{tmp_path.resolve() / 'm.db'}"
    assert config.mlflow_uri == "sqlite:///m.db"  # the caller's config is not changed
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text(json.dumps({
        "study_id": "s", "seed": 0, "config": prepared.to_dict(), "tasks": {},
        "created_at": "1970-01-01T00:00:00+00:00"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert study_tracking_uri(study) == prepared.mlflow_uri  # not elsewhere/m.db
    resumed = prepare_study(StudyConfig(), study, resume=True,
                            overrides={"mlflow_uri": "sqlite:///other.db"})
    assert resumed.mlflow_uri == f"sqlite:///{elsewhere.resolve() / 'other.db'}"
    stored = json.loads((study / "study.json").read_text())["config"]["mlflow_uri"]
    assert stored == resumed.mlflow_uri
