"""AIRA-dojo's MCTS policy, rebuilt from the journal on every call.

AIRA-dojo (``dojo/solvers/mcts``) runs, per iteration: select a path root → leaf by UCT;
expand the leaf with ``num_children`` children (drafts at the root, improvements below); a
buggy child enters a debug loop; each good child, or the node that fixed a buggy child, backs
its score up the path (root → leaf → child [→ debug nodes]), adding 1 to the visit count and
the score to the value of every node on it.

Because every good node is backed up exactly once along its ancestor chain, the statistics are
a function of the tree alone, which is how this policy stays pure:

- ``N(n)`` = number of good nodes in the subtree of ``n`` (``n`` included); the root counts
  every good node;
- ``W(n)`` = the sum of their fitness; ``Q(n) = W(n) / N(n)``;
- min-max normalisation uses the lowest and highest fitness of any good node (AIRA-dojo's
  ``global_min_q_val`` / ``global_max_q_val``, updated with every backed-up score);
- ``UCT(c) = norm(Q(c)) + uct_c * sqrt(ln N(parent) / N(c))`` with ``norm = 0.5`` when all
  scores are equal (AIRA-dojo's ``normalise_q_value``).

Conventions where AIRA-dojo is silent or its code has an edge case:

- fitness is oriented (higher is better) before anything else, so the value, the backup and
  the normalisation bounds all live on one scale (AIRA-dojo negates ``Q`` for lower-is-better
  metrics but keeps raw bounds);
- a child with ``N = 0`` (buggy and never fixed) is never selected (AIRA-dojo gives it a UCT of
  ``-1e8``); a node all of whose children have ``N = 0`` is treated as a leaf and expanded
  again (AIRA-dojo would descend into a dead child when every child is dead);
- UCT ties go to the earliest node (step order);
- the debug loop of a buggy child stops when fixed, after ``max_debug_depth`` debug steps, or
  once the execution time of the buggy child and its failed debug nodes reaches
  ``max_debug_time`` — checked after each failed debug step, so at least one debug step is
  always tried (AIRA-dojo's ``debug_cycle``); missing (NaN) execution times count as 0;
- the RNG is not used: MCTS is deterministic given the journal.

Batching: the children of one expansion are independent, so all of them (up to
``max_batch``) go out at once; then one debug step per buggy child of the expansion, in
parallel. Slots are served in order, so with ``max_batch = 1`` the order is exactly
AIRA-dojo's (child 1 and its whole debug loop, then child 2, ...). A new selection happens only
when the current expansion is complete. Each action's ``meta`` records its expansion number,
its slot and the expanded leaf, which is how a later call finds an unfinished expansion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.policies.base import Action, ParamPolicy
from aira_eval.search.policies.greedy import check_batch

ROOT = "<root>"
META_EXPANSION = "mcts_expansion"
META_SLOT = "mcts_slot"
META_LEAF = "mcts_leaf"


def exec_seconds(node: NodeView) -> float:
    """A node's execution time, 0 when unknown."""
    t = node.exec_time
    return 0.0 if t is None or math.isnan(t) else float(t)


def debug_chain(journal: JournalView, start: NodeView) -> list[NodeView]:
    """``start`` followed by its debug descendants (first debug child at each step)."""
    chain = [start]
    while True:
        nxt = [c for c in journal.children.get(chain[-1].node_id, []) if c.operator == "debug"]
        if not nxt:
            return chain
        chain.append(nxt[0])


def next_debug_target(
    chain: Sequence[NodeView], max_debug_depth: int, max_debug_time: float
) -> NodeView | None:
    """The node to debug next in AIRA-dojo's debug loop, or None when the loop is over.

    Over when the chain's last node is good (fixed), after ``max_debug_depth`` debug steps, or
    when at least one debug step was made and the summed execution time of the chain reached
    ``max_debug_time``.
    """
    end = chain[-1]
    if end.is_good:
        return None
    steps = len(chain) - 1
    if steps >= max_debug_depth:
        return None
    if steps > 0 and sum(exec_seconds(n) for n in chain) >= max_debug_time:
        return None
    return end


def open_debug_target(
    journal: JournalView, child: NodeView, max_debug_depth: int, max_debug_time: float
) -> NodeView | None:
    """The next node of ``child``'s debug loop to debug, or None when that loop is over."""
    return next_debug_target(debug_chain(journal, child), max_debug_depth, max_debug_time)


@dataclass(frozen=True)
class MCTSParams:
    """AIRA-dojo's MCTS parameters (``MCTSSolverConfig``) with the published values.

    ``max_debug_time`` (seconds) is left unset in AIRA-dojo's dataclass; we default it to
    AIRA-dojo's per-node ``execution_timeout`` (14400 s), so it rarely binds before depth.
    """

    uct_c: float = 0.25
    num_children: int = 5
    max_debug_depth: int = 20
    max_debug_time: float = 14400.0

    def validate(self) -> None:
        if self.uct_c < 0:
            raise ValueError("uct_c must be >= 0")
        if self.num_children < 1:
            raise ValueError("num_children must be at least 1")
        if self.max_debug_depth < 0:
            raise ValueError("max_debug_depth must be >= 0")
        if self.max_debug_time <= 0:
            raise ValueError("max_debug_time must be > 0")


