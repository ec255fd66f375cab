"""Where finished nodes go besides the journal and the node table: MLflow.

The journal is written first and is the source of truth; MLflow is derived and rebuildable. A
recorder failure (MLflow down, a server stopped) never stops a search or loses a node: the
recorder backs off, keeps the curves going, and what it could not log is logged on the next
run, on resume, or by ``aira-eval sync STUDY`` (:func:`aira_eval.search.mlflow_sync.sync_study`).

:class:`StudyLogger` does the logging (synchronously, idempotently: it asks the store which
nodes it already holds); :class:`MlflowRecorder` runs one in a background thread and batches
nodes, so a search only pays for putting a node on a queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.search.curves import CurvePoint, Curves
from aira_eval.study.manifest import StudyManifest, mlflow_experiment
from aira_eval.study.node import Node
from aira_eval.study.records import SearchMeta

log = logging.getLogger(__name__)


def outcome_summary(outcome: dict[str, Any]) -> dict[str, float]:
    """A search's summary metrics from its recorded outcome (the numbers of ``search.json``'s
    ``outcome``; ``stopped`` is text)."""
    return {k: float(v) for k, v in outcome.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


@dataclass
class _Search:
    meta: SearchMeta
    params: dict[str, Any]
    curves: Curves
    rows: list[CurvePoint] = field(default_factory=list)
    run_id: str | None = None
    logged: set[int] = field(default_factory=set)
    summary: dict[str, float] | None = None
    #: how the search ended: FINISHED, or KILLED when it was interrupted (resumable)
    end_status: str = "FINISHED"
    closed: bool = False
    #: the status a finished run had before a resumed search set it back to RUNNING
    reopened: str | None = None

    def last_end_ms(self) -> int | None:
        ends = [p.node.finished_at for p in self.rows if p.node.finished_at == p.node.finished_at]
        return int(max(ends) * 1000) if ends else None


@dataclass
class StudyLogger:
    """Logs one study's runs to one tracking store; every call may raise (the store is down).

    Attributes:
        live: the study is running now (the recorder's logger, not ``sync``'s): a study or
            search run found finished goes back to RUNNING until the search (study) ends.
        nodes_logged / runs_created: what this logger added to the store (for ``sync``).
    """

    tracking_uri: str
    study_dir: Path
    manifest: StudyManifest
    live: bool = False
    nodes_logged: int = 0
    runs_created: int = 0
    _client: Any = None
    _exp_id: str | None = None
    _study_run: str | None = None
    _searches: dict[str, _Search] = field(default_factory=dict)
    #: (operators, model) of the study's searches: on disk and registered here
    _agents: set[tuple[str, str]] | None = None

    def _connect(self) -> Any:
        from aira_eval.search import mlflow_log

        if self._client is None:
            self._client = mlflow_log.make_client(self.tracking_uri)
        if self._exp_id is None:
            local = mlflow_log.is_local(self.tracking_uri)
            root = self.study_dir / "mlartifacts" if local else None
            self._exp_id = mlflow_log.ensure_experiment(
                self._client, mlflow_experiment(self.manifest.study_id), root)
        if self._study_run is None:
            run_id, before = mlflow_log.study_run(self._client, self._exp_id, self.study_dir,
                                                  self.manifest)
            if self.live and before not in (None, "RUNNING"):
                self._client.update_run(run_id, status="RUNNING")  # the study resumed
            if before is not None:  # the config may have changed (a resume's budget)
                self._client.log_artifact(run_id, str(self.study_dir / "study.json"))
            mlflow_log.set_budget_tags(self._client, run_id, self.manifest.config)
            self._study_run = run_id
        return self._client

    @property
    def study_run_id(self) -> str | None:
        return self._study_run

    def unlogged(self) -> int:
        """Nodes registered here that the store does not hold (as far as this logger knows)."""
        return sum(1 for state in self._searches.values() for p in state.rows
                   if p.node.step not in state.logged)

    def open_search(self, meta: SearchMeta, params: dict[str, Any],
                    journaled: Iterable[Node] = ()) -> None:
        """Register a search and the nodes its journal already has, in the journal's order
        (the order they were recorded, as :meth:`add` receives later ones; no store call)."""
        state = _Search(meta, params, Curves(meta.lower_is_better))
        state.rows = [state.curves.add(n) for n in journaled]
        self._searches[meta.search_id] = state

    def add(self, search_id: str, node: Node) -> None:
        """The search's next recorded node (just appended to its journal)."""
        state = self._searches[search_id]
        state.rows.append(state.curves.add(node))

    def close_search(self, search_id: str, summary: dict[str, float],
                     status: str = "FINISHED") -> None:
        """The search ended: FINISHED, or KILLED when interrupted (``--resume`` continues it)."""
        state = self._searches[search_id]
        state.summary, state.end_status = summary, status

    def flush(self) -> None:
        """Send every search's missing nodes (and finished searches' summaries)."""
        for state in self._searches.values():
            self._flush_search(state)

    def _open_run(self, client: Any, state: _Search) -> str:
        from aira_eval.search import mlflow_log

        info = self.manifest.tasks.get(state.meta.task)
        start = min((p.node.started_at for p in state.rows), default=float("nan"))
        run_id, before = mlflow_log.search_run(
            client, str(self._exp_id), self._study_run, state.meta, state.params, info,
            int(start * 1000) if start == start else None, self._differ())
        self.runs_created += before is None
        mlflow_log.set_budget_tags(client, run_id, state.params)
        state.logged = set() if before is None else mlflow_log.logged_steps(client, run_id)
        if self.live and before not in (None, "RUNNING"):
            client.update_run(run_id, status="RUNNING")  # a resumed search runs again
            state.reopened = before
        # a finished run holds its summary; one left RUNNING (a killed study) is closed by
        # the search's summary, even when the search had ended and this run adds no node
        state.closed = state.closed or before == "FINISHED"
        return run_id

    def _flush_search(self, state: _Search) -> None:
        from aira_eval.search import mlflow_log

        client = self._connect()
        if state.run_id is None:
            state.run_id = self._open_run(client, state)
        todo = [p for p in state.rows if p.node.step not in state.logged]
        state.closed = state.closed and not todo  # new nodes: its summary is due again
        for i in range(0, len(todo), 50):
            chunk = todo[i:i + 50]
            mlflow_log.log_nodes(client, state.run_id, chunk, state.meta)
            state.logged.update(p.node.step for p in chunk)
            self.nodes_logged += len(chunk)
        if state.summary is not None and not state.closed:
            mlflow_log.close_run(client, state.run_id, state.summary, state.last_end_ms(),
                                 step=max(len(state.rows) - 1, 0), status=state.end_status)
            state.closed, state.reopened = True, None

    def _differ(self) -> frozenset[str]:
        """Which of operators and model the study's searches differ in (see
        :func:`~aira_eval.search.mlflow_log.search_run_name`)."""
        from aira_eval.search import mlflow_log

        if self._agents is None:
            self._agents = set(_agents_on_disk(self.study_dir))
        self._agents.update(mlflow_log.agent_fields(s.meta, s.params)
                            for s in self._searches.values())
        return frozenset(name for i, name in enumerate(("operators", "model"))
                         if len({agent[i] for agent in self._agents}) > 1)

    def finish_study(self, status: str = "FINISHED") -> None:
        """End the study run with ``status`` (FINISHED; KILLED: interrupted, FAILED: a search
        failed), and put back the status of runs this logger reopened and did not close again
        (a complete search in a resumed study: nothing to run)."""
        client = self._connect()
        for state in self._searches.values():
            if state.reopened is not None and state.run_id:
                client.set_terminated(state.run_id, status=state.reopened,
                                      end_time=state.last_end_ms())
                state.reopened = None
        client.set_terminated(self._study_run, status=status)


