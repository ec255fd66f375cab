"""The operator interface every family (procedural, llm) implements.

Operators see only blinded :class:`~aira_eval.search.node.NodeView` objects and the public
side of a task (:class:`TaskBrief`); they never see private answers or test scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np

from aira_eval.datasets.problem import ProblemSpec
from aira_eval.errors import DataError
from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView, Usage

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task

MemoryScope = Literal["none", "simple", "sibling", "ancestral"]
MEMORY_SCOPES: tuple[str, ...] = get_args(MemoryScope)
Complexity = Literal["minimal", "moderate", "advanced"]


@dataclass(frozen=True)
class TaskBrief:
    """The agent-facing side of a task: everything an operator may know about it.

    Attributes:
        task_id: e.g. ``builtin:breast-cancer``.
        problem: files, id/label/submission columns, prediction kind, metric, direction.
        description: the task's description.md text.
        public_dir: the directory the script will see as ``./input/`` (operators may read it
            for a data preview; it never holds private answers).
        time_limit_s: the per-node time limit the script runs under.
    """

    task_id: str
    problem: ProblemSpec
    description: str
    public_dir: Path
    time_limit_s: float

    @classmethod
    def from_task(cls, task: Task, time_limit_s: float) -> TaskBrief:
        """The brief of ``task`` under a per-node time limit."""
        if task.problem is None:
            raise DataError(
                f"task {task.task_id} has no problem spec (files, columns, prediction kind), "
                "so no solution script can be generated for it",
                hint="Use a task with a built-in spec, or describe it in a task YAML.",
            )
        return cls(task_id=task.task_id, problem=task.problem, description=task.description(),
                   public_dir=task.public_dir, time_limit_s=float(time_limit_s))


@dataclass(frozen=True)
class PendingNode:
    """A node proposed earlier in the same policy batch, not yet run (so not in the journal).

    Only operator families that can re-derive their batch siblings' proposals cheaply and
    deterministically get these (``replays_batch = True``, the procedural family): it lets
    them avoid proposing a sibling's script again.
    """

    node_id: str
    code: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class OperatorContext:
    """Per-call context: the task, a seeded RNG, the memory in scope, the complexity cue.

    ``rng`` is derived from (search seed, step) so a resumed search proposes the same code.
    ``pending`` holds the earlier proposals of the same batch (see :class:`PendingNode`).
    """

    brief: TaskBrief
    rng: np.random.Generator
    step: int
    journal: JournalView
    memory: Sequence[NodeView] = ()
    complexity: Complexity = "minimal"
    pending: Sequence[PendingNode] = ()


@dataclass
class Proposal:
    """What an operator returns: a complete script plus its plan and config.

    ``config`` is a JSON-serialisable description of the solution (e.g. the procedural
    pipeline); ``error`` is set (and ``code`` empty) when generation failed, e.g. an LLM that
    never returned parsable code within its retries. ``duplicate_of`` names an earlier node of
    the search whose code is byte-identical to ``code`` (the operator reports it; see
    :func:`find_duplicate`).
    """

    code: str
    plan: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    duplicate_of: str | None = None


@dataclass
class Analysis:
    """Reading of a finished run: is it a bug, a summary, and a metric if the script gave none."""

    is_bug: bool
    summary: str
    metric: float | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class RunOutcome:
    """What ``analyze`` reads of a finished run (never test scores)."""

    exit_code: int | None
    timed_out: bool
    oom: bool
    stdout_tail: str
    stderr_tail: str
    reported_score: float | None
    has_submission: bool
    exec_time: float


class Operators(Protocol):
    """One operator family. Each method is deterministic given ``ctx.rng``."""

    name: str

    def draft(self, ctx: OperatorContext) -> Proposal: ...

    def improve(self, ctx: OperatorContext, parent: NodeView) -> Proposal: ...

    def debug(self, ctx: OperatorContext, parent: NodeView) -> Proposal: ...

    def crossover(self, ctx: OperatorContext, a: NodeView, b: NodeView) -> Proposal: ...

    def analyze(self, ctx: OperatorContext, node: NodeView, outcome: RunOutcome) -> Analysis: ...


def code_hash(code: str) -> str:
    """SHA-256 of a script's bytes (UTF-8): equal hashes mean byte-identical ``code.py``."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def known_codes(ctx: OperatorContext) -> dict[str, str]:
    """Code hash -> id of the earliest node with that code, over every node of the search
    (whatever the memory scope: a duplicate is a fact about the search, not a memory) and
    the batch's pending proposals."""
    out: dict[str, str] = {}
    for node_id, code in [*((n.node_id, n.code) for n in ctx.journal.nodes),
                          *((p.node_id, p.code) for p in ctx.pending)]:
        if code.strip():
            out.setdefault(code_hash(code), node_id)
    return out


def find_duplicate(ctx: OperatorContext, code: str) -> str | None:
    """The id of an earlier node (journaled or pending) whose code is byte-identical to
    ``code``, or None (an empty script is never a duplicate: it is an operator failure)."""
    return known_codes(ctx).get(code_hash(code)) if code.strip() else None


def complexity_cue(journal: JournalView, parent: NodeView | None) -> Complexity:
    """AIRA's cue: minimal / moderate / advanced when the node has < 2, < 4, or more children.

    For a draft (no parent) the root's children are the existing drafts.
    """
    n = len(journal.drafts) if parent is None else len(journal.children.get(parent.node_id, []))
    if n < 2:
        return "minimal"
    if n < 4:
        return "moderate"
    return "advanced"


def memory_for(
    journal: JournalView, scope: MemoryScope, parent: NodeView | None
) -> list[NodeView]:
    """Nodes an operator may remember under ``scope``.

    - ``none``: nothing;
    - ``simple``: every node of the search (AIDE's journal summary);
    - ``sibling``: the other children of ``parent`` (the drafts, for a draft);
    - ``ancestral``: the path from ``parent`` up to its root, nearest first, ``parent`` included.
    """
    if scope == "none":
        return []
    if scope == "simple":
        return list(journal.nodes)
    if scope == "sibling":
        if parent is None:
            return list(journal.drafts)
        return list(journal.children.get(parent.node_id, []))
    if parent is None:
        return []
    return [parent, *journal.ancestors(parent.node_id)]
