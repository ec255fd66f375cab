"""The procedural cost model's shape (bench/cost_model measures it against real runs).

The constants are fitted, so these tests check what a fit cannot change: which way each input
moves the estimate, and that a timeout's repair uses it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from aira_eval.search.operators.procedural import repair
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.cost import TaskShape, estimate_cost
from aira_eval.search.operators.procedural.space import Space
from tests.test_search.test_procedural_moves import _space, _task

# leaf-classification's shape: 990 rows, 192 numeric columns, 99 classes, probabilities
LEAF = TaskShape(is_classification=True, n_rows=990, n_classes=99, n_models=1, n_numeric=192,
                 n_compound_numeric=0, cardinalities=(), compound=(), n_text=0, n_folds=5,
                 probabilities=True)
# same rows × columns × classes, but 15 times as many rows per column: far from separable
TALL = replace(LEAF, n_rows=990 * 15, n_numeric=192 // 15)


def linear_svm(c: float) -> PipelineConfig:
    return PipelineConfig(family="svm", params={"C": c, "kernel": "linear"})


def test_liblinear_passes_grow_with_c() -> None:
    costs = [estimate_cost(linear_svm(c), LEAF) for c in (0.3, 1.0, 3.0, 10.0)]
    assert costs == sorted(costs) and costs[-1] > 5 * costs[0]


def test_near_separable_one_vs_rest_costs_more() -> None:
    """Leaf's 99 one-vs-rest problems on 192 columns are (nearly) separable: many passes."""
    assert estimate_cost(linear_svm(10.0), LEAF) > 3 * estimate_cost(linear_svm(10.0), TALL)


def test_calibration_for_probabilities_is_counted() -> None:
    labels = replace(LEAF, probabilities=False)
    for kernel in ("linear", "rbf"):
        config = PipelineConfig(family="svm", params={"C": 1.0, "kernel": kernel})
        assert estimate_cost(config, LEAF) > 3 * estimate_cost(config, labels) - 2.0, kernel


@pytest.mark.parametrize("name", ["digits", "diabetes"])
def test_a_timed_out_linear_svm_is_retried_with_a_smaller_c(name: str) -> None:
    space: Space = _space(_task(name))
    parent = space.normalize(linear_svm(10.0))
    child, notes = repair.cheaper(space, parent, "timeout")
    assert space.cost(child) < space.cost(parent)
    assert notes[0] == "C 10.0 -> 3.0", notes
