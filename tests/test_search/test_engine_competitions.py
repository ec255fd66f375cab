"""End-to-end studies on the real MLE-bench competitions in ../shared/data.

Every node's test score must equal an independent re-grade of the submission it left behind
(grading happens outside the sandbox, with the task's own MLE-bench-exact grader).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aira_eval.datasets.registry import resolve_task
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import run_small

COMPETITIONS = [  # the two slowest run under `slow`: their graders are checked fast elsewhere
    "spaceship-titanic",                                                 # (test_mlebench_real)
    "leaf-classification",
    pytest.param("detecting-insults-in-social-commentary", marks=pytest.mark.slow),
    pytest.param("nomad2018-predict-transparent-conductors", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("competition", COMPETITIONS)
def test_study_on_real_competition(tmp_path: Path, mlebench_data: Path, competition: str) -> None:
    if not (mlebench_data / competition).is_dir():
        pytest.skip(f"{competition} not in {mlebench_data}")
    task_id = f"mlebench:{competition}"
    out = tmp_path / "study"
    run_small(out, tasks=[task_id], data_dir=str(mlebench_data), steps=2, workers=2,
              node_timeout_s=240.0)
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 2
    ok = frame[frame["status"] == "ok"]
    assert len(ok) >= 1, frame[["status", "reason"]].to_string()
    task = resolve_task(task_id, data_dir=mlebench_data)
    for _, node in ok.iterrows():
        submission = out / Path(node["code_path"]).parent / "submission.csv"
        report = task.grade(submission)
        assert report.valid_submission, report.reason
        assert math.isclose(node["score_test"], report.raw_score, rel_tol=0, abs_tol=1e-12)
        assert math.isfinite(node["score_val"])
        assert node["n_test"] == len(task.answers("test"))
