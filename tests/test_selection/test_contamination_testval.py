"""Check 3: nodes whose test score beats validation far beyond noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aira_eval.search.table import records_to_frame
from aira_eval.selection.contamination.test_vs_val import (
    binomial_se,
    check_test_vs_val,
    fold_se,
    robust_scale,
)


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
