"""Means over tasks of raw scores are null when tasks use different metrics (every output)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aira_eval as ae
from aira_eval.errors import UsageError
from aira_eval.selection.evaluate import RAW_UNITS
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


def test_no_mean_of_raw_units_across_different_metrics() -> None:
    """The tidy table, the between-group comparison, the draws and summary.json: a mean of an
    accuracy and an RMSE is nowhere; normalized scores and per-task values remain."""
    nodes = _study("rmse", True).nodes
    nodes["policy"] = np.where(nodes["seed"] == 0, "random", "greedy")
    study = Study.from_nodes(nodes, _study("rmse", True).tasks)
    res = ae.select(study, strategies=["best-val", "oracle"], resamples=100, by="policy")
    raw = sorted(RAW_UNITS & set(res.metrics))
    assert "test_score" in raw and "regret" in raw and "selection_optimism" in raw
    rows = res.table[res.table["metric"].isin(raw)]
    assert rows[["estimate", "lo", "hi", "se", "delta"]].isna().all().all()
    cmp = res.compare[res.compare["metric"].isin(raw)]
    assert len(cmp) and cmp[["delta", "lo", "hi"]].isna().all().all()
    assert np.isnan(res.draws("test_score")).all()
    normalized = res.table[res.table["metric"] == "valid_submission"]
    assert np.isfinite(normalized["estimate"].to_numpy(dtype=float)).all()
    block = res.summary["groups"]["greedy"]["strategies"]["best-val"]["metrics"]["test_score"]
    assert block["estimate"] is None and block["t_ci"] == [None, None]
    assert res.summary["not_pooled"]["metrics"] == [m for m in res.metrics if m in raw]
    assert "rmse" in res.summary["not_pooled"]["reason"]
    per_task = res.summary["groups"]["greedy"]["per_task_intervals"]["other"]["best-val"]
    assert np.isfinite(per_task["test_score"]["estimate"])


def test_raw_units_pooled_when_tasks_share_a_metric() -> None:
    res = ae.select(_study("accuracy", False), strategies=["best-val", "oracle"],
                    resamples=100)
    rows = res.table[res.table["metric"].isin(["test_score", "regret"])]
    assert np.isfinite(rows["estimate"].to_numpy(dtype=float)).all()
    assert "not_pooled" not in res.summary


@pytest.mark.parametrize("metric", ["regret", "test_score"])
def test_a_raw_headline_across_different_metrics_is_a_usage_error(metric: str) -> None:
    """Its Δ column would be empty (no mean over tasks): say so instead of printing '—'."""
    with pytest.raises(UsageError, match=rf"{metric} is in the tasks' raw units.*accuracy, rmse"):
        ae.select(_study("rmse", True), strategies=["best-val", "oracle"], resamples=100,
                  metric=metric)
    same = ae.select(_study("accuracy", False), strategies=["best-val", "oracle"],
                     resamples=100, metric=metric)  # one metric: pooled as before
    assert same.summary["headline_metric"] == metric
