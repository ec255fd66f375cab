"""The blinded view of a search's journal that policies read.

:class:`JournalView` derives the tree (children, leaves, best node) from the blinded nodes,
AIDE-style, so policies hold no state that a resume could lose. The journal file itself is
:class:`aira_eval.study.journal.JournalFile`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from aira_eval.search.node import FitnessSignal, Node, NodeView, blind

BATCH_ACTIONS = "batch_actions"
"""Key of :attr:`JournalView.meta` holding the actions of the batch proposed from the view."""


@dataclass
class JournalView:
    """Blinded nodes of one search in step order, with derived tree properties."""

    nodes: Sequence[NodeView]
    elapsed_s: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_nodes(
        cls, nodes: Sequence[Node], signal: FitnessSignal, lower_is_better: bool
    ) -> JournalView:
        ordered = sorted(nodes, key=lambda n: n.step)
        return cls([blind(n, signal, lower_is_better) for n in ordered])

    def __iter__(self) -> Iterator[NodeView]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @cached_property
    def by_id(self) -> dict[str, NodeView]:
        return {n.node_id: n for n in self.nodes}

    @cached_property
    def children(self) -> dict[str, list[NodeView]]:
        """Node id -> its children in step order (crossover children count for both parents)."""
        out: dict[str, list[NodeView]] = {n.node_id: [] for n in self.nodes}
        for n in self.nodes:
            for p in n.parent_ids:
                out.setdefault(p, []).append(n)
        return out

    @property
    def drafts(self) -> list[NodeView]:
        return [n for n in self.nodes if not n.parent_ids]

    @property
    def good_nodes(self) -> list[NodeView]:
        return [n for n in self.nodes if n.is_good]

    @property
    def buggy_nodes(self) -> list[NodeView]:
        return [n for n in self.nodes if n.is_buggy]

    @property
    def leaves(self) -> list[NodeView]:
        return [n for n in self.nodes if not self.children.get(n.node_id)]

    @property
    def buggy_leaves(self) -> list[NodeView]:
        return [n for n in self.leaves if n.is_buggy]

    def best(self) -> NodeView | None:
        """The good node with the highest fitness (earliest on ties)."""
        good = self.good_nodes
        if not good:
            return None
        return max(good, key=lambda n: (n.fitness or 0.0, -n.step))

    def ancestors(self, node_id: str) -> list[NodeView]:
        """First parents up to the root, nearest first."""
        out: list[NodeView] = []
        cur = self.by_id.get(node_id)
        while cur is not None and cur.parent_ids:
            cur = self.by_id.get(cur.parent_ids[0])
            if cur is not None:
                out.append(cur)
        return out
