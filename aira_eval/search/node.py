"""Search nodes: one complete solution script, its run, and its grades.

A :class:`Node` is the full record (journal line); a :class:`NodeView` is what policies and
operators may see: no ``test`` or ``select`` score, only a ``fitness`` value oriented so that
higher is better (``None`` for a node without a usable score).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pending", "ok", "buggy", "timeout", "invalid_submission", "error"]
OperatorName = Literal["draft", "improve", "debug", "crossover"]
FitnessSignal = Literal["val", "search", "test"]

# Held-out sets a policy/operator may never see, per fitness signal.
_HIDDEN_FROM_POLICY = ("test", "select")


@dataclass
class Usage:
    """LLM usage of one node (zero for procedural operators)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    latency_s: float = 0.0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.calls += other.calls
        self.latency_s += other.latency_s


@dataclass
class Node:
    """The full record of one search node, as written to the journal.

    Attributes:
        scores: held-out set name -> score (``val`` from the script's own report; ``search``,
            ``select``, ``test`` graded by the harness). Absent keys mean no score.
        heldout_sizes: held-out set name -> rows graded.
        config: operator-specific description of the solution (the procedural pipeline, or
            the LLM's plan metadata); used for memory and crossover.
        batch: the policy batch this node was proposed in (for deterministic resume).
    """

    node_id: str
    search_id: str
    step: int
    batch: int
    operator: OperatorName
    parent_ids: list[str] = field(default_factory=list)
    depth: int = 0
    debug_depth: int = 0
    status: Status = "pending"
    reason: str | None = None
    plan: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    code_path: str | None = None
    stdout_tail: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    val_folds: list[float] = field(default_factory=list)
    heldout_sizes: dict[str, int] = field(default_factory=dict)
    exec_time: float = math.nan
    started_at: float = math.nan
    finished_at: float = math.nan
    isolation: str = "none"
    isolation_note: str | None = None
    analysis: str = ""
    usage: Usage = field(default_factory=Usage)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_buggy(self) -> bool:
        return self.status in ("buggy", "timeout", "invalid_submission", "error")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Node:
        data = dict(raw)
        data["usage"] = Usage(**data.get("usage", {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def oriented(score: float | None, lower_is_better: bool) -> float | None:
    """Score oriented so that higher is better; None/NaN -> None."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    return -score if lower_is_better else score


@dataclass(frozen=True)
class NodeView:
    """A blinded node: what policies and operators may read.

    ``fitness`` is the steering signal (``val``, ``search``, or — for oracle runs only —
    ``test``) oriented so higher is better; ``None`` when the node has no usable score.
    ``score_val`` is the script's own validation score in the metric's direction.
    ``meta`` is the policy bookkeeping of the action that created the node
    (:attr:`aira_eval.search.policies.base.Action.meta`, stored as ``Node.meta``).
    """

    node_id: str
    step: int
    operator: str
    parent_ids: tuple[str, ...]
    depth: int
    debug_depth: int
    status: str
    reason: str | None
    plan: str
    code: str
    config: dict[str, Any]
    stdout_tail: str
    score_val: float | None
    val_folds: tuple[float, ...]
    fitness: float | None
    analysis: str
    exec_time: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_good(self) -> bool:
        return self.status == "ok" and self.fitness is not None

    @property
    def is_buggy(self) -> bool:
        """Failed, or ok without a usable score (AIDE counts a missing metric as a bug)."""
        return not self.is_good


def blind(node: Node, signal: FitnessSignal, lower_is_better: bool) -> NodeView:
    """The view of ``node`` a policy/operator gets under fitness ``signal``.

    ``test`` and ``select`` never appear in the view; with ``signal="test"`` (an oracle run)
    the fitness itself comes from test, which is why such runs are marked everywhere.
    """
    raw = node.scores.get(signal) if node.status == "ok" else None
    return NodeView(
        node_id=node.node_id,
        step=node.step,
        operator=node.operator,
        parent_ids=tuple(node.parent_ids),
        depth=node.depth,
        debug_depth=node.debug_depth,
        status=node.status,
        reason=node.reason,
        plan=node.plan,
        code=node.code,
        config=dict(node.config),
        stdout_tail=node.stdout_tail,
        score_val=node.scores.get("val"),
        val_folds=tuple(node.val_folds),
        fitness=oriented(raw, lower_is_better),
        analysis=node.analysis,
        exec_time=node.exec_time,
        meta=dict(node.meta),
    )
