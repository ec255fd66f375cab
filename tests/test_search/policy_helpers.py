"""Scripted journals for policy tests: build blinded nodes by hand, apply actions, compare."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.policies.base import Action

BUGGY = None  # an outcome without fitness: the node failed


def make_node(
    node_id: str,
    step: int,
    operator: str = "draft",
    parents: Sequence[str] = (),
    fitness: float | None = None,
    status: str | None = None,
    exec_time: float = 1.0,
    meta: dict[str, Any] | None = None,
    debug_depth: int = 0,
) -> NodeView:
    """One blinded node; ``status`` defaults to ok with a fitness, buggy without."""
    return NodeView(
        node_id=node_id,
        step=step,
        operator=operator,
        parent_ids=tuple(parents),
        depth=0,
        debug_depth=debug_depth,
        status=status or ("ok" if fitness is not None else "buggy"),
        reason=None,
        plan="",
        code="",
        config={},
        stdout_tail="",
        score_val=fitness,
        val_folds=(),
        fitness=fitness,
        analysis="",
        exec_time=exec_time,
        meta=dict(meta or {}),
    )


@dataclass
class Scripted:
    """A growing scripted journal."""

    nodes: list[NodeView] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(
        self,
        operator: str = "draft",
        parents: str | Sequence[str] = (),
        fitness: float | None = None,
        **kw: Any,
    ) -> str:
        """Append a node, return its id (``n<step>``)."""
        parent_ids = (parents,) if isinstance(parents, str) else tuple(parents)
        step = len(self.nodes)
        depth = 0
        if operator == "debug" and parent_ids:
            depth = self.by_id(parent_ids[0]).debug_depth + 1
        node = make_node(f"n{step}", step, operator, parent_ids, fitness, debug_depth=depth, **kw)
        self.nodes.append(node)
        return node.node_id

    def by_id(self, node_id: str) -> NodeView:
        return next(n for n in self.nodes if n.node_id == node_id)

    def apply(
        self,
        actions: Sequence[Action],
        outcomes: Sequence[float | None],
        exec_time: float = 1.0,
    ) -> list[str]:
        """Run ``actions`` with the given fitness outcomes (``BUGGY`` for a failure)."""
        assert len(actions) == len(outcomes)
        return [
            self.add(a.operator, a.parent_ids, f, meta=a.meta, exec_time=exec_time)
            for a, f in zip(actions, outcomes, strict=True)
        ]

    def view(self) -> JournalView:
        return JournalView(list(self.nodes), elapsed_s=self.elapsed_s)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def summary(actions: Sequence[Action]) -> list[tuple[str, tuple[str, ...]]]:
    """(operator, parents) of each action, for compact assertions."""
    return [(a.operator, a.parent_ids) for a in actions]
