"""The mlebench adapter against the real ``mlebench`` package (skipped where it is not installed).

Tests and CI install MLE-bench's own wheel (``nox -s tests`` finds it in ``$AIRA_EVAL_WHEELS`` or
``../shared/wheels``). On the four shared competitions the built-in graders and MLE-bench's
``Grader`` (which rounds to 5 decimals and turns every grading error into ``None``) must agree on
real submissions and on malformed ones. ``test_mlebench_adapter.py`` keeps the fake-module tests
and the test that the toolkit works without the package.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mlebench.registry", reason="the mlebench package is not installed")

from aira_eval.datasets import mlebench_adapter as adapter
from aira_eval.datasets.competitions import get_competition
from aira_eval.datasets.grading import grade_frame, read_answers
from aira_eval.datasets.mlebench_splits import split_ids
from aira_eval.datasets.registry import list_tasks, resolve_task
from aira_eval.errors import DataError
from aira_eval.search.operators.base import TaskBrief

SHARED = (
    "spaceship-titanic",
    "leaf-classification",
    "detecting-insults-in-social-commentary",
    "nomad2018-predict-transparent-conductors",
)


def _sample(cid: str, data: Path) -> pd.DataFrame:
    spec = get_competition(cid)
    assert spec is not None
    return read_answers(data / cid / "prepared" / "public" / spec.sample_submission_file)


def _noisy(cid: str, perfect: pd.DataFrame) -> pd.DataFrame:
    """A realistic, imperfect submission built from the answers."""
    rng = np.random.default_rng(0)
    sub = perfect.copy()
    if cid == "spaceship-titanic":
        flip = rng.random(len(sub)) < 0.3
        sub["Transported"] = np.where(flip, ~sub["Transported"].astype(bool),
                                      sub["Transported"].astype(bool))
    elif cid == "leaf-classification":
        values = sub.columns[1:]
        mixed = 0.6 * sub[values].to_numpy(float) + 0.4 * rng.dirichlet(np.ones(len(values)),
                                                                         len(sub))
        sub[values] = mixed / mixed.sum(axis=1, keepdims=True)
    elif cid == "detecting-insults-in-social-commentary":
        sub["Insult"] = np.clip(0.5 * sub["Insult"] + 0.7 * rng.random(len(sub)), 0, 1)
    else:
        for col in ("formation_energy_ev_natom", "bandgap_energy_ev"):
            sub[col] = sub[col] * np.exp(rng.normal(0, 0.3, len(sub)))
    return sub


def _value_column(sub: pd.DataFrame) -> str:
    return next(c for c in sub.columns if c not in ("id", "PassengerId", "Date", "Comment"))


MALFORMED: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "missing column": lambda s: s.drop(columns=[_value_column(s)]),
    "one row short": lambda s: s.iloc[:-1],
    "one row too many": lambda s: pd.concat([s, s.iloc[:1]], ignore_index=True),
    "NaN prediction": lambda s: s.assign(**{_value_column(s): s[_value_column(s)].where(
        s.index != 0)}),
    "empty": lambda s: s.iloc[:0],
}


def _both(cid: str, data: Path, sub: pd.DataFrame) -> tuple[float | None, Any]:
    """(MLE-bench's Grader result, the built-in grader's report) on the same submission."""
    from mlebench.utils import load_answers

    competition = adapter.registry_competition(cid, data)
    theirs = competition.grader(sub.copy(), load_answers(competition.answers))
    spec = get_competition(cid)
    assert spec is not None
    ours = grade_frame(sub.copy(), read_answers(competition.answers), spec.grader)
    return theirs, ours


@pytest.mark.parametrize("cid", SHARED)
def test_builtin_and_mlebench_graders_agree_on_real_submissions(cid: str,
                                                               mlebench_data: Path) -> None:
    from mlebench.utils import load_answers

    sample = _sample(cid, mlebench_data)
    answers = load_answers(adapter.registry_competition(cid, mlebench_data).answers)
    perfect = answers[list(sample.columns)]
    scores = []
    for sub in (sample, perfect, _noisy(cid, perfect)):
        theirs, ours = _both(cid, mlebench_data, sub)
        assert theirs is not None and ours.valid_submission, ours.reason
        assert ours.score == theirs  # both rounded to 5 decimals
        assert ours.raw_score == pytest.approx(theirs, abs=5e-6)
        scores.append(theirs)
    assert len(set(scores)) == 3  # three different submissions, three different scores


@pytest.mark.parametrize("cid", SHARED)
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_builtin_and_mlebench_graders_agree_on_malformed_submissions(
        cid: str, kind: str, mlebench_data: Path) -> None:
    if cid == "detecting-insults-in-social-commentary" and kind == "NaN prediction":
        pytest.skip("the null sample's Insult column is empty: NaN is its normal content")
    sample = _sample(cid, mlebench_data)
    theirs, ours = _both(cid, mlebench_data, MALFORMED[kind](sample))
    assert theirs is None, f"MLE-bench scored a {kind} submission: {theirs}"
    assert not ours.valid_submission and ours.reason


def test_grader_rounds_to_five_decimals_like_reports(mlebench_data: Path) -> None:
    cid = "nomad2018-predict-transparent-conductors"
    competition = adapter.registry_competition(cid, mlebench_data)
    from mlebench.utils import load_answers

    answers = load_answers(competition.answers)
    sub = _noisy(cid, answers[["id", "formation_energy_ev_natom", "bandgap_energy_ev"]])
    raw = competition.grader.grade_fn(sub, answers)
    assert raw != round(raw, 5)  # the raw score has more than 5 decimals
    task = resolve_task(f"mlebench:{cid}", data_dir=mlebench_data)
    report = grade_frame(sub, task.answers(), task.grader)
    assert report.score == competition.grader(sub, answers) == round(raw, 5)
    assert report.raw_score == pytest.approx(raw)


def test_registry_and_configs(mlebench_data: Path) -> None:
    ids = adapter.registry_competition_ids(mlebench_data)
    assert set(split_ids("all")) <= set(ids)  # the 75 of the paper, plus dev competitions
    for cid in SHARED:
        competition = adapter.registry_competition(cid, mlebench_data)
        spec = get_competition(cid)
        assert spec is not None
        assert competition.answers == mlebench_data / cid / "prepared" / "private" / \
            spec.answers_file
        grader = adapter.mlebench_grader(cid, mlebench_data)
        assert grader.metric == spec.grader.metric
        assert grader.lower_is_better == spec.grader.lower_is_better
        assert (competition.public_dir / "description.md").is_file()


def test_package_leaderboards_are_lfs_pointers_so_the_data_dirs_wins(mlebench_data: Path,
                                                                      tmp_path: Path) -> None:
    cid = "spaceship-titanic"
    competition = adapter.registry_competition(cid, mlebench_data)
    assert adapter.is_lfs_pointer(Path(competition.leaderboard))
    assert adapter.leaderboard_file(competition, mlebench_data) == \
        mlebench_data / cid / "leaderboard.csv"
    th = adapter.mlebench_thresholds(cid, mlebench_data)
    task = resolve_task(f"mlebench:{cid}", data_dir=mlebench_data)
    ours = task.thresholds()
    assert ours is not None
    assert (th.gold, th.silver, th.bronze, th.median) == \
        (ours.gold, ours.silver, ours.bronze, ours.median)
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(DataError, match="LFS"):
        adapter.mlebench_thresholds(cid, empty)


@pytest.mark.parametrize("cid", SHARED)
def test_mlebench_task_grades_with_mlebench(cid: str, mlebench_data: Path) -> None:
    task = resolve_task(f"mlebench:{cid}", data_dir=mlebench_data)
    assert isinstance(task.grader, adapter.MlebenchGrader)
    assert task.problem is not None  # the built-in spec still describes the problem
    assert task.sample_submission_path is not None
    report = task.grade(task.sample_submission_path)
    theirs, _ = _both(cid, mlebench_data, _sample(cid, mlebench_data))
    assert report.valid_submission and report.score == theirs


def _prepare_petfinder(data: Path) -> None:
    """A tiny stand-in for a prepared competition aira-eval has no built-in grader for."""
    root = data / "petfinder-pawpularity-score" / "prepared"
    (root / "public").mkdir(parents=True)
    (root / "private").mkdir(parents=True)
    ids = [f"p{i}" for i in range(20)]
    pd.DataFrame({"Id": ids, "Pawpularity": np.arange(1, 21)}).to_csv(
        root / "private" / "test.csv", index=False)
    pd.DataFrame({"Id": ids, "Pawpularity": 10.0}).to_csv(
        root / "public" / "sample_submission.csv", index=False)


def test_any_prepared_registry_competition_is_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _prepare_petfinder(data)
    task = resolve_task("mlebench:petfinder-pawpularity-score", data_dir=data)
    assert isinstance(task.grader, adapter.MlebenchGrader)
    assert task.metric == "rmse" and task.lower_is_better  # no leaderboard: from the metric
    assert task.sample_submission_path is not None
    report = task.grade(task.sample_submission_path)
    expected = round(float(np.sqrt(np.mean((np.arange(1, 21) - 10.0) ** 2))), 5)
    assert report.valid_submission and report.score == expected
    with pytest.raises(DataError, match="problem spec"):
        TaskBrief.from_task(task, 60)  # graded by MLE-bench, but no spec for scripts
    rows = {r.task_id: r for r in list_tasks(data, tmp_path / "cache")}
    assert rows["mlebench:petfinder-pawpularity-score"].graders == "mlebench"
    assert rows["mlebench:spaceship-titanic"].graders == "built-in (exact), mlebench"


def test_splits_agree_with_the_registry() -> None:
    ids = set(adapter.registry_competition_ids())
    for name in ("low", "medium", "high", "all"):
        assert set(split_ids(name)) <= ids


def test_obfuscated_descriptions_come_from_the_package(mlebench_data: Path,
                                                       tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(mlebench_data / "spaceship-titanic", data / "spaceship-titanic")
    task = resolve_task("mlebench:spaceship-titanic", data_dir=data, description="obfuscated",
                        cache_dir=tmp_path / "cache")
    text = task.description()
    original = (data / "spaceship-titanic" / "prepared" / "public" / "description.md").read_text()
    assert text and text != original
    assert text.startswith("# Task") and not original.startswith("# Task")  # MLE-bench's rewrite
    assert (task.public_dir / "description.md").read_text() == text  # what ./input/ shows
    assert TaskBrief.from_task(task, 60).description == text
