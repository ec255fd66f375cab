"""Check 1: train/test overlap per task — exact and near-duplicate rows.

A test row that also appears in the train file (same feature values) lets a model score on it
by memorisation, so test scores overstate generalisation. Two levels are counted:

- **exact**: the feature values are identical as written (string form of every cell);
- **near**: identical after normalisation — text lower-cased, Unicode NFKC, punctuation and
  whitespace removed; numbers (and number-like strings) rounded to ``digits`` significant
  digits; missing values as one token. ``near`` includes ``exact``.

Rows are compared by a 64-bit hash of their cells (``pandas.util.hash_pandas_object``); hash
collisions at the sizes of ML competitions are negligible (~n²/2⁶⁴). Id columns are excluded
(they differ by construction), and so are label columns (the test file has none).
With ``text_columns`` each text column is also compared on its own (a comment reused with a
different date is still a duplicate for a text model).

Status: ``fail`` when the exact-duplicate fraction of test rows reaches ``fail_fraction``
(default 5%) and the duplicates are exploitable (their train twins carry the same label in at
least half the cases, or no test labels are known); ``warn`` when any exact, near or text
duplicate exists; else ``pass``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aira_eval.errors import DataError

if TYPE_CHECKING:
    from aira_eval.datasets.problem import ProblemSpec

_PUNCT_WS = re.compile(r"[\W_]+", re.UNICODE)
_MISSING = "\x00na"
_ID_NAME = re.compile(r"(^id$|_id$|id$)", re.IGNORECASE)


@dataclass
class OverlapResult:
    """Train/test overlap of one task.

    Attributes:
        exact / near: test rows with an exact / near duplicate in train (near ⊇ exact).
        text_duplicates: per text column, test rows whose normalised text occurs in train.
        train_duplicates: train rows that near-duplicate an earlier train row (context: when
            the features repeat within train too, they do not identify a sample).
        label_agreement: among duplicated test rows (near, else text-column duplicates), the
            fraction whose train twin has the same label after normalisation (None without
            test labels). Low agreement means memorising train cannot exploit the overlap.
        examples: up to ``max_examples`` pairs ``{kind, test_row, train_row, values}``.
    """

    task: str
    n_train: int
    n_test: int
    columns: list[str]
    digits: int
    exact: int
    near: int
    text_duplicates: dict[str, int] = field(default_factory=dict)
    train_duplicates: int = 0
    label_agreement: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exact_fraction(self) -> float:
        return self.exact / self.n_test if self.n_test else 0.0

    @property
    def near_fraction(self) -> float:
        return self.near / self.n_test if self.n_test else 0.0

    def status(self, fail_fraction: float = 0.05) -> str:
        exploitable = self.label_agreement is None or self.label_agreement >= 0.5
        if self.n_test and self.exact_fraction >= fail_fraction and exploitable:
            return "fail"
        if self.exact or self.near or any(self.text_duplicates.values()):
            return "warn"
        return "pass"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["exact_fraction"] = self.exact_fraction
        out["near_fraction"] = self.near_fraction
        return out


def normalise_text(value: str) -> str:
    """Lower-case, Unicode NFKC, punctuation and whitespace removed."""
    text = unicodedata.normalize("NFKC", value).casefold()
    return _PUNCT_WS.sub("", text)


def round_sig(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` significant digits, as a canonical string."""
    if math.isnan(value):
        return _MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return repr(float(f"{value:.{digits}g}"))


