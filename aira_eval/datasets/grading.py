"""Grading a submission into a report, the way MLE-bench's ``grade_csv`` does.

- :func:`read_submission` / :func:`read_answers` read CSVs exactly as MLE-bench's ``read_csv``
  (``pd.read_csv`` with round-trip float parsing; pandas >= 3 parses round-trip by default),
  so ``True``/``False`` become booleans and ids parse identically.
- :func:`grade_frame` / :func:`grade_csv` run a :class:`~aira_eval.datasets.grader.Grader`
  and turn the result into a :class:`GradeReport` mirroring MLE-bench's
  ``CompetitionReport``. A bad submission never raises out of them: it is a report with
  ``valid_submission=False`` and a ``reason``. Broken *answers* (``DataError``) do raise.

Like MLE-bench, the report's ``score`` is rounded to 5 decimals (``decimals=None`` keeps it
raw) and medals are decided on that reported score; ``raw_score`` keeps the unrounded value.

The generic grader :class:`~aira_eval.datasets.table_grader.TableGrader` and the
MLE-bench-faithful preparation helpers are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.datasets.grader import Grader, InvalidSubmission
from aira_eval.datasets.leaderboard import NO_MEDAL, Thresholds
from aira_eval.datasets.submission_checks import (
    check_probability_rows,
    guarded,
    labels_to_one_hot,
    prepare_for_accuracy,
    prepare_for_auroc,
    prepare_one_hot_log_loss,
    require_same_ids,
)
from aira_eval.datasets.table_grader import TableGrader, align_to_answers
from aira_eval.errors import DataError

__all__ = [
    "GradeReport",
    "SubmissionLimits",
    "TableGrader",
    "align_to_answers",
    "check_probability_rows",
    "grade_csv",
    "grade_frame",
    "guarded",
    "invalid_report",
    "labels_to_one_hot",
    "prepare_for_accuracy",
    "prepare_for_auroc",
    "prepare_one_hot_log_loss",
    "read_answers",
    "read_csv_like_mlebench",
    "read_submission",
    "require_same_ids",
]

MLEBENCH_DECIMALS = 5
"""MLE-bench rounds every score to 5 decimals before ranking it."""


def read_csv_like_mlebench(path: str | Path) -> pd.DataFrame:
    """``pd.read_csv`` with MLE-bench's round-trip float parsing.

    Raises pandas/IO errors unchanged (callers translate them).
    """
    kwargs: dict[str, Any] = {}
    if int(pd.__version__.split(".")[0]) < 3:
        kwargs["float_precision"] = "round_trip"  # pandas >= 3: the default, and deprecated
    return pd.read_csv(path, **kwargs)


@dataclass(frozen=True)
class SubmissionLimits:
    """What a submission for a task can be at most, checked before pandas reads it (a bad
    file must not cost gigabytes of memory): its byte size and its header's column count."""

    max_bytes: int
    max_columns: int

    @classmethod
    def for_answers(cls, answers: list[pd.DataFrame]) -> SubmissionLimits:
        """Generous bounds for a submission graded against ``answers`` (all its parts):
        :data:`BYTES_FLOOR` plus :data:`BYTES_PER_ROW` per answer row (room for a wide
        one-hot row per id), and 100 columns per answer column (at least 10,000)."""
        rows = sum(len(a) for a in answers)
        cols = max((len(a.columns) for a in answers), default=1)
        return cls(max_bytes=BYTES_FLOOR + rows * BYTES_PER_ROW,
                   max_columns=max(COLUMNS_FLOOR, 100 * cols))


BYTES_FLOOR = 64 * 1024**2
BYTES_PER_ROW = 4096
COLUMNS_FLOOR = 10_000
HEADER_MAX_BYTES = 16 * 1024**2


