"""What the procedural operators infer about a task's columns from its public files.

A :class:`ProblemSpec` names the files, ids, targets, text and dropped columns; the roles of
the other feature columns (numeric, categorical, compound strings such as ``"F/731/S"``) are
read off a sample of the public train file. Inference reads at most a few thousand rows and is
cached per public directory, so proposing a node costs milliseconds.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aira_eval.datasets.metrics import get_metric
from aira_eval.datasets.problem import ProblemSpec

SAMPLE_ROWS = 5000
"""Rows of the train file read to infer column roles."""

COMPOUND_SEPARATORS = ("/", "_", "|", ":", ";", "-")
"""Separators tried when looking for compound string columns (never spaces: names, text)."""

NUMERIC_SHARE = 0.98
"""A string column (or part) whose non-missing values parse as numbers this often is numeric."""


@dataclass(frozen=True)
class CompoundColumn:
    """A string column whose values all join the same number of parts with one separator.

    Attributes:
        name: the column.
        separator: e.g. ``"/"`` for spaceship-titanic's ``Cabin`` (``"F/731/S"``).
        parts: the role of each part, ``"numeric"`` or ``"categorical"``.
    """

    name: str
    separator: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class DataSchema:
    """Column roles and sizes of one task, inferred from its public files.

    Attributes:
        numeric: numeric (or boolean, or numeric-looking string) feature columns.
        categorical: other string feature columns (filtered by cardinality at run time).
        compound: string columns that can be split into parts (also listed nowhere else).
        text: free-text columns (TF-IDF material).
        cardinality: distinct values seen in the sample, per string column.
        n_rows: train rows (exact when the file is small, else estimated from its size).
        n_classes: classes of a classification target (0 for regression).
        positive_label: the positive class of a ``probability`` task or of a binary-F1 label
            task (spec's, else inferred; F1's default is 1, as the grader's).
        targets_nonnegative: every sampled regression target is ≥ 0 (log1p targets allowed).
        submission_order: the sample submission's column order (ids and targets).
        numeric_missing: a numeric feature (or a compound column, whose parts may be absent)
            has missing values in the sampled train or test rows, so imputation choices
            matter.
        skewed: numeric columns the scripts' ``log1p_skewed`` step would transform
            (non-negative, skewness above 1, in the sample); ``None``: unknown.
        row_stats_skewed: the row sum or mean of the numeric columns would be such a column.
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    compound: tuple[CompoundColumn, ...]
    text: tuple[str, ...]
    cardinality: tuple[tuple[str, int], ...]
    n_rows: int
    n_classes: int
    positive_label: str | int | bool | None
    targets_nonnegative: bool
    submission_order: tuple[str, ...]
    numeric_missing: bool = True
    skewed: tuple[str, ...] | None = None
    row_stats_skewed: bool = True

    def card(self, column: str) -> int:
        return dict(self.cardinality).get(column, 0)

    @property
    def n_compound_numeric(self) -> int:
        return sum(p == "numeric" for c in self.compound for p in c.parts)


def read_table(path: Path, nrows: int | None = None) -> pd.DataFrame:
    """The first ``nrows`` rows of a CSV, JSON or Parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        frame = pd.read_json(path)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        return pd.read_csv(path, nrows=nrows)
    return frame if nrows is None else frame.head(nrows)


def _numeric_share(values: pd.Series) -> float:
    present = values.dropna()
    if present.empty:
        return 0.0
    parsed = pd.to_numeric(present, errors="coerce")
    return float(parsed.notna().mean())


def _is_nested(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values):
        return False
    return bool(values.head(200).map(lambda v: isinstance(v, list | dict | tuple)).any())


def is_text(values: pd.Series) -> bool:
    """Free text: long strings of several words, mostly distinct."""
    present = values.dropna().astype(str)
    if len(present) < 5:
        return False
    words = present.str.count(r"\S+")
    return bool(
        present.str.len().mean() >= 30
        and words.mean() >= 5
        and present.nunique() >= 0.5 * len(present)
    )


def find_compound(name: str, values: pd.Series) -> CompoundColumn | None:
    """A compound column description when every value joins 2-4 parts with one separator."""
    present = values.dropna().astype(str)
    if present.nunique() <= 10 or present.str.len().mean() > 30:
        return None
    for sep in COMPOUND_SEPARATORS:
        counts = present.str.count(re.escape(sep))
        if (counts == 0).any() or counts.nunique() != 1 or not 1 <= int(counts.iloc[0]) <= 3:
            continue
        parts = present.str.split(sep, expand=True, regex=False)
        roles = tuple(
            "numeric" if _numeric_share(parts[i]) >= NUMERIC_SHARE else "categorical"
            for i in parts.columns
        )
        return CompoundColumn(name, sep, roles)
    return None


def feature_columns(
    train: pd.DataFrame, test_columns: list[str], problem: ProblemSpec
) -> list[str]:
    """Columns usable as features: in both files, not a target, dropped or id (text ids kept)."""
    excluded = set(problem.label_columns) | set(problem.drop_columns)
    ids = set(problem.id_columns) - set(problem.text_columns)
    return [
        c for c in train.columns if c in test_columns and c not in excluded and c not in ids
    ]


def _roles(
    train: pd.DataFrame, columns: list[str], problem: ProblemSpec
) -> tuple[list[str], list[str], list[CompoundColumn], list[str]]:
    numeric: list[str] = []
    categorical: list[str] = []
    compound: list[CompoundColumn] = []
    text: list[str] = []
    for col in columns:
        values = train[col]
        if _is_nested(values):
            continue  # lists or records (JSON files): not a tabular feature
        if problem.text_columns:
            if col in problem.text_columns:
                text.append(col)
                continue
        elif not pd.api.types.is_numeric_dtype(values) and is_text(values):
            text.append(col)
            continue
        if pd.api.types.is_numeric_dtype(values) or _numeric_share(values) >= NUMERIC_SHARE:
            numeric.append(col)
        elif (found := find_compound(col, values)) is not None:
            compound.append(found)
        else:
            categorical.append(col)
    return numeric, categorical, compound, text


def _estimate_rows(path: Path, sample: pd.DataFrame, nrows: int) -> int:
    """Exact for a file shorter than the sample; else scaled by file size (CSV) or counted."""
    if len(sample) < nrows:
        return len(sample)
    if path.suffix.lower() != ".csv":
        return len(read_table(path))
    sample_bytes = max(1, len(sample.to_csv(index=False).encode()))
    return max(len(sample), int(len(sample) * path.stat().st_size / sample_bytes))


def _positive_label(problem: ProblemSpec, labels: pd.Series) -> str | int | bool | None:
    """The positive class of a probability task, or of a label task scored by binary F1."""
    f1 = problem.prediction == "label" and get_metric(problem.metric).name == "f1"
    if problem.prediction != "probability" and not f1:
        return None
    if problem.positive_label is not None:
        return problem.positive_label
    values = labels.dropna().unique().tolist()
    if f1:  # the grader's default: the label 1 (a task with other labels names its own)
        return 1
    if set(values) <= {0, 1} or set(values) <= {False, True}:
        return True if any(isinstance(v, bool) for v in values) else 1
    return sorted(values, key=str)[-1] if values else None


def _n_classes(problem: ProblemSpec, labels: pd.Series) -> int:
    if problem.prediction == "regression":
        return 0
    if problem.prediction == "class_probabilities":
        return len(problem.submission_columns)
    if problem.prediction == "probability":
        return 2
    return max(2, int(labels.nunique()))


def _submission_order(public_dir: Path, problem: ProblemSpec) -> tuple[str, ...]:
    wanted = [*problem.id_columns, *problem.submission_columns]
    path = public_dir / problem.sample_submission_file
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError):
        return tuple(wanted)
    return tuple(header) if sorted(header) == sorted(wanted) else tuple(wanted)


def _targets_nonnegative(problem: ProblemSpec, train: pd.DataFrame) -> bool:
    if problem.prediction != "regression":
        return False
    targets = train[list(problem.label_columns)].apply(pd.to_numeric, errors="coerce")
    return bool((targets.fillna(0) >= 0).all().all())


SKEWNESS = 1.0
"""The scripts' ``log1p_skewed`` step transforms non-negative columns skewed above this."""


def _skewed(numbers: pd.DataFrame) -> list[str]:
    """The columns the scripts' ``skewed_columns`` would pick (same rule, on the sample)."""
    low, skew = numbers.min(), numbers.skew()  # per column, as floats
    return [str(c) for c in numbers.columns
            if float(low[c]) >= 0 and float(skew[c]) > SKEWNESS]


def _numeric_facts(train: pd.DataFrame, test: pd.DataFrame, numeric: list[str],
                   compound: list[CompoundColumn]) -> tuple[bool, tuple[str, ...] | None, bool]:
    """(missing numeric values, skewed columns, row sum/mean skewed), as the scripts see
    them: numbers parsed with ``errors="coerce"`` (so stray strings count as missing)."""
    frames = [f[[c for c in numeric if c in f.columns]].apply(pd.to_numeric, errors="coerce")
              for f in (train, test)]
    missing = bool(compound) or any(bool(f.isna().any().any()) for f in frames)
    numbers = frames[0].astype(float)
    if compound or numbers.empty:  # compound parts add numeric columns the sample lacks
        return missing, None, True
    rows = pd.DataFrame({"row_sum": numbers.sum(axis=1), "row_mean": numbers.mean(axis=1)})
    rows["row_missing"] = numbers.isna().sum(axis=1).astype(float)
    return missing, tuple(_skewed(numbers)), bool(_skewed(rows))


def infer_schema(public_dir: Path, problem: ProblemSpec, nrows: int = SAMPLE_ROWS) -> DataSchema:
    """Column roles and sizes of a task, from a sample of its public train file."""
    train_path = public_dir / problem.train_file
    train = read_table(train_path, nrows)
    test = read_table(public_dir / problem.test_file, nrows)
    test_columns = list(test.columns)
    columns = feature_columns(train, test_columns, problem)
    numeric, categorical, compound, text = _roles(train, columns, problem)
    strings = [*categorical, *(c.name for c in compound)]
    first_label = train[problem.label_columns[0]] if problem.label_columns else pd.Series()
    missing, skewed, row_stats_skewed = _numeric_facts(train, test, numeric, compound)
    return DataSchema(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        compound=tuple(compound),
        text=tuple(text),
        cardinality=tuple((c, int(train[c].nunique())) for c in strings),
        n_rows=_estimate_rows(train_path, train, nrows),
        n_classes=_n_classes(problem, first_label),
        positive_label=_positive_label(problem, first_label),
        targets_nonnegative=_targets_nonnegative(problem, train),
        submission_order=_submission_order(public_dir, problem),
        numeric_missing=missing,
        skewed=skewed,
        row_stats_skewed=row_stats_skewed,
    )


class SchemaCache:
    """:func:`infer_schema` memoised per (public dir, problem); safe to share across threads."""

    def __init__(self, nrows: int = SAMPLE_ROWS) -> None:
        self.nrows = nrows
        self._cache: dict[tuple[str, ProblemSpec], DataSchema] = {}
        self._lock = threading.Lock()

    def get(self, public_dir: Path, problem: ProblemSpec) -> DataSchema:
        key = (str(Path(public_dir).resolve()), problem)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = infer_schema(Path(public_dir), problem, self.nrows)
            return self._cache[key]
