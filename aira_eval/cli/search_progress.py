"""Rich progress display for ``aira-eval search``: nodes done, best validation, time.

Several searches run at once, so every row keeps its own state (keyed by search id); the
totals come from the study's effective config (the stored one on ``--resume``).
"""

from __future__ import annotations

import threading
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


class StudyProgress:
    """One bar for the study and one per search."""

    def __init__(self, console: Console) -> None:
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
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def events(self) -> Any:
        from aira_eval.search.study_runner import StudyEvents

        return StudyEvents(self._search_start, self._node, self._search_end, self._study_start)

    def _study_start(self, config: Any, n_searches: int) -> None:
        self.steps = int(config.steps)
        self.study_task = self.progress.add_task("study", total=n_searches * self.steps, best="")

    def _search_start(self, plan: Any, done: int, lower_is_better: bool) -> None:
        with self.lock:
            task_id = self.progress.add_task(
                plan.search_id, total=self.steps, completed=done, best="best val: -"
            )
            self.rows[plan.search_id] = _Row(task_id, lower_is_better)
            if self.study_task is not None:
                self.progress.advance(self.study_task, done)

    def _node(self, plan: Any, node: Any) -> None:
        with self.lock:
            row = self.rows[plan.search_id]
            val = node.scores.get("val") if node.status == "ok" else None
            if val is not None and (
                row.best is None or (val < row.best if row.lower_is_better else val > row.best)
            ):
                row.best = float(val)
            best = f"best val: {row.best:.5g}" if row.best is not None else "best val: -"
            self.progress.update(row.task_id, advance=1, best=f"{best} [{node.status}]")
            if self.study_task is not None:
                self.progress.advance(self.study_task, 1)

    def _search_end(self, plan: Any, outcome: Any) -> None:
        with self.lock:
            row = self.rows.get(plan.search_id)
            if row is not None:
                best = f"best val: {row.best:.5g}" if row.best is not None else "no valid node"
                self.progress.update(row.task_id, best=f"{best} ({outcome.stopped})")
