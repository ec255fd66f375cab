"""Best-so-far curves of a search: by validation, its test score, the oracle's, the gap."""

from __future__ import annotations

import math

import pytest

from aira_eval.search.curves import Curves, curve_points
from aira_eval.study.node import Node


def _node(step: int, status: str = "ok", val: float | None = None, test: float | None = None,
          finished: float | None = None) -> Node:
    scores = {k: v for k, v in (("val", val), ("test", test)) if v is not None}
    return Node(node_id=f"n{step}", search_id="s", step=step, batch=step, operator="draft",
                status=status, scores=scores,  # type: ignore[arg-type]
                finished_at=float(step if finished is None else finished))


def test_best_so_far_follows_validation_and_oracle_follows_test() -> None:
    nodes = [_node(0, val=0.5, test=0.6), _node(1, "buggy"), _node(2, val=0.7, test=0.55),
             _node(3, val=0.6, test=0.9), _node(4, "invalid_submission", val=0.99, test=0.99)]
    points = curve_points(nodes, lower_is_better=False)
    rows = [p.running for p in points]
    assert [r["best_val/score_val"] for r in rows] == [0.5, 0.5, 0.7, 0.7, 0.7]
    assert [r["best_val/score_test"] for r in rows] == [0.6, 0.6, 0.55, 0.55, 0.55]
    assert [r["oracle/score_test"] for r in rows] == [0.6, 0.6, 0.6, 0.9, 0.9]
    assert [round(r["gap"], 6) for r in rows] == [0.0, 0.0, 0.05, 0.35, 0.35]
    assert [r["count/buggy"] for r in rows] == [0, 1, 1, 1, 1]  # status buggy only
    assert [r["count/invalid_submission"] for r in rows] == [0, 0, 0, 0, 1]
    assert [r["count/timeout"] + r["count/error"] for r in rows] == [0, 0, 0, 0, 0]
    assert [r["count/valid"] for r in rows] == [1, 1, 2, 3, 3]
    assert points[1].own["node/ok"] == 0.0 and "node/score_val" not in points[1].own
    assert points[3].own["node/score_test"] == 0.9


def test_lower_is_better_gap_is_positive_and_x_is_the_recorded_order() -> None:
    # step 1 was recorded before step 0: the running metrics after it sit at x = 0, not at
    # its step; its own metrics keep its step
    nodes = [_node(1, val=0.3, test=0.1, finished=5.0),
             _node(0, val=0.2, test=0.5, finished=10.0)]
    points = curve_points(nodes, lower_is_better=True)
    assert [(p.node.step, p.x) for p in points] == [(1, 0), (0, 1)]
    assert [p.running["count/nodes"] for p in points] == [1.0, 2.0]
    last = points[-1].running
    assert last["best_val/score_val"] == 0.2 and last["best_val/score_test"] == 0.5
    assert last["oracle/score_test"] == 0.1
    assert math.isclose(last["gap"], 0.4)


def test_no_valid_node_has_only_counts() -> None:
    curves = Curves(lower_is_better=False)
    out = curves.add(_node(0, "error")).running
    assert "best_val/score_val" not in out and "gap" not in out
    assert out["count/nodes"] == 1 and out["count/error"] == 1 and out["count/buggy"] == 0
    with pytest.raises(KeyError):
        _ = out["oracle/score_test"]


def test_running_timestamps_never_go_back() -> None:
    """A wall-time chart of a running metric is monotone: a node recorded after one that
    ended later is stamped with the later end."""
    nodes = [_node(0, val=0.5, finished=20.0), _node(1, val=0.6, finished=15.0)]
    points = curve_points(nodes, lower_is_better=False)
    assert [p.time_s for p in points] == [20.0, 20.0]
    assert points[1].node.finished_at == 15.0  # its own metrics keep its own end
