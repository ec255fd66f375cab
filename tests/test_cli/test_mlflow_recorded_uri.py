"""`select`, `sync` and `ui` use the tracking URI a study was run with (study.json's
``mlflow_uri``), as `search --resume` does, before the study's own mlflow.db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.study.tracking import own_store_uri, study_tracking_uri
from tests.test_search.fake_study import write_fake_study

pytest.importorskip("mlflow")
runner = CliRunner()


def _record_uri(study: Path, uri: str) -> None:
    manifest = json.loads((study / "study.json").read_text())
    manifest["config"]["mlflow_uri"] = uri  # as `search --tracking-uri URI` records it
    (study / "study.json").write_text(json.dumps(manifest))


def test_one_rule_given_then_recorded_then_environment_then_own_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = tmp_path / "s"
    write_fake_study(study)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert study_tracking_uri(study) == own_store_uri(study)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert study_tracking_uri(study) == "http://env:5000"
    _record_uri(study, "sqlite:///recorded.db")
    assert study_tracking_uri(study) == "sqlite:///recorded.db"
    assert study_tracking_uri(study, "http://given:5000") == "http://given:5000"


def test_sync_and_select_use_the_recorded_store(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    study = tmp_path / "wine-study"
    write_fake_study(study)
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    _record_uri(study, uri)
    synced = runner.invoke(app, ["sync", str(study), "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["tracking_uri"] == uri
    selected = runner.invoke(app, ["select", str(study), "--resamples", "100", "-s",
                                   "best-val", "--json"])
    assert selected.exit_code == 0, selected.output
    tracking = json.loads(selected.stdout)["mlflow"]
    assert tracking["tracking_uri"] == uri and tracking["warning"] is None
    assert not (study / "mlflow.db").exists()  # no second, orphaned store
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(tracking["run_id"])
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["aira_eval.kind"] == "study"
    searches = client.search_runs([run.info.experiment_id], "tags.`aira_eval.kind` = 'search'")
    assert len(searches) == 2
    assert sorted(run.data.tags["aira_eval.search_runs"].split(",")) == sorted(
        r.info.run_id for r in searches)


def test_ui_of_a_study_tracked_on_a_server_prints_that_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No local server is started for a study whose runs live on a tracking server."""
    import aira_eval.search.mlflow_server as mlflow_server

    study = tmp_path / "s"
    write_fake_study(study)
    _record_uri(study, "http://tracking.example:5000")

    class Client:
        def __init__(self, tracking_uri: str) -> None:
            assert tracking_uri == "http://tracking.example:5000"

        def get_experiment_by_name(self, name: str) -> object:
            return type("Exp", (), {"experiment_id": "7"})()

    monkeypatch.setattr("mlflow.tracking.MlflowClient", Client)
    monkeypatch.setattr(mlflow_server, "start_server", lambda *a, **k: pytest.fail("started"))
    result = runner.invoke(app, ["ui", str(study)])
    assert result.exit_code == 0, result.output
    assert "http://tracking.example:5000/#/experiments/7/runs" in result.stdout


def test_ui_names_the_missing_recorded_store(tmp_path: Path) -> None:
    study = tmp_path / "s"
    write_fake_study(study)
    _record_uri(study, f"sqlite:///{tmp_path / 'gone.db'}")
    result = runner.invoke(app, ["ui", str(study)])
    assert result.exit_code == 2, result.output
    assert "gone.db" in result.stderr and "sync" in result.stderr
