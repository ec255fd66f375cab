"""The mlebench adapter, against a small fake ``mlebench`` package mimicking its real API.

The fake reproduces the names the adapter uses from MLE-bench: ``mlebench.registry.registry``
(``set_data_dir``, ``get_competition``, ``list_competition_ids``), ``Competition`` objects with
``id``, ``grader``, ``answers`` and ``leaderboard``, ``mlebench.grade_helpers.Grader``
(``name``, ``grade_fn``, ``is_lower_better``, ``rank_score``) and ``InvalidSubmissionError``,
``mlebench.data.get_leaderboard`` and ``mlebench.utils.load_answers``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aira_eval.datasets import mlebench_adapter as adapter
from aira_eval.datasets.grader import Grader, InvalidSubmission
from aira_eval.datasets.grading import grade_frame
from aira_eval.errors import DataError, TaskNotFoundError, UsageError


class FakeInvalidSubmissionError(Exception):
    pass


@dataclass
class FakeGrader:
    name: str
    grade_fn: Any

    def is_lower_better(self, leaderboard: pd.DataFrame) -> bool:
        return bool(leaderboard["score"].iloc[0] < leaderboard["score"].iloc[-1])

    def rank_score(self, score: float | None, leaderboard: pd.DataFrame) -> dict[str, Any]:
        s = leaderboard["score"]
        return {
            "gold_medal": False,
            "silver_medal": False,
            "bronze_medal": False,
            "above_median": False,
            "gold_threshold": float(s.iloc[0]),
            "silver_threshold": float(s.iloc[1]),
            "bronze_threshold": float(s.iloc[2]),
            "median_threshold": float(s.median()),
        }


@dataclass
class FakeCompetition:
    id: str
    grader: FakeGrader
    answers: Path
    leaderboard: Path


class FakeRegistry:
    def __init__(self, data_dir: Path, competitions: dict[str, FakeGrader]) -> None:
        self.data_dir = data_dir
        self.competitions = competitions

    def set_data_dir(self, new_data_dir: Path) -> FakeRegistry:
        return FakeRegistry(new_data_dir, self.competitions)

    def list_competition_ids(self) -> list[str]:
        return sorted(self.competitions)

    def get_competition(self, competition_id: str) -> FakeCompetition:
        root = self.data_dir / competition_id
        return FakeCompetition(
            id=competition_id,
            grader=self.competitions[competition_id],
            answers=root / "prepared" / "private" / "test.csv",
            leaderboard=root / "leaderboard.csv",
        )


CALLS: list[tuple[int, int]] = []


def spaceship_grade_fn(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    CALLS.append((len(submission), len(answers)))
    if "Transported" not in submission.columns:
        raise FakeInvalidSubmissionError("Submission must have a `Transported` column")
    merged = answers.merge(submission, on="PassengerId", suffixes=("", "_pred"))
    return float((merged["Transported"] == merged["Transported_pred"]).mean())


def crashing_grade_fn(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    raise KeyError("boom")


@pytest.fixture()
def fake_mlebench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Install the fake package in ``sys.modules``; returns its data dir."""
    for cid, scores in {
        "spaceship-titanic": [0.9, 0.8, 0.7, 0.5],
        "some-lower-is-better": [0.1, 0.2, 0.3, 0.9],
    }.items():
        root = tmp_path / cid
        (root / "prepared" / "private").mkdir(parents=True)
        pd.DataFrame({"score": scores}).to_csv(root / "leaderboard.csv", index=False)
        pd.DataFrame(
            {"PassengerId": ["a", "b", "c", "d"], "Transported": [True, False, True, True]}
        ).to_csv(root / "prepared" / "private" / "test.csv", index=False)

    graders = {
        "spaceship-titanic": FakeGrader("accuracy", spaceship_grade_fn),
        "some-lower-is-better": FakeGrader("root-mean-squared-error", crashing_grade_fn),
    }
    package = types.ModuleType("mlebench")
    package.__path__ = []  # type: ignore[attr-defined]
    registry_mod = types.ModuleType("mlebench.registry")
    registry_mod.registry = FakeRegistry(Path("/nonexistent"), graders)  # type: ignore[attr-defined]
    helpers = types.ModuleType("mlebench.grade_helpers")
    helpers.InvalidSubmissionError = FakeInvalidSubmissionError  # type: ignore[attr-defined]
    helpers.Grader = FakeGrader  # type: ignore[attr-defined]
    data = types.ModuleType("mlebench.data")
    data.get_leaderboard = lambda competition: pd.read_csv(competition.leaderboard)  # type: ignore[attr-defined]
    utils = types.ModuleType("mlebench.utils")
    utils.load_answers = lambda path: pd.read_csv(path)  # type: ignore[attr-defined]
    modules = {
        "mlebench": package,
        "mlebench.registry": registry_mod,
        "mlebench.grade_helpers": helpers,
        "mlebench.data": data,
        "mlebench.utils": utils,
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    CALLS.clear()
    return tmp_path


def test_unavailable_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "mlebench" or m.startswith("mlebench.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlebench", None)  # makes ``import mlebench`` fail
    assert adapter.mlebench_available() is False
    with pytest.raises(UsageError, match="not installed"):
        adapter.registry_competition_ids()
    with pytest.raises(UsageError):
        adapter.mlebench_thresholds("spaceship-titanic")


def test_available_and_lists_ids(fake_mlebench: Path) -> None:
    assert adapter.mlebench_available() is True
    assert adapter.registry_competition_ids(fake_mlebench) == [
        "some-lower-is-better",
        "spaceship-titanic",
    ]


def test_grader_calls_through(fake_mlebench: Path) -> None:
    grader = adapter.mlebench_grader("spaceship-titanic", fake_mlebench)
    assert isinstance(grader, Grader)
    assert grader.metric == "accuracy" and grader.lower_is_better is False
    assert grader.id_column == "PassengerId"  # from the built-in spec
    answers = adapter.mlebench_answers("spaceship-titanic", fake_mlebench)
    submission = answers.assign(Transported=[True, True, True, True])
    assert grader.grade(submission, answers) == pytest.approx(0.75)
    assert CALLS == [(4, 4)]
    report = grade_frame(submission, answers, grader)
    assert report.valid_submission and report.score == 0.75


def test_invalid_submission_error_is_converted(fake_mlebench: Path) -> None:
    grader = adapter.mlebench_grader("spaceship-titanic", fake_mlebench)
    answers = adapter.mlebench_answers("spaceship-titanic", fake_mlebench)
    with pytest.raises(InvalidSubmission, match="Transported"):
        grader.grade(answers.drop(columns=["Transported"]), answers)
    report = grade_frame(answers.drop(columns=["Transported"]), answers, grader)
    assert not report.valid_submission and "Transported" in (report.reason or "")


def test_other_grader_errors_are_invalid(fake_mlebench: Path) -> None:
    grader = adapter.mlebench_grader("some-lower-is-better", fake_mlebench)
    assert grader.lower_is_better is True  # from the leaderboard
    assert grader.metric == "rmse"  # MLE-bench's grader name mapped to ours
    assert grader.id_column is None  # no built-in spec
    with pytest.raises(InvalidSubmission, match="KeyError"):
        grader.grade(pd.DataFrame(), pd.DataFrame())


def test_thresholds_come_from_rank_score(fake_mlebench: Path) -> None:
    th = adapter.mlebench_thresholds("spaceship-titanic", fake_mlebench)
    assert (th.gold, th.silver, th.bronze, th.median) == (0.9, 0.8, 0.7, 0.75)
    assert th.lower_is_better is False
    low = adapter.mlebench_thresholds("some-lower-is-better", fake_mlebench)
    assert low.lower_is_better is True


def test_unknown_competition(fake_mlebench: Path) -> None:
    with pytest.raises(TaskNotFoundError):
        adapter.mlebench_grader("nope", fake_mlebench)


def test_missing_leaderboard_is_data_error(fake_mlebench: Path) -> None:
    (fake_mlebench / "some-lower-is-better" / "leaderboard.csv").unlink()
    with pytest.raises(DataError):
        adapter.mlebench_thresholds("some-lower-is-better", fake_mlebench)
    # without a leaderboard the direction comes from the metric MLE-bench's grader names
    assert adapter.mlebench_grader("some-lower-is-better", fake_mlebench).lower_is_better is True
    (fake_mlebench / "spaceship-titanic" / "leaderboard.csv").unlink()
    # a built-in competition falls back to its own direction
    assert adapter.mlebench_grader("spaceship-titanic", fake_mlebench).lower_is_better is False


def test_installed_mlebench_grader_wins_over_builtin_spec(
    fake_mlebench: Path, mlebench_data: Path, tmp_path: Path
) -> None:
    """With mlebench importable, `mlebench:<id>` grades with MLE-bench's own grader even
    where aira-eval has a built-in spec (the spec still describes the problem)."""
    import shutil

    from aira_eval.datasets.registry import resolve_task

    data = tmp_path / "data"
    shutil.copytree(mlebench_data / "spaceship-titanic", data / "spaceship-titanic")
    task = resolve_task("mlebench:spaceship-titanic", data_dir=data)
    assert isinstance(task.grader, adapter.MlebenchGrader)
    assert task.problem is not None and task.grader.id_column == "PassengerId"
    CALLS.clear()
    report = task.grade(task.sample_submission_path)
    assert CALLS, "MLE-bench's grade_fn was not called"
    assert report.valid_submission
