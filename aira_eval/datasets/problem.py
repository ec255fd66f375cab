"""What a task asks for, in the terms a solution script needs.

A :class:`ProblemSpec` tells an operator (procedural or LLM) how to read the public files and
what shape the submission must have. It never contains answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PredictionKind = Literal["label", "probability", "class_probabilities", "regression"]
"""How the submission's target columns are filled.

- ``label``: one column holding a class label, in the train labels' own vocabulary
  (e.g. ``True``/``False`` for spaceship-titanic, an integer class for digits);
- ``probability``: one column holding P(positive class) in [0, 1] (ROC AUC, binary log loss);
- ``class_probabilities``: one column per class (``class_columns``) holding probabilities that
  sum to one per row; the train file holds the class in ``label_columns[0]``;
- ``regression``: one numeric column per target in ``label_columns``.
"""


@dataclass(frozen=True)
class ProblemSpec:
    """The agent-facing description of a tabular/text task.

    Attributes:
        train_file: file name in the public dir holding the labelled rows.
        test_file: file name in the public dir holding the rows to predict.
        sample_submission_file: file name of the sample submission in the public dir.
        id_columns: columns copied from the test file into the submission, in order
            (``["PassengerId"]``; ``["Date", "Comment"]`` for detecting-insults).
        label_columns: target columns as they appear in the train file.
        submission_columns: target columns as they appear in the submission
            (the class names for ``class_probabilities``; else the label columns).
        prediction: how the submission's target columns are filled (see ``PredictionKind``).
        positive_label: for ``probability`` and the ``f1`` metric, the train label value that
            counts as positive.
        text_columns: free-text feature columns (TF-IDF material).
        drop_columns: columns that must not be used as features (free identifiers, names).
        metric: name of the metric in :mod:`aira_eval.datasets.metrics`.
        lower_is_better: direction of the metric.
    """

    train_file: str
    test_file: str
    sample_submission_file: str
    id_columns: tuple[str, ...]
    label_columns: tuple[str, ...]
    submission_columns: tuple[str, ...]
    prediction: PredictionKind
    metric: str
    lower_is_better: bool
    positive_label: str | int | bool | None = None
    text_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_classification(self) -> bool:
        return self.prediction in ("label", "probability", "class_probabilities")

    def to_dict(self) -> dict[str, object]:
        return {
            "train_file": self.train_file,
            "test_file": self.test_file,
            "sample_submission_file": self.sample_submission_file,
            "id_columns": list(self.id_columns),
            "label_columns": list(self.label_columns),
            "submission_columns": list(self.submission_columns),
            "prediction": self.prediction,
            "metric": self.metric,
            "lower_is_better": self.lower_is_better,
            "positive_label": self.positive_label,
            "text_columns": list(self.text_columns),
            "drop_columns": list(self.drop_columns),
        }
