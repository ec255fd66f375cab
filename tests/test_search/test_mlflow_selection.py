"""A selection pooling two studies is logged into each study's own store, as a child of that
study's run and linked to that study's searches (docs/mlflow.md, the pooled-selection rule)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.search.mlflow_sync import default_tracking_uri, sync_study
from tests.test_search.fake_study import write_fake_study

pytest.importorskip("mlflow")


def test_pooled_selection_is_logged_into_every_study(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    a, b = tmp_path / "a", tmp_path / "b"
    write_fake_study(a)
    write_fake_study(b, policies=("greedy",), seeds=(0, 1))
    for study in (a, b):
        sync_study(study)
    result = CliRunner().invoke(app, ["select", str(a), str(b), "--resamples", "200", "-s",
                                      "best-val", "--pool", "--json"])
    assert result.exit_code == 0, result.output
    tracking = json.loads(result.stdout)["mlflow"]
    assert tracking["warning"] is None, tracking
    runs = tracking["runs"]
    assert [r["tracking_uri"] for r in runs] == [default_tracking_uri(a), default_tracking_uri(b)]
    assert tracking["run_id"] == runs[0]["run_id"]
    logged = []
    for study, entry in zip((a, b), runs, strict=True):
        client = MlflowClient(tracking_uri=default_tracking_uri(study))
        run = client.get_run(entry["run_id"])
        exp = client.get_experiment(run.info.experiment_id)
        assert exp.name == f"aira-eval/{study.name}" == entry["experiment"]
        tags = run.data.tags
        parent = client.get_run(tags["mlflow.parentRunId"])
        assert parent.data.tags["aira_eval.kind"] == "study"
        assert parent.data.tags["aira_eval.study_id"] == study.name == tags["aira_eval.study_id"]
        searches = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
        assert sorted(tags["aira_eval.search_runs"].split(",")) == sorted(
            r.info.run_id for r in searches)  # this study's searches, all of them
        assert (tags["aira_eval.study_ids"], tags["aira_eval.pooled"]) == ("a,b", "true")
        selections = client.search_runs([exp.experiment_id],
                                        "tags.`aira_eval.kind` = 'selection'")
        assert [r.info.run_id for r in selections] == [run.info.run_id]  # once per study
        logged.append(run)
    first, second = logged
    assert first.data.tags["aira_eval.selection_id"] == second.data.tags["aira_eval.selection_id"]
    assert first.data.metrics == second.data.metrics and first.data.metrics
    assert first.data.params["count.searches"] == "4"  # 2 + 2 searches pooled
