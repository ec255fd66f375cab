"""The node table contract: schema, defaults, versioning."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aira_eval.errors import DataError
from aira_eval.study.table import (
    NODE_COLUMNS,
    SCHEMA_VERSION,
    read_nodes,
    records_to_table,
    write_nodes,
)

BASE = {
    "search_id": "s", "task": "builtin:wine", "policy": "greedy", "seed": 0, "node_id": "n0",
    "step": 0, "operator": "draft", "status": "ok", "valid": True, "lower_is_better": True,
}


def test_roundtrip_with_defaults(tmp_path: Path) -> None:
    table = records_to_table([{**BASE, "score_val": 0.2, "score_test": 0.3, "val_folds": [0.1]}])
    write_nodes(table, tmp_path / "nodes.parquet")
    frame = read_nodes(tmp_path / "nodes.parquet")
    assert list(frame.columns) == list(NODE_COLUMNS)
    row = frame.iloc[0]
    assert row["schema_version"] == SCHEMA_VERSION
    assert row["score_test"] == 0.3
    assert list(row["val_folds"]) == [0.1]
    assert row["score_search"] != row["score_search"]  # NaN default


def test_missing_required_field_is_reported() -> None:
    bad = dict(BASE)
    del bad["status"]
    with pytest.raises(DataError, match="status"):
        records_to_table([bad])


def test_newer_schema_is_rejected(tmp_path: Path) -> None:
    table = records_to_table([BASE])
    meta = {b"aira_eval.schema_version": str(SCHEMA_VERSION + 1).encode()}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "nodes.parquet")
    with pytest.raises(DataError, match="newer"):
        read_nodes(tmp_path / "nodes.parquet")


def test_foreign_parquet_is_rejected(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(DataError, match="not written by aira-eval"):
        read_nodes(tmp_path / "other.parquet")
