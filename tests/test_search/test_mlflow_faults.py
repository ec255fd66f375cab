"""The study's MLflow store becomes unwritable mid-study: the study goes on with one warning and
no traceback, every node is journaled, and ``aira-eval sync`` backfills what the store missed
once it is writable again, idempotently.

The store is a real sqlite store; "unwritable" is real too: its file is moved aside and a
directory takes its place, so every connection MLflow opens fails (``NullPool``: a connection
per session, as MLflow's ``MLFLOW_SQLALCHEMYSTORE_POOLCLASS`` allows), until it is moved back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.search.study_runner import StudyEvents, run_study
from aira_eval.study.journal import JournalFile
from tests.test_search.conftest import small_config

pytest.importorskip("mlflow")
SEARCH = "builtin-iris__greedy__s0"


def _logged_steps(uri: str, study: str) -> list[int]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"aira-eval/{study}")
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    return sorted(int(m.step) for r in runs
                  for m in client.get_metric_history(r.info.run_id, "node/ok"))


def _sync(out: Path, uri: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["sync", str(out), "--tracking-uri", uri, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_unwritable_store_mid_study_then_sync_backfills_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    db, aside, out = tmp_path / "store" / "mlflow.db", tmp_path / "aside.db", tmp_path / "study"
    uri = f"sqlite:///{db}"
    seen: list[int] = []

    def on_node(plan: object, node: object) -> None:
        seen.append(1)
        if len(seen) == 2:  # the store goes away mid-study
            db.rename(aside)
            db.mkdir()

    assert _logged_steps(uri, out.name) == []  # creates the store (MLflow retries a store
    # it cannot create for minutes: this test is about one that breaks mid-study)
    config = small_config(mlflow=True, mlflow_uri=uri, steps=4, workers=1)
    result = run_study(config, out, events=StudyEvents(on_node=on_node))
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    journal = JournalFile(out / "searches" / SEARCH / "journal.jsonl").read()
    assert sorted(n.step for n in journal) == [0, 1, 2, 3]  # the study went on

    db.rmdir()  # the store is writable again
    if aside.exists():
        aside.rename(db)
    before = _logged_steps(uri, out.name)
    assert len(before) < 4 and len(set(before)) == len(before)
    (warning,) = result.mlflow_errors  # one line for the outage, not one per retry
    assert f"{4 - len(before)} node(s) not logged" in warning and "aira-eval sync" in warning

    report = _sync(out, uri)
    assert report["nodes_logged"] == 4 - len(before)
    assert _logged_steps(uri, out.name) == [0, 1, 2, 3]
    again = _sync(out, uri)  # idempotent: nothing twice
    assert (again["nodes_logged"], again["runs_created"]) == (0, 0)
    assert _logged_steps(uri, out.name) == [0, 1, 2, 3]
