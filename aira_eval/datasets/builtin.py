"""``builtin:`` tasks: real datasets shipped inside scikit-learn (no download), the offline default.

This module also holds the generic table-task format shared by builtin, synthetic and task
YAML tasks (:func:`answers_frame`, :func:`write_prepared`, :func:`table_task`).

Each is prepared on first use into ``<cache>/builtin/<name>-v<N>/`` in MLE-bench's layout: a
shuffled ``id`` column (so the id says nothing about the row), a 90/10 split with
``train_test_split(test_size=0.1, random_state=0)``, ``train.csv``/``test.csv``/
``sample_submission.csv``/``description.md`` in ``prepared/public``, the answers in
``prepared/private/test.csv`` and ``checksums.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aira_eval.datasets.prepare import (
    CHECKSUMS_FILE,
    atomic_build,
    split_train_test,
    write_checksums,
    write_csv,
)
from aira_eval.datasets.problem import PredictionKind, ProblemSpec

if TYPE_CHECKING:
    import pandas as pd

    from aira_eval.datasets.table_grader import TableGrader
    from aira_eval.datasets.task import Task

PREP_VERSION = 1
"""Bumped whenever preparation changes, so stale caches are never reused."""


@dataclass(frozen=True)
class BuiltinDataset:
    """One scikit-learn dataset as a task.

    Attributes:
        name: task name (``builtin:<name>``).
        loader: function name in ``sklearn.datasets``.
        title: heading of description.md.
        intro: what the data is.
        prediction: how the submission is filled.
        metric: metric name.
        label: target column name in train.csv.
        positive_label: for ``probability``, the label counted as positive.
        class_names: map the loader's integer targets to these labels (their order).
    """

    name: str
    loader: str
    title: str
    intro: str
    prediction: PredictionKind
    metric: str
    label: str = "target"
    positive_label: int | None = None
    class_names: tuple[str, ...] = ()


BUILTINS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset(
            "breast-cancer", "load_breast_cancer", "Breast cancer (Wisconsin diagnostic)",
            "569 fine-needle aspirates of breast masses, 30 numeric features computed from "
            "digitized cell-nucleus images. `target` is 1 for a benign mass, 0 for malignant.",
            "probability", "roc_auc", positive_label=1,
        ),
        BuiltinDataset(
            "digits", "load_digits", "Handwritten digits",
            "1,797 8x8 images of handwritten digits; each `pixel_r_c` feature is the grey "
            "level (0-16) of one pixel. `target` is the digit, 0 to 9.",
            "label", "accuracy",
        ),
        BuiltinDataset(
            "wine", "load_wine", "Wine cultivars",
            "178 wines from three cultivars of the same Italian region, 13 chemical "
            "measurements each. `target` names the cultivar: class_0, class_1 or class_2.",
            "class_probabilities", "multiclass_log_loss",
            class_names=("class_0", "class_1", "class_2"),
        ),
        BuiltinDataset(
            "diabetes", "load_diabetes", "Diabetes progression",
            "442 diabetes patients: age, sex, body mass index, blood pressure and six blood "
            "serum measurements (s1-s6), all mean-centred and scaled. `target` is a "
            "quantitative measure of disease progression one year after baseline.",
            "regression", "rmse",
        ),
        BuiltinDataset(
            "iris", "load_iris", "Iris species",
            "150 iris flowers, four measurements in cm (sepal and petal length and width). "
            "`species` is setosa, versicolor or virginica.",
            "label", "f1_macro", label="species",
            class_names=("setosa", "versicolor", "virginica"),
        ),
    )
}


def builtin_names() -> list[str]:
    """Names of every built-in dataset, sorted."""
    return sorted(BUILTINS)


def builtin_root(name: str, cache_dir: Path) -> Path:
    """Where ``builtin:<name>`` is (or will be) prepared."""
    return cache_dir / "builtin" / f"{name}-v{PREP_VERSION}"


def problem_spec(dataset: BuiltinDataset) -> ProblemSpec:
    """The agent-facing spec of a built-in dataset."""
    columns = dataset.class_names if dataset.prediction == "class_probabilities" else ()
    return table_problem(
        dataset.prediction, dataset.metric, dataset.label,
        submission_columns=columns or (dataset.label,), positive_label=dataset.positive_label,
    )


def load_builtin(name: str, cache_dir: Path, task_id: str | None = None) -> Task:
    """The task ``builtin:<name>``, prepared into ``cache_dir`` on first use.

    Raises:
        KeyError: unknown name (the registry turns it into a TaskNotFoundError).
    """
    dataset = BUILTINS[name]
    problem = problem_spec(dataset)
    return prepared_table_task(
        task_id or f"builtin:{name}", "builtin", name, builtin_root(name, cache_dir), problem,
        lambda tmp: _prepare(dataset, problem, tmp),
    )


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def dataset_frame(dataset: BuiltinDataset) -> pd.DataFrame:
    """The whole dataset: a shuffled integer ``id``, snake_case features, the label column."""
    import numpy as np
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, dataset.loader)(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = [_snake(str(c)) for c in frame.columns]
    target = bunch.target
    if dataset.class_names:
        target = target.map(lambda i: dataset.class_names[int(i)])
    frame[dataset.label] = target.to_numpy()
    ids = np.random.default_rng(PREP_VERSION).permutation(len(frame)) + 1
    frame.insert(0, "id", ids)
    return frame.reset_index(drop=True)


def _prepare(dataset: BuiltinDataset, problem: ProblemSpec, root: Path) -> None:
    frame = dataset_frame(dataset)
    train, test = split_train_test(frame)
    features = [c for c in frame.columns if c != dataset.label]
    write_prepared(
        root,
        problem,
        train.reset_index(drop=True),
        test[features].reset_index(drop=True),
        answers_frame(problem, test),
        render_description(dataset.title, dataset.intro, problem),
    )


# -- generic table tasks (builtin, synthetic, task YAML) -------------------------------------


def answers_frame(problem: ProblemSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows -> answers in the generic format :func:`table_grader` reads.

    The id column plus: the label columns as they are (``label``, ``regression``,
    ``class_probabilities``, whose grader reads the class from the label column), or 0/1
    indicators of ``positive_label`` (``probability``).
    """
    id_col = problem.id_columns[0]
    out = rows[[id_col]].reset_index(drop=True).copy()
    for column in problem.label_columns:
        values = rows[column].reset_index(drop=True)
        if problem.prediction == "probability" and problem.positive_label is not None:
            values = (values.astype(str) == str(problem.positive_label)).astype("int64")
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
    from aira_eval.datasets.metrics import get_metric

    metric = get_metric(problem.metric)
    direction = "lower is better" if problem.lower_is_better else "higher is better"
    labels = ", ".join(f"`{c}`" for c in problem.label_columns)
    what = _KIND_TEXT[problem.prediction].format(
        label=problem.label_columns[0], positive=problem.positive_label
    )
    header = ",".join([*problem.id_columns, *problem.submission_columns])
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
    from aira_eval.datasets.metrics import get_metric

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


def table_grader(name: str, problem: ProblemSpec) -> TableGrader:
    """The generic grader for answers written by :func:`answers_frame`."""
    from aira_eval.datasets.table_grader import TableGrader

    label_col = problem.label_columns[0] if problem.prediction == "class_probabilities" else None
    return TableGrader(
        name=name,
        metric=problem.metric,
        id_column=problem.id_columns[0],
        target_columns=tuple(problem.submission_columns),
        answer_label_column=label_col,
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
    import functools

    from aira_eval.datasets.task import Task

    public, private = root / "prepared" / "public", root / "prepared" / "private"
    grader = table_grader(name, problem)
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
