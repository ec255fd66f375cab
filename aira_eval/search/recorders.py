"""Where finished nodes go besides the journal and the node table: MLflow.

The journal is written first and is the source of truth; these recorders are derived and
rebuildable. A recorder failure (MLflow down, a full disk for Parquet) never stops a search or
loses a node: MLflow remembers which nodes it has logged and catches up on the next run.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.study.node import Node
from aira_eval.study.records import SearchMeta

log = logging.getLogger(__name__)


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
