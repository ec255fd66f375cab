"""Turning data into the prepared public/private layout MLE-bench uses.

Shared by every source that writes a task to disk (builtin, synthetic, task YAML, held-out
sets):

```
<task root>/
  prepared/public/    train.csv, test.csv, sample_submission.csv, description.md (agent-facing)
  prepared/private/   test.csv (the answers; never shown to agent code)
  checksums.yaml      md5 of every top-level prepared file, MLE-bench's format
```

Preparation is atomic: a task is written into a temporary sibling directory and renamed into
place, so two processes preparing the same task at once never see a half-written one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aira_eval.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from aira_eval.datasets.problem import ProblemSpec
    from aira_eval.datasets.yaml_task import TaskYaml

CHECKSUMS_FILE = "checksums.yaml"
"""Checksums file name in a task root (MLE-bench's name)."""

DEFAULT_TEST_SIZE = 0.1
"""MLE-bench's convention: the original train file is split 90/10 ..."""
DEFAULT_RANDOM_STATE = 0
"""... with ``random_state=0``."""


def default_cache_dir() -> Path:
    """``$AIRA_EVAL_CACHE_DIR``, else ``~/.cache/aira-eval/tasks``."""
    env = os.environ.get("AIRA_EVAL_CACHE_DIR")
    return Path(env).expanduser() if env else Path("~/.cache/aira-eval/tasks").expanduser()


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    """The md5 hex digest of a file's bytes."""
    digest = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def compute_checksums(prepared_dir: Path) -> dict[str, dict[str, str]]:
    """``{"public": {file: md5}, "private": {file: md5}}`` over top-level files only.

    Sub-directories (images, geometry files) are not hashed, as in MLE-bench's checksums.
    """
    out: dict[str, dict[str, str]] = {}
    for side in ("private", "public"):
        side_dir = prepared_dir / side
        if not side_dir.is_dir():
            continue
        out[side] = {
            p.name: md5_file(p) for p in sorted(side_dir.iterdir()) if p.is_file()
        }
    return out


def write_checksums(task_root: Path, prepared_dir: Path | None = None) -> Path:
    """Write ``<task_root>/checksums.yaml`` (of ``prepared_dir``, default ``prepared``)."""
    prepared = prepared_dir if prepared_dir is not None else task_root / "prepared"
    path = task_root / CHECKSUMS_FILE
    path.write_text(yaml.safe_dump(compute_checksums(prepared), sort_keys=True))
    return path


def read_checksums(path: Path) -> dict[str, str]:
    """Flatten an MLE-bench ``checksums.yaml`` to ``{"public/train.csv": md5, ...}``.

    Returns an empty dict when the file is absent; raises :class:`DataError` when unreadable.
    """
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise DataError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise DataError(f"{path} is not a checksums mapping")
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            for name, digest in value.items():
                flat[f"{key}/{name}"] = str(digest)
        else:
            flat[str(key)] = str(value)
    return dict(sorted(flat.items()))


def atomic_build(final_dir: Path, build: Callable[[Path], None]) -> Path:
    """Build a directory atomically: ``build(tmp)`` fills a temp sibling, renamed to ``final_dir``.

    If another process finished first, its result is kept and ours discarded. A failing
    ``build`` leaves nothing behind.
    """
    if final_dir.is_dir():
        return final_dir
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.tmp-", dir=final_dir.parent))
    try:
        build(tmp)
        try:
            tmp.rename(final_dir)
        except OSError:
            if not final_dir.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final_dir


def _is_plain_numeric(df: pd.DataFrame) -> bool:
    import pandas as pd

    simple_names = all(
        str(c).replace("_", "").replace("-", "").replace(".", "").isalnum() for c in df.columns
    )
    numeric = all(
        pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        for c in df.columns
    )
    return simple_names and numeric and len(df.columns) > 0


def write_csv(df: pd.DataFrame, path: Path, fast: bool = False) -> None:
    """Write ``df`` as CSV without its index, as pandas' ``to_csv`` does.

    ``fast``: write large all-numeric frames through pyarrow (same values, but numbers may be
    formatted differently from pandas).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if fast and len(df) > 10_000 and _is_plain_numeric(df):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.Table.from_pandas(df, preserve_index=False)
        options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
        pacsv.write_csv(table, str(path), options)
        return
    df.to_csv(path, index=False)


def read_csv_text(path: Path) -> pd.DataFrame:
    """Read a CSV keeping every cell as the exact text in the file (empty cells stay ``""``)."""
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path}: {err}") from err


def split_train_test(
    df: pd.DataFrame,
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = DEFAULT_RANDOM_STATE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MLE-bench's split: ``train_test_split(df, test_size=0.1, random_state=0)``."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(df, test_size=test_size, random_state=random_state)
    return train, test


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (copying when linking is impossible); trees recursively."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy_file)
    else:
        _link_or_copy_file(str(src), str(dst))


def _link_or_copy_file(src: str, dst: str) -> Any:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def fingerprint(paths: Iterable[Path], extra: str = "") -> str:
    """A short key for a set of source files (name, size, mtime) plus ``extra`` text."""
    digest = hashlib.sha256(extra.encode())
    for p in paths:
        stat = p.stat()
        digest.update(f"{p.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def unique_tmp_name(prefix: str) -> str:
    return f".{prefix}.{uuid.uuid4().hex[:8]}"


# -- task YAML -> prepared layout ---------------------------------------------------------------

PREPARED_YAML = "task.yaml"
"""The normalized task YAML written next to ``prepared/`` (it resolves directly)."""


def prepare_yaml(spec: TaskYaml, out_dir: Path, overwrite: bool = False) -> Path:
    """Prepare a task YAML's raw files into ``out_dir`` (atomically); returns its task.yaml.

    Raises:
        UsageError: ``out_dir`` exists and is not empty (without ``overwrite``), or the YAML
            is already a prepared one. DataError: the files do not fit the YAML.
    """
    from aira_eval.errors import UsageError

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
    from aira_eval.datasets.builtin import (
        answers_frame,
        render_description,
        sample_frame,
        write_prepared,
    )
    from aira_eval.datasets.grading import read_answers

    train, test, answers_raw = _yaml_frames(spec)
    id_col = spec.id_column or "id"
    classes = _classes(spec, train, answers_raw)
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
    from aira_eval.datasets.grading import read_answers

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
