"""The :class:`CompetitionSpec` record and small helpers shared by the competition modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from aira_eval.datasets.grader import Grader
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.errors import DataError

AnswersFromTrain = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class CompetitionSpec:
    """A built-in MLE-bench competition: its exact grader and what an agent needs to know.

    Attributes:
        id: MLE-bench competition id (the folder name under the data dir).
        grader: grader reproducing MLE-bench's ``grade.py`` for this competition.
        problem: the agent-facing :class:`ProblemSpec`, or ``None`` when the data (images,
            audio, multi-label targets, derived ids) does not fit one.
        answers_file: file name of the answers in ``<id>/prepared/private/``.
        sample_submission_file: file name of the sample submission in ``prepared/public/``.
        description: one line: data kind, metric, direction.
        answers_from_train: turns labelled public-train rows (as a DataFrame read from the
            train file) into an answers frame in exactly the private answers' format, to
            build hidden holdout sets; ``None`` when not provided.
    """

    id: str
    grader: Grader
    problem: ProblemSpec | None
    answers_file: str
    sample_submission_file: str
    description: str
    answers_from_train: AnswersFromTrain | None = None

    @property
    def metric(self) -> str:
        return self.grader.metric

    @property
    def lower_is_better(self) -> bool:
        return self.grader.lower_is_better


def require_train_columns(train: pd.DataFrame, columns: Sequence[str], who: str) -> None:
    """Raise ``DataError`` when labelled train rows lack a column ``who`` needs."""
    missing = [c for c in columns if c not in train.columns]
    if missing:
        raise DataError(f"{who}: the train rows are missing column(s) {missing}")


def full_rows(label_columns: Sequence[str], who: str) -> AnswersFromTrain:
    """``answers_from_train`` for competitions whose answers are whole labelled rows.

    (MLE-bench's 90/10 split writes the held-out train rows, labels included, as the answers.)
    """

    def build(train: pd.DataFrame) -> pd.DataFrame:
        require_train_columns(train, label_columns, who)
        return train.reset_index(drop=True).copy()

    return build


def selected_columns(columns: Sequence[str], who: str) -> AnswersFromTrain:
    """``answers_from_train`` keeping only ``columns`` (id and targets), in that order."""

    def build(train: pd.DataFrame) -> pd.DataFrame:
        require_train_columns(train, columns, who)
        return train[list(columns)].reset_index(drop=True).copy()

    return build
