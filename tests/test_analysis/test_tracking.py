"""Logging a report to MLflow: only where the study has a store (or a URI is given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aira_eval.analysis.tracking import log_report
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.study import load_study


@pytest.mark.parametrize("mlflow_flag", [False, None])
def test_no_store_is_created_in_a_study_without_one(tmp_path: Path,
                                                    mlflow_flag: bool | None) -> None:
    study_dir = generate_study(SyntheticSpec(n_tasks=1, n_seeds=2, n_nodes=3,
                                             study_id="nomlf")).write(tmp_path / "study")
    if mlflow_flag is not None:  # as `search --no-mlflow` records it
        data = json.loads((study_dir / "study.json").read_text())
        data["config"]["mlflow"] = mlflow_flag
        (study_dir / "study.json").write_text(json.dumps(data))
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "report.md").write_text("x\n")
    before = sorted(p.name for p in study_dir.iterdir())
    result = log_report(load_study(study_dir), tmp_path / "rep")
    assert sorted(p.name for p in study_dir.iterdir()) == before  # no mlflow.db, mlartifacts
    assert result["run_id"] is None and result["warning"] is None
    assert "not logged to MLflow" in result["skipped"] and "--mlflow-uri" in result["skipped"]
    if mlflow_flag is False:
        assert "--no-mlflow" in result["skipped"]
