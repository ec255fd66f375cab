"""Per-task intervals: each task's own searches resampled, whatever the study-level bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import aira_eval as ae
from aira_eval.cli.main import app
from aira_eval.selection.bootstrap import CI_METHODS
from aira_eval.selection.study_stats import CI_NAMES
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes, write_study


def _two_task_study(directory: Path, n_seeds: int = 6) -> Path:
    rng = np.random.default_rng(3)
    frames = []
    for task, base in (("ta", 0.8), ("tb", 50.0)):
        for seed in range(n_seeds):
            specs = [{"val": float(v), "test": float(t)} for v, t in
                     zip(rng.normal(base, 0.05 * base, 4), rng.normal(base, 0.05 * base, 4),
                         strict=True)]
            frames.append(make_nodes(specs, search_id=f"{task}__greedy__s{seed}", task=task,
                                     seed=seed))
    tasks = {t: TaskInfo(task=t, metric="score", lower_is_better=False) for t in ("ta", "tb")}
    return write_study(directory, pd.concat(frames, ignore_index=True), tasks)


@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_per_task_percentile_interval_matches_scipy(tmp_path: Path,
                                                    task_bootstrap: bool) -> None:
    study = _two_task_study(tmp_path / "s")
    res = ae.select(study, strategies=["best-val", "oracle"], ci="percentile",
                    resamples=4000, task_bootstrap=task_bootstrap)
    picks = res.picks
    for task in ("ta", "tb"):
        got = res.summary["per_task_intervals"][task]
        for name in ("best-val", "oracle"):
            x = picks[(picks["task"] == task) & (picks["strategy"] == name)]["test_score"]
            want = stats.bootstrap((x.to_numpy(),), np.mean, method="percentile",
                                   n_resamples=4000, random_state=0).confidence_interval
            block = got[name]["test_score"]
            width = want.high - want.low
            assert block["ci_low"] == pytest.approx(want.low, abs=0.1 * width)
            assert block["ci_high"] == pytest.approx(want.high, abs=0.1 * width)
        ref = picks[(picks["task"] == task) & (picks["strategy"] == "best-val")]
        orc = picks[(picks["task"] == task) & (picks["strategy"] == "oracle")]
        d = orc["test_score"].to_numpy() - ref["test_score"].to_numpy()
        want = stats.bootstrap((d,), np.mean, method="percentile", n_resamples=4000,
                               random_state=0).confidence_interval
        block = got["oracle"]["test_score"]
        width = want.high - want.low
        assert block["delta_ci_low"] == pytest.approx(want.low, abs=0.1 * width)
        assert block["delta_ci_high"] == pytest.approx(want.high, abs=0.1 * width)


@pytest.mark.parametrize("method", CI_METHODS)
@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_every_accepted_ci_method_runs_end_to_end(tmp_path: Path, method: str,
                                                  task_bootstrap: bool) -> None:
    assert set(CI_NAMES) == set(CI_METHODS)
    study = _two_task_study(tmp_path / "s", n_seeds=5)
    res = ae.select(study, strategies=["best-val", "oracle"], ci=method, resamples=300,
                    task_bootstrap=task_bootstrap)
    assert res.summary["ci_method"] == method
    assert CI_NAMES[method] in res.summary["resampling"]
    row = res.table[(res.table["strategy"] == "oracle") & (res.table["metric"] == "test_score")]
    assert np.isfinite(row[["lo", "hi"]].to_numpy(dtype=float)).all()
    task = res.summary["per_task_intervals"]["ta"]["oracle"]["test_score"]
    assert task["ci_low"] is not None and task["ci_low"] <= task["estimate"] <= task["ci_high"]


@pytest.mark.parametrize("method", CI_METHODS)
def test_every_ci_method_works_in_the_cli(tmp_path: Path, method: str) -> None:
    study = _two_task_study(tmp_path / "s", n_seeds=5)
    out = CliRunner().invoke(app, ["select", str(study), "--no-mlflow", "--resamples", "200",
                                   "--ci", method, "-s", "best-val", "-s", "oracle", "--out",
                                   str(tmp_path / "sel")])
    assert out.exit_code == 0, out.output
    summary = json.loads((tmp_path / "sel" / "summary.json").read_text())
    assert summary["ci_method"] == method
