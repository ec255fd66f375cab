"""synthetic: tasks: a huge test set, a small train, fast seeded generation, cached."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.datasets.grading import grade_frame
from aira_eval.datasets.registry import resolve_task
from aira_eval.datasets.synthetic import (
    KINDS,
    N_TEST,
    N_TRAIN,
    generate_frame,
    load_synthetic,
    parse_name,
    synthetic_names,
)
from aira_eval.errors import TaskNotFoundError, UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_kinds() -> None:
    assert set(synthetic_names()) >= {"binary", "multiclass", "regression"}
    assert KINDS["binary"].metric == "roc_auc"
    assert KINDS["regression"].metric == "rmse"


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
def test_sizes_and_grading(name: str, cache: Path) -> None:
    task = load_synthetic(name, cache)
    train = pd.read_csv(task.public_dir / "train.csv")
    answers = task.answers()
    assert N_TEST >= 100_000 and len(answers) == N_TEST
    assert 1_000 <= len(train) == N_TRAIN <= 2_000
    test_ids = pd.read_csv(task.public_dir / "test.csv", usecols=["id"])["id"]
    assert set(test_ids) == set(answers["id"])
    assert not set(train["id"]) & set(test_ids)
    report = task.grade(task.sample_submission_path)
    assert report.valid_submission, report.reason


def test_generation_is_fast_and_deterministic() -> None:
    import sklearn.datasets  # noqa: F401  (import time is not generation time)

    start = time.perf_counter()
    a = generate_frame(KINDS["binary"], seed=0)
    assert time.perf_counter() - start < 3.0
    b = generate_frame(KINDS["binary"], seed=0)
    c = generate_frame(KINDS["binary"], seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a["x0"].equals(c["x0"])


def test_prepared_once_then_cached(tmp_path: Path) -> None:
    """Generated on first use, reused afterwards (no timing: tests never depend on speed)."""
    task = load_synthetic("regression", tmp_path)
    mtime = (task.public_dir / "test.csv").stat().st_mtime_ns
    again = load_synthetic("regression", tmp_path)
    assert again.public_dir == task.public_dir
    assert (again.public_dir / "test.csv").stat().st_mtime_ns == mtime


def test_same_seed_same_files_across_caches(tmp_path: Path, cache: Path) -> None:
    a = load_synthetic("multiclass", cache)
    b = load_synthetic("multiclass", tmp_path)
    assert a.checksums() == b.checksums()


def test_seed_suffix(cache: Path) -> None:
    assert parse_name("binary@3") == ("binary", 3)
    task = resolve_task("synthetic:binary@1", cache_dir=cache, heldouts=False)
    default = load_synthetic("binary", cache)
    assert task.task_id == "synthetic:binary@1"
    assert task.checksums()["private/test.csv"] != default.checksums()["private/test.csv"]
    with pytest.raises(UsageError, match="seed"):
        resolve_task("synthetic:binary@x", cache_dir=cache)
    with pytest.raises(TaskNotFoundError, match="synthetic:binary"):
        resolve_task("synthetic:binnary", cache_dir=cache)


def test_test_score_is_true_generalization(cache: Path) -> None:
    """A model fit on train scores on test what it scores on fresh draws (to ~1e-2)."""
    from sklearn.linear_model import LogisticRegression

    task = load_synthetic("binary", cache)
    train = pd.read_csv(task.public_dir / "train.csv")
    test = pd.read_csv(task.public_dir / "test.csv")
    features = [c for c in train.columns if c.startswith("x")]
    model = LogisticRegression(max_iter=1000).fit(train[features], train["target"])
    sub = pd.DataFrame({"id": test["id"], "target": model.predict_proba(test[features])[:, 1]})
    report = grade_frame(sub, task.answers(), task.grader, decimals=None)
    assert report.valid_submission
    halves = np.array_split(np.arange(len(sub)), 2)
    scores = [grade_frame(sub.iloc[h], task.answers().set_index("id").loc[sub["id"].iloc[h]]
                          .reset_index(), task.grader).score for h in halves]
    assert abs(scores[0] - scores[1]) < 0.01
    assert 0.6 < report.score < 0.95


def test_heldouts_on_by_default(cache: Path) -> None:
    task = resolve_task("synthetic:regression", cache_dir=cache)
    sizes = task.heldout_sizes()
    assert sizes["test"] == N_TEST
    assert sizes["search"] == sizes["select"] == round(0.1 * N_TRAIN)
    report = task.grade_heldouts(task.sample_submission_path)
    assert all(r.valid_submission for r in report.values())
