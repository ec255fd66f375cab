"""A search's progress curves, node by node: what a researcher compares between searches.

For the nodes of one search in the order they were recorded (its journal's order: the order
they finished), :class:`Curves` gives after each node the *so-far* picture: the validation score
of the best node so far by validation (``best_val/score_val``), that node's test score
(``best_val/score_test``), the best test score of any valid node so far
(``oracle/score_test``, the oracle's pick), their ``gap`` (how much test score picking by
validation has lost so far, >= 0 whichever the metric's direction) and running counts: of all
nodes (``count/nodes``), of valid ones (``count/valid``, status ``ok``) and of each failed
status exactly (``count/buggy``, ``count/timeout``, ``count/invalid_submission``,
``count/error``).

These running metrics describe the first ``k + 1`` nodes recorded, so they belong at the x
``k`` (:attr:`CurvePoint.x`, the number of nodes recorded − 1), never at the node's own step:
with several workers, nodes finish out of step order. Each node's own values (``node/…``)
belong at its step. The same nodes in the same order always give the same curves, so a live
recorder, a resumed search and a later ``aira-eval sync`` (all reading the journal's order)
log identical values at identical x.

Metric names group in MLflow's UI by their prefix: ``node/…`` (each node's own scores),
``best_val/…``, ``oracle/…``, ``count/…``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from aira_eval.study.node import Node
from aira_eval.study.status import FAILED_STATUSES

#: The running count present at every x: how many nodes a search had recorded.
COUNT_KEY = "count/nodes"
#: The per-node metric present for every node (at its step): which nodes a store holds.
LOGGED_KEY = "node/ok"


def node_metrics(node: Node) -> dict[str, float]:
    """The node's own values: ``node/score_<set>``, ``node/ok``, ``node/exec_time``."""
    out = {f"node/score_{name}": float(value) for name, value in sorted(node.scores.items())
           if value is not None and math.isfinite(value)}
    out[LOGGED_KEY] = 1.0 if node.status == "ok" else 0.0
    if math.isfinite(node.exec_time):
        out["node/exec_time"] = float(node.exec_time)
    return out


@dataclass(frozen=True)
class CurvePoint:
    """One recorded node: its own metrics (at ``node.step``) and the running metrics after it
    (at ``x``, the number of nodes recorded before it; timestamp ``time_s``, the latest end of
    those nodes, so a wall-time chart is monotone too)."""

    node: Node
    x: int
    time_s: float
    own: dict[str, float]
    running: dict[str, float]


@dataclass
class Curves:
    """So-far state of one search; :meth:`add` the next recorded node, get its point."""

    lower_is_better: bool
    nodes: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    best_val: Node | None = None
    best_test: float | None = None
    latest_s: float = math.nan

    def _better(self, a: float, b: float) -> bool:
        return a < b if self.lower_is_better else a > b

    def add(self, node: Node) -> CurvePoint:
        """Update with ``node`` (the next recorded) and return its point."""
        x = self.nodes
        self.nodes += 1
        self.by_status[node.status] = self.by_status.get(node.status, 0) + 1
        if math.isfinite(node.finished_at):
            self.latest_s = (node.finished_at if math.isnan(self.latest_s)
                             else max(self.latest_s, node.finished_at))
        ok = node.status == "ok"
        val, test = node.scores.get("val"), node.scores.get("test")
        if ok and _finite(val) and (self.best_val is None
                                    or self._better(val, self.best_val.scores["val"])):  # type: ignore[arg-type]
            self.best_val = node
        if ok and _finite(test) and (self.best_test is None
                                     or self._better(test, self.best_test)):  # type: ignore[arg-type]
            self.best_test = test
        return CurvePoint(node, x, self.latest_s, node_metrics(node), self.snapshot())

    def snapshot(self) -> dict[str, float]:
        """The running metrics now (no ``node/…`` metrics)."""
        out = {COUNT_KEY: float(self.nodes), "count/valid": float(self.by_status.get("ok", 0))}
        out.update({f"count/{s}": float(self.by_status.get(s, 0)) for s in FAILED_STATUSES})
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


def curve_points(nodes: Iterable[Node], lower_is_better: bool) -> list[CurvePoint]:
    """Every node, in the order given (a journal's: the order recorded), with its point."""
    curves = Curves(lower_is_better)
    return [curves.add(node) for node in nodes]
