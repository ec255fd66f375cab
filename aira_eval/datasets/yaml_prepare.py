"""Task YAML -> the prepared layout, and the :class:`Task` of a task YAML.

:mod:`.yaml_task` parses and validates the YAML (:class:`TaskYaml`); this module writes the
prepared files (:func:`prepare_yaml`, used by ``aira-eval datasets prepare``) and resolves a
YAML to a task (:func:`load_yaml_task`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aira_eval.datasets.grading import read_answers
from aira_eval.datasets.metrics import get_metric
from aira_eval.datasets.prepare import (
    atomic_build,
    fingerprint,
    link_or_copy,
    split_train_test,
    unique_tmp_name,
    write_checksums,
)
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.datasets.table_grader import (
    allowed_labels,
    is_numeric_labels,
    label_keys,
    read_label_column,
)
from aira_eval.datasets.table_task import (
    answers_frame,
    render_description,
    sample_frame,
    table_task,
    write_prepared,
)
from aira_eval.datasets.yaml_task import TaskYaml, load_task_yaml
from aira_eval.errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from aira_eval.datasets.task import Task

PREPARED_YAML = "task.yaml"
"""The normalized task YAML written next to ``prepared/`` (it resolves directly)."""


def prepare_yaml(spec: TaskYaml, out_dir: Path, overwrite: bool = False) -> Path:
    """Prepare a task YAML's raw files into ``out_dir`` (atomically); returns its task.yaml.

    Raises:
        UsageError: ``out_dir`` exists and is not empty (without ``overwrite``), or the YAML
            is already a prepared one. DataError: the files do not fit the YAML.
    """
    if spec.prepared:
        raise UsageError(f"{spec.path} describes an already prepared task",
                         hint="Pass it to --task directly.")
    out_dir = out_dir.expanduser()
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise UsageError(f"output folder {out_dir} is not empty",
                         hint="Choose another --out, or pass --overwrite to replace it.")
    trash = out_dir.with_name(unique_tmp_name(out_dir.name + ".old"))
    if out_dir.exists():
        out_dir.rename(trash)
    try:
        atomic_build(out_dir, lambda tmp: build_from_yaml(spec, tmp))
    except BaseException:
        if trash.exists() and not out_dir.exists():
            trash.rename(out_dir)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    return out_dir / PREPARED_YAML


def build_from_yaml(spec: TaskYaml, root: Path) -> None:
    """Write the prepared layout of ``spec`` into ``root`` (which exists and is empty)."""
    train, test, answers_raw = _yaml_frames(spec)
    id_col = spec.id_column or "id"
    classes = _classes(spec, train, answers_raw)
    if scores_positive_label(spec):
        label = spec.target_columns[0]
        _check_positive_label(spec, train[label], answers_raw[label])
    problem = spec.problem(classes)
    answers = answers_frame(problem, answers_raw)
    if "sample_submission" in spec.files:
        sample = read_answers(spec.files["sample_submission"])
    else:
        sample = sample_frame(problem, test[id_col], train)
    description = (
        spec.description_file.read_text(encoding="utf-8") if spec.description_file
        else render_description(spec.title, spec.description, problem)
    )
    write_prepared(root, problem, train, test, answers, description, sample, checksums=False)
    public = root / "prepared" / "public"
    for extra in spec.extra:
        link_or_copy(extra, public / extra.name)
    if spec.leaderboard is not None:
        link_or_copy(spec.leaderboard, root / "leaderboard.csv")
    write_checksums(root)
    (root / PREPARED_YAML).write_text(yaml.safe_dump(_normalized(spec, problem), sort_keys=False))


def _yaml_frames(spec: TaskYaml) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(public train, public test features, labelled test rows), read and later written the
    way MLE-bench's preparation does (``pd.read_csv`` then ``to_csv(index=False)``)."""
    train = read_answers(spec.files["train"])
    id_col = spec.id_column or "id"
    _require_columns(spec, "files.train", train, [*spec.target_columns])
    if spec.id_column is None:
        import numpy as np

        train.insert(0, "id", np.random.default_rng(0).permutation(len(train)) + 1)
    _require_columns(spec, "files.train", train, [id_col])
    if "test" not in spec.files:
        train, labelled = split_train_test(train, spec.test_size, spec.random_state)
        test = labelled.drop(columns=list(spec.target_columns))
    else:
        test = read_answers(spec.files["test"])
        labelled = read_answers(spec.files["answers"])
        _require_columns(spec, "files.test", test, [id_col])
        _require_columns(spec, "files.answers", labelled, [id_col, *spec.target_columns])
        _same_ids(spec, test[id_col].astype(str), labelled[id_col].astype(str))
    for what, frame in (("train", train), ("test", test)):
        if frame[id_col].duplicated().any():
            raise DataError(f"{spec.path}: ids in column {id_col!r} repeat in the {what} rows")
    return (train.reset_index(drop=True), test.reset_index(drop=True),
            labelled.reset_index(drop=True))


