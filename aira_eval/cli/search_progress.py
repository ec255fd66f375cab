"""Rich progress display for ``aira-eval search``: nodes done, best validation, time."""

from __future__ import annotations

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


class StudyProgress:
    """One bar for the study and one per running search."""

    def __init__(self, console: Console, config: Any) -> None:
        self.config = config
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        n = len(config.tasks) * len(config.policies) * len(config.seeds)
        self.study_task: TaskID = self.progress.add_task(
            "study", total=n * config.steps, best=""
        )
        self.search_task: TaskID | None = None
        self.best: float | None = None
        self.lower = False

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

        return StudyEvents(self._start, self._node, self._end)

    def _start(self, plan: Any, done: int, lower_is_better: bool) -> None:
        self.best = None
        self.lower = lower_is_better
        self.search_task = self.progress.add_task(
            plan.search_id, total=self.config.steps, completed=done, best="best val: -"
        )
        self.progress.advance(self.study_task, done)

    def _node(self, plan: Any, node: Any) -> None:
        val = node.scores.get("val") if node.status == "ok" else None
        if val is not None and (
            self.best is None or (val < self.best if self.lower else val > self.best)
        ):
            self.best = float(val)
        best = f"best val: {self.best:.5g}" if self.best is not None else "best val: -"
        if self.search_task is not None:
            self.progress.update(self.search_task, advance=1, best=f"{best} [{node.status}]")
        self.progress.advance(self.study_task, 1)

    def _end(self, plan: Any, outcome: Any) -> None:
        if self.search_task is not None:
            self.progress.update(self.search_task, best=f"{outcome.stopped}")
