"""Graders reproducing MLE-bench's per-competition ``grade.py`` patterns.

Each class reproduces one pattern of MLE-bench's graders: the same checks in the same order,
the same scikit-learn call on the same aligned arrays, and (as MLE-bench's ``Grader``
does) any exception while grading turns into an invalid submission. Scores are therefore
identical to MLE-bench's unrounded ``grade_fn`` output; MLE-bench's 5-decimal rounding
happens in :func:`aira_eval.datasets.grading.grade_frame`.

Shared refinements (see :mod:`aira_eval.datasets.submission_checks`): stable sorting by id,
clearer reasons for inputs scikit-learn would reject anyway, and ``DataError`` for broken
answers. Multi-target and image-task patterns live in :mod:`.graders_multi`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.datasets.submission_checks import (
    check_probability_rows,
    guarded,
    prepare_for_accuracy,
    prepare_for_auroc,
    prepare_one_hot_log_loss,
    require_answer_columns,
    require_columns,
    require_row_count,
    require_same_ids,
)
from aira_eval.datasets.table_grader import align_to_answers
from aira_eval.errors import UsageError


@dataclass
class KeyedGrader:
    """Base of the exact graders: a name and the column matching rows to the answers.

    ``id_column`` is typed ``str | None`` to satisfy the :class:`Grader` protocol; these
    graders always need one.
    """

    name: str
    id_column: str | None

    def __post_init__(self) -> None:
        if self.id_column is None:
            raise UsageError(f"grader {self.name!r} needs an id column")

    @property
    def key(self) -> str:
        """The id column (never ``None``)."""
        if self.id_column is None:
            raise UsageError(f"grader {self.name!r} needs an id column")
        return self.id_column


def _as_text(values: np.ndarray) -> np.ndarray:
    """``str()`` of every value (pandas 2's ``astype(str)``: NaN becomes ``"nan"``)."""
    return np.asarray([str(v) for v in values.tolist()], dtype=object)


@dataclass
class AccuracyGrader(KeyedGrader):
    """Accuracy of ``target_column`` with rows matched on ``id_column``.

    MLE-bench: ``prepare_for_accuracy_metric`` + ``accuracy_score`` (spaceship-titanic,
    tabular-playground-series-dec-2021). With ``as_text`` both label columns are compared as
    strings, as the text-normalization graders do (a missing value is then the text
    ``"nan"``, as in MLE-bench); otherwise missing labels are invalid.
    """

    target_column: str
    as_text: bool = False
    metric: str = "accuracy"
    lower_is_better: bool = False

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            y_true, y_pred = prepare_for_accuracy(submission, answers, self.target_column, self.key)
            if self.as_text:
                y_true, y_pred = _as_text(y_true), _as_text(y_pred)
            elif pd.isna(y_pred).any():  # scikit-learn rejects these too, less clearly
                n_missing = int(pd.isna(y_pred).sum())
                raise InvalidSubmission(
                    f"column {self.target_column!r} has {n_missing} missing (NaN) label(s)"
                )
            return float(skm.accuracy_score(y_true, y_pred))

        return guarded(f"{self.name}: accuracy failed", compute)


@dataclass
class AurocGrader(KeyedGrader):
    """Binary ROC AUC of ``target_column`` with rows matched on ``id_column``.

    MLE-bench: ``prepare_for_auroc_metric`` + ``roc_auc_score``: the submission must have the
    id and target columns and the answers' row count, a numeric target in [0, 1], and after
    sorting both by id the same ids.
    """

    target_column: str
    metric: str = "roc_auc"
    lower_is_better: bool = False

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            y_true, y_score = prepare_for_auroc(submission, answers, self.key, self.target_column)
            return float(skm.roc_auc_score(y_true, y_score))

        return guarded(f"{self.name}: ROC AUC failed", compute)


ColumnRule = Literal["exact", "shape", "superset"]


@dataclass
class OneHotLogLossGrader(KeyedGrader):
    """Multi-class log loss over one probability column per class, rows matched on id.

    ``answers`` holds ``id_column`` and one 0/1 column per class. ``column_rule`` picks
    MLE-bench's column test: ``exact`` (leaf-classification: the column set is exactly id +
    classes), ``shape`` (spooky-author-identification: the shape is (rows, classes + 1) and
    the probability checks apply to every column but the first) or ``superset``
    (dog-breed-identification: id and every class present, extras ignored). Then rows must
    sum to one (``np.isclose(sum, 1, atol=1e-6)``), lie in [0, 1], and match the answers' ids.
    """

    classes: tuple[str, ...]
    column_rule: ColumnRule = "exact"
    metric: str = "multiclass_log_loss"
    lower_is_better: bool = True

    def _check_columns(self, submission: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
        """Column and row-count checks; returns the probability block to check."""
        if self.column_rule == "shape":
            expected = (len(answers), len(self.classes) + 1)
            if submission.shape != expected:
                raise InvalidSubmission(
                    f"submission shape {submission.shape} differs from {expected} "
                    f"(columns {self.key!r} + {len(self.classes)} classes)"
                )
            return submission.iloc[:, 1:]
        expected_set = {self.key, *self.classes}
        present = set(submission.columns)
        if self.column_rule == "exact" and present != expected_set:
            missing, extra = sorted(expected_set - present), sorted(present - expected_set)
            raise InvalidSubmission(
                f"submission must have exactly column {self.key!r} and one column per "
                f"class; missing column(s) {missing[:5]}, unexpected column(s) {extra[:5]}"
            )
        require_columns(submission, [*self.classes, self.key])
        require_row_count(submission, answers)
        return submission[list(self.classes)]

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            require_answer_columns(answers, [self.key, *self.classes])
            check_probability_rows(self._check_columns(submission, answers))
            y_true, y_pred = prepare_one_hot_log_loss(submission, answers, self.key)
            return float(skm.log_loss(y_true, y_pred))

        return guarded(f"{self.name}: log loss failed", compute)


@dataclass
class BinaryLogLossGrader(KeyedGrader):
    """Binary log loss of P(``target_column`` = 1) (dogs-vs-cats-redux-kernels-edition).

    MLE-bench's checks: id and target columns present, the same id *set* as the answers, the
    same row count, every value in [0, 1] (NaN fails), then both sorted by id.
    """

    target_column: str
    metric: str = "log_loss"
    lower_is_better: bool = True

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            require_answer_columns(answers, [self.key, self.target_column])
            require_columns(submission, [self.key, self.target_column])
            if not id_set_matches(submission, answers, self.key):
                raise InvalidSubmission(f"submission and answers have different {self.key}s")
            require_row_count(submission, answers)
            values = submission[self.target_column]
            if values.isna().any():
                raise InvalidSubmission(f"column {self.target_column!r} has missing (NaN) values")
            if not ((values >= 0) & (values <= 1)).all():
                raise InvalidSubmission(f"all values in {self.target_column!r} must be in [0, 1]")
            sub = submission.sort_values(self.key, kind="mergesort")
            ans = answers.sort_values(self.key, kind="mergesort")
            return float(
                skm.log_loss(ans[self.target_column].to_numpy(), sub[self.target_column].to_numpy())
            )

        return guarded(f"{self.name}: log loss failed", compute)


@dataclass
class MeanRmsleGrader(KeyedGrader):
    """Mean over ``target_columns`` of the RMSLE, rows matched on ``id_column``.

    nomad2018-predict-transparent-conductors. **Deviation from MLE-bench**: MLE-bench's grader
    checks only the target columns and the row count and compares rows *by position*, never
    looking at ids. Here rows are matched on ``id`` (which must be present, with no NaN,
    duplicate or unknown ids). The score equals MLE-bench's whenever the submission keeps
    the answers' row order (as the sample submission and test file do); a submission in
    another order is scored correctly here, wrongly by MLE-bench; one without a valid ``id``
    column is invalid here but scored by MLE-bench.
    """

    target_columns: tuple[str, ...]
    metric: str = "mean_columnwise_rmsle"
    lower_is_better: bool = True

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            require_answer_columns(answers, [self.key, *self.target_columns])
            require_columns(submission, [*self.target_columns, self.key])
            require_row_count(submission, answers)
            ans = answers.reset_index(drop=True)
            aligned = align_to_answers(submission, ans, self.key)
            per_column = [
                _rmsle_column(ans[c].to_numpy(), aligned[c], c) for c in self.target_columns
            ]
            return float(sum(per_column) / len(per_column))

        return guarded(f"{self.name}: RMSLE failed", compute)


def _rmsle_column(y_true: np.ndarray, predicted: pd.Series, column: str) -> float:
    try:
        y_pred = pd.to_numeric(predicted).to_numpy(dtype=float)
    except (ValueError, TypeError) as err:
        raise InvalidSubmission(f"column {column!r} must be numeric ({err})") from err
    if np.isnan(y_pred).any():
        raise InvalidSubmission(f"column {column!r} has missing (NaN) values")
    return float(skm.root_mean_squared_log_error(y_true, y_pred))


@dataclass
class SortedRmseGrader(KeyedGrader):
    """RMSE of ``target_column`` after sorting both frames by ``id_column``.

    ``check_ids=False`` is new-york-city-taxi-fare-prediction's grader, which (as in
    MLE-bench) compares the sorted rows by position without checking ids or the row count
    beyond what scikit-learn requires. ``check_ids=True`` is denoising-dirty-documents':
    float values, same row count and the same ids after sorting.
    """

    target_column: str
    check_ids: bool = False
    metric: str = "rmse"
    lower_is_better: bool = True

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            require_answer_columns(answers, [self.target_column, self.key])
            require_columns(submission, [self.key, self.target_column])
            if self.check_ids:
                _require_float(submission[self.target_column], self.target_column)
            require_row_count(submission, answers)
            sub = submission.sort_values(self.key, kind="mergesort")
            ans = answers.sort_values(self.key, kind="mergesort")
            if self.check_ids:
                _require_sorted_ids_equal(sub[self.key], ans[self.key], self.key)
            return float(
                skm.root_mean_squared_error(
                    ans[self.target_column].to_numpy(), sub[self.target_column].to_numpy()
                )
            )

        return guarded(f"{self.name}: RMSE failed", compute)


def _require_float(values: pd.Series, column: str) -> None:
    try:
        values.astype(float)
    except (ValueError, TypeError) as err:
        raise InvalidSubmission(f"column {column!r} must hold float values ({err})") from err


def _require_sorted_ids_equal(sub_ids: pd.Series, ans_ids: pd.Series, column: str) -> None:
    require_same_ids(sub_ids.reset_index(drop=True), ans_ids.reset_index(drop=True), column)


def id_set_matches(submission: pd.DataFrame, answers: pd.DataFrame, id_column: str) -> bool:
    """MLE-bench's ``set(submission[id]) == set(answers[id])`` test."""
    return set(submission[id_column].tolist()) == set(answers[id_column].tolist())
