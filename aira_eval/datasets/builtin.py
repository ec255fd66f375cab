"""``builtin:`` tasks: real datasets shipped inside scikit-learn (no download), the offline default.

Each is prepared on first use into ``<cache>/builtin/<name>-v<N>/`` in MLE-bench's layout: a
shuffled ``id`` column (so the id says nothing about the row), a 90/10 split with
``train_test_split(test_size=0.1, random_state=0)``, ``train.csv``/``test.csv``/
``sample_submission.csv``/``description.md`` in ``prepared/public``, the answers in
``prepared/private/test.csv`` and ``checksums.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aira_eval.datasets.prepare import split_train_test
from aira_eval.datasets.problem import PredictionKind, ProblemSpec
from aira_eval.datasets.table_task import (
    answers_frame,
    prepared_table_task,
    render_description,
    table_problem,
    write_prepared,
)

if TYPE_CHECKING:
    import pandas as pd

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
