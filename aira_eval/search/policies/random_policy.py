"""A random baseline policy: no search signal beyond what makes an operator applicable.

Each action picks an operator with probability proportional to its weight among the operators
that apply to the journal, then a uniformly random target:

- ``draft`` (weight ``draft_weight``): always applies;
- ``improve`` (``improve_weight``): a uniformly random good node; needs one;
- ``debug`` (``debug_weight``): a uniformly random failed leaf whose debug depth is
  ``<= max_debug_depth`` (AIDE's debuggable set); needs one;
- ``crossover`` (``crossover_weight``, 0 by default): two distinct uniformly random good
  nodes; needs two.

With the default weights 1 / 1 / 1 / 0 the operator is uniform over draft / improve / debug
among those that apply (1/3 each when all three do, 1/2 each when two do, draft alone on an
empty journal). Fitness is never used, which is the point of the baseline.

Batching: decisions do not depend on earlier results, so ``max_batch`` actions are drawn
from the same journal at once; a leaf chosen for debugging leaves the debug pool for the rest
of the batch (no two parallel fixes of the same node).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.policies.base import Action, ActionKind, ParamPolicy
from aira_eval.search.policies.greedy import check_batch, debuggable_leaves

OPERATORS: tuple[ActionKind, ...] = ("draft", "improve", "debug", "crossover")


@dataclass(frozen=True)
class RandomParams:
    """Operator weights (normalised over the applicable operators) and the debug bound."""

    draft_weight: float = 1.0
    improve_weight: float = 1.0
    debug_weight: float = 1.0
    crossover_weight: float = 0.0
    max_debug_depth: int = 3

    def validate(self) -> None:
        weights = (self.draft_weight, self.improve_weight, self.debug_weight)
        if min(*weights, self.crossover_weight) < 0:
            raise ValueError("operator weights must be >= 0")
        if self.draft_weight <= 0:
            raise ValueError(
                "draft_weight must be > 0 (draft is the one operator always applicable)"
            )
        if self.max_debug_depth < 0:
            raise ValueError("max_debug_depth must be >= 0")


def operator_probabilities(
    params: RandomParams, n_good: int, n_debuggable: int
) -> dict[ActionKind, float]:
    """Probability of each operator given how many good and debuggable nodes exist."""
    weights: dict[ActionKind, float] = {
        "draft": params.draft_weight,
        "improve": params.improve_weight if n_good >= 1 else 0.0,
        "debug": params.debug_weight if n_debuggable >= 1 else 0.0,
        "crossover": params.crossover_weight if n_good >= 2 else 0.0,
    }
    total = sum(weights.values())
    return {op: w / total for op, w in weights.items()}


class RandomPolicy(ParamPolicy[RandomParams]):
    """The random baseline (see the module docstring)."""

    algorithm = "random"
    params_type = RandomParams

    def propose(
        self, journal: JournalView, rng: np.random.Generator, max_batch: int
    ) -> list[Action]:
        check_batch(max_batch)
        good = journal.good_nodes
        pool = debuggable_leaves(journal, self.params.max_debug_depth)
        return [self._one(good, pool, rng) for _ in range(max_batch)]

    def _one(self, good: list[NodeView], pool: list[NodeView], rng: np.random.Generator) -> Action:
        """One action; removes a debugged leaf from ``pool``."""
        probs = operator_probabilities(self.params, len(good), len(pool))
        op = OPERATORS[int(rng.choice(len(OPERATORS), p=[probs[o] for o in OPERATORS]))]
        meta = {"policy": self.name}
        if op == "draft":
            return Action("draft", (), meta)
        if op == "improve":
            return Action("improve", (good[int(rng.integers(len(good)))].node_id,), meta)
        if op == "debug":
            node = pool.pop(int(rng.integers(len(pool))))
            return Action("debug", (node.node_id,), meta)
        i, j = rng.choice(len(good), size=2, replace=False)
        return Action("crossover", (good[int(i)].node_id, good[int(j)].node_id), meta)
