"""Blinded views of search nodes: what policies and operators may see.

A :class:`~aira_eval.study.node.Node` is the full record (journal line); a :class:`NodeView` is
what policies and operators may see: no ``test`` or ``select`` score, only a ``fitness`` value
oriented so that higher is better (``None`` for a node without a usable score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aira_eval.study.node import (
    FitnessSignal,
    Node,
    OperatorName,
    Status,
    Usage,
    oriented,
)

__all__ = ["FitnessSignal", "Node", "NodeView", "OperatorName", "Status", "Usage", "blind",
           "oriented"]


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
