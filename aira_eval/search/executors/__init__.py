"""Node executors: where a study's nodes run (propose, sandbox run, grading).

``local`` runs nodes on threads of this process, sharing the study's ``workers`` slots;
``ray`` sends every node to a Ray cluster as a task with resource requests. Either way the
driver (the process running the study) stays the only writer of the journals: an executor
only turns ``(action, view, step, batch)`` into a finished :class:`~aira_eval.search.node.Node`
and hands it back through a :class:`~concurrent.futures.Future`; the engine journals it.

A node that does not finish (the search was stopped) raises
:class:`~aira_eval.search.runner.NodeCancelled` from its future and is re-run on resume.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aira_eval.errors import UsageError

if TYPE_CHECKING:
    from aira_eval.search.journal import JournalView
    from aira_eval.search.node import Node
    from aira_eval.search.policies.base import Action
    from aira_eval.search.runner import SearchContext

EXECUTORS = ("local", "ray")


class SearchExecutor(Protocol):
    """Runs the nodes of one search."""

    def submit(self, action: Action, view: JournalView, step: int, batch: int) -> Future[Node]:
        """Start one node; its future yields the finished node (or raises NodeCancelled)."""
        ...

    def cancel(self) -> None:
        """Kill the nodes in progress (their futures raise NodeCancelled)."""
        ...

    def close(self) -> None:
        """Wait for nothing more; release threads and handles."""
        ...


@dataclass(frozen=True)
class ContextSpec:
    """What a remote worker needs to rebuild a search's context (all picklable)."""

    config: dict[str, Any]
    study_dir: str
    search_id: str
    task_id: str
    policy: str
    seed: int
    task_info: Any  # the study's TaskInfo for the task (held-out sizes)

    def build(self) -> SearchContext:
        """The :class:`SearchContext` of this search, built from scratch on this machine."""
        from pathlib import Path

        from aira_eval.datasets.registry import resolve_task
        from aira_eval.search.config import StudyConfig
        from aira_eval.search.study_runner import SearchPlan, _context

        config = StudyConfig.from_dict(self.config)
        data_dir = Path(config.data_dir).expanduser() if config.data_dir else None
        task = resolve_task(self.task_id, data_dir=data_dir, heldouts=config.heldouts)
        plan = SearchPlan(self.search_id, self.task_id, self.policy, self.seed)
        return _context(config, Path(self.study_dir), plan, task, self.task_info)


class StudyExecutor(Protocol):
    """One per running study: hands each search its :class:`SearchExecutor`."""

    name: str
    dashboard_url: str | None

    def for_search(self, ctx: SearchContext, spec: ContextSpec, workers: int) -> SearchExecutor:
        ...

    def search_threads(self, searches: int, workers: int) -> int:
        """How many searches the driver runs at once."""
        ...

    def close(self) -> None:
        ...


@dataclass
class ExecutorOptions:
    """The study settings an executor reads."""

    name: str = "local"
    workers: int = 1
    ray_address: str | None = None
    cpus_per_node: float = 1.0
    memory_mb: int | None = None
    resources: dict[str, float] = field(default_factory=dict)
    max_retries: int = 3


def make_executor(options: ExecutorOptions) -> StudyExecutor:
    """The study executor called ``options.name`` (connects to Ray for ``ray``)."""
    if options.name == "local":
        from aira_eval.search.executors.local import LocalExecutor

        return LocalExecutor(options.workers)
    if options.name == "ray":
        from aira_eval.search.executors.ray import RayExecutor

        return RayExecutor(options)
    raise UsageError(f"unknown executor {options.name!r}",
                     hint=f"Use one of {', '.join(EXECUTORS)}.")