@dataclass
class TreeStats:
    """Visit counts, values and tree children derived from a journal (root key: ``ROOT``)."""

    visits: dict[str, int] = field(default_factory=dict)
    value: dict[str, float] = field(default_factory=dict)
    children: dict[str, list[NodeView]] = field(default_factory=dict)
    fmin: float = math.inf
    fmax: float = -math.inf

    def q(self, node_id: str) -> float:
        return self.value[node_id] / self.visits[node_id]

    def normalised(self, q: float) -> float:
        if self.fmax <= self.fmin:
            return 0.5
        return (q - self.fmin) / (self.fmax - self.fmin)

    def uct(self, node_id: str, parent_id: str, uct_c: float) -> float:
        n = self.visits[node_id]
        explore = math.sqrt(math.log(self.visits[parent_id]) / n)
        return self.normalised(self.q(node_id)) + uct_c * explore


def tree_stats(journal: JournalView) -> TreeStats:
    """Rebuild every node's visit count and value from the good nodes (see module doc)."""
    stats = TreeStats()
    stats.children[ROOT] = []
    for n in journal.nodes:
        stats.visits[n.node_id] = 0
        stats.value[n.node_id] = 0.0
        stats.children.setdefault(n.node_id, [])
    stats.visits[ROOT] = 0
    stats.value[ROOT] = 0.0
    for n in journal.nodes:
        parent = n.parent_ids[0] if n.parent_ids and n.parent_ids[0] in journal.by_id else ROOT
        stats.children.setdefault(parent, []).append(n)
    for g in journal.good_nodes:
        f = float(g.fitness)  # type: ignore[arg-type]
        stats.fmin, stats.fmax = min(stats.fmin, f), max(stats.fmax, f)
        for nid in [g.node_id, *(a.node_id for a in journal.ancestors(g.node_id)), ROOT]:
            stats.visits[nid] += 1
            stats.value[nid] += f
    return stats


def select_leaf(stats: TreeStats, uct_c: float) -> list[str]:
    """The UCT path from the root (``ROOT`` first) to the node to expand, as node ids.

    Only children with at least one visit are candidates; a node without such children is the
    leaf. Ties go to the earliest node.
    """
    path = [ROOT]
    while True:
        cur = path[-1]
        live = [c for c in stats.children.get(cur, []) if stats.visits[c.node_id] > 0]
        if not live:
            return path
        scores = [(stats.uct(c.node_id, cur, uct_c), -c.step) for c in live]
        path.append(live[scores.index(max(scores))].node_id)


class MCTSPolicy(ParamPolicy[MCTSParams]):
    """AIRA-dojo's MCTS (see the module docstring for the conventions)."""

    algorithm = "mcts"
    params_type = MCTSParams

    def propose(
        self, journal: JournalView, rng: np.random.Generator, max_batch: int
    ) -> list[Action]:
        check_batch(max_batch)
        expansion, slots, leaf = self._current_expansion(journal)
        if expansion >= 0:
            pending = self._pending(journal, expansion, slots, leaf)
            if pending:
                return pending[:max_batch]
        path = select_leaf(tree_stats(journal), self.params.uct_c)
        new_leaf = None if path[-1] == ROOT else path[-1]
        todo = [self._child(expansion + 1, i, new_leaf) for i in range(self.params.num_children)]
        return todo[:max_batch]

    def _current_expansion(
        self, journal: JournalView
    ) -> tuple[int, dict[int, NodeView], str | None]:
        """The latest expansion number (-1 if none), its children by slot, and its leaf."""
        tagged = [n for n in journal.nodes if META_EXPANSION in n.meta]
        if not tagged:
            return -1, {}, None
        expansion = max(int(n.meta[META_EXPANSION]) for n in tagged)
        slots: dict[int, NodeView] = {}
        leaf: str | None = None
        for n in tagged:
            if int(n.meta[META_EXPANSION]) != expansion:
                continue
            leaf = n.meta.get(META_LEAF)
            if n.operator != "debug":
                slots.setdefault(int(n.meta[META_SLOT]), n)
        return expansion, slots, leaf

    def _pending(
        self, journal: JournalView, expansion: int, slots: dict[int, NodeView], leaf: str | None
    ) -> list[Action]:
        """Unfinished work of an expansion, slot by slot: missing children, then debug steps."""
        p = self.params
        out: list[Action] = []
        for slot in range(p.num_children):
            child = slots.get(slot)
            if child is None:
                out.append(self._child(expansion, slot, leaf))
                continue
            target = open_debug_target(journal, child, p.max_debug_depth, p.max_debug_time)
            if target is not None:
                meta = self._meta(expansion, slot, leaf) | {"mcts_debug": True}
                out.append(Action("debug", (target.node_id,), meta))
        return out

    def _child(self, expansion: int, slot: int, leaf: str | None) -> Action:
        meta = self._meta(expansion, slot, leaf)
        if leaf is None:
            return Action("draft", (), meta)
        return Action("improve", (leaf,), meta)

    def _meta(self, expansion: int, slot: int, leaf: str | None) -> dict[str, Any]:
        return {"policy": self.name, META_EXPANSION: expansion, META_SLOT: slot, META_LEAF: leaf}