def _normalise_cell(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return _MISSING
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        return round_sig(float(value), digits)
    text = str(value)
    try:
        return round_sig(float(text), digits)
    except ValueError:
        norm = normalise_text(text)
        return norm if norm else _MISSING


def normalise_frame(frame: pd.DataFrame, columns: list[str], digits: int) -> pd.DataFrame:
    """Every cell of ``columns`` as its normalised string (see the module docstring)."""
    out: dict[str, list[str]] = {}
    for col in columns:
        values = frame[col].tolist()
        cache: dict[object, str] = {}
        cells: list[str] = []
        for v in values:
            key = v if isinstance(v, str | int | float | bool) else repr(v)
            if key not in cache:
                cache[key] = _normalise_cell(v, digits)
            cells.append(cache[key])
        out[col] = cells
    return pd.DataFrame(out, index=frame.index)


def _exact_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Cells as written: missing as one token, numbers in their repr, text verbatim."""
    out: dict[str, list[str]] = {}
    for col in columns:
        out[col] = [
            _MISSING if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)))
            else repr(v) if isinstance(v, float) else str(v)
            for v in frame[col].tolist()
        ]
    return pd.DataFrame(out, index=frame.index)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A uint64 hash per row of a frame of strings (independent of the index)."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def infer_columns(
    train: pd.DataFrame,
    test: pd.DataFrame,
    id_columns: tuple[str, ...] | list[str] | None = None,
    label_columns: tuple[str, ...] | list[str] = (),
) -> list[str]:
    """Feature columns to compare: those both files share, minus ids and labels.

    Without ``id_columns``, a shared column named like an id (``id``, ``*_id``, ``*Id``) whose
    values are unique in train is taken for one.
    """
    shared = [c for c in test.columns if c in train.columns and c not in label_columns]
    if id_columns is None:
        id_columns = [c for c in shared if _ID_NAME.search(str(c)) and train[c].is_unique]
    return [c for c in shared if c not in id_columns]


def infer_text_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Free-text columns: strings with a median length of at least 20 characters, mostly
    distinct."""
    out: list[str] = []
    for col in columns:
        values = frame[col].dropna()
        if values.empty or not pd.api.types.is_string_dtype(values):
            continue
        lengths = values.astype(str).str.len()
        if lengths.median() >= 20 and values.nunique() >= 0.5 * len(values):
            out.append(col)
    return out


def _first_match(hashes: np.ndarray) -> dict[int, int]:
    out: dict[int, int] = {}
    for pos, h in enumerate(hashes.tolist()):
        out.setdefault(h, pos)
    return out


def _match(train_h: np.ndarray, test_h: np.ndarray) -> np.ndarray:
    """For each test row, the position of its first train twin, or -1."""
    first = _first_match(train_h)
    return np.array([first.get(h, -1) for h in test_h.tolist()], dtype=np.int64)


def _examples(
    kind: str, match: np.ndarray, mask: np.ndarray, test: pd.DataFrame, train: pd.DataFrame,
    columns: list[str], limit: int,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pos in np.flatnonzero(mask)[:limit].tolist():
        tpos = int(match[pos])
        out.append({
            "kind": kind,
            "test_row": int(pos),
            "train_row": tpos,
            "test_values": {c: _preview(test[c].iloc[pos]) for c in columns},
            "train_values": {c: _preview(train[c].iloc[tpos]) for c in columns},
        })
    return out


def _preview(value: object, width: int = 80) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _label_agreement(
    match: np.ndarray, train: pd.DataFrame, test_labels: pd.DataFrame | None,
    label_columns: list[str], digits: int,
) -> float | None:
    """Fraction of matched test rows whose train twin has the same (normalised) labels."""
    if test_labels is None or not label_columns or len(test_labels) != len(match):
        return None
    cols = [c for c in label_columns if c in train.columns and c in test_labels.columns]
    hits = np.flatnonzero(match >= 0)
    if not cols or hits.size == 0:
        return None
    twin = normalise_frame(train.iloc[match[hits]], cols, digits).to_numpy()
    mine = normalise_frame(test_labels.iloc[hits], cols, digits).to_numpy()
    return float(np.mean((twin == mine).all(axis=1)))


def train_test_overlap(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    task: str = "",
    columns: list[str] | None = None,
    id_columns: tuple[str, ...] | list[str] | None = None,
    label_columns: tuple[str, ...] | list[str] = (),
    text_columns: tuple[str, ...] | list[str] = (),
    digits: int = 4,
    test_labels: pd.DataFrame | None = None,
    max_examples: int = 5,
) -> OverlapResult:
    """Exact and near-duplicate test rows of ``test`` in ``train`` (see the module docstring).

    ``test_labels`` (the private answers, row-aligned with ``test``) adds the fraction of
    duplicated rows whose train twin carries the same label.
    """
    if digits < 1:
        raise DataError(f"digits must be at least 1, got {digits}")
    cols = columns if columns is not None else infer_columns(train, test, id_columns,
                                                             label_columns)
    if not cols:
        raise DataError("the train and test files share no feature column to compare")
    missing = [c for c in cols if c not in train.columns or c not in test.columns]
    if missing:
        raise DataError(f"columns {missing} are not in both the train and the test file")
    exact_match = _match(row_hashes(_exact_frame(train, cols)),
                         row_hashes(_exact_frame(test, cols)))
    near_train = normalise_frame(train, cols, digits)
    near_test = normalise_frame(test, cols, digits)
    train_h = row_hashes(near_train)
    near_match = _match(train_h, row_hashes(near_test))
    exact_mask = exact_match >= 0
    near_only = (near_match >= 0) & ~exact_mask
    best = near_match.copy()
    text_dups: dict[str, int] = {}
    for col in (c for c in text_columns if c in cols):
        col_match = _match(row_hashes(near_train[[col]]), row_hashes(near_test[[col]]))
        text_dups[col] = int((col_match >= 0).sum())
        best = np.where(best >= 0, best, col_match)
    examples = _examples("exact", exact_match, exact_mask, test, train, cols, max_examples)
    examples += _examples("near", near_match, near_only, test, train, cols, max_examples)
    text_only = (best >= 0) & (near_match < 0)
    examples += _examples("text", best, text_only, test, train, cols, max_examples)
    return OverlapResult(
        task=task, n_train=len(train), n_test=len(test), columns=list(cols), digits=digits,
        exact=int(exact_mask.sum()), near=int((near_match >= 0).sum()),
        text_duplicates=text_dups,
        train_duplicates=int(pd.Series(train_h).duplicated().sum()),
        label_agreement=_label_agreement(best, train, test_labels, list(label_columns), digits),
        examples=examples,
    )


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"no file {path}")
    try:
        return pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"{path} is not a readable CSV file: {err}") from err


