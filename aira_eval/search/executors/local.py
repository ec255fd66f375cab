"""The local executor: nodes run on threads of the driver, sharing the study's worker slots."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from aira_eval.search.runner import execute_action
from aira_eval.search.sandbox import close_sandbox

if TYPE_CHECKING:
    from aira_eval.search.executors import ContextSpec
    from aira_eval.search.journal import JournalView
    from aira_eval.search.node import Node
    from aira_eval.search.policies.base import Action
    from aira_eval.search.runner import SearchContext


class LocalSearchExecutor:
    """Runs one search's nodes on ``workers`` threads; each holds one of ``slots`` (the
    study's shared worker slots, when given) while it runs."""

    def __init__(self, ctx: SearchContext, workers: int,
                 slots: threading.Semaphore | None = None) -> None:
        self.ctx = ctx
        self.slots = slots
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="node")

    def submit(self, action: Action, view: JournalView, step: int, batch: int) -> Future[Node]:
        return self.pool.submit(self._run, action, view, step, batch)

    def _run(self, action: Action, view: JournalView, step: int, batch: int) -> Node:
        if self.slots is None:
            return execute_action(self.ctx, action, view, step, batch)
        with self.slots:
            return execute_action(self.ctx, action, view, step, batch)

    def cancel(self) -> None:
        cancel = getattr(self.ctx.sandbox, "cancel", None)
        if callable(cancel):
            cancel()  # running scripts are killed; their nodes re-run on resume

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        close_sandbox(self.ctx.sandbox)  # e.g. docker's containers started ahead


class LocalExecutor:
    """The study-level local executor: ``workers`` nodes at once across all searches."""

    name = "local"
    dashboard_url: str | None = None

    def __init__(self, workers: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, workers))

    def for_search(self, ctx: SearchContext, spec: ContextSpec,
                   workers: int) -> LocalSearchExecutor:
        return LocalSearchExecutor(ctx, workers, self.slots)

    def search_threads(self, searches: int, workers: int) -> int:
        return max(1, min(searches, workers))

    def close(self) -> None:
        return None
