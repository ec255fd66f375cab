"""Generic table tasks, shared by ``builtin:``, ``synthetic:`` and task YAML sources.

One id column, label columns, a submission in the standard format: the answers format
(:func:`answers_frame`), a constant baseline submission (:func:`sample_frame`), the generated
description, the prepared layout (:func:`write_prepared`) and the :class:`Task` of a prepared
table task (:func:`table_task`). Imports point down only: this module uses ``prepare``,
``problem``, ``metrics``, ``table_grader`` and ``task``; the sources import it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aira_eval.datasets.metrics import get_metric
from aira_eval.datasets.prepare import CHECKSUMS_FILE, atomic_build, write_checksums, write_csv
from aira_eval.datasets.problem import PredictionKind, ProblemSpec
from aira_eval.datasets.table_grader import TableGrader, is_numeric_labels, label_keys
from aira_eval.datasets.task import Task

if TYPE_CHECKING:
    import pandas as pd


def answers_frame(problem: ProblemSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows -> answers in the generic format :func:`table_grader` reads.

    The id column plus: the label columns as they are (``label``, ``regression``,
    ``class_probabilities``, whose grader reads the class from the label column), or 0/1
    indicators of ``positive_label`` (``probability``; labels compare as the grader compares
    them, see :func:`~aira_eval.datasets.table_grader.label_keys`).
    """
    import pandas as pd

    id_col = problem.id_columns[0]
    out = rows[[id_col]].reset_index(drop=True).copy()
    for column in problem.label_columns:
        values = rows[column].reset_index(drop=True)
        if problem.prediction == "probability" and problem.positive_label is not None:
            numeric = is_numeric_labels(values)
            key = label_keys(pd.Series([problem.positive_label]), numeric).iloc[0]
            values = label_keys(values, numeric).eq(key).astype("int64")
        out[column] = values
    return out


def sample_frame(problem: ProblemSpec, test_ids: pd.Series, train: pd.DataFrame) -> pd.DataFrame:
    """A constant baseline submission covering ``test_ids``.

    Most frequent label, 0.5, uniform class probabilities or the train mean, by prediction kind.
    """
    import pandas as pd

    out = pd.DataFrame({problem.id_columns[0]: test_ids.to_numpy()})
    columns = problem.submission_columns
    if problem.prediction == "class_probabilities":
        for column in columns:
            out[column] = 1.0 / len(columns)
    for label, column in zip(problem.label_columns, columns, strict=False):
        if problem.prediction == "label":
            out[column] = train[label].mode().iloc[0]
        elif problem.prediction == "probability":
            out[column] = 0.5
        elif problem.prediction == "regression":
            out[column] = float(train[label].astype(float).mean())
    return out


_KIND_TEXT = {
    "label": "the predicted label, one of the values of `{label}` in train.csv",
    "probability": "the predicted probability (in [0, 1]) that `{label}` is `{positive}`",
    "class_probabilities": (
        "one column per class, holding the predicted probability of that class "
        "(each row sums to 1); the class of a train row is in `{label}`"
    ),
    "regression": "the predicted value of `{label}`",
}


def render_description(title: str, intro: str, problem: ProblemSpec) -> str:
    """description.md text: what to predict, the metric and direction, the submission format."""
    metric = get_metric(problem.metric)
    direction = "lower is better" if problem.lower_is_better else "higher is better"
    labels = ", ".join(f"`{c}`" for c in problem.label_columns)
    what = _KIND_TEXT[problem.prediction].format(
        label=problem.label_columns[0], positive=problem.positive_label
    )
    header = ",".join([*problem.id_columns, *problem.submission_columns])
    if metric.positive_class:
        positive = 1 if problem.positive_label is None else problem.positive_label
        direction += f"; the positive label is `{positive}`"
    return "\n".join([
        f"# {title}", "", intro.strip(), "",
        "## Task", "",
        f"Predict {labels} for every row of `{problem.test_file}`. `{problem.train_file}` holds "
        f"the labelled rows; `{problem.id_columns[0]}` identifies a row and is not a feature.",
        "",
        "## Metric", "",
        f"{metric.name} ({metric.description}); {direction}.", "",
        "## Submission format", "",
        f"A CSV file with the header `{header}` and one row per row of `{problem.test_file}`: "
        f"{what}. `{problem.sample_submission_file}` is a valid example.", "",
    ])


