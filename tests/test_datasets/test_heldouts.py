"""Held-out sets: disjoint, deterministic, leak-free, graded by splitting on id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.datasets.grading import grade_frame
from aira_eval.datasets.heldouts import HeldoutConfig, build_heldouts, default_heldouts
from aira_eval.datasets.prepare import md5_file, read_checksums
from aira_eval.datasets.registry import resolve_task
from aira_eval.datasets.task import Task
from aira_eval.errors import DataError, UsageError
from aira_eval.study.manifest import task_info


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _ids(task: Task, name: str) -> set[str]:
    column = task.grader.id_column
    return set(task.answers(name)[column].astype(str))


def test_defaults() -> None:
    config = HeldoutConfig()
    assert (config.search, config.select, config.seed) == (0.1, 0.1, 0)
    assert default_heldouts("builtin") and default_heldouts("synthetic")
    assert default_heldouts("yaml") and not default_heldouts("mlebench")
    with pytest.raises(UsageError, match="fraction"):
        HeldoutConfig(search=1.2)
    with pytest.raises(UsageError):
        HeldoutConfig(search=0.5, select=0.45)


@pytest.mark.parametrize("name", ["builtin:digits", "builtin:wine", "builtin:breast-cancer"])
def test_disjoint_sizes_and_test_file_coverage(name: str, cache: Path) -> None:
    base = resolve_task(name, cache_dir=cache, heldouts=False)
    task = resolve_task(name, cache_dir=cache)
    search, select, test = (_ids(task, n) for n in ("search", "select", "test"))
    assert not search & select and not search & test and not select & test
    n_train = len(pd.read_csv(base.public_dir / "train.csv"))
    assert len(search) == len(select) == round(0.1 * n_train)
    train = pd.read_csv(task.public_dir / "train.csv")
    assert len(train) == n_train - len(search) - len(select)
    assert not set(train["id"].astype(str)) & (search | select | test)
    test_file = set(pd.read_csv(task.public_dir / "test.csv")["id"].astype(str))
    assert test_file == search | select | test
    sample = set(pd.read_csv(task.sample_submission_path)["id"].astype(str))
    assert sample == test_file
    assert _ids(base, "test") == test


def test_deterministic_and_seeded(cache: Path, tmp_path: Path) -> None:
    a = resolve_task("builtin:digits", cache_dir=cache)
    b = resolve_task("builtin:digits", cache_dir=tmp_path)
    assert _ids(a, "search") == _ids(b, "search")
    assert a.checksums() == b.checksums()
    other = resolve_task("builtin:digits", cache_dir=cache, heldouts=HeldoutConfig(seed=1))
    assert _ids(other, "search") != _ids(a, "search")
    assert other.location != a.location and other.heldout_seed == 1


def test_configurable_fractions(cache: Path) -> None:
    task = resolve_task("builtin:digits", cache_dir=cache,
                        heldouts=HeldoutConfig(search=0.2, select=0.0))
    assert task.heldout_names == ["search", "test"]
    assert task.heldout_fractions == {"search": 0.2}
    assert len(task.answers("search")) == round(0.2 * 1617)


def test_no_label_reaches_the_public_dir(cache: Path) -> None:
    """Every public file is scanned: no held-out row carries its label anywhere."""
    task = resolve_task("synthetic:regression", cache_dir=cache)
    held = pd.concat([task.answers("search"), task.answers("select")])
    label_of = dict(zip(held["id"].astype(str), held["target"].astype(str), strict=True))
    for path in task.public_dir.iterdir():
        if path.suffix != ".csv":
            assert not any(v in path.read_text() for v in label_of.values()), path.name
            continue
        frame = pd.read_csv(path, dtype=str)
        rows = frame[frame["id"].isin(list(label_of))]
        for _, row in rows.iterrows():
            assert label_of[row["id"]] not in set(row.drop("id")), f"label leaked in {path.name}"
    test = pd.read_csv(task.public_dir / "test.csv")
    assert "target" not in test.columns
    train = pd.read_csv(task.public_dir / "train.csv")
    assert not set(train["id"].astype(str)) & set(label_of)
    sample = pd.read_csv(task.sample_submission_path)
    assert sample["target"].nunique() == 1


def test_mlebench_heldouts_leave_source_untouched(mlebench_data: Path, cache: Path) -> None:
    source = mlebench_data / "spaceship-titanic"
    task = resolve_task("mlebench:spaceship-titanic", data_dir=mlebench_data, cache_dir=cache,
                        heldouts=True)
    assert task.location is not None and task.location.is_relative_to(cache)
    for key, digest in read_checksums(source / "checksums.yaml").items():
        if "/" in key:
            assert md5_file(source / "prepared" / key) == digest
    private = pd.read_csv(source / "prepared" / "private" / "test.csv")
    search = task.answers("search")
    assert list(search.columns) == list(private.columns)  # the competition's answer format
    public_train = pd.read_csv(task.public_dir / "train.csv")
    assert not set(public_train["PassengerId"]) & set(search["PassengerId"])
    test = pd.read_csv(task.public_dir / "test.csv")
    assert "Transported" not in test.columns
    assert len(test) == 870 + len(search) + len(task.answers("select"))


def test_split_grading_equals_grading_each_part(cache: Path) -> None:
    task = resolve_task("builtin:breast-cancer", cache_dir=cache)
    test_ids = pd.read_csv(task.public_dir / "test.csv")["id"]
    rng = np.random.default_rng(0)
    sub = pd.DataFrame({"id": test_ids, "target": rng.uniform(size=len(test_ids))})
    path = cache / "sub.csv"
    sub.to_csv(path, index=False)
    reports = task.grade_heldouts(path)
    assert set(reports) == {"search", "select", "test"}
    for name, report in reports.items():
        answers = task.answers(name)
        part = sub[sub["id"].isin(answers["id"])]
        alone = grade_frame(part, answers, task.grader)
        assert report.valid_submission and report.score == alone.score


def test_missing_or_unknown_ids_are_invalid(cache: Path) -> None:
    task = resolve_task("builtin:breast-cancer", cache_dir=cache)
    sample = pd.read_csv(task.sample_submission_path)
    for bad, words in [(sample.iloc[1:], "missing"),
                       (pd.concat([sample, sample.assign(id=-sample["id"]).head(2)]), "unknown"),
                       (pd.concat([sample, sample.head(1)]), "duplicate"),
                       (sample.drop(columns=["id"]), "id column")]:
        path = cache / "bad.csv"
        bad.to_csv(path, index=False)
        reports = task.grade_heldouts(path)
        for report in reports.values():
            assert not report.valid_submission and words in report.reason


def test_tasks_that_cannot_build_say_why(mlebench_data: Path, cache: Path) -> None:
    with pytest.raises(DataError, match="appear in both train and test"):
        resolve_task("mlebench:nomad2018-predict-transparent-conductors",
                     data_dir=mlebench_data, cache_dir=cache, heldouts=True)
    with pytest.raises(DataError, match="repeat"):
        resolve_task("mlebench:detecting-insults-in-social-commentary",
                     data_dir=mlebench_data, cache_dir=cache, heldouts=True)


def test_task_without_answer_builder(cache: Path) -> None:
    base = resolve_task("builtin:iris", cache_dir=cache, heldouts=False)
    blind = dataclasses.replace(base, answers_from_train=None)
    with pytest.raises(DataError, match="turn its train labels into answers"):
        build_heldouts(blind, HeldoutConfig(), cache)


def test_off_by_default_for_mlebench(mlebench_data: Path, cache: Path) -> None:
    task = resolve_task("mlebench:leaf-classification", data_dir=mlebench_data, cache_dir=cache)
    assert task.heldout_names == ["test"]
    assert task.public_dir == mlebench_data / "leaf-classification" / "prepared" / "public"


def test_leaf_heldouts_keep_images(mlebench_data: Path, cache: Path) -> None:
    task = resolve_task("mlebench:leaf-classification", data_dir=mlebench_data, cache_dir=cache,
                        heldouts=True)
    assert (task.public_dir / "images").is_dir()
    reports = task.grade_heldouts(task.sample_submission_path)
    assert all(r.valid_submission for r in reports.values())
    assert reports["test"].gold_threshold is not None and reports["search"].gold_threshold is None


def test_invalid_heldout_reports_keep_test_thresholds(mlebench_data: Path, cache: Path) -> None:
    task = resolve_task("mlebench:leaf-classification", data_dir=mlebench_data, cache_dir=cache,
                        heldouts=True)
    path = cache / "leaf-bad.csv"
    pd.read_csv(task.sample_submission_path).iloc[1:].to_csv(path, index=False)
    reports = task.grade_heldouts(path)
    thresholds = task.thresholds()
    assert thresholds is not None
    for name, report in reports.items():
        assert not report.valid_submission and report.score is None and "missing" in report.reason
        assert report.submission_exists and report.submission_path == str(path)
        assert report.is_lower_better is True and not report.any_medal
        expected = thresholds.gold if name == "test" else None
        assert report.gold_threshold == expected


def test_grading_reads_the_leaderboard_once(
    mlebench_data: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aira_eval.datasets.leaderboard import Leaderboard

    task = resolve_task("mlebench:leaf-classification", data_dir=mlebench_data, cache_dir=cache,
                        heldouts=True)
    reads: list[Path] = []
    real = Leaderboard.from_csv

    def counting(path: Path) -> Leaderboard:
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(Leaderboard, "from_csv", staticmethod(counting))
    first = task.grade_heldouts(task.sample_submission_path)
    second = task.grade_heldouts(task.sample_submission_path)
    assert task_info(task).thresholds["gold"] == first["test"].gold_threshold
    assert reads == [task.leaderboard_path]
    assert first["test"].score == second["test"].score


@pytest.mark.parametrize("where", ["search", "select", "test"])
def test_a_nan_in_any_set_makes_the_whole_submission_invalid(
    where: str, cache: Path, tmp_path: Path
) -> None:
    """One file, one verdict: a NaN prediction in the rows of any held-out set (here one row
    of ``where``) invalidates every report, as MLE-bench grading the file would; the other
    sets are not scored on the rest. The reason never names the set."""
    task = resolve_task("builtin:breast-cancer", cache_dir=cache)
    sub = pd.read_csv(task.sample_submission_path)
    assert all(r.valid_submission for r in task.grade_heldouts(task.sample_submission_path)
               .values())
    row = sub.index[sub["id"].astype(str).isin(_ids(task, where))][0]
    sub.loc[row, "target"] = np.nan
    path = tmp_path / "nan.csv"
    sub.to_csv(path, index=False)
    reports = task.grade_heldouts(path)
    assert set(reports) == {"search", "select", "test"}
    for name, report in reports.items():
        assert not report.valid_submission and report.score is None, name
        assert report.reason and where not in report.reason.lower(), report.reason
