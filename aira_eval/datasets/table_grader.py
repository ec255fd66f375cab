"""A generic, strict grader for any CSV task: metric + id column + target columns.

:class:`TableGrader` is what builtin, synthetic and YAML tasks use. It is stricter than
MLE-bench's per-competition graders (which the built-in competition specs reproduce
exactly): rows are matched to the answers by id, and every problem below is an
:class:`~aira_eval.datasets.grader.InvalidSubmission` whose reason names it:

- a missing id or target column;
- a wrong row count;
- missing (NaN), duplicate or unknown ids, or answer ids the submission lacks;
- NaN predictions; non-numeric values for score/probability metrics; infinite values;
- probabilities outside [0, 1]; for ``multiclass_log_loss`` rows that do not sum to one
  within ``sum_tolerance`` (absolute, no relative term);
- for label metrics (``accuracy``, ``f1``, ``f1_macro``, ``quadratic_weighted_kappa``) a
  label that is none of the task's classes (the labels of the train file's label column and
  of the answers): it would otherwise count as an extra class (``f1_macro``, kappa).

For ``f1`` the labels are scored one against the rest: ``positive_label`` (default 1) is 1,
any other label 0; a positive label that is none of the task's classes is a ``DataError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.datasets.metrics import MetricSpec, get_metric
from aira_eval.datasets.submission_checks import (
    check_probability_rows,
    guarded,
    require_answer_columns,
    require_row_count,
    short_examples,
)
from aira_eval.errors import DataError, UsageError


def _id_keys(sub_ids: pd.Series, ans_ids: pd.Series) -> tuple[pd.Index, pd.Index]:
    """Comparable id indexes: integers as such, other numbers as floats, else strings."""
    types = pd.api.types
    if types.is_integer_dtype(sub_ids) and types.is_integer_dtype(ans_ids):
        return pd.Index(sub_ids.to_numpy()), pd.Index(ans_ids.to_numpy())
    numeric = (
        types.is_numeric_dtype(sub_ids)
        and types.is_numeric_dtype(ans_ids)
        and not types.is_bool_dtype(sub_ids)
        and not types.is_bool_dtype(ans_ids)
    )
    if numeric:
        return pd.Index(sub_ids.to_numpy(dtype=float)), pd.Index(ans_ids.to_numpy(dtype=float))
    return pd.Index(sub_ids.astype(str).to_numpy()), pd.Index(ans_ids.astype(str).to_numpy())


def is_numeric_labels(labels: pd.Series) -> bool:
    """Whether ``labels`` are numbers (booleans are not)."""
    types = pd.api.types
    return bool(types.is_numeric_dtype(labels) and not types.is_bool_dtype(labels))


def label_keys(labels: pd.Series, numeric: bool) -> pd.Series:
    """Labels as comparable keys: floats when the task's labels are numbers (``1`` and ``1.0``
    are one label, as for scikit-learn; text that is no number becomes NaN, matching nothing),
    else their text (``True`` read as a boolean equals ``"True"``)."""
    if numeric:
        return pd.to_numeric(labels, errors="coerce").astype(float)
    return labels.astype(str)


def allowed_labels(known: pd.Series, limit: int = 10) -> str:
    """The task's classes as sorted text, for reasons (the first ``limit``)."""
    names = sorted({str(v) for v in known})
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def read_label_column(path: Path, column: str) -> pd.Series:
    """The ``column`` of the CSV at ``path`` (the task's train labels).

    Raises:
        DataError: the file cannot be read or lacks the column.
    """
    try:
        return pd.read_csv(path, usecols=[column])[column]
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the labels {column!r} of {path}: {err}") from err


def _examples(values: pd.Index | np.ndarray) -> str:
    return str(short_examples(values))


