"""Task YAML: any CSV competition described in a few lines.

Schema (paths relative to the YAML file's folder, or to ``--raw-dir``)::

    name: my-task                  # required; letters, digits, '-', '_', '.'
    title: My task                 # optional heading of description.md
    description: |                 # optional intro text for the generated description.md
      What the data is.
    description_file: README.md    # optional: use this markdown file as description.md
    files:                         # required
      train: train.csv             # required: the labelled rows
      test: test.csv               # optional: rows to predict (then `answers` is required);
                                   #   absent: train is split 90/10 (MLE-bench's convention)
      answers: test_labels.csv     # labels of the test rows: id column + target columns
      sample_submission: ss.csv    # optional: generated (a constant baseline) when absent
      extra: [images]              # optional: more public files or folders, copied as is
    id_column: id                  # required when files.test is given; absent: an `id`
                                   #   column of shuffled integers is added
    target_columns: [target]       # required (one name or a list)
    metric: roc_auc                # required: a metric registry name or alias
    direction: higher              # optional: higher | lower, must agree with the metric
    prediction: probability        # optional: label | probability | class_probabilities |
                                   #   regression (default: from the metric)
    positive_label: 1              # probability and metric f1 only (default 1); required
                                   #   when the labels are not 0/1
    class_columns: [a, b, c]       # class_probabilities only (default: sorted train labels)
    text_columns: [comment]        # optional: free-text feature columns
    drop_columns: [name]           # optional: columns that are not features
    split: {test_size: 0.1, random_state: 0}   # optional, when files.test is absent
    leaderboard: leaderboard.csv   # optional: a Kaggle leaderboard (medal thresholds)

``aira-eval datasets prepare TASK.yaml --out DIR`` writes the prepared layout plus a
normalized ``DIR/task.yaml`` (``prepared: true``) that resolves directly; a raw task YAML
given as a task id is prepared into the cache on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aira_eval.datasets.problem import PredictionKind, ProblemSpec
from aira_eval.errors import UsageError

KINDS: tuple[PredictionKind, ...] = ("label", "probability", "class_probabilities", "regression")
TOP_FIELDS = {
    "name", "title", "description", "description_file", "files", "id_column",
    "target_columns", "metric", "direction", "prediction", "positive_label", "class_columns",
    "text_columns", "drop_columns", "split", "leaderboard", "prepared",
}
FILE_FIELDS = {"train", "test", "answers", "sample_submission", "extra"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TaskYaml:
    """A validated task YAML (paths resolved against ``base_dir``)."""

    path: Path
    base_dir: Path
    name: str
    files: dict[str, Path]
    extra: tuple[Path, ...]
    id_column: str | None
    target_columns: tuple[str, ...]
    metric: str
    lower_is_better: bool
    prediction: PredictionKind
    title: str = ""
    description: str = ""
    description_file: Path | None = None
    positive_label: Any = None
    class_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    test_size: float = 0.1
    random_state: int = 0
    leaderboard: Path | None = None
    prepared: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def problem(self, class_columns: tuple[str, ...] | None = None) -> ProblemSpec:
        """The agent-facing spec of the prepared task (standard file names)."""
        classes = class_columns if class_columns is not None else self.class_columns
        submission = classes if self.prediction == "class_probabilities" else self.target_columns
        return ProblemSpec(
            train_file="train.csv",
            test_file="test.csv",
            sample_submission_file="sample_submission.csv",
            id_columns=(self.id_column or "id",),
            label_columns=self.target_columns,
            submission_columns=tuple(submission),
            prediction=self.prediction,
            metric=self.metric,
            lower_is_better=self.lower_is_better,
            positive_label=self.positive_label,
            text_columns=self.text_columns,
            drop_columns=self.drop_columns,
        )


def _bad(path: Path, name: str, problem: str, hint: str | None = None) -> UsageError:
    return UsageError(f"{path}: field `{name}`: {problem}", hint=hint or "See the task YAML "
                      "schema in `aira-eval datasets prepare --help`.")


def _str_list(
    path: Path, raw: dict[str, Any], name: str, required: bool = False
) -> tuple[str, ...]:
    value = raw.get(name)
    if value is None:
        if required:
            raise _bad(path, name, "is required")
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _bad(path, name, f"must be a name or a list of names, got {value!r}")
    if required and not value:
        raise _bad(path, name, "must name at least one column")
    return tuple(str(v) for v in value)


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path`` (UsageError when unreadable or not a mapping)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read task file {path}: {err}") from err
    except yaml.YAMLError as err:
        raise UsageError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a task YAML must be a mapping of fields (name, files, ...)")
    return raw


def load_task_yaml(path: Path, raw_dir: Path | None = None) -> TaskYaml:
    """Read and validate a task YAML; every problem names the field at fault."""
    path = path.expanduser()
    raw = read_yaml(path)
    unknown = sorted(set(raw) - TOP_FIELDS)
    if unknown:
        raise _bad(path, unknown[0], "is not a task YAML field",
                   hint=f"known fields: {', '.join(sorted(TOP_FIELDS - {'prepared'}))}")
    base = (raw_dir or path.parent).expanduser()
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(path, "name", f"must be a name of letters, digits, '-', '_' or '.', "
                   f"got {name!r}")
    files, extra = _files(path, raw, base)
    metric, lower = _metric(path, raw)
    prediction = _prediction(path, raw, metric)
    targets = _str_list(path, raw, "target_columns", required=True)
    _check_columns(path, raw, metric, prediction, targets)
    test_size, random_state = _split(path, raw)
    return TaskYaml(
        path=path, base_dir=base, name=name, files=files, extra=extra,
        id_column=_id_column(path, raw, files), target_columns=targets, metric=metric,
        lower_is_better=lower, prediction=prediction,
        title=str(raw.get("title") or name), description=str(raw.get("description") or ""),
        description_file=_opt_path(path, raw, "description_file", base),
        positive_label=raw.get("positive_label", 1 if _has_positive(metric, prediction) else None),
        class_columns=_str_list(path, raw, "class_columns"),
        text_columns=_str_list(path, raw, "text_columns"),
        drop_columns=_str_list(path, raw, "drop_columns"),
        test_size=test_size, random_state=random_state,
        leaderboard=_opt_path(path, raw, "leaderboard", base),
        prepared=bool(raw.get("prepared", False)), raw=raw,
    )


def _files(path: Path, raw: dict[str, Any], base: Path) -> tuple[dict[str, Path], tuple[Path, ...]]:
    files = raw.get("files")
    if not isinstance(files, dict):
        raise _bad(path, "files", "is required: a mapping with at least `train: <csv file>`")
    unknown = sorted(set(files) - FILE_FIELDS)
    if unknown:
        raise _bad(path, f"files.{unknown[0]}", "is not a files field",
                   hint=f"files fields: {', '.join(sorted(FILE_FIELDS))}")
    if "train" not in files:
        raise _bad(path, "files.train", "is required (the labelled rows)")
    if "test" in files and "answers" not in files:
        raise _bad(path, "files.answers", "is required when files.test is given (the labels "
                   "of the test rows)")
    out: dict[str, Path] = {}
    for key in ("train", "test", "answers", "sample_submission"):
        if key in files:
            out[key] = _existing(path, f"files.{key}", files[key], base, csv=True)
    extra_raw = files.get("extra") or []
    if not isinstance(extra_raw, list):
        raise _bad(path, "files.extra", "must be a list of paths")
    extra = tuple(_existing(path, "files.extra", e, base, csv=False) for e in extra_raw)
    return out, extra


def _existing(path: Path, name: str, value: Any, base: Path, csv: bool) -> Path:
    if not isinstance(value, str) or not value:
        raise _bad(path, name, f"must be a file path, got {value!r}")
    target = (base / value).expanduser()
    if not target.exists():
        raise _bad(path, name, f"{target} does not exist",
                   hint="Paths are relative to the YAML's folder (or --raw-dir).")
    if csv and target.suffix.lower() != ".csv":
        raise _bad(path, name, f"{target.name} is not a .csv file")
    return target


def _opt_path(path: Path, raw: dict[str, Any], name: str, base: Path) -> Path | None:
    value = raw.get(name)
    return None if value is None else _existing(path, name, value, base, csv=False)


def _metric(path: Path, raw: dict[str, Any]) -> tuple[str, bool]:
    from aira_eval.datasets.metrics import get_metric

    name = raw.get("metric")
    if not isinstance(name, str):
        raise _bad(path, "metric", "is required: a metric name such as roc_auc or rmse")
    try:
        spec = get_metric(name)
    except UsageError as err:
        raise _bad(path, "metric", f"unknown metric {name!r}", hint=err.hint) from err
    direction = raw.get("direction")
    if direction is not None:
        if direction not in ("higher", "lower"):
            raise _bad(path, "direction", f"must be `higher` or `lower`, got {direction!r}")
        if (direction == "lower") != spec.lower_is_better:
            good = "lower" if spec.lower_is_better else "higher"
            raise _bad(path, "direction", f"{direction} contradicts metric {spec.name}, for "
                       f"which {good} is better")
    return spec.name, spec.lower_is_better


def _prediction(path: Path, raw: dict[str, Any], metric: str) -> PredictionKind:
    from aira_eval.datasets.metrics import get_metric

    spec = get_metric(metric)
    if spec.needs == "labels":
        expected: PredictionKind = "label"
    elif spec.needs == "scores":
        expected = "regression"
    else:
        expected = "class_probabilities" if spec.simplex else "probability"
    given = raw.get("prediction", expected)
    if given not in KINDS:
        raise _bad(path, "prediction", f"must be one of {', '.join(KINDS)}, got {given!r}")
    if given != expected:
        raise _bad(path, "prediction", f"{given} does not fit metric {metric}, which scores "
                   f"{expected} predictions")
    return expected


def _has_positive(metric: str, prediction: str) -> bool:
    """Whether the task scores a positive label (probability predictions, ``f1``)."""
    from aira_eval.datasets.metrics import get_metric

    return prediction == "probability" or get_metric(metric).positive_class


def _check_columns(
    path: Path, raw: dict[str, Any], metric: str, prediction: str, targets: tuple[str, ...]
) -> None:
    from aira_eval.datasets.metrics import get_metric

    if get_metric(metric).columns == "one" and len(targets) != 1:
        raise _bad(path, "target_columns", f"metric {metric} scores exactly one target column, "
                   f"got {list(targets)}")
    if prediction == "class_probabilities" and len(targets) != 1:
        raise _bad(path, "target_columns", "class_probabilities needs the one column holding "
                   "the class of each train row")
    if prediction != "class_probabilities" and raw.get("class_columns"):
        raise _bad(path, "class_columns", "only applies to class_probabilities predictions")


def _id_column(path: Path, raw: dict[str, Any], files: dict[str, Path]) -> str | None:
    value = raw.get("id_column")
    if value is None:
        if "test" in files:
            raise _bad(path, "id_column", "is required when files.test is given")
        return None
    if not isinstance(value, str) or not value:
        raise _bad(path, "id_column", f"must be a column name, got {value!r}")
    return value


def _split(path: Path, raw: dict[str, Any]) -> tuple[float, int]:
    split = raw.get("split") or {}
    if not isinstance(split, dict) or set(split) - {"test_size", "random_state"}:
        raise _bad(path, "split", "must be a mapping with test_size and/or random_state")
    size, seed = split.get("test_size", 0.1), split.get("random_state", 0)
    if not isinstance(size, float | int) or not 0 < size < 1:
        raise _bad(path, "split.test_size", f"must be a fraction in (0, 1), got {size!r}")
    if not isinstance(seed, int):
        raise _bad(path, "split.random_state", f"must be an integer, got {seed!r}")
    return float(size), seed