def _require_columns(spec: TaskYaml, what: str, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{spec.path}: the {what} file lacks column(s) {missing} "
                        f"(it has {list(frame.columns)[:10]})")


def _same_ids(spec: TaskYaml, test_ids: pd.Series, answer_ids: pd.Series) -> None:
    if set(test_ids) != set(answer_ids):
        raise DataError(f"{spec.path}: the ids of files.answers differ from those of files.test")


def _classes(spec: TaskYaml, train: pd.DataFrame, answers: pd.DataFrame) -> tuple[str, ...]:
    if spec.prediction != "class_probabilities":
        return ()
    label = spec.target_columns[0]
    seen = {str(v) for v in train[label]} | {str(v) for v in answers[label]}
    classes = spec.class_columns or tuple(sorted(seen))
    unknown = sorted(seen - set(classes))
    if unknown:
        raise DataError(f"{spec.path}: labels {unknown[:5]} of {label!r} are not in class_columns")
    return tuple(classes)


def scores_positive_label(spec: TaskYaml) -> bool:
    """Whether the task scores a positive label (probability predictions, ``f1``)."""
    return spec.prediction == "probability" or get_metric(spec.metric).positive_class


def _check_positive_label(spec: TaskYaml, *columns: pd.Series) -> None:
    """The positive label of a task that scores one must be one of the labels in
    ``columns`` (the train's, the answers'): with labels other than 0/1 the default 1 matches
    none, and no submission could ever score."""
    import pandas as pd

    label = spec.target_columns[0]
    labels = pd.concat(columns, ignore_index=True).dropna()
    numeric = is_numeric_labels(labels)
    key = label_keys(pd.Series([spec.positive_label]), numeric).iloc[0]
    if label_keys(labels, numeric).eq(key).any():
        return
    allowed = allowed_labels(labels)
    if "positive_label" not in spec.raw:
        raise UsageError(
            f"{spec.path}: field `positive_label` is required: metric {spec.metric} scores a "
            f"positive label, and the labels of {label!r} ({allowed}) are not 0/1",
            hint="Set `positive_label:` to the label that counts as positive, e.g. "
            f"positive_label: {max(str(v) for v in labels)!r}.",
        )
    raise UsageError(
        f"{spec.path}: field `positive_label`: {spec.positive_label!r} is none of the labels of "
        f"{label!r} ({allowed})",
        hint="Set `positive_label:` to the label that counts as positive.",
    )


def _normalized(spec: TaskYaml, problem: ProblemSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": spec.name, "title": spec.title, "prepared": True,
        "files": {"train": "prepared/public/train.csv", "test": "prepared/public/test.csv",
                  "answers": "prepared/private/test.csv",
                  "sample_submission": "prepared/public/sample_submission.csv"},
        "description_file": "prepared/public/description.md",
        "id_column": problem.id_columns[0], "target_columns": list(problem.label_columns),
        "metric": problem.metric, "prediction": problem.prediction,
    }
    if problem.positive_label is not None:
        out["positive_label"] = problem.positive_label
    classes = problem.submission_columns if problem.prediction == "class_probabilities" else ()
    for key, values in (("class_columns", classes), ("text_columns", problem.text_columns),
                        ("drop_columns", problem.drop_columns)):
        if values:
            out[key] = list(values)
    if spec.leaderboard is not None:
        out["leaderboard"] = "leaderboard.csv"
    return out


def load_yaml_task(path: Path, cache_dir: Path, task_id: str | None = None) -> Task:
    """The task described by a task YAML.

    A prepared YAML (written by ``aira-eval datasets prepare``) resolves in place; a raw one
    is prepared into ``<cache>/yaml/<name>-<fingerprint>/`` on first use.
    """
    spec = load_task_yaml(path)
    if spec.prepared:
        root = path.parent
    else:
        sources = [spec.path, *spec.files.values(), *spec.extra]
        root = cache_dir / "yaml" / f"{spec.name}-{fingerprint(sources)}"
        if not (root / PREPARED_YAML).is_file():
            atomic_build(root, lambda tmp: build_from_yaml(spec, tmp))
        spec = load_task_yaml(root / PREPARED_YAML)
    if scores_positive_label(spec):  # a task prepared before positive_label applied to f1
        _check_positive_label(spec, read_label_column(spec.files["train"], spec.target_columns[0]))
    problem = spec.problem()
    return table_task(task_id or str(path), "yaml", spec.name, root, problem, spec.leaderboard)
