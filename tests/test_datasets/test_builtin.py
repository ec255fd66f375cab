"""builtin: tasks: prepared on first use, MLE-bench layout, gradable, atomic."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

from aira_eval.datasets.builtin import BUILTINS, builtin_names, builtin_root, load_builtin
from aira_eval.datasets.grading import grade_frame
from aira_eval.datasets.prepare import compute_checksums
from aira_eval.datasets.registry import resolve_task


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_at_least_four_datasets_cover_every_kind() -> None:
    kinds = {BUILTINS[n].prediction for n in builtin_names()}
    assert len(builtin_names()) >= 4
    assert {"probability", "label", "class_probabilities", "regression"} <= kinds
    assert BUILTINS["breast-cancer"].metric == "roc_auc"
    assert BUILTINS["digits"].metric == "accuracy"
    assert BUILTINS["wine"].metric == "multiclass_log_loss"
    assert BUILTINS["diabetes"].metric == "rmse"


@pytest.mark.parametrize("name", builtin_names())
def test_layout_split_and_sample(name: str, cache: Path) -> None:
    task = load_builtin(name, cache)
    public, private = task.public_dir, task.private_dir
    assert {p.name for p in public.iterdir()} == {
        "train.csv", "test.csv", "sample_submission.csv", "description.md"}
    assert [p.name for p in private.iterdir()] == ["test.csv"]
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    answers = task.answers()
    n = len(train) + len(test)
    assert len(test) == len(answers) == pytest.approx(0.1 * n, abs=1)
    label = task.problem.label_columns[0]
    assert label in train.columns and label not in test.columns
    assert train["id"].is_unique and not set(train["id"]) & set(test["id"])
    assert set(answers["id"]) == set(test["id"])
    assert train.columns[0] == "id"
    report = task.grade(task.sample_submission_path)
    assert report.valid_submission, report.reason
    description = task.description()
    assert task.metric in description and "Submission format" in description
    assert ",".join([*task.problem.id_columns, *task.problem.submission_columns]) in description


@pytest.mark.parametrize("name", builtin_names())
def test_checksums_match_files(name: str, cache: Path) -> None:
    root = builtin_root(name, cache)
    stored = yaml.safe_load((root / "checksums.yaml").read_text())
    assert stored == compute_checksums(root / "prepared")
    task = load_builtin(name, cache)
    assert set(task.checksums()) >= {"public/train.csv", "private/test.csv"}


def test_split_is_mlebench_convention(cache: Path) -> None:
    from sklearn.model_selection import train_test_split

    from aira_eval.datasets.builtin import dataset_frame

    frame = dataset_frame(BUILTINS["digits"])
    _, expected_test = train_test_split(frame, test_size=0.1, random_state=0)
    task = load_builtin("digits", cache)
    test = pd.read_csv(task.public_dir / "test.csv")
    assert test["id"].tolist() == expected_test["id"].tolist()


def test_ids_carry_no_label_order(cache: Path) -> None:
    """iris/wine are sorted by class in scikit-learn; ids must not reveal that order."""
    task = load_builtin("iris", cache)
    train = pd.read_csv(task.public_dir / "train.csv").sort_values("id")
    first_third = train["species"].iloc[: len(train) // 3]
    assert first_third.nunique() == 3


def test_perfect_submissions_score_best(cache: Path) -> None:
    digits = load_builtin("digits", cache)
    answers = digits.answers()
    assert grade_frame(answers, answers, digits.grader).score == 1.0
    diabetes = load_builtin("diabetes", cache)
    answers = diabetes.answers()
    assert grade_frame(answers, answers, diabetes.grader).score == 0.0
    wine = load_builtin("wine", cache)
    answers = wine.answers()
    sub = pd.get_dummies(answers["target"]).astype(float)
    sub.insert(0, "id", answers["id"])
    assert grade_frame(sub, answers, wine.grader).score == pytest.approx(0.0, abs=1e-9)


def test_iris_unknown_species_is_invalid_and_known_ones_score(cache: Path) -> None:
    iris = load_builtin("iris", cache)
    answers = iris.answers()
    wrong = answers.copy()
    wrong.loc[0, "species"] = next(s for s in ("setosa", "virginica") if s != wrong.species[0])
    expected = f1_score(answers["species"], wrong["species"], average="macro")
    assert grade_frame(wrong, answers, iris.grader, decimals=None).score == expected
    wrong.loc[1, "species"] = "martian"
    report = grade_frame(wrong, answers, iris.grader)
    assert not report.valid_submission and report.score is None
    assert report.reason is not None and "['martian']" in report.reason
    assert "allowed labels: setosa, versicolor, virginica" in report.reason


def test_second_use_reuses_the_cache(cache: Path) -> None:
    task = load_builtin("wine", cache)
    before = (task.public_dir / "train.csv").stat().st_mtime_ns
    again = load_builtin("wine", cache)
    assert (again.public_dir / "train.csv").stat().st_mtime_ns == before


def test_concurrent_first_use_does_not_collide(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def use() -> None:
        try:
            results.append(load_builtin("breast-cancer", tmp_path).public_dir)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    leftovers = [p.name for p in (tmp_path / "builtin").iterdir()]
    assert leftovers == ["breast-cancer-v1"]


def test_resolved_with_heldouts_by_default(cache: Path, tmp_path: Path) -> None:
    task = resolve_task("builtin:breast-cancer", cache_dir=cache)
    assert task.heldout_names == ["search", "select", "test"]
    plain = resolve_task("builtin:breast-cancer", cache_dir=cache, heldouts=False)
    assert plain.heldout_names == ["test"]


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRA_EVAL_CACHE_DIR", str(tmp_path))
    task = resolve_task("builtin:iris", heldouts=False)
    assert task.public_dir.is_relative_to(tmp_path)