def check_submission_shape(path: Path, limits: SubmissionLimits) -> None:
    """Reject, before reading it, a file too large or too wide to be a valid submission."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InvalidSubmission(
            f"submission {path.name} is larger than {limits.max_bytes // 1024**2} MB "
            f"({size / 1024**2:.0f} MB): too large for this task's answers")
    with path.open("rb") as fh:
        header = fh.readline(HEADER_MAX_BYTES + 1)
    if len(header) > HEADER_MAX_BYTES:
        raise InvalidSubmission(f"submission {path.name} has a header line longer than "
                                f"{HEADER_MAX_BYTES // 1024**2} MB")
    columns = header.count(b",") + 1  # an upper bound: quoted commas are rare in headers
    if columns > limits.max_columns:
        raise InvalidSubmission(
            f"submission {path.name} has {columns} columns in its header; a submission for "
            f"this task has at most {limits.max_columns}")


def read_submission(path: str | Path, limits: SubmissionLimits | None = None) -> pd.DataFrame:
    """Read a submission CSV; with ``limits``, a file that cannot be valid (too large, too
    many columns) is rejected before pandas reads it.

    Raises:
        InvalidSubmission: no such file, not a regular ``.csv`` file, an empty file, a file
            beyond ``limits``, or a file pandas cannot parse as CSV (binary data, broken
            quoting, wrong encoding).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidSubmission(f"no submission file at {path}")
    if path.suffix.lower() != ".csv":
        raise InvalidSubmission(f"submission {path.name} is not a .csv file")
    try:
        if limits is not None:
            check_submission_shape(path, limits)
    except OSError as err:
        raise InvalidSubmission(f"submission {path.name} cannot be read: {err}") from err
    try:
        frame = read_csv_like_mlebench(path)
    except pd.errors.EmptyDataError as err:
        raise InvalidSubmission(f"submission {path.name} is empty") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        raise InvalidSubmission(f"submission {path.name} is not a readable CSV: {err}") from err
    if frame.columns.empty:
        raise InvalidSubmission(f"submission {path.name} is empty")
    return frame


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read a private answers CSV the same way (``DataError`` when that fails)."""
    path = Path(path)
    try:
        return read_csv_like_mlebench(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read answers {path}: {err}") from err


@dataclass(frozen=True)
class GradeReport:
    """One graded submission; the fields of MLE-bench's ``CompetitionReport`` plus ``reason``.

    Thresholds are ``None`` (and medal flags false) when no leaderboard was given.
    ``raw_score`` is the unrounded score; ``reason`` says why the submission is invalid or
    missing (``None`` when valid).
    """

    competition_id: str
    score: float | None
    gold_threshold: float | None
    silver_threshold: float | None
    bronze_threshold: float | None
    median_threshold: float | None
    any_medal: bool
    gold_medal: bool
    silver_medal: bool
    bronze_medal: bool
    above_median: bool
    submission_exists: bool
    valid_submission: bool
    is_lower_better: bool
    created_at: datetime
    submission_path: str | None
    reason: str | None = None
    raw_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``created_at`` in ISO format)."""

        def opt(value: float | None) -> float | None:
            return None if value is None else float(value)

        return {
            "competition_id": self.competition_id,
            "score": opt(self.score),
            "gold_threshold": opt(self.gold_threshold),
            "silver_threshold": opt(self.silver_threshold),
            "bronze_threshold": opt(self.bronze_threshold),
            "median_threshold": opt(self.median_threshold),
            "any_medal": bool(self.any_medal),
            "gold_medal": bool(self.gold_medal),
            "silver_medal": bool(self.silver_medal),
            "bronze_medal": bool(self.bronze_medal),
            "above_median": bool(self.above_median),
            "submission_exists": bool(self.submission_exists),
            "valid_submission": bool(self.valid_submission),
            "is_lower_better": bool(self.is_lower_better),
            "created_at": self.created_at.isoformat(),
            "submission_path": self.submission_path,
            "reason": self.reason,
            "raw_score": opt(self.raw_score),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeReport:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values.setdefault("reason", None)
        values.setdefault("raw_score", None)
        return cls(**values)


def _build_report(
    competition_id: str,
    raw: float | None,
    grader: Grader,
    thresholds: Thresholds | None,
    *,
    exists: bool,
    reason: str | None,
    path: str | None,
    decimals: int | None,
) -> GradeReport:
    score = raw if raw is None or decimals is None else round(raw, decimals)
    flags = thresholds.medals(score) if thresholds is not None else NO_MEDAL
    return GradeReport(
        competition_id=competition_id,
        score=score,
        gold_threshold=thresholds.gold if thresholds else None,
        silver_threshold=thresholds.silver if thresholds else None,
        bronze_threshold=thresholds.bronze if thresholds else None,
        median_threshold=thresholds.median if thresholds else None,
        any_medal=flags.any_medal,
        gold_medal=flags.gold,
        silver_medal=flags.silver,
        bronze_medal=flags.bronze,
        above_median=flags.above_median,
        submission_exists=exists,
        valid_submission=score is not None,
        is_lower_better=thresholds.lower_is_better if thresholds else grader.lower_is_better,
        created_at=datetime.now(),
        submission_path=path,
        reason=reason,
        raw_score=raw,
    )


def invalid_report(
    competition_id: str,
    grader: Grader,
    thresholds: Thresholds | None,
    *,
    reason: str,
    path: str | Path,
    exists: bool,
) -> GradeReport:
    """The report of a submission that cannot be graded: no score, no medals, ``reason``."""
    return _build_report(competition_id, None, grader, thresholds, exists=exists,
                         reason=reason, path=str(path), decimals=None)


def _score_or_reason(
    submission: pd.DataFrame, answers: pd.DataFrame, grader: Grader
) -> tuple[float | None, str | None]:
    try:
        raw = guarded(f"{grader.name} grader failed", lambda: grader.grade(submission, answers))
    except InvalidSubmission as err:
        return None, err.reason
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"the grader returned a non-number ({raw!r})"
    if not math.isfinite(value):
        return None, f"the metric is undefined for this submission (score {value})"
    return value, None


def grade_frame(
    submission_df: pd.DataFrame,
    answers_df: pd.DataFrame,
    grader: Grader,
    thresholds: Thresholds | None = None,
    *,
    competition_id: str | None = None,
    submission_path: str | None = None,
    decimals: int | None = MLEBENCH_DECIMALS,
) -> GradeReport:
    """Grade an in-memory submission.

    Args:
        submission_df: the submission as read from CSV.
        answers_df: the private answers in the grader's format.
        grader: any :class:`Grader`.
        thresholds: medal thresholds (from a leaderboard); ``None`` leaves medals unset.
        competition_id: report name (default: ``grader.name``).
        submission_path: recorded in the report.
        decimals: rounding of the reported score (MLE-bench: 5); ``None`` for raw.

    Raises:
        DataError: the answers are malformed. A bad submission never raises.
    """
    raw, reason = _score_or_reason(submission_df, answers_df, grader)
    return _build_report(
        competition_id or grader.name,
        raw,
        grader,
        thresholds,
        exists=True,
        reason=reason,
        path=submission_path,
        decimals=decimals,
    )


def grade_csv(
    path: str | Path,
    answers_df: pd.DataFrame,
    grader: Grader,
    thresholds: Thresholds | None = None,
    *,
    competition_id: str | None = None,
    decimals: int | None = MLEBENCH_DECIMALS,
) -> GradeReport:
    """Grade a submission file.

    As in MLE-bench, the submission exists only if ``path`` is a file ending in ``.csv``;
    otherwise the report has ``submission_exists=False``. An empty or unreadable CSV is an
    invalid submission. See :func:`grade_frame` for the rest.
    """
    path = Path(path)
    name = competition_id or grader.name
    exists = path.is_file() and path.suffix.lower() == ".csv"
    try:
        submission = read_submission(path, SubmissionLimits.for_answers([answers_df]))
    except InvalidSubmission as err:
        return invalid_report(name, grader, thresholds, reason=err.reason, path=path,
                              exists=exists)
    return grade_frame(
        submission,
        answers_df,
        grader,
        thresholds,
        competition_id=name,
        submission_path=str(path),
        decimals=decimals,
    )
