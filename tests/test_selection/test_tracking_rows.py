"""Selection metrics for MLflow: a tidy table, keys per (group, strategy, metric), no mean
over incommensurable metrics."""

from __future__ import annotations

import pandas as pd

from aira_eval.selection.tracking import RAW_UNITS, selection_rows, tidy_metrics


def _summary() -> dict:
    def stats(est: float) -> dict:
        return {"estimate": est, "ci_low": est - 0.1, "ci_high": est + 0.1,
                "delta": {"estimate": 0.0, "ci_low": -0.1, "ci_high": 0.1,
                          "share_resamples_favouring": 0.5}}

    metrics = {"test_score": stats(0.8), "regret": stats(0.05), "normalized_score": stats(0.6)}
    return {"strategies": {"best-val": {"failures": 0, "metrics": metrics},
                           "oracle": {"failures": 1, "metrics": metrics}},
            "per_task": {"wine": {"best-val": {"test_score": 0.9, "normalized_score": None}}}}


def test_mixed_tasks_log_no_study_level_raw_unit_metric() -> None:
    rows = selection_rows(_summary(), mixed=True)
    study = rows[rows["group"] == "all"]
    assert not set(study["metric"]) & RAW_UNITS
    assert not any(m.endswith(("/test_score", "/regret")) for m in study["metric"])
    assert "normalized_score" in set(study["metric"])
    per_task = rows[rows["group"] == "task:wine"]  # per-task raw scores stay: one metric each
    assert per_task.set_index("metric").loc["test_score", "estimate"] == 0.9
    keys = tidy_metrics(rows)
    assert "test_score/best-val" not in keys and "task:wine/test_score/best-val" in keys
    assert "task:wine/normalized_score/best-val" not in keys  # missing: not logged


def test_same_metric_tasks_keep_raw_scores_with_bounds() -> None:
    keys = tidy_metrics(selection_rows(_summary(), mixed=False))
    assert keys["test_score/oracle"] == 0.8
    assert keys["test_score/oracle.lo"] == 0.8 - 0.1 and keys["test_score/oracle.hi"] == 0.9
    assert keys["failures/oracle"] == 1.0
    assert keys["share_favouring/regret/best-val"] == 0.5


def test_any_group_columns() -> None:
    table = pd.DataFrame({"task": ["wine", "all"], "agent": ["mcts", "greedy"],
                          "strategy": ["lcb", "lcb"], "metric": ["any_medal"] * 2,
                          "estimate": [0.5, 0.25], "lo": [0.1, None], "hi": [0.9, None]})
    keys = tidy_metrics(table, ("task", "agent"))
    assert keys == {"wine/mcts/any_medal/lcb": 0.5, "wine/mcts/any_medal/lcb.lo": 0.1,
                    "wine/mcts/any_medal/lcb.hi": 0.9, "greedy/any_medal/lcb": 0.25}
