"""Progress of ``aira-eval search``: nodes done, best validation so far, time.

On a terminal, rich bars (one for the study, one per search); elsewhere (CI, nohup, a log
file) one plain line per finished node, so a redirected run is never silent. Several searches
run at once, so every row keeps its own state (keyed by search id); the totals come from the
study's effective config (the stored one on ``--resume``), and the best validation score
counts the nodes journaled before a resume too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@dataclass
class _Row:
    task_id: TaskID
    lower_is_better: bool
    best: float | None = None
    done: int = 0

    def offer(self, node: Any) -> None:
        """Count a finished node; keep its validation score if it is the best so far."""
        self.done += 1
        val = node.scores.get("val") if node.status == "ok" else None
        if val is not None and (self.best is None or (
                val < self.best if self.lower_is_better else val > self.best)):
            self.best = float(val)

    @property
    def best_text(self) -> str:
        return f"best val: {self.best:.5g}" if self.best is not None else "best val: -"


class StudyProgress:
    """One bar for the study and one per search."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.plain = not console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.study_task: TaskID | None = None
        self.steps = 0
        self.rows: dict[str, _Row] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> StudyProgress:
        if not self.plain:
            self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.plain:
            self.progress.stop()

    def _line(self, text: str) -> None:
        """A plain progress line (no terminal): time-stamped, never wrapped."""
        self.console.print(f"{time.strftime('%H:%M:%S')} {text}", highlight=False,
                           markup=False, soft_wrap=True)

    def events(self) -> Any:
        from aira_eval.search.study_runner import StudyEvents

        return StudyEvents(self._search_start, self._node, self._search_end, self._study_start)

    def _study_start(self, config: Any, n_searches: int) -> None:
        self.steps = int(config.steps)
        self.study_task = self.progress.add_task("study", total=n_searches * self.steps, best="")
        if self.plain:
            self._line(f"study: {n_searches} searches × {self.steps} steps")

    def _search_start(self, plan: Any, journaled: list[Any], lower_is_better: bool) -> None:
        with self.lock:
            task_id = self.progress.add_task(plan.search_id, total=self.steps,
                                             completed=len(journaled), best="")
            row = _Row(task_id, lower_is_better)
            for node in journaled:
                row.offer(node)
            self.rows[plan.search_id] = row
            self.progress.update(task_id, best=row.best_text)
            if self.study_task is not None:
                self.progress.advance(self.study_task, len(journaled))
            if self.plain and journaled:
                self._line(f"{plan.search_id}: resumed at {row.done}/{self.steps} "
                           f"({row.best_text})")

    def _node(self, plan: Any, node: Any) -> None:
        with self.lock:
            row = self.rows[plan.search_id]
            row.offer(node)
            self.progress.update(row.task_id, advance=1, best=f"{row.best_text} [{node.status}]")
            if self.study_task is not None:
                self.progress.advance(self.study_task, 1)
            if self.plain:
                self._line(f"{plan.search_id}: step {row.done}/{self.steps} {node.status} "
                           f"({row.best_text})")

    def _search_end(self, plan: Any, outcome: Any) -> None:
        with self.lock:
            row = self.rows.get(plan.search_id)
            if row is None:
                return
            best = row.best_text if row.best is not None else "no valid node"
            self.progress.update(row.task_id, best=f"{best} ({outcome.stopped})")
            if self.plain:
                self._line(f"{plan.search_id}: done, {row.done} nodes, {best} "
                           f"({outcome.stopped})")