def align_to_answers(
    submission: pd.DataFrame, answers: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """The submission's rows reordered to the answers' id order (index reset).

    Raises:
        InvalidSubmission: NaN, duplicate or unknown ids, or answer ids not submitted.
    """
    sub_ids = submission[id_column]
    n_missing = int(sub_ids.isna().sum())
    if n_missing:
        raise InvalidSubmission(f"id column {id_column!r} has {n_missing} missing (NaN) id(s)")
    sub_keys, ans_keys = _id_keys(sub_ids, answers[id_column])
    duplicated = sub_keys[sub_keys.duplicated()]
    if len(duplicated):
        raise InvalidSubmission(
            f"id column {id_column!r} has {len(duplicated)} duplicate id(s) such as "
            f"{_examples(duplicated)}"
        )
    unknown = sub_keys.difference(ans_keys)
    absent = ans_keys.difference(sub_keys)
    if len(unknown) or len(absent):
        raise InvalidSubmission(
            f"ids in column {id_column!r} differ from the answers' ids: {len(unknown)} unknown "
            f"id(s) such as {_examples(unknown)}, {len(absent)} answer id(s) not submitted "
            f"such as {_examples(absent)}"
        )
    order = sub_keys.get_indexer(ans_keys)
    return submission.iloc[order].reset_index(drop=True)


def _numeric_block(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """``frame[columns]`` as a float matrix; non-numeric, NaN or infinite values are invalid."""
    out = np.empty((len(frame), len(columns)), dtype=float)
    for j, column in enumerate(columns):
        values = frame[column]
        try:
            out[:, j] = pd.to_numeric(values).to_numpy(dtype=float)
        except (ValueError, TypeError) as err:
            raise InvalidSubmission(
                f"column {column!r} must be numeric, got {values.dtype} values ({err})"
            ) from err
    n_missing = int(np.isnan(out).sum())
    if n_missing:
        raise InvalidSubmission(f"submission has {n_missing} missing (NaN) prediction(s)")
    if not np.isfinite(out).all():
        raise InvalidSubmission("submission has infinite prediction(s)")
    return out


@dataclass
class TableGrader:
    """Grades a CSV submission: ``metric`` over ``target_columns``, rows matched on ``id_column``.

    Attributes:
        name: task name.
        metric: a name in :mod:`aira_eval.datasets.metrics`.
        id_column: column matching submission rows to answer rows; ``None`` matches rows by
            position (then only the row count is checked).
        target_columns: prediction columns, present in both the submission and the answers.
            For ``multiclass_log_loss`` one column per class, each answers row one-hot (or see
            ``answer_label_column``).
        answer_label_column: for ``multiclass_log_loss`` only: the answers hold the class
            label in this column instead of one-hot class columns; a label ``x`` is the class
            whose target column is named ``str(x)``.
        sum_tolerance: absolute tolerance of the probability row sums.
        train_file: for label metrics: the train CSV whose label column (the target column's
            name) holds the task's classes, with the answers' labels; ``None``: the answers'
            labels only. Read once, on first use.
        positive_label: for ``f1``: the label that counts as positive (``None``: 1).
        lower_is_better: set from the metric.
    """

    name: str
    metric: str
    id_column: str | None
    target_columns: tuple[str, ...]
    answer_label_column: str | None = None
    sum_tolerance: float = 1e-6
    train_file: Path | None = None
    positive_label: str | int | bool | None = None
    lower_is_better: bool = field(init=False)
    _train_labels: pd.Series | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = get_metric(self.metric)
        self.target_columns = tuple(self.target_columns)
        self.lower_is_better = spec.lower_is_better
        n = len(self.target_columns)
        if n == 0:
            raise UsageError(f"grader {self.name!r}: no target columns")
        if spec.columns == "one" and n != 1:
            raise UsageError(f"metric {spec.name!r} scores one target column, got {n}")
        if spec.columns == "many" and n < 2:
            raise UsageError(f"metric {spec.name!r} needs one column per class (two or more)")
        if self.answer_label_column is not None and not spec.simplex:
            raise UsageError("answer_label_column is only meaningful for multiclass_log_loss")

    @property
    def spec(self) -> MetricSpec:
        """The metric's registry entry."""
        return get_metric(self.metric)

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        """Score ``submission`` against ``answers`` (see the module docstring for the checks)."""
        spec = self.spec

        def compute() -> float:
            aligned = self._aligned_submission(submission, answers)
            y_pred = self._predictions(spec, aligned)
            if spec.needs == "labels":
                y_true, y_pred = self._label_inputs(spec, aligned, answers)
            else:
                y_true = self._truth(spec, answers.reset_index(drop=True))
            return spec(y_true, y_pred)

        return guarded(f"{self.name}: {spec.name} failed", compute)

    def _check_answers(self, answers: pd.DataFrame) -> None:
        truth_columns = (
            [self.answer_label_column] if self.answer_label_column else self.target_columns
        )
        id_columns = [self.id_column] if self.id_column else []
        require_answer_columns(answers, [*id_columns, *truth_columns])
        if self.id_column:
            ids = answers[self.id_column]
            if ids.isna().any() or ids.duplicated().any():
                raise DataError(f"the answers' id column {self.id_column!r} has NaN or repeats")

    def _aligned_submission(self, submission: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
        self._check_answers(answers)
        required = [*([self.id_column] if self.id_column else []), *self.target_columns]
        missing = [c for c in required if c not in submission.columns]
        if missing:
            raise InvalidSubmission(f"submission is missing column(s) {missing[:10]}")
        require_row_count(submission, answers)
        if self.id_column is None:
            return submission.reset_index(drop=True)
        return align_to_answers(submission, answers.reset_index(drop=True), self.id_column)

    def _predictions(self, spec: MetricSpec, aligned: pd.DataFrame) -> np.ndarray:
        columns = list(self.target_columns)
        if spec.needs == "labels":
            labels = aligned[columns[0]]
            n_missing = int(labels.isna().sum())
            if n_missing:
                raise InvalidSubmission(
                    f"column {columns[0]!r} has {n_missing} missing (NaN) label(s)"
                )
            return labels.to_numpy()
        block = _numeric_block(aligned, columns)
        if spec.needs == "probas":
            if spec.simplex:
                frame = pd.DataFrame(block, columns=columns)
                check_probability_rows(frame, atol=self.sum_tolerance, rtol=0.0)
            elif ((block < 0) | (block > 1)).any():
                raise InvalidSubmission(
                    f"probabilities must lie in [0, 1]; found values in "
                    f"[{block.min()}, {block.max()}]"
                )
        return block[:, 0] if block.shape[1] == 1 and not spec.simplex else block

    def _known_labels(self, answers: pd.DataFrame) -> pd.Series:
        """The task's classes: the answers' labels plus the train file's (read once)."""
        column = self.target_columns[0]
        if self._train_labels is None and self.train_file is not None:
            self._train_labels = read_label_column(self.train_file, column)
        parts = [answers[column], *([] if self._train_labels is None else [self._train_labels])]
        return pd.concat(parts, ignore_index=True).dropna().drop_duplicates()

    def _label_inputs(
        self, spec: MetricSpec, aligned: pd.DataFrame, answers: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(y_true, y_pred)`` labels once every submitted label is a known class; 0/1
        indicators of the positive label for ``f1``."""
        column = self.target_columns[0]
        known = self._known_labels(answers)
        numeric = is_numeric_labels(known)
        truth, submitted = answers[column].reset_index(drop=True), aligned[column]
        unknown = ~label_keys(submitted, numeric).isin(label_keys(known, numeric))
        if unknown.any():
            raise InvalidSubmission(
                f"column {column!r} has {int(unknown.sum())} label(s) that are none of the "
                f"task's classes, such as {short_examples(submitted[unknown].unique())}; "
                f"allowed labels: {allowed_labels(known)}"
            )
        if not spec.positive_class:
            return truth.to_numpy(), submitted.to_numpy()
        positive = self._positive_key(known, numeric)
        return (
            (label_keys(truth, numeric) == positive).to_numpy(dtype=np.int64),
            (label_keys(submitted, numeric) == positive).to_numpy(dtype=np.int64),
        )

    def _positive_key(self, known: pd.Series, numeric: bool) -> object:
        label = 1 if self.positive_label is None else self.positive_label
        key = label_keys(pd.Series([label]), numeric).iloc[0]
        if not label_keys(known, numeric).eq(key).any():
            raise DataError(
                f"{self.name}: the positive label {label!r} of metric {self.metric} is none of "
                f"the task's classes ({allowed_labels(known)})",
                hint="Set positive_label in the task YAML to the label that counts as positive.",
            )
        return key

    def _truth(self, spec: MetricSpec, answers: pd.DataFrame) -> np.ndarray:
        columns = list(self.target_columns)
        if self.answer_label_column is not None:
            labels = answers[self.answer_label_column].astype(str).to_numpy()
            unknown = sorted(set(labels.tolist()) - set(columns))
            if unknown:
                raise DataError(f"answer labels {unknown[:5]} are not among {columns[:10]}")
            return (labels[:, None] == np.asarray(columns, dtype=object)[None, :]).astype(float)
        block = answers[columns].to_numpy()
        return block[:, 0] if block.shape[1] == 1 and not spec.simplex else block
