"""A resumed search's MLflow runs say the budget it ran with and keep one summary per end."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_eval.search.study_runner import default_tracking_uri, run_study
from tests.test_search.conftest import run_small, small_config

pytest.importorskip("mlflow")


def test_resume_with_more_steps_tags_the_new_budget_and_logs_a_new_summary(
        tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    out = tmp_path / "study"
    run_small(out, steps=1, workers=1, mlflow=True)
    client = MlflowClient(tracking_uri=default_tracking_uri(out))
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    (study,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'study'")
    assert run.data.tags["aira_eval.steps"] == study.data.tags["aira_eval.steps"] == "1"
    result = run_study(small_config(), out, resume=True, overrides={"steps": 2})
    assert result.mlflow_errors == [] and len(result.outcomes[0].nodes) == 2
    run, study = client.get_run(run.info.run_id), client.get_run(study.info.run_id)
    assert run.data.tags["aira_eval.steps"] == study.data.tags["aira_eval.steps"] == "2"
    assert run.data.params["steps"] == "1"  # params are immutable: the tag is the budget run
    history = client.get_metric_history(run.info.run_id, "summary/nodes")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 2.0)]
    assert run.data.metrics["summary/nodes"] == 2.0  # the latest summary is the one shown