@dataclass
class MlflowRecorder:
    """Runs a :class:`StudyLogger` in a background thread, batching nodes (one flush at most
    every ``flush_every_s``: MLflow's per-call cost is shared by every node of a batch).

    After a failure it stops calling the store for ``backoff_s`` (a stopped server must not
    slow the search down), then retries; nodes keep being tracked meanwhile, so the next
    successful flush sends them all. An outage is reported once (``errors``, at the end), with
    the number of nodes still missing from the store; the details go to the debug log.
    """

    logger: StudyLogger
    backoff_s: float = 30.0
    flush_every_s: float = 2.0
    #: one line per outage of the store (set when the recorder finishes)
    errors: list[str] = field(default_factory=list)
    _outage: str | None = None
    _outages: list[str] = field(default_factory=list)
    _queue: queue.Queue[tuple[str, Any] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _down_until: float = 0.0
    _end_status: str = "FINISHED"
    #: the recorder thread's own cost: seconds spent logging (wall) and its CPU time
    busy_s: float = 0.0
    cpu_s: float = 0.0

    def start(self) -> None:
        self.logger.live = True  # the study runs now: finished runs it resumes run again
        from aira_eval.search.mlflow_log import RECORDER_THREAD

        self._thread = threading.Thread(target=self._loop, name=RECORDER_THREAD, daemon=True)
        self._thread.start()

    def open_search(self, meta: SearchMeta, params: dict[str, Any],
                    journaled: Iterable[Node] = ()) -> None:
        self._queue.put(("open", (meta, params, list(journaled))))

    def record(self, meta: SearchMeta, node: Node) -> None:
        self._queue.put(("node", (meta.search_id, node)))

    def close_search(self, meta: SearchMeta, summary: dict[str, float],
                     status: str = "FINISHED") -> None:
        self._queue.put(("close", (meta.search_id, summary, status)))

    def finish(self, timeout: float = 120.0, status: str = "FINISHED") -> None:
        """Log what is left, end the study run with ``status`` and stop the thread."""
        self._end_status = status
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _apply(self, kind: str, payload: Any) -> None:
        if kind == "open":
            self.logger.open_search(*payload)
        elif kind == "node":
            self.logger.add(*payload)
        elif kind == "close":
            self.logger.close_search(*payload)

    def _loop(self) -> None:
        cpu0 = time.thread_time()
        last_flush, done = 0.0, False
        while not done:
            wait = max(0.0, last_flush + self.flush_every_s - time.monotonic())
            try:  # take nodes as they come, send them at most every flush_every_s
                entry = self._queue.get(timeout=wait or None)
            except queue.Empty:
                entry = ("tick", None)
            if entry is None:
                done = True
            elif entry[0] != "tick":
                self._apply(*entry)
            if done or time.monotonic() >= last_flush + self.flush_every_s:
                self._flush()
                last_flush = time.monotonic()
        if self.logger.study_run_id is not None and time.monotonic() >= self._down_until:
            self._try("finish", lambda: self.logger.finish_study(self._end_status))
        self._report()
        self.cpu_s = time.thread_time() - cpu0

    def _flush(self) -> None:
        if time.monotonic() < self._down_until:
            return  # backing off (at the end too: ``aira-eval sync`` catches up)
        self._try("logging", self.logger.flush)

    def _try(self, what: str, call: Any) -> None:
        start = time.perf_counter()
        try:
            call()
            if self._outage is not None:
                log.info("MLflow %s works again after: %s", what, self._outage)
            self._outage = None
        except Exception as err:  # MLflow down or broken: note it once, back off, keep going
            self._down_until = time.monotonic() + self.backoff_s
            first_line = _gist(err)
            log.debug("MLflow %s failed", what, exc_info=True)
            if self._outage is None:  # one message per outage, not one per retry
                self._outage = f"MLflow {what} failed ({type(err).__name__}: {first_line})"
                self._outages.append(self._outage)
        finally:
            self.busy_s += time.perf_counter() - start

    def _report(self) -> None:
        """``errors``: one line per outage, saying how many nodes the store still lacks."""
        missing = self.logger.unlogged()
        tail = (f"{missing} node(s) not logged, all in the journal: `aira-eval sync "
                f"{self.logger.study_dir}` logs them" if missing else
                "every node was logged once it worked again")
        self.errors = [f"{msg}; {tail}" for msg in self._outages]
        for msg in self.errors:
            log.info(msg)  # the caller shows ``errors`` (the CLI: one warning line each)


def _agents_on_disk(study_dir: Path) -> list[tuple[str, str]]:
    """(operators, model) of every search the study dir holds (``searches/*/search.json``)."""
    import json

    out = []
    for path in sorted((study_dir / "searches").glob("*/search.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        params = raw.get("params") or {}
        out.append((str(raw.get("operators") or params.get("operators") or ""),
                    str(params.get("model") or "")))
    return out


def _gist(err: Exception) -> str:
    """One line of an error: the driver's own (``(sqlite3.OperationalError) database or disk
    is full``) rather than SQLAlchemy's notes or the SQL statement."""
    lines = [line.strip() for line in str(err).splitlines()
             if line.strip() and not line.strip().startswith("[")]
    named = [line for line in lines if "Error)" in line or "Error:" in line]
    return ((named or lines or [""])[0])[:200]
