"""The node table: one row per search node, the contract between search and selection.

``STUDY/nodes.parquet`` holds this table for every search of a study. Its columns are fixed by
:data:`NODE_SCHEMA`; the file carries ``schema_version`` both as a column and as Parquet
metadata, and readers reject a newer version than they know with a clear message.

Score columns are ``score_<set>`` for the held-out sets ``val`` (the script's own report),
``search``, ``select`` and ``test``; a score is NaN where the node has none (a failed node, a
task without that held-out set). ``n_<set>`` is the number of rows graded on that set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from aira_eval.errors import DataError

SCHEMA_VERSION = 1
HELDOUT_SETS = ("val", "search", "select", "test")

NODE_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("study_id", pa.string()),
        ("search_id", pa.string()),
        ("task", pa.string()),
        ("policy", pa.string()),
        ("operators", pa.string()),
        ("seed", pa.int64()),
        ("fitness", pa.string()),  # val | search | test
        ("oracle_run", pa.bool_()),  # True when the search steered by test scores
    ("description", pa.string()),  # original | obfuscated (MLE-bench's ablation)
        ("node_id", pa.string()),
        ("parent_ids", pa.list_(pa.string())),
        ("step", pa.int64()),
        ("operator", pa.string()),  # draft | improve | debug | crossover | import
        ("depth", pa.int64()),
        ("debug_depth", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
    ("injected_bug", pa.string()),  # procedural failure model: the bug put in on purpose
        ("duplicate_of", pa.string()),  # earlier node of the search with byte-identical code
        ("valid", pa.bool_()),  # a submission was produced and graded on test
        ("lower_is_better", pa.bool_()),
        ("score_val", pa.float64()),
        ("val_folds", pa.list_(pa.float64())),
        ("score_search", pa.float64()),
        ("score_select", pa.float64()),
        ("score_test", pa.float64()),
        ("n_search", pa.int64()),
        ("n_select", pa.int64()),
        ("n_test", pa.int64()),
        ("exec_time", pa.float64()),  # seconds the script ran
        ("started_at", pa.float64()),  # unix time
        ("finished_at", pa.float64()),
        ("isolation", pa.string()),  # e.g. "unshare-net", "docker", "none"
        ("code_path", pa.string()),  # relative to the study dir
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
    ]
)
NODE_COLUMNS: tuple[str, ...] = tuple(NODE_SCHEMA.names)

_DEFAULTS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "parent_ids": [],
    "val_folds": [],
    "reason": None,
    "injected_bug": None,
    "duplicate_of": None,
    "oracle_run": False,
    "fitness": "val",
    "description": "original",
    "operators": "",
    "depth": 0,
    "debug_depth": 0,
    "isolation": "none",
    "code_path": None,
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "cost_usd": 0.0,
    "exec_time": float("nan"),
    "started_at": float("nan"),
    "finished_at": float("nan"),
    "study_id": "",
}


def _fill(record: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in NODE_COLUMNS:
        if name in record:
            row[name] = record[name]
        elif name.startswith("score_"):
            row[name] = float("nan")
        elif name.startswith("n_"):
            row[name] = 0
        elif name in _DEFAULTS:
            row[name] = _DEFAULTS[name]
        else:
            raise DataError(f"node record lacks required field {name!r}")
    return row


def records_to_table(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build an Arrow table of :data:`NODE_SCHEMA` from node records (dicts).

    Missing optional fields get defaults (NaN scores, zero sizes, empty lists); a missing
    required field (ids, task, policy, seed, status, ...) raises :class:`DataError`.
    """
    rows = [_fill(r) for r in records]
    columns = {name: [row[name] for row in rows] for name in NODE_COLUMNS}
    return pa.Table.from_pydict(columns, schema=NODE_SCHEMA)


