"""Submission checks and metric-input preparation, reproducing MLE-bench's helpers.

The functions here behave like MLE-bench's ``mlebench/competitions/utils.py`` helpers
(``prepare_for_accuracy_metric``, ``prepare_for_auroc_metric``,
``one_hot_dfs_to_log_loss_inputs``, ``df_to_one_hot``) and the per-competition probability
checks: the same submissions are rejected and the same aligned arrays come out. Where
MLE-bench rejects a submission only because pandas or scikit-learn crash further down (a NaN
fed to ``roc_auc_score``, say) the check here rejects it earlier with a clearer reason; the
outcome (invalid) is the same.

Two documented refinements, neither of which changes a score or a verdict on real data:

- rows are sorted by id with a *stable* sort (MLE-bench uses pandas' default quicksort), so
  rows sharing an id keep their file order and the result is deterministic;
- problems of the *answers* (a missing column) raise :class:`~aira_eval.errors.DataError`
  instead of being reported as an invalid submission.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.errors import DataError

T = TypeVar("T")

PROBABILITY_SUM_ATOL = 1e-6
"""MLE-bench's tolerance for probability rows: ``np.isclose(row_sum, 1, atol=1e-6)``."""


def guarded(task: str, compute: Callable[[], T]) -> T:
    """Run ``compute``; any exception other than our own becomes :class:`InvalidSubmission`.

    MLE-bench turns every exception raised while grading into "invalid submission"; this is
    the same rule, with the exception's text kept in the reason. ``DataError`` (broken
    answers) passes through.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compute()
    except (InvalidSubmission, DataError):
        raise
    except Exception as err:  # deliberately broad: a bad submission must never crash grading
        raise InvalidSubmission(f"{task}: {type(err).__name__}: {err}") from err


def require_answer_columns(answers: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise ``DataError`` when the answers lack any of ``columns``."""
    missing = [c for c in columns if c not in answers.columns]
    if missing:
        raise DataError(f"the answers are missing column(s) {missing}")


