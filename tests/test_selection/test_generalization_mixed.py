"""The generalization view's raw-score rows are null when tasks use different metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aira_eval as ae
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes

RAW = ["test_score", "val_score", "oracle_score"]


def _study(second_metric: str, second_lower: bool) -> Study:
    rng = np.random.default_rng(1)
    frames = []
    for task, lower in (("acc", False), ("other", second_lower)):
        for seed in range(3):
            specs = [{"val": float(v), "test": float(t)} for v, t in
                     zip(rng.uniform(0.5, 0.9, 3), rng.uniform(0.5, 0.9, 3), strict=True)]
            frames.append(make_nodes(specs, search_id=f"{task}__s{seed}", task=task, seed=seed,
                                     lower_is_better=lower))
    tasks = {"acc": TaskInfo(task="acc", metric="accuracy", lower_is_better=False),
             "other": TaskInfo(task="other", metric=second_metric,
                               lower_is_better=second_lower)}
    return Study.from_nodes(pd.concat(frames, ignore_index=True), tasks)


@pytest.mark.parametrize(("metric", "lower"), [("rmse", True), ("auc", False)])
def test_raw_views_are_null_across_different_metrics(metric: str, lower: bool) -> None:
    res = ae.select(_study(metric, lower), strategies=["best-val", "oracle", "topk"],
                    resamples=100)
    gen = res.generalization
    raw = gen[gen["metric"].isin(RAW)]
    assert len(raw) >= 3
    assert raw[["estimate", "lo", "hi"]].isna().all().all()
    assert all(r["estimate"] is None for r in res.summary["generalization"]
               if r["metric"] in RAW)


def test_raw_views_stay_when_tasks_share_a_metric() -> None:
    res = ae.select(_study("accuracy", False), strategies=["best-val", "oracle", "topk"],
                    resamples=100)
    raw = res.generalization[res.generalization["metric"].isin(RAW)]
    assert np.isfinite(raw["estimate"].to_numpy(dtype=float)).all()
