"""Intervals without a variance estimate are undefined (NaN / null / —), never a point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import aira_eval as ae
from aira_eval.cli.main import app
from aira_eval.selection.bootstrap import CI_METHODS
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes, write_study

BOUNDS = [f"{m}_{side}" for m in CI_METHODS for side in ("lo", "hi")]


def _study(directory: Path, n_tasks: int, n_seeds: int, policies: tuple[str, ...] = ("greedy",)
           ) -> Path:
    rng = np.random.default_rng(0)
    frames = []
    for t in range(n_tasks):
        for policy in policies:
            for seed in range(n_seeds):
                specs = [{"val": float(v), "test": float(x)} for v, x in
                         zip(rng.uniform(0.5, 0.9, 4), rng.uniform(0.5, 0.9, 4), strict=True)]
                frame = make_nodes(specs, search_id=f"t{t}__{policy}__s{seed}", task=f"t{t}",
                                   seed=seed)
                frames.append(frame.assign(policy=policy))
    tasks = {f"t{t}": TaskInfo(task=f"t{t}", metric="acc", lower_is_better=False)
             for t in range(n_tasks)}
    return write_study(directory, pd.concat(frames, ignore_index=True), tasks)


def _interval_columns(res: ae.SelectionResult) -> pd.DataFrame:
    table = res.table
    cols = ["lo", "hi", "delta_lo", "delta_hi"]
    cols += [c for c in table.columns if c.endswith(("_lo", "_hi")) and c not in cols]
    return table[table["metric"].isin(["test_score", "normalized_score"])][cols]


@pytest.mark.parametrize("method", CI_METHODS)
def test_one_search_per_task_gives_no_interval(tmp_path: Path, method: str) -> None:
    study = _study(tmp_path / "s", n_tasks=2, n_seeds=1)
    res = ae.select(study, strategies=["best-val", "oracle", "last"], ci=method, resamples=200)
    assert np.isfinite(res.table["estimate"].to_numpy(dtype=float)).any()
    assert _interval_columns(res).isna().all().all()
    for by_name in res.summary["per_task_intervals"].values():
        for block in by_name.values():
            assert block["test_score"]["estimate"] is not None
            assert block["test_score"]["ci_low"] is None and block["test_score"]["ci_high"] is None
            assert block["test_score"]["delta_ci_low"] is None
    metric = res.summary["strategies"]["oracle"]["metrics"]["test_score"]
    assert metric["ci_low"] is None and metric["delta"]["ci_low"] is None
    assert all(v == [None, None] for k, v in metric.items() if k.endswith("_ci"))
    assert any("no variance estimate" in w for w in res.summary["warnings"])


def test_task_bootstrap_needs_two_tasks_not_two_searches(tmp_path: Path) -> None:
    study = _study(tmp_path / "s", n_tasks=3, n_seeds=1)
    res = ae.select(study, strategies=["best-val", "oracle"], task_bootstrap=True,
                    resamples=200)
    row = res.table[(res.table["strategy"] == "oracle") & (res.table["metric"] == "test_score")]
    assert np.isfinite(row[["lo", "hi", "percentile_lo", "bca_hi"]].to_numpy(dtype=float)).all()
    assert float(row["hi"].iloc[0]) > float(row["lo"].iloc[0])
    assert not any("no variance estimate" in w for w in res.summary["warnings"])


def test_between_groups_without_variance_is_undefined(tmp_path: Path) -> None:
    study = _study(tmp_path / "s", n_tasks=1, n_seeds=1, policies=("greedy", "random"))
    res = ae.select(study, strategies=["best-val", "oracle"], by="policy", resamples=200)
    assert len(res.compare)
    bounds = ["lo", "hi", *(c for c in res.compare.columns if c.endswith(("_lo", "_hi")))]
    assert res.compare[bounds].isna().all().all()
    test = res.compare[res.compare["metric"] == "test_score"]
    assert np.isfinite(test["delta"].to_numpy(dtype=float)).all()


def test_zero_spread_with_two_values_keeps_a_point_interval(tmp_path: Path) -> None:
    frames = [make_nodes([{"val": 0.9, "test": 0.7}, {"val": 0.8, "test": 0.6}],
                         search_id=f"t__greedy__s{s}", task="t", seed=s) for s in range(3)]
    study = write_study(tmp_path / "s", pd.concat(frames, ignore_index=True),
                        {"t": TaskInfo(task="t", metric="acc", lower_is_better=False)})
    res = ae.select(study, strategies=["best-val", "oracle"], resamples=200)
    row = res.table[(res.table["strategy"] == "best-val") & (res.table["metric"] == "test_score")]
    assert row[["lo", "hi"]].to_numpy(dtype=float)[0] == pytest.approx([0.7, 0.7])


def test_cli_shows_a_dash_for_an_undefined_interval(tmp_path: Path) -> None:
    study = _study(tmp_path / "s", n_tasks=1, n_seeds=1)
    out = CliRunner().invoke(app, ["select", str(study), "--no-mlflow", "--resamples", "100",
                                   "-s", "best-val", "-s", "oracle", "--out",
                                   str(tmp_path / "sel")])
    assert out.exit_code == 0, out.output
    assert "…" not in out.output.split("generalization")[0]
    assert "no variance estimate: the intervals are undefined" in " ".join(out.output.split())


def test_few_searches_warning_counts_per_group_and_task(tmp_path: Path) -> None:
    # 2 policies × 3 seeds: 6 searches per task pooled, but each agent's intervals rest on 3
    study = _study(tmp_path / "s", n_tasks=2, n_seeds=3, policies=("greedy", "random"))
    res = ae.select(study, strategies=["best-val", "oracle"], by="policy", resamples=100)
    line = next(w for w in res.summary["warnings"] if "fewer than 5 searches" in w)
    assert "4 (group, task) pair(s)" in line
    assert "per group: greedy 3 on t0, random 3 on t0" in line
    pooled = ae.select(study, strategies=["best-val", "oracle"], pool=True, resamples=100)
    assert not any("fewer than 5 searches" in w for w in pooled.summary["warnings"])


def test_no_share_favouring_without_a_variance_estimate(tmp_path: Path) -> None:
    """One search per task: every resample equals the estimate, so the share of resamples
    favouring a strategy would be exactly 0 or 1 — a certainty the data do not carry."""
    study = _study(tmp_path / "s", n_tasks=2, n_seeds=1)
    res = ae.select(study, strategies=["best-val", "oracle", "last"], resamples=200)
    differing = res.table[(res.table["strategy"] != "best-val")
                          & (res.table["metric"] == "test_score")]
    assert (differing["delta"].abs() > 0).any()  # the picks differ: Δ is defined, fav. not
    assert differing["share_resamples_favouring"].isna().all()
    with_seeds = ae.select(_study(tmp_path / "m", n_tasks=2, n_seeds=4),
                           strategies=["best-val", "oracle"], resamples=200)
    oracle = with_seeds.table.query("strategy == 'oracle' and metric == 'test_score'")
    assert np.isfinite(oracle["share_resamples_favouring"].to_numpy(dtype=float)).all()
