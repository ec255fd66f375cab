"""A file that cannot be a valid submission is rejected before pandas reads it."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aira_eval.datasets import grading
from aira_eval.datasets.grading import SubmissionLimits, TableGrader, grade_csv

ANSWERS = pd.DataFrame({"id": range(10), "y": [0.5] * 10})
GRADER = TableGrader("t", metric="rmse", id_column="id", target_columns=("y",))


def test_limits_follow_the_answers() -> None:
    limits = SubmissionLimits.for_answers([ANSWERS, ANSWERS])
    assert limits.max_bytes == grading.BYTES_FLOOR + 20 * grading.BYTES_PER_ROW
    assert limits.max_columns == grading.COLUMNS_FLOOR


def test_too_large_file_is_invalid_without_being_read(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grading, "BYTES_FLOOR", 1024)
    path = tmp_path / "sub.csv"
    path.write_text("id,y\n" + "".join(f"{i},0.5\n" for i in range(20_000)))
    read = []
    monkeypatch.setattr(grading, "read_csv_like_mlebench", lambda p: read.append(p))
    report = grade_csv(path, ANSWERS, GRADER)
    assert not report.valid_submission and report.submission_exists
    assert report.reason and "larger than" in report.reason and "too large" in report.reason
    assert read == []  # pandas never saw it


def _grade_traced(path: Path) -> tuple[Any, int]:
    """The grade report of ``path`` and the peak Python memory (bytes) grading took."""
    tracemalloc.start()
    try:
        return grade_csv(path, ANSWERS, GRADER), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sparse_gigabyte_is_rejected_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    with path.open("wb") as fh:
        fh.write(b"id,y\n")
        fh.truncate(1 << 30)
    report, peak = _grade_traced(path)
    assert not report.valid_submission
    assert report.reason and "larger than 64 MB (1024 MB)" in report.reason
    assert peak < 32 * 1024**2


def test_a_million_columns_are_rejected_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    header = ",".join(f"c{i}" for i in range(1_000_000))
    path.write_text(header + "\n" + ",".join("1" for _ in range(1_000_000)) + "\n")
    report, peak = _grade_traced(path)
    assert not report.valid_submission
    assert report.reason and "1000000 columns" in report.reason
    assert peak < 64 * 1024**2


def test_a_valid_submission_still_grades(tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    ANSWERS.assign(y=0.25).to_csv(path, index=False)
    report = grade_csv(path, ANSWERS, GRADER)
    assert report.valid_submission and report.score == pytest.approx(0.25)
