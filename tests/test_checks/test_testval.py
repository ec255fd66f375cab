"""Check 3: nodes whose test score beats validation far beyond noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aira_eval.checks.test_vs_val import (
    binomial_se,
    check_test_vs_val,
    fold_se,
    robust_scale,
)
from aira_eval.study.table import records_to_frame


def _nodes(
    n: int, *, task: str = "t", lower: bool = False, folds: bool = True, seed: int = 0,
    planted: dict[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Honest nodes: test = val + noise of ~0.01; ``planted`` adds a gap to some nodes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        val = 0.78 + 0.02 * rng.standard_normal()
        fold_scores = list(val + 0.01 * rng.standard_normal(5)) if folds else []
        gap = 0.01 * rng.standard_normal() + (planted or {}).get(i, 0.0)
        test = val - gap if lower else val + gap
        out.append({
            "search_id": f"{task}-s0", "task": task, "policy": "greedy", "seed": 0,
            "node_id": f"{task}-n{i:03d}", "step": i, "operator": "draft", "status": "ok",
            "valid": True, "lower_is_better": lower, "score_val": val, "score_test": test,
            "val_folds": fold_scores, "n_test": 1000,
        })
    return out


def test_standard_errors() -> None:
    assert fold_se([0.8, 0.82, 0.78, 0.8]) == pytest.approx(
        np.std([0.8, 0.82, 0.78, 0.8], ddof=1) / 2)
    assert fold_se([0.8]) is None and fold_se(None) is None
    assert binomial_se(0.8, 1000) == pytest.approx(math.sqrt(0.8 * 0.2 / 1000))
    assert binomial_se(1.2, 100) is None and binomial_se(0.5, 0) is None
    assert robust_scale(np.array([0.0, 1.0, 2.0, 3.0, 4.0])) == pytest.approx(1.4826)
    assert robust_scale(np.array([1.0, 2.0])) is None


def test_planted_node_is_flagged_with_analytic_se() -> None:
    nodes = records_to_frame(_nodes(30, planted={7: 0.15}))
    result = check_test_vs_val(nodes, {"t": "accuracy"}, threshold=4.0)
    assert {r.method for r in result.rows} == {"analytic"}
    assert [r.node_id for r in result.flagged] == ["t-n007"]
    planted = result.flagged[0]
    assert planted.z is not None and planted.z > 4
    assert planted.gap == pytest.approx(planted.score_test - planted.score_val)
    assert result.status() == "fail"
    assert result.to_dict()["flagged"][0]["node_id"] == "t-n007"


def test_lower_is_better_orients_the_gap() -> None:
    nodes = records_to_frame(_nodes(30, lower=True, planted={3: 0.15}))
    result = check_test_vs_val(nodes, {"t": "accuracy"})
    assert [r.node_id for r in result.flagged] == ["t-n003"]
    # a node whose test is much *worse* than validation is not flagged (one-sided)
    worse = records_to_frame(_nodes(30, planted={3: -0.2}))
    assert check_test_vs_val(worse, {"t": "accuracy"}).flagged == []


def test_robust_scale_without_folds_or_binomial_metric() -> None:
    nodes = records_to_frame(_nodes(30, folds=False, planted={11: 0.2}))
    result = check_test_vs_val(nodes, {"t": "roc_auc"})
    assert {r.method for r in result.rows} == {"robust"}
    assert [r.node_id for r in result.flagged] == ["t-n011"]


def test_too_few_nodes_and_no_noise_estimate() -> None:
    nodes = records_to_frame(_nodes(3, folds=False, planted={0: 0.5}))
    result = check_test_vs_val(nodes, {"t": "rmse"})
    assert {r.method for r in result.rows} == {"none"}
    assert all(r.z is None for r in result.rows) and result.status() == "pass"


def test_honest_study_passes_and_failed_nodes_skip() -> None:
    honest = records_to_frame(_nodes(200, seed=3) + _nodes(50, task="u", seed=4))
    assert check_test_vs_val(honest, {"t": "accuracy", "u": "accuracy"}).flagged == []
    failed = pd.DataFrame(_nodes(4)).assign(status="buggy")
    assert check_test_vs_val(records_to_frame(failed.to_dict("records"))).status() == "skip"


def test_fold_scaled_test_se_matches_the_noise_of_a_per_row_metric() -> None:
    """For a per-row average (log loss, accuracy...) the fold-scaled SE of the test score is
    the sampling SD of a mean over n_test rows, estimated from the folds' scatter."""
    from aira_eval.checks.test_vs_val import fold_scaled_test_se

    rng = np.random.default_rng(3)
    per_row_sd, n_val, k, n_test = 0.8, 2000, 5, 250
    folds = [rng.normal(0.5, per_row_sd, n_val // k).mean() for _ in range(k)]
    se = fold_scaled_test_se(folds, n_val, n_test)
    assert se is not None
    want = per_row_sd / math.sqrt(n_test)
    assert 0.3 * want < se < 3 * want  # 5 folds: a rough but unbiased-scale estimate


def _logloss_nodes(n: int, fold_sd: float, test_sd: float, n_test: int,
                   seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        val = 0.4 + 0.05 * rng.standard_normal()
        folds = list(val + fold_sd * rng.standard_normal(5))
        test = max(val + test_sd * rng.standard_normal(), 0.0)
        rows.append({"search_id": "s", "task": "t", "policy": "greedy", "seed": 0,
                     "node_id": f"n{i}", "step": i, "operator": "draft", "status": "ok",
                     "valid": True, "lower_is_better": True, "score_val": val,
                     "score_test": test, "val_folds": folds, "n_test": n_test})
    return rows


def test_small_test_sets_do_not_flag_honest_nodes() -> None:
    """Honest log-loss nodes on a tiny test set (26-row folds, 18 test rows: noisy gaps)."""
    for seed in range(5):
        rows = _logloss_nodes(40, fold_sd=0.15, test_sd=0.18, n_test=18, seed=seed)
        result = check_test_vs_val(records_to_frame(rows), {"t": "log_loss"}, 4.0, {"t": 128})
        assert not result.flagged, [(r.node_id, r.z) for r in result.flagged]


def test_planted_gap_beyond_fold_noise_is_flagged() -> None:
    """400-row folds, 500 test rows: a node whose test loss is 0.3 below its validation is
    far outside what its folds allow (se ~ 0.03)."""
    rows = _logloss_nodes(30, fold_sd=0.03, test_sd=0.027, n_test=500, seed=0)
    rows[7]["score_test"] = rows[7]["score_val"] - 0.3
    result = check_test_vs_val(records_to_frame(rows), {"t": "log_loss"}, 4.0, {"t": 2000})
    assert [r.node_id for r in result.flagged] == ["n7"]
    assert result.flagged[0].method == "analytic"
