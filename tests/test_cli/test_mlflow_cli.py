"""``aira-eval sync`` and ``aira-eval ui`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from tests.test_search.fake_study import VALS, write_fake_study

pytest.importorskip("mlflow")
runner = CliRunner()


def test_sync_twice_logs_nothing_twice(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    study = tmp_path / "wine-study"
    write_fake_study(study)
    first = runner.invoke(app, ["sync", str(study), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["searches"], report["runs_created"], report["nodes_logged"]) == (
        2, 2, 2 * len(VALS))
    again = json.loads(runner.invoke(app, ["sync", str(study), "--json"]).stdout)
    assert (again["runs_created"], again["nodes_logged"]) == (0, 0)
    client = MlflowClient(tracking_uri=report["tracking_uri"])
    exp = client.get_experiment_by_name("aira-eval/wine-study")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == [
        "study wine-study", "wine · greedy · s0", "wine · mcts · s0"]
    search = next(r for r in runs if r.info.run_name == "wine · greedy · s0")
    assert len(client.get_metric_history(search.info.run_id, "count/nodes")) == len(VALS)
    assert search.data.metrics["count/buggy"] == 1.0
    assert search.info.end_time < 1.8e12  # the study's own time, not the time of the sync
    summary = client.get_metric_history(search.info.run_id, "summary/nodes")
    assert len(summary) == 1 and summary[0].timestamp > 1_600_000_000_000


def test_sync_and_ui_on_a_non_study_are_usage_errors(tmp_path: Path) -> None:
    for command in ("sync", "ui"):
        result = runner.invoke(app, [command, str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert "study" in result.stderr


def test_ui_stops_its_server_on_sigterm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kill`/`timeout` (SIGTERM) stop the server's process group as Ctrl-C does."""
    import os
    import signal

    import aira_eval.search.mlflow_server as mlflow_server

    stopped: list[bool] = []
    polls: list[int] = []

    class Process:
        def poll(self) -> int | None:  # the server would run on: "exits" after 2 polls
            polls.append(1)
            return 0 if len(polls) > 2 else None

    class Server:
        process = Process()
        log_path = tmp_path / "log"

        def wait_ready(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would

        def stop(self) -> None:
            stopped.append(True)

    monkeypatch.setattr(mlflow_server, "study_ui", lambda *a: (Server(), "http://x"))
    def noop(signum: int, frame: object) -> None:  # never kill pytest itself
        return None

    saved = signal.signal(signal.SIGTERM, noop)
    try:
        result = runner.invoke(app, ["ui", str(tmp_path)])
        restored = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, saved)
    assert result.exit_code == 0, result.output
    assert stopped == [True] and polls == [], "SIGTERM must stop the UI at once"
    assert "exited" not in result.output
    assert restored is noop  # the handlers ui replaced are put back


def test_ui_on_a_missing_folder_does_not_suggest_sync(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", str(tmp_path / "nope")])
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.stderr and "sync" not in result.stderr


def test_run_names_name_operators_and_model_when_searches_differ_in_them(
        tmp_path: Path) -> None:
    """Two agents that differ only by operators and model get different run names (their
    names keep the plain ``<task> · <policy> · s<seed>`` when nothing but the policy differs,
    as in the test above)."""
    from mlflow.tracking import MlflowClient

    study = tmp_path / "mixed"
    write_fake_study(study)
    meta_path = study / "searches" / "builtin-wine__mcts__s0" / "search.json"
    raw = json.loads(meta_path.read_text())
    raw.update(policy="greedy", operators="aide")
    raw["params"]["model"] = "gpt-4o"
    meta_path.write_text(json.dumps(raw))
    report = json.loads(runner.invoke(app, ["sync", str(study), "--json"]).stdout)
    client = MlflowClient(tracking_uri=report["tracking_uri"])
    exp = client.get_experiment_by_name("aira-eval/mixed")
    runs = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    assert sorted(r.info.run_name for r in runs) == [
        "wine · greedy · aide · gpt-4o · s0", "wine · greedy · procedural · - · s0"]


def test_count_metrics_count_each_status_exactly(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    study = tmp_path / "wine-study"
    write_fake_study(study, policies=("greedy",))
    journal = study / "searches" / "builtin-wine__greedy__s0" / "journal.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    lines[2].update(status="timeout", scores={})
    lines[3].update(status="invalid_submission")
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = json.loads(runner.invoke(app, ["sync", str(study), "--json"]).stdout)
    client = MlflowClient(tracking_uri=report["tracking_uri"])
    exp = client.get_experiment_by_name("aira-eval/wine-study")
    (run,) = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'")
    counts = {k: v for k, v in run.data.metrics.items() if k.startswith("count/")}
    assert counts == {"count/nodes": 6, "count/valid": 3, "count/buggy": 1, "count/timeout": 1,
                      "count/invalid_submission": 1, "count/error": 0}
