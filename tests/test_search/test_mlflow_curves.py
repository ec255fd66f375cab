"""The running metrics in MLflow sit at x = nodes recorded − 1; live logging and sync agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aira_eval.search.mlflow_sync import sync_study
from aira_eval.search.study_runner import default_tracking_uri
from tests.test_search.conftest import run_small
from tests.test_search.fake_study import VALS, write_fake_study

pytest.importorskip("mlflow")

RUNNING = ("count/nodes", "count/valid", "count/buggy", "best_val/score_val",
           "best_val/score_test", "oracle/score_test", "gap")


def _histories(uri: str, study_id: str) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(search id, metric) -> [(step, value)] of every search run, every metric."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"aira-eval/{study_id}")
    out = {}
    for run in client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'"):
        sid = run.data.tags["aira_eval.search_id"]
        for key in run.data.metrics:
            if key.startswith("summary/"):
                continue
            hist = client.get_metric_history(run.info.run_id, key)
            out[sid, key] = sorted((int(m.step), round(m.value, 12)) for m in hist)
    return out


def test_nodes_recorded_out_of_step_order_give_curves_monotone_in_x(tmp_path: Path) -> None:
    """With several workers nodes are recorded out of step order (here: step 1, 0, 3, 2, ...):
    the value of a running metric at x describes the first x + 1 nodes recorded."""
    study = tmp_path / "wine-study"
    write_fake_study(study, policies=("greedy",))
    journal = study / "searches" / "builtin-wine__greedy__s0" / "journal.jsonl"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    order = [1, 0, 3, 2, 5, 4]
    for i, step in enumerate(order):  # finished (and journaled) in this order
        records[step]["finished_at"] = 1.7e9 + 10 * i + 5
    journal.write_text("".join(json.dumps(records[s]) + "\n" for s in order))
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    sync_study(study, uri)
    hist = _histories(uri, "wine-study")
    sid = "builtin-wine__greedy__s0"
    assert hist[sid, "count/nodes"] == [(x, x + 1.0) for x in range(len(VALS))]
    # recorded: 1 (buggy), 0 (val .70), 3 (.78), 2 (.80), 5 (.85), 4 (.90)
    assert [v for _, v in hist[sid, "count/valid"]] == [0, 1, 2, 3, 4, 5]
    assert [v for _, v in hist[sid, "best_val/score_val"]] == [0.70, 0.78, 0.80, 0.85, 0.90]
    assert [s for s, _ in hist[sid, "best_val/score_val"]] == [1, 2, 3, 4, 5]
    # each node's own metrics stay at its step
    assert hist[sid, "node/score_val"] == [(s, VALS[s]) for s in range(len(VALS)) if s != 1]


def test_live_logging_and_sync_log_the_same_curves(tmp_path: Path) -> None:
    """A study logged live (two workers) and the same study synced into a fresh store hold the
    same values at the same steps, for every metric."""
    out = tmp_path / "study"
    result = run_small(out, steps=3, workers=2, mlflow=True)
    assert result.mlflow_errors == []
    live = _histories(default_tracking_uri(out), out.name)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    sync_study(out, fresh)
    synced = _histories(fresh, out.name)
    assert live == synced
    assert live[result.outcomes[0].search_id, "count/nodes"] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    for (_, key), points in live.items():
        if key in RUNNING:  # one value per x, up to the last node
            steps = [s for s, _ in points]
            assert steps == sorted(set(steps)) and steps[-1] == 2
