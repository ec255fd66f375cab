"""Turning data into the prepared public/private layout MLE-bench uses.

File-level primitives shared by every source that writes a task to disk (builtin, synthetic,
task YAML, held-out sets); this module imports nothing else from ``aira_eval.datasets``:

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
