"""Per-search records of a study: ``search.json`` and the node table rebuilt from the journals.

``searches/<id>/search.json`` holds the search's fixed columns (:class:`SearchMeta`), its
parameters and, once it ends, its outcome. ``nodes.parquet`` is derived: one
:func:`node_record` per journaled node, rebuilt by :class:`NodeTableBuilder`.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from aira_eval.study.journal import JournalFile
from aira_eval.study.node import Node
from aira_eval.study.table import SCHEMA_VERSION, records_to_table, write_nodes


@dataclass(frozen=True)
class SearchMeta:
    """Per-search columns of the node table."""

    study_id: str
    search_id: str
    task: str
    policy: str
    operators: str
    seed: int
    fitness: str
    lower_is_better: bool
    description: str = "original"  # the task description agents got: original | obfuscated


def node_record(node: Node, meta: SearchMeta) -> dict[str, Any]:
    """One node-table row for ``node``."""

    def score(name: str) -> float:
        value = node.scores.get(name)
        return float(value) if value is not None else math.nan

    return {
        "schema_version": SCHEMA_VERSION,
        "study_id": meta.study_id,
        "search_id": meta.search_id,
        "task": meta.task,
        "policy": meta.policy,
        "operators": meta.operators,
        "seed": meta.seed,
        "fitness": meta.fitness,
        "oracle_run": meta.fitness == "test",
        "description": meta.description,
        "node_id": node.node_id,
        "parent_ids": list(node.parent_ids),
        "step": node.step,
        "operator": node.operator,
        "depth": node.depth,
        "debug_depth": node.debug_depth,
        "status": node.status,
        "reason": node.reason,
        "injected_bug": _injected_bug(node),
        "duplicate_of": node.duplicate_of,
        "valid": node.status == "ok" and "test" in node.scores,
        "lower_is_better": meta.lower_is_better,
        "score_val": score("val"),
        "val_folds": [float(f) for f in node.val_folds],
        "score_search": score("search"),
        "score_select": score("select"),
        "score_test": score("test"),
        "n_search": int(node.heldout_sizes.get("search", 0)),
        "n_select": int(node.heldout_sizes.get("select", 0)),
        "n_test": int(node.heldout_sizes.get("test", 0)),
        "exec_time": float(node.exec_time),
        "started_at": float(node.started_at),
        "finished_at": float(node.finished_at),
        "isolation": node.isolation,
        "code_path": node.code_path,
        "prompt_tokens": int(node.usage.prompt_tokens),
        "completion_tokens": int(node.usage.completion_tokens),
        "cost_usd": float(node.usage.cost_usd),
    }


def _injected_bug(node: Node) -> str | None:
    """The bug a procedural operator put in the node's script on purpose (None: none)."""
    bug = node.config.get("bug") if isinstance(node.config, dict) else None
    return bug if isinstance(bug, str) else None


def search_meta_path(search_dir: Path) -> Path:
    return search_dir / "search.json"


def write_search_meta(search_dir: Path, meta: SearchMeta, extra: dict[str, Any]) -> None:
    """Write ``search.json`` atomically: concurrent searches rebuild the node table, which reads
    every search's ``search.json``, so a reader must never see a half-written file."""
    search_dir.mkdir(parents=True, exist_ok=True)
    payload = {**meta.__dict__, **extra}
    path = search_meta_path(search_dir)
    tmp = path.with_suffix(f".json.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)


def read_search_meta(search_dir: Path) -> SearchMeta:
    raw = json.loads(search_meta_path(search_dir).read_text())
    names = SearchMeta.__dataclass_fields__
    return SearchMeta(**{k: raw[k] for k in names if k in raw or k != "description"})


class NodeTableBuilder:
    """Rebuilds ``STUDY/nodes.parquet`` from the journals, re-reading only the journals that
    changed since the last rebuild (a study rebuilds its table after every search, so without
    the cache it would re-parse every finished search's journal each time)."""

    def __init__(self, study_dir: Path) -> None:
        self.study_dir = study_dir
        self._cache: dict[Path, tuple[tuple[int, int], list[dict[str, Any]]]] = {}
        self._lock = threading.RLock()
        #: journal path -> the 1-based number of the torn last line its last read dropped
        self.torn: dict[Path, int] = {}

    def _records(self, search_dir: Path) -> list[dict[str, Any]]:
        journal = search_dir / "journal.jsonl"
        stat = journal.stat() if journal.exists() else None
        key = (stat.st_mtime_ns, stat.st_size) if stat else (0, 0)
        cached = self._cache.get(search_dir)
        if cached is None or cached[0] != key:
            meta = read_search_meta(search_dir)
            reader = JournalFile(journal)
            nodes = sorted(reader.read(), key=lambda n: n.step)
            if reader.torn_line is None:
                self.torn.pop(journal, None)
            else:
                self.torn[journal] = reader.torn_line
            cached = (key, [node_record(n, meta) for n in nodes])
            self._cache[search_dir] = cached
        return cached[1]

    def table(self) -> pa.Table:
        """The node table of every search's journal, in memory. Thread-safe."""
        with self._lock:
            records: list[dict[str, Any]] = []
            for search_dir in sorted((self.study_dir / "searches").glob("*")):
                if search_meta_path(search_dir).exists():
                    records.extend(self._records(search_dir))
            return records_to_table(records)

    def rebuild(self) -> int:
        """Write the table (atomically); returns its row count. Thread-safe."""
        with self._lock:
            table = self.table()
            write_nodes(table, self.study_dir / "nodes.parquet")
            return int(table.num_rows)


def rebuild_node_table(study_dir: Path) -> int:
    """Rebuild ``STUDY/nodes.parquet`` from every search's journal; returns the row count."""
    return NodeTableBuilder(study_dir).rebuild()
