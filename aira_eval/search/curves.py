"""A search's progress curves, node by node: what a researcher compares between searches.

For the nodes of one search in the order they finished, :class:`Curves` gives after each node
the *best-so-far* picture: the validation score of the best node so far by validation
(``best_val/score_val``), that node's test score (``best_val/score_test``), the best test score
of any valid node so far (``oracle/score_test``, the oracle's pick), their ``gap`` (how much
test score picking by validation has lost so far, >= 0 whichever the metric's direction) and
running counts. The same nodes in the same order always give the same curves, so a live
recorder and a later ``aira-eval sync`` log identical values.

Metric names group in MLflow's UI by their prefix: ``node/…`` (each node's own scores),
``best_val/…``, ``oracle/…``, ``count/…``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from aira_eval.study.node import Node

#: The metric present for every logged node: its steps say which nodes MLflow holds.
COUNT_KEY = "count/nodes"


def finish_order(nodes: Iterable[Node]) -> list[Node]:
    """Nodes in the order they finished (step breaks ties; unfinished ones last)."""
    return sorted(nodes, key=lambda n: (math.inf if math.isnan(n.finished_at)
                                        else n.finished_at, n.step))


def node_metrics(node: Node) -> dict[str, float]:
    """The node's own values: ``node/score_<set>``, ``node/ok``, ``node/exec_time``."""
    out = {f"node/score_{name}": float(value) for name, value in sorted(node.scores.items())
           if value is not None and math.isfinite(value)}
    out["node/ok"] = 1.0 if node.status == "ok" else 0.0
    if math.isfinite(node.exec_time):
        out["node/exec_time"] = float(node.exec_time)
    return out


@dataclass
class Curves:
    """Best-so-far state of one search; :meth:`add` a node, get the metrics after it."""

    lower_is_better: bool
    nodes: int = 0
    valid: int = 0
    best_val: Node | None = None
    best_test: float | None = None

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.lower_is_better else a > b

    def add(self, node: Node) -> dict[str, float]:
        """Update with ``node`` (the next to finish) and return every metric after it."""
        self.nodes += 1
        ok = node.status == "ok"
        self.valid += ok
        val, test = node.scores.get("val"), node.scores.get("test")
        if ok and _finite(val) and (self.best_val is None
                                    or self._better(val, self.best_val.scores["val"])):  # type: ignore[arg-type]
            self.best_val = node
        if ok and _finite(test) and (self.best_test is None
                                     or self._better(test, self.best_test)):  # type: ignore[arg-type]
            self.best_test = test
        return {**node_metrics(node), **self.snapshot()}

    def snapshot(self) -> dict[str, float]:
        """The curves' current values (no ``node/…`` metrics)."""
        out = {COUNT_KEY: float(self.nodes), "count/valid": float(self.valid),
               "count/buggy": float(self.nodes - self.valid)}
        if self.best_val is not None:
            out["best_val/score_val"] = float(self.best_val.scores["val"])
            picked = self.best_val.scores.get("test")
            if _finite(picked):
                out["best_val/score_test"] = float(picked)  # type: ignore[arg-type]
        if self.best_test is not None:
            out["oracle/score_test"] = float(self.best_test)
            if "best_val/score_test" in out:
                out["gap"] = abs(self.best_test - out["best_val/score_test"])
        return out


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def curve_rows(nodes: Iterable[Node], lower_is_better: bool) -> list[tuple[Node, dict[str, float]]]:
    """Every node (in finish order) with its metrics: what a search logs, node by node."""
    curves = Curves(lower_is_better)
    return [(node, curves.add(node)) for node in finish_order(nodes)]