def require_columns(submission: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise ``InvalidSubmission`` naming the first of ``columns`` the submission lacks."""
    for column in columns:
        if column not in submission.columns:
            raise InvalidSubmission(f"submission is missing column {column!r}")


def require_row_count(submission: pd.DataFrame, answers: pd.DataFrame) -> None:
    """Raise ``InvalidSubmission`` unless both frames have the same number of rows."""
    if len(submission) != len(answers):
        raise InvalidSubmission(
            f"submission has {len(submission)} rows but the answers have {len(answers)} "
            "(wrong row count)"
        )


def sort_by(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` sorted by ``column`` (stable), index reset; unsortable ids are invalid."""
    try:
        return frame.sort_values(column, kind="mergesort").reset_index(drop=True)
    except TypeError as err:
        raise InvalidSubmission(
            f"cannot sort by id column {column!r}: its values mix types ({err})"
        ) from err


def short_examples(values: Iterable[object], limit: int = 3, width: int = 40) -> list[str]:
    """Up to ``limit`` values as text, each cut to ``width`` characters (for reasons)."""
    out = []
    for value in values:
        text = str(value)
        out.append(text if len(text) <= width else text[: width - 3] + "...")
        if len(out) == limit:
            break
    return out


def _describe_id_difference(sub_ids: pd.Series, ans_ids: pd.Series) -> str:
    sub_set, ans_set = set(sub_ids.tolist()), set(ans_ids.tolist())
    unknown = sorted(map(str, sub_set - ans_set))
    missing = sorted(map(str, ans_set - sub_set))
    parts = []
    if unknown:
        parts.append(f"{len(unknown)} unknown id(s) such as {short_examples(unknown)}")
    if missing:
        parts.append(f"{len(missing)} missing id(s) such as {short_examples(missing)}")
    if not parts:
        parts.append("some ids are repeated or have a different type than the answers' ids")
    return "; ".join(parts)


def require_same_ids(sub_sorted: pd.Series, ans_sorted: pd.Series, id_column: str) -> None:
    """Both id columns, already sorted, must agree element by element (MLE-bench's test).

    NaN ids never match; ids of a different type (``1`` vs ``"1"``) do not match.
    """
    left, right = sub_sorted.to_numpy(), ans_sorted.to_numpy()
    try:
        differs = bool(np.asarray(left != right, dtype=bool).any()) if len(left) else False
    except (TypeError, ValueError):
        differs = True
    if len(left) != len(right) or differs:
        raise InvalidSubmission(
            f"submission ids in column {id_column!r} do not match the answers' ids: "
            + _describe_id_difference(sub_sorted, ans_sorted)
        )


def prepare_for_accuracy(
    submission: pd.DataFrame, answers: pd.DataFrame, target_column: str, id_column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Checks and aligned ``(y_true, y_pred)`` label arrays, as MLE-bench's accuracy helper.

    Checks, in MLE-bench's order: row count, target column, id column, then both frames
    are sorted by id and the ids must agree row by row.
    """
    require_answer_columns(answers, [target_column, id_column])
    require_row_count(submission, answers)
    require_columns(submission, [target_column, id_column])
    sub, ans = sort_by(submission, id_column), sort_by(answers, id_column)
    require_same_ids(sub[id_column], ans[id_column], id_column)
    return ans[target_column].to_numpy(), sub[target_column].to_numpy()


def require_numeric_probabilities(submission: pd.DataFrame, column: str) -> None:
    """The column must be numeric with every value in [0, 1] and no NaN (AUC inputs)."""
    values = submission[column]
    try:
        pd.to_numeric(values)
    except (ValueError, TypeError) as err:
        raise InvalidSubmission(
            f"column {column!r} must be numeric, got {values.dtype} values ({err})"
        ) from err
    try:
        out_of_range = bool(values.min() < 0 or values.max() > 1)
    except TypeError as err:
        raise InvalidSubmission(f"column {column!r} must be numeric ({err})") from err
    if out_of_range:
        raise InvalidSubmission(
            f"column {column!r} must hold probabilities in [0, 1]; found values in "
            f"[{values.min()}, {values.max()}]"
        )
    n_missing = int(values.isna().sum())
    if n_missing:
        raise InvalidSubmission(f"column {column!r} has {n_missing} missing (NaN) value(s)")


def prepare_for_auroc(
    submission: pd.DataFrame, answers: pd.DataFrame, id_column: str, target_column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Checks and aligned ``(y_true, y_score)``, as MLE-bench's ``prepare_for_auroc_metric``.

    Checks, in order: id column, target column, row count, numeric target, values in [0, 1]
    (and no NaN), then ids must agree after sorting both frames by id.
    """
    require_answer_columns(answers, [id_column, target_column])
    require_columns(submission, [id_column, target_column])
    require_row_count(submission, answers)
    require_numeric_probabilities(submission, target_column)
    sub, ans = sort_by(submission, id_column), sort_by(answers, id_column)
    require_same_ids(sub[id_column], ans[id_column], id_column)
    return ans[target_column].to_numpy(), sub[target_column].to_numpy()


def check_probability_rows(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    atol: float = PROBABILITY_SUM_ATOL,
    rtol: float = 1e-5,
) -> None:
    """Every row of ``frame[columns]`` must be numeric, in [0, 1] and sum to one.

    The sum test is MLE-bench's ``np.isclose(row_sum, 1, atol=1e-6)``, whose default
    ``rtol=1e-5`` makes the effective tolerance ``atol + rtol`` = 1.1e-5; pass ``rtol=0``
    for a strict ``atol``. ``columns=None`` means all columns.
    """
    block = frame if columns is None else frame[list(columns)]
    for name in block.columns:
        if not pd.api.types.is_numeric_dtype(block[name]):
            raise InvalidSubmission(f"probability column {name!r} is not numeric")
    n_missing = int(block.isna().to_numpy().sum())
    if n_missing:
        raise InvalidSubmission(f"submission has {n_missing} missing (NaN) probabilities")
    sums = block.sum(axis=1).to_numpy(dtype=float)
    bad = ~np.isclose(sums, 1.0, atol=atol, rtol=rtol)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidSubmission(
            f"{int(bad.sum())} row(s) of probabilities do not sum to one "
            f"(row {first} sums to {sums[first]!r})"
        )
    values = block.to_numpy(dtype=float)
    if not ((values >= 0) & (values <= 1)).all():
        raise InvalidSubmission("all probabilities must be between 0 and 1")


def prepare_one_hot_log_loss(
    submission: pd.DataFrame, answers: pd.DataFrame, id_column: str = "id"
) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` one-hot/probability matrices, as MLE-bench's log-loss helper.

    ``answers`` holds ``id_column`` plus one 0/1 column per class. The submission must hold
    every answers column (extra columns are ignored), is reduced to the answers' column
    order, both are sorted by id and the ids must agree. No softmax is applied.
    """
    if id_column not in answers.columns:
        raise DataError(f"the answers are missing id column {id_column!r}")
    missing = [c for c in answers.columns if c not in submission.columns]
    if missing:
        raise InvalidSubmission(f"submission is missing column(s) {missing[:10]}")
    sub = sort_by(submission[list(answers.columns)], id_column)
    ans = sort_by(answers, id_column)
    require_same_ids(sub[id_column], ans[id_column], id_column)
    y_true = ans.drop(columns=[id_column]).to_numpy()
    y_pred = sub.drop(columns=[id_column]).to_numpy()
    return y_true, y_pred


def labels_to_one_hot(
    frame: pd.DataFrame, id_column: str, target_column: str, classes: Sequence[str]
) -> pd.DataFrame:
    """``id_column`` plus one int 0/1 column per class, as MLE-bench's ``df_to_one_hot``.

    Raises:
        DataError: a label that is not one of ``classes``.
    """
    labels = frame[target_column].astype(str).to_numpy()
    unknown = sorted(set(labels.tolist()) - set(classes))
    if unknown:
        raise DataError(f"labels {unknown[:5]} in {target_column!r} are not known classes")
    one_hot = pd.DataFrame(
        (labels[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(np.int64),
        columns=list(classes),
        index=frame.index,
    )
    one_hot.insert(0, id_column, frame[id_column].to_numpy())
    return one_hot.reset_index(drop=True)
