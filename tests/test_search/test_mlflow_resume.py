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


@pytest.mark.slow  # a study interrupted and resumed (the fast check: the sync test below)
def test_interrupted_search_and_study_are_killed_until_resumed(tmp_path: Path) -> None:
    """An interrupted search (Ctrl-C: the stop event) ends KILLED, as does its study; a search
    that had finished stays FINISHED; the resume that completes them makes them FINISHED."""
    import threading

    from mlflow.tracking import MlflowClient

    from aira_eval.search.study_runner import StudyEvents

    out = tmp_path / "study"
    stop = threading.Event()
    seen: list[str] = []

    def on_node(plan: object, node: object) -> None:  # one search at a time (one worker)
        seen.append(node.search_id)  # type: ignore[attr-defined]
        if len(set(seen)) == 2:  # the second search's first node: interrupt it
            stop.set()

    config = small_config(steps=2, workers=1, mlflow=True, policies=["greedy", "random"])
    result = run_study(config, out, events=StudyEvents(on_node=on_node), stop=stop)
    assert result.interrupted and result.mlflow_errors == []
    first, second = dict.fromkeys(seen)
    client = MlflowClient(tracking_uri=default_tracking_uri(out))
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")

    def statuses() -> dict[str, str]:
        runs = client.search_runs([exp.experiment_id])
        return {r.data.tags.get("aira_eval.search_id", "study"): r.info.status for r in runs}

    assert statuses() == {first: "FINISHED", second: "KILLED", "study": "KILLED"}
    resumed = run_study(config, out, resume=True)
    assert not resumed.interrupted
    assert statuses() == {first: "FINISHED", second: "FINISHED", "study": "FINISHED"}


def test_sync_of_an_interrupted_search_logs_it_killed(tmp_path: Path) -> None:
    import json

    from mlflow.tracking import MlflowClient

    from aira_eval.search.mlflow_sync import sync_study
    from tests.test_search.fake_study import write_fake_study

    study = tmp_path / "wine-study"
    write_fake_study(study)
    meta = study / "searches" / "builtin-wine__mcts__s0" / "search.json"
    raw = json.loads(meta.read_text())
    raw["outcome"]["stopped"] = "interrupted"
    meta.write_text(json.dumps(raw))
    report = sync_study(study)
    client = MlflowClient(tracking_uri=report.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("aira-eval/wine-study")
                               .experiment_id])
    assert {r.data.tags.get("aira_eval.search_id", "study"): r.info.status for r in runs} == {
        "builtin-wine__greedy__s0": "FINISHED", "builtin-wine__mcts__s0": "KILLED",
        "study": "KILLED"}
