"""A Δ whose variance rests on one task's few, skewed differences is warned about."""

from __future__ import annotations

import numpy as np
import pandas as pd

import aira_eval as ae
from aira_eval.selection.study_stats import dominant_task_warnings
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes


def _study(scales: dict[str, float], n_seeds: int) -> Study:
    """Per task and seed, 3 nodes; in every other search the best-val node is not the best on
    test (oracle − best-val > 0 there, 0 elsewhere: zero-inflated, one-sided)."""
    frames = []
    for task, scale in scales.items():
        for seed in range(n_seeds):
            gap = 0.1 * (1 + seed % 3) if seed % 2 else 0.0
            tests = [0.6, 0.5 + gap, 0.4] if gap else [0.6, 0.5, 0.4]
            specs = [{"val": v, "test": scale * t}
                     for v, t in zip([0.9, 0.8, 0.7], tests, strict=True)]
            frames.append(make_nodes(specs, search_id=f"{task}__s{seed}", task=task, seed=seed))
    tasks = {t: TaskInfo(task=t, metric="acc", lower_is_better=False) for t in scales}
    return Study.from_nodes(pd.concat(frames, ignore_index=True), tasks)


def _warnings(study: Study, ci: str = "hall") -> list[str]:
    res = ae.select(study, strategies=["best-val", "oracle"], metric="test_score",
                    resamples=100, ci=ci)
    return [w for w in res.summary["warnings"] if "rests on one task" in w]


def test_one_task_dominating_the_variance_is_warned_about() -> None:
    lines = _warnings(_study({"big": 10.0, "small": 1.0}, n_seeds=6))
    assert len(lines) == 1 and "oracle on big" in lines[0] and "6 searches" in lines[0]
    assert "skew-corrected t" in lines[0] and "from 10" in lines[0]


def test_a_single_task_study_is_warned_about_too() -> None:
    assert len(_warnings(_study({"only": 1.0}, n_seeds=6))) == 1


def test_no_warning_for_balanced_tasks_or_many_seeds() -> None:
    assert _warnings(_study({"a": 1.0, "b": 1.0}, n_seeds=6)) == []
    assert _warnings(_study({"only": 1.0}, n_seeds=10)) == []


def test_the_seeds_needed_depend_on_the_interval() -> None:
    """hall holds from 10 searches of the dominant task, t still under-covers at 20."""
    study = _study({"only": 1.0}, n_seeds=12)
    assert _warnings(study) == [] and _warnings(study, ci="studentized") == []
    (line,) = _warnings(study, ci="t")
    assert "t (Welch–Satterthwaite) interval" in line and "--ci hall" in line
    assert _warnings(_study({"only": 1.0}, n_seeds=20), ci="t") == []


def test_symmetric_differences_are_not_skewed() -> None:
    diffs = np.array([[0.0, -0.2], [0.0, 0.1], [0.0, -0.1], [0.0, 0.2], [0.0, 0.05]])
    strata = np.zeros(5, dtype=np.int64)
    assert dominant_task_warnings(diffs, strata, ["t"], 0, ["ref", "other"], "m") == []
    diffs[:, 1] = [0.0, 0.0, 0.0, 0.3, 0.0]
    assert dominant_task_warnings(diffs, strata, ["t"], 0, ["ref", "other"], "m")