def write_prepared(
    root: Path,
    problem: ProblemSpec,
    train: pd.DataFrame,
    test: pd.DataFrame,
    answers: pd.DataFrame,
    description: str,
    sample: pd.DataFrame | None = None,
    fast: bool = False,
    checksums: bool = True,
) -> None:
    """Write a generic table task into ``root``: prepared/public, prepared/private, checksums.

    ``test`` holds the features only; ``answers`` the labels in :func:`answers_frame` format;
    ``fast`` writes large numeric files through pyarrow (see :func:`write_csv`);
    ``checksums=False`` leaves ``checksums.yaml`` to a caller that adds more files.
    """
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    public.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    if sample is None:
        sample = sample_frame(problem, test[problem.id_columns[0]], train)
    write_csv(train, public / problem.train_file, fast)
    write_csv(test, public / problem.test_file, fast)
    write_csv(sample, public / problem.sample_submission_file, fast)
    (public / "description.md").write_text(description, encoding="utf-8")
    write_csv(answers, private / ANSWERS_FILE, fast)
    if checksums:
        write_checksums(root)


ANSWERS_FILE = "test.csv"
"""Name of the private answers file of a generic table task (MLE-bench's usual name)."""


def table_problem(
    prediction: PredictionKind,
    metric: str,
    label: str,
    submission_columns: tuple[str, ...] | None = None,
    positive_label: int | None = None,
) -> ProblemSpec:
    """The spec of a generated table task (builtin, synthetic): the standard file names, a
    shuffled integer ``id`` that is not a feature, one label column."""
    return ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("id",),
        label_columns=(label,),
        submission_columns=submission_columns or (label,),
        prediction=prediction,
        metric=metric,
        lower_is_better=get_metric(metric).lower_is_better,
        positive_label=positive_label,
        drop_columns=("id",),
    )


def prepared_table_task(
    task_id: str,
    source: str,
    name: str,
    root: Path,
    problem: ProblemSpec,
    prepare: Callable[[Path], None],
) -> Task:
    """:func:`table_task` at ``root``, first built there by ``prepare`` (into a temporary
    directory, see :func:`atomic_build`) unless its checksums show it is prepared already."""
    if not (root / CHECKSUMS_FILE).is_file():
        atomic_build(root, prepare)
    return table_task(task_id, source, name, root, problem)


def table_grader(name: str, problem: ProblemSpec, train_file: Path | None = None) -> TableGrader:
    """The generic grader for answers written by :func:`answers_frame`; ``train_file`` (the
    public train CSV) holds the classes a ``label`` submission may use."""
    label_col = problem.label_columns[0] if problem.prediction == "class_probabilities" else None
    positive = problem.positive_label if get_metric(problem.metric).positive_class else None
    return TableGrader(
        name=name,
        metric=problem.metric,
        id_column=problem.id_columns[0],
        target_columns=tuple(problem.submission_columns),
        answer_label_column=label_col,
        train_file=train_file if problem.prediction == "label" else None,
        positive_label=positive,
    )


def table_task(
    task_id: str,
    source: str,
    name: str,
    root: Path,
    problem: ProblemSpec,
    leaderboard: Path | None = None,
) -> Task:
    """The :class:`Task` of a generic table task prepared at ``root`` by :func:`write_prepared`."""
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    grader = table_grader(name, problem, public / problem.train_file)
    return Task(
        task_id=task_id,
        source=source,
        name=name,
        public_dir=public,
        private_dir=private,
        answers_path=private / ANSWERS_FILE,
        grader=grader,
        lower_is_better=grader.lower_is_better,
        metric=grader.spec.name,
        problem=problem,
        description_path=public / "description.md",
        sample_submission_path=public / problem.sample_submission_file,
        leaderboard_path=leaderboard,
        checksums_path=root / CHECKSUMS_FILE,
        location=root,
        answers_from_train=functools.partial(answers_frame, problem),
    )
