"""Where finished nodes go besides the journal: the study's node table and MLflow.

The journal is written first and is the source of truth; these recorders are derived and
rebuildable. A recorder failure (MLflow down, a full disk for Parquet) never stops a search or
loses a node: MLflow remembers which nodes it has logged and catches up on the next run.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.search.journal import JournalFile
from aira_eval.search.node import Node
from aira_eval.search.table import SCHEMA_VERSION, records_to_table, write_nodes

log = logging.getLogger(__name__)


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
        "node_id": node.node_id,
        "parent_ids": list(node.parent_ids),
        "step": node.step,
        "operator": node.operator,
        "depth": node.depth,
        "debug_depth": node.debug_depth,
        "status": node.status,
        "reason": node.reason,
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
    return SearchMeta(**{k: raw[k] for k in names})


class NodeTableBuilder:
    """Rebuilds ``STUDY/nodes.parquet`` from the journals, re-reading only the journals that
    changed since the last rebuild (a study rebuilds its table after every search, so without
    the cache it would re-parse every finished search's journal each time)."""

    def __init__(self, study_dir: Path) -> None:
        self.study_dir = study_dir
        self._cache: dict[Path, tuple[tuple[int, int], list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _records(self, search_dir: Path) -> list[dict[str, Any]]:
        journal = search_dir / "journal.jsonl"
        stat = journal.stat() if journal.exists() else None
        key = (stat.st_mtime_ns, stat.st_size) if stat else (0, 0)
        cached = self._cache.get(search_dir)
        if cached is None or cached[0] != key:
            meta = read_search_meta(search_dir)
            nodes = sorted(JournalFile(journal).read(), key=lambda n: n.step)
            cached = (key, [node_record(n, meta) for n in nodes])
            self._cache[search_dir] = cached
        return cached[1]

    def rebuild(self) -> int:
        """Write the table (atomically); returns its row count. Thread-safe."""
        with self._lock:
            records: list[dict[str, Any]] = []
            for search_dir in sorted((self.study_dir / "searches").glob("*")):
                if search_meta_path(search_dir).exists():
                    records.extend(self._records(search_dir))
            write_nodes(records_to_table(records), self.study_dir / "nodes.parquet")
            return len(records)


def rebuild_node_table(study_dir: Path) -> int:
    """Rebuild ``STUDY/nodes.parquet`` from every search's journal; returns the row count."""
    return NodeTableBuilder(study_dir).rebuild()


@dataclass
class MlflowRecorder:
    """Logs searches and nodes to MLflow from a background thread.

    One MLflow run per search (params: task, policy, operators, seed, budgets; tags), every
    node as step-indexed metrics ``score_<set>`` plus ``nodes/<node-id>/node.json`` and
    ``nodes/<node-id>/code.py`` artifacts. Logged node ids are remembered in
    ``<search>/mlflow.json`` so a resumed search logs exactly the missing ones.
    """

    tracking_uri: str
    experiment: str
    artifact_root: Path
    errors: list[str] = field(default_factory=list)
    _queue: queue.Queue[tuple[str, Any] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mlflow-recorder", daemon=True)
        self._thread.start()

    def open_search(self, search_dir: Path, meta: SearchMeta, params: dict[str, Any]) -> None:
        self._queue.put(("open", (search_dir, meta, params)))

    def record(self, search_dir: Path, node: Node, meta: SearchMeta) -> None:
        self._queue.put(("node", (search_dir, node, meta)))

    def close_search(self, search_dir: Path, summary: dict[str, float]) -> None:
        self._queue.put(("close", (search_dir, summary)))

    def finish(self, timeout: float = 120.0) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        from aira_eval.search import mlflow_log

        client = None
        while (item := self._queue.get()) is not None:
            kind, payload = item
            try:
                if client is None:
                    client = mlflow_log.make_client(self.tracking_uri)
                mlflow_log.handle(client, self.experiment, self.artifact_root, kind, payload)
            except Exception as err:  # MLflow down or broken: warn, keep going
                msg = f"MLflow {kind} failed: {type(err).__name__}: {err}"
                log.warning(msg)
                self.errors.append(msg)


def catch_up_nodes(search_dir: Path, nodes: Iterable[Node]) -> list[Node]:
    """Of a search's journaled ``nodes``, those MLflow has not logged yet (on resume)."""
    state = search_dir / "mlflow.json"
    logged: set[str] = set()
    if state.exists():
        logged = set(json.loads(state.read_text()).get("logged", []))
    return [n for n in nodes if n.node_id not in logged]