def records_to_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Node records as a pandas frame with the node-table columns and dtypes."""
    return records_to_table(records).to_pandas()


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """Validate a pandas node frame against :data:`NODE_SCHEMA` (extra columns are dropped)."""
    missing = [c for c in NODE_COLUMNS if c not in frame.columns]
    if missing:
        filled = [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return records_to_table(filled)
    return pa.Table.from_pandas(frame[list(NODE_COLUMNS)], schema=NODE_SCHEMA, preserve_index=False)


def write_nodes(table: pa.Table | pd.DataFrame, path: Path) -> None:
    """Write a node table atomically (temp file + rename) with its schema version in metadata."""
    if isinstance(table, pd.DataFrame):
        table = frame_to_table(table)
    meta = dict(table.schema.metadata or {})
    meta[b"aira_eval.schema_version"] = str(SCHEMA_VERSION).encode()
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        pq.write_table(table, tmp)
    except BaseException:  # e.g. a full disk: leave no partial file taking its space
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def read_nodes(path: Path) -> pd.DataFrame:
    """Read a node table, rejecting files written by a newer schema than this version knows."""
    if not path.exists():
        raise DataError(f"no node table at {path}", hint="Run `aira-eval search` first.")
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(f"{path} is not a readable Parquet file: {err}",
                        hint=REBUILD_HINT) from err
    raw = meta.get(b"aira_eval.schema_version")
    version = int(raw) if raw is not None else None
    if version is None:
        raise DataError(
            f"{path} has no aira_eval schema version: it was not written by aira-eval",
            hint="Pass a nodes.parquet written by `aira-eval search` or `aira-eval import`.",
        )
    if version > SCHEMA_VERSION:
        raise DataError(
            f"{path} has node-table schema version {version}, newer than the {SCHEMA_VERSION} "
            "this aira-eval reads",
            hint="Upgrade aira-eval (pip install -U aira-eval) to read it.",
        )
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"{path} is corrupt (its data cannot be read): {err}",
                        hint=REBUILD_HINT) from err
    frame = _with_added_columns(frame)
    validate_nodes(frame, str(path))
    return frame


ADDED_COLUMNS = ("description", "injected_bug", "duplicate_of")
"""Columns added to schema version 1 after it was first written: a table without them (an
older study) reads with their defaults."""


def _with_added_columns(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ADDED_COLUMNS if c not in frame.columns]
    if not missing:
        return frame
    frame = frame.copy()
    for column in missing:
        frame[column] = pa.array([_DEFAULTS[column]] * len(frame), NODE_SCHEMA.field(column).type
                                 ).to_pandas()
    return frame[[c for c in NODE_COLUMNS if c in frame.columns]
                 + [c for c in frame.columns if c not in NODE_COLUMNS]]


REBUILD_HINT = ("The journals (searches/*/journal.jsonl) are the source of truth: delete "
                "nodes.parquet and it is rebuilt from them (in memory by readers, on disk by "
                "the next `aira-eval search --resume`).")
_SCORES = ("score_val", "score_search", "score_select", "score_test")


def validate_nodes(frame: pd.DataFrame, where: str) -> None:
    """Reject a node table no reader can trust: missing columns, a node id on two rows,
    infinite scores, or a valid node without a test score (``valid`` means graded on test).

    Raises:
        DataError: naming what is wrong, with :data:`REBUILD_HINT`.
    """
    missing = [c for c in NODE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{where} lacks node-table column(s) {missing}", hint=REBUILD_HINT)
    dup = frame["node_id"][frame.duplicated(["search_id", "node_id"])]
    if len(dup):
        raise DataError(
            f"{where} has {len(dup)} duplicated node id(s), e.g. {list(dup.astype(str)[:3])}: "
            "each node of a search must be one row",
            hint=REBUILD_HINT + " A journal with repeated nodes was written by two runs at "
            "once: keep one line per node id.")
    for column in _SCORES:
        values = frame[column].to_numpy(dtype=float)
        bad = int(np.isinf(values).sum())
        if bad:
            raise DataError(f"{where} has {bad} infinite value(s) in {column}: a score must be "
                            "finite (or missing)", hint=REBUILD_HINT)
    orphan = frame["valid"].to_numpy(dtype=bool) & np.isnan(frame["score_test"].to_numpy(float))
    if orphan.any():
        ids = list(frame.loc[orphan, "node_id"].astype(str)[:3])
        raise DataError(f"{where} has {int(orphan.sum())} node(s) marked valid without a test "
                        f"score, e.g. {ids}", hint=REBUILD_HINT)
