"""Intervals of bounded metrics stay in the metric's range (a rate within [0, 1])."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aira_eval as ae
from aira_eval.selection.bootstrap import CI_METHODS, clip_intervals
from aira_eval.selection.evaluate import metric_ranges
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes

RATES = ["valid_submission", "win_rate"]


def _study() -> Study:
    """Two tasks × 3 seeds per policy; one search of each task fails every node, so the share
    of valid submissions is 2/3 per task — its t interval on 3 seeds would reach −0.77…2.1."""
    frames = []
    for task in ("a", "b"):
        for policy in ("greedy", "random"):
            for seed in range(3):
                ok = seed > 0 or policy == "random"
                specs = [{"val": 0.6 + 0.1 * i + 0.01 * seed, "test": 0.7 - 0.05 * i + 0.02 * seed,
                          "valid": ok} for i in range(3)]
                frame = make_nodes(specs, search_id=f"{task}__{policy}__s{seed}", task=task,
                                   seed=seed)
                frames.append(frame.assign(policy=policy))
    tasks = {t: TaskInfo(task=t, metric="acc", lower_is_better=False) for t in ("a", "b")}
    return Study.from_nodes(pd.concat(frames, ignore_index=True), tasks)


@pytest.mark.parametrize("method", CI_METHODS)
def test_rate_intervals_stay_within_0_and_1(method: str) -> None:
    res = ae.select(_study(), strategies=["best-val", "last"], ci=method, resamples=300,
                    by="policy")
    greedy = res.table.query("policy == 'greedy' and metric == 'valid_submission'")
    assert np.allclose(greedy["estimate"], 2 / 3)
    bounds = res.table[res.table["metric"].isin(RATES)]
    cols = [c for c in bounds.columns if c.endswith(("_lo", "_hi")) or c in ("lo", "hi")]
    values = bounds[cols].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    assert values.size and values.min() >= -1.0 and values.max() <= 1.0  # Δ within ±1
    level = bounds[["lo", "hi"]].to_numpy(dtype=float)
    assert np.nanmin(level) >= 0.0 and np.nanmax(level) <= 1.0
    if method == "t":  # the unclipped t interval leaves [0, 1]: the clip is what holds it
        assert greedy["hi"].iloc[0] == 1.0  # 2/3 + t_{4} · 0.236 = 1.32 unclipped
    between = res.compare[res.compare["metric"] == "valid_submission"]
    assert between[["lo", "hi"]].abs().to_numpy(dtype=float).max() <= 1.0
    per_task = res.summary["groups"]["greedy"]["per_task_intervals"]["a"]["best-val"]
    assert 0.0 <= per_task["valid_submission"]["ci_low"] <= per_task["valid_submission"][
        "ci_high"] <= 1.0


def test_clip_intervals_keeps_unbounded_and_undefined() -> None:
    ranges = metric_ranges(["test_score", "valid_submission", "regret"])
    ci = np.array([[[-5.0, 5.0], [-0.4, 1.7], [np.nan, np.nan]]])  # (S=1, M=3, 2)
    out = clip_intervals(ci, ranges)
    assert out[0, 0].tolist() == [-5.0, 5.0] and out[0, 1].tolist() == [0.0, 1.0]
    assert np.isnan(out[0, 2]).all()
    delta = clip_intervals(np.array([[[-3.0, 3.0], [-1.5, 0.2], [-2.0, 9.0]]]), ranges,
                           delta=True)
    assert delta[0, 1].tolist() == [-1.0, 0.2] and delta[0, 2].tolist() == [-2.0, 9.0]
