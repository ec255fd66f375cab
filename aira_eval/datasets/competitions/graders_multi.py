"""Graders reproducing MLE-bench's multi-column ROC AUC and quadratic-kappa ``grade.py`` files.

See :mod:`.graders` for the conventions (same checks, same scikit-learn calls, any error is
an invalid submission).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from aira_eval.datasets.competitions.graders import KeyedGrader, id_set_matches
from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.datasets.submission_checks import (
    guarded,
    prepare_for_auroc,
    require_answer_columns,
    require_columns,
    require_row_count,
    require_same_ids,
    sort_by,
)
from aira_eval.errors import DataError

ColumnwiseRule = Literal["skip_unlabelled", "exact_columns", "per_column_checks"]


@dataclass
class ColumnwiseAurocGrader(KeyedGrader):
    """Mean over ``classes`` of the binary ROC AUC, rows matched on ``id_column``.

    ``rule`` selects MLE-bench's variant:

    - ``skip_unlabelled`` (jigsaw-toxic-comment-classification-challenge): id and every class
      column present, the answers' row count; answer rows whose labels are -1 (not scored by
      Kaggle) are dropped; ``roc_auc_score(average="macro")`` over the class columns. No range
      check (MLE-bench has none). **Deviation**: MLE-bench feeds the submission's non-id
      columns *in the submission's order*; here they are taken by name in the class order,
      which is identical for a submission laid out like the sample submission. Extra columns
      (which make MLE-bench crash) are invalid; repeated ids are invalid.
    - ``exact_columns`` (plant-pathology-2020-fgvc7): the column set is exactly id + classes,
      the same row count and ids; mean of per-class AUCs. No range check.
    - ``per_column_checks`` (ranzcr-clip-catheter-line-classification): every class present,
      the same row count, then for each class MLE-bench's ``prepare_for_auroc_metric``
      checks (numeric, in [0, 1], same ids); mean of per-class AUCs.
    """

    classes: tuple[str, ...]
    rule: ColumnwiseRule
    metric: str = "mean_columnwise_roc_auc"
    lower_is_better: bool = False

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        require_answer_columns(answers, [self.key, *self.classes])
        compute = {
            "skip_unlabelled": self._skip_unlabelled,
            "exact_columns": self._exact_columns,
            "per_column_checks": self._per_column_checks,
        }[self.rule]
        return guarded(f"{self.name}: ROC AUC failed", lambda: compute(submission, answers))

    def _aligned(
        self, submission: pd.DataFrame, answers: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        sub, ans = sort_by(submission, self.key), sort_by(answers, self.key)
        require_same_ids(sub[self.key], ans[self.key], self.key)
        return sub, ans

    def _skip_unlabelled(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        require_columns(submission, [self.key, *self.classes])
        extra = [c for c in submission.columns if c not in {self.key, *self.classes}]
        if extra:
            raise InvalidSubmission(f"submission has unexpected column(s) {extra[:5]}")
        require_row_count(submission, answers)
        sub, ans = self._aligned(submission, answers)
        keep = (ans[list(self.classes)].sum(axis=1) >= 0).to_numpy()
        y_true = ans.loc[keep, list(self.classes)].to_numpy()
        y_score = sub.loc[keep, list(self.classes)].to_numpy()
        return float(skm.roc_auc_score(y_true, y_score, average="macro"))

    def _exact_columns(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        expected = {self.key, *self.classes}
        if set(answers.columns) != expected:
            raise DataError(f"the answers must have exactly the columns {sorted(expected)}")
        require_row_count(submission, answers)
        if set(submission.columns) != expected:
            raise InvalidSubmission(
                f"submission must have exactly the columns {[self.key, *self.classes]}, "
                f"got {list(submission.columns)[:10]}"
            )
        sub, ans = self._aligned(submission, answers)
        aucs = [skm.roc_auc_score(ans[c].to_numpy(), sub[c].to_numpy()) for c in self.classes]
        return float(np.mean(aucs))

    def _per_column_checks(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        require_columns(submission, self.classes)
        require_row_count(submission, answers)
        aucs = []
        for column in self.classes:
            y_true, y_score = prepare_for_auroc(submission, answers, self.key, column)
            aucs.append(skm.roc_auc_score(y_true, y_score))
        return float(np.average(aucs))


@dataclass
class QuadraticKappaGrader(KeyedGrader):
    """Quadratic weighted kappa of ``target_column`` (aptos2019-blindness-detection).

    MLE-bench's checks: the target column present, a non-empty submission, the same id *set*
    as the answers; both sorted by id; ``cohen_kappa_score(y_pred, y_true,
    weights="quadratic")``.
    """

    target_column: str
    metric: str = "quadratic_weighted_kappa"
    lower_is_better: bool = False

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        def compute() -> float:
            require_answer_columns(answers, [self.key, self.target_column])
            require_columns(submission, [self.target_column])
            if submission.empty:
                raise InvalidSubmission("submission has no rows")
            require_columns(submission, [self.key])
            if not id_set_matches(submission, answers, self.key):
                raise InvalidSubmission(f"submission must have the answers' {self.key}s")
            sub = submission.sort_values(self.key, kind="mergesort")
            ans = answers.sort_values(self.key, kind="mergesort")
            return float(
                skm.cohen_kappa_score(
                    sub[self.target_column].to_numpy(),
                    ans[self.target_column].to_numpy(),
                    weights="quadratic",
                )
            )

        return guarded(f"{self.name}: kappa failed", compute)
