"""The append-only journal of a search and the blinded view policies read.

The JSONL file is the source of truth: one line per finished node, flushed and fsynced before
the node counts as done. :class:`JournalView` derives the tree (children, leaves, best node)
from the blinded nodes, AIDE-style, so policies hold no state that a resume could lose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from aira_eval.errors import DataError
from aira_eval.search.node import FitnessSignal, Node, NodeView, blind


class JournalFile:
    """Append-only JSONL journal at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def line(node: Node) -> str:
        """One journal line (with its newline)."""
        return json.dumps(node.to_dict(), sort_keys=True, allow_nan=True, default=str) + "\n"

    def append(self, node: Node) -> None:
        """Append one node durably (write, flush, fsync)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(self.line(node))
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self, nodes: list[Node]) -> None:
        """Replace the journal atomically and durably (temp file, fsync, rename)."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write("".join(self.line(n) for n in nodes))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)

    def read(self) -> list[Node]:
        """Every complete node line; a torn last line (a crash mid-write) is dropped."""
        if not self.path.exists():
            return []
        nodes: list[Node] = []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                nodes.append(Node.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as err:
                if i == len(lines) - 1:
                    break  # torn final write: the node never counted as done
                raise DataError(f"{self.path}:{i + 1} is not a valid journal line: {err}") from err
        return nodes

    def repair(self) -> list[Node]:
        """Drop a torn last line so later appends start on a clean line; the nodes read."""
        nodes = self.read()
        if not self.path.exists():
            return nodes
        if "".join(self.line(n) for n in nodes) != self.path.read_text(encoding="utf-8"):
            self.rewrite(nodes)
        return nodes


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
