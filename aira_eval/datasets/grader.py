"""The grading contract shared by every task source.

A grader turns (submission, answers) into one float, or raises :class:`InvalidSubmission`
with a reason that names the problem. Graders never print and never crash on malformed
submissions: every problem a submission can have is an ``InvalidSubmission``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pandas as pd


class InvalidSubmission(Exception):
    """A submission that cannot be scored; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Grader(Protocol):
    """Scores a submission against answers.

    Attributes:
        name: the competition or task name this grader belongs to.
        metric: metric name (see :mod:`aira_eval.datasets.metrics`).
        lower_is_better: direction of the score.
        id_column: column matching submission rows to answer rows, or ``None`` when rows are
            matched by position (MLE-bench does this for a few competitions).
    """

    name: str
    metric: str
    lower_is_better: bool
    id_column: str | None

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
        """Score ``submission`` (as read from CSV) against ``answers``.

        Raises:
            InvalidSubmission: the submission cannot be scored (missing column, wrong row
                count, unknown ids, NaN, probabilities out of range, ...).
        """
        ...