def overlap_from_dirs(
    public_dir: Path,
    *,
    task: str = "",
    spec: ProblemSpec | None = None,
    answers_path: Path | None = None,
    digits: int = 4,
    max_examples: int = 5,
) -> OverlapResult:
    """Overlap of a prepared task: ``public_dir``'s train and test files.

    With a :class:`ProblemSpec` its file names, id, label and text columns are used; without
    one, ``train.csv``/``test.csv`` with inferred id and text columns, and label columns are
    those of the private answers (``answers_path``) absent from the public test file.
    """
    train_name = spec.train_file if spec else "train.csv"
    test_name = spec.test_file if spec else "test.csv"
    train, test = _read_csv(public_dir / train_name), _read_csv(public_dir / test_name)
    answers = _answers(answers_path)
    shared = [c for c in test.columns if c in train.columns]
    if spec is not None:  # ids that are also text (insults: Date, Comment) are features
        ids: list[str] | None = [c for c in spec.id_columns if c not in spec.text_columns]
        labels, texts = list(spec.label_columns), list(spec.text_columns)
    else:
        ids = None
        labels = [c for c in (answers.columns if answers is not None else []) if c not in test]
        labels = [c for c in labels if c in train.columns]
        texts = infer_text_columns(test, shared)
    if answers is not None and len(answers) != len(test):
        answers = None  # not row-aligned (e.g. held-out rows mixed into the test file)
    return train_test_overlap(
        train, test, task=task, id_columns=ids, label_columns=labels, text_columns=texts,
        digits=digits, test_labels=answers, max_examples=max_examples,
    )


def _answers(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.is_file():
        return None
    try:
        return _read_csv(path)
    except DataError:
        return None
