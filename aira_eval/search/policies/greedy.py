"""AIDE's greedy search policy, plus the node predicates the other policies share.

The rule (``aide/agent.py`` ``Agent.search_policy`` in WecoAI/aideml), evaluated on the
journal at every call:

1. while fewer than ``num_drafts`` drafts exist: draft;
2. with probability ``debug_prob``: debug a uniformly random *debuggable* node — a failed
   leaf whose debug depth is ``<= max_debug_depth`` (AIDE's code uses ``<=``; its comment says
   ``<``; we follow the code, so a debug chain can grow to ``max_debug_depth + 1`` steps);
   when no node is debuggable, fall through;
3. while no good node exists: draft;
4. otherwise: improve the best good node (highest fitness, earliest on ties — AIDE's
   ``max`` over the journal order).

Like AIDE, the debug coin is tossed at every call after the initial drafts, whether or not a
debuggable node exists, so the RNG stream does not depend on the journal's shape.

Batching: the initial drafts are independent, so up to ``max_batch`` of them go out at once;
afterwards greedy is sequential (each decision depends on the previous result) and proposes
one action per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.policies.base import Action, ParamPolicy


def debug_depth(journal: JournalView, node: NodeView) -> int:
    """AIDE's debug depth: consecutive ``debug`` steps ending at ``node`` (0 for a non-debug).

    Derived from the operators in the journal rather than ``NodeView.debug_depth`` so the rule
    does not depend on how the engine fills that field.
    """
    depth = 0
    cur: NodeView | None = node
    while cur is not None and cur.operator == "debug" and cur.parent_ids:
        depth += 1
        cur = journal.by_id.get(cur.parent_ids[0])
    return depth


def debuggable_leaves(journal: JournalView, max_debug_depth: int) -> list[NodeView]:
    """Failed leaves with debug depth ``<= max_debug_depth``, in step order (AIDE's rule).

    "Failed" is :attr:`NodeView.is_buggy`: not ``ok``, or ``ok`` without a usable fitness (AIDE
    marks a node buggy when its metric is missing, so such a run is debugged, not improved).
    """
    return [n for n in journal.buggy_leaves if debug_depth(journal, n) <= max_debug_depth]


def check_batch(max_batch: int) -> int:
    """``max_batch`` validated (the engine passes its worker count, at least 1)."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    return max_batch


@dataclass(frozen=True)
class GreedyParams:
    """AIDE's search parameters (``agent.search`` in aide's config), AIDE's defaults.

    MLE-bench and AIRA-dojo run greedy with ``5 / 1.0 / 20`` (preset ``greedy-mlebench``).
    """

    num_drafts: int = 5
    debug_prob: float = 0.5
    max_debug_depth: int = 3

    def validate(self) -> None:
        if self.num_drafts < 1:
            raise ValueError("num_drafts must be at least 1")
        if not 0.0 <= self.debug_prob <= 1.0:
            raise ValueError("debug_prob must be in [0, 1]")
        if self.max_debug_depth < 0:
            raise ValueError("max_debug_depth must be >= 0")


class GreedyPolicy(ParamPolicy[GreedyParams]):
    """AIDE's greedy policy (see the module docstring for the exact rule)."""

    algorithm = "greedy"
    params_type = GreedyParams

    def propose(
        self, journal: JournalView, rng: np.random.Generator, max_batch: int
    ) -> list[Action]:
        check_batch(max_batch)
        p = self.params
        missing = p.num_drafts - len(journal.drafts)
        if missing > 0:
            n = min(missing, max_batch)
            return [self._action("draft", (), "initial_draft") for _ in range(n)]
        if rng.random() < p.debug_prob:
            candidates = debuggable_leaves(journal, p.max_debug_depth)
            if candidates:
                node = candidates[int(rng.integers(len(candidates)))]
                return [self._action("debug", (node.node_id,), "debug_buggy_leaf")]
        best = journal.best()
        if best is None:
            return [self._action("draft", (), "no_good_node")]
        return [self._action("improve", (best.node_id,), "improve_best")]

    def _action(self, operator: Any, parents: tuple[str, ...], rule: str) -> Action:
        return Action(operator, parents, {"policy": self.name, "greedy_rule": rule})
