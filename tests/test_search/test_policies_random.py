"""The random baseline: operator distribution, targets, batching."""

from __future__ import annotations

from collections import Counter

import pytest

from aira_eval.search.policies.random_policy import (
    RandomParams,
    RandomPolicy,
    operator_probabilities,
)
from tests.test_search.policy_helpers import Scripted, rng, summary


def _journal() -> Scripted:
    """Two good drafts, one failed leaf (n2), one failed leaf too deep to debug (n6)."""
    j = Scripted()
    j.add("draft", fitness=0.5)
    j.add("draft", fitness=0.7)
    j.add("draft")
    cur = j.add("draft")
    for _ in range(3):
        cur = j.add("debug", cur)
    return j


def test_empty_journal_only_drafts() -> None:
    actions = RandomPolicy().propose(Scripted().view(), rng(), max_batch=4)
    assert summary(actions) == [("draft", ())] * 4


def test_uniform_over_applicable_operators() -> None:
    view, n = _journal().view(), 3000
    policy = RandomPolicy(RandomParams(max_debug_depth=2))
    actions = [policy.propose(view, rng(s), 1)[0] for s in range(n)]
    ops = Counter(a.operator for a in actions)
    assert set(ops) == {"draft", "improve", "debug"}
    for op in ("draft", "improve", "debug"):
        assert ops[op] / n == pytest.approx(1 / 3, abs=0.03)
    improved = Counter(a.parent_ids[0] for a in actions if a.operator == "improve")
    assert set(improved) == {"n0", "n1"}
    assert improved["n0"] / ops["improve"] == pytest.approx(0.5, abs=0.05)
    assert {a.parent_ids for a in actions if a.operator == "debug"} == {("n2",)}


def test_probabilities_renormalise_over_what_applies() -> None:
    p = RandomParams()
    assert operator_probabilities(p, n_good=0, n_debuggable=0)["draft"] == 1.0
    assert operator_probabilities(p, n_good=1, n_debuggable=0) == {
        "draft": 0.5,
        "improve": 0.5,
        "debug": 0.0,
        "crossover": 0.0,
    }
    with_cx = operator_probabilities(RandomParams(crossover_weight=1.0), 2, 1)
    assert with_cx == {"draft": 0.25, "improve": 0.25, "debug": 0.25, "crossover": 0.25}


def test_crossover_uses_two_distinct_good_nodes() -> None:
    policy = RandomPolicy(
        RandomParams(draft_weight=1e-9, improve_weight=0, debug_weight=0, crossover_weight=1.0)
    )
    for seed in range(20):
        (action,) = policy.propose(_journal().view(), rng(seed), 1)
        assert action.operator == "crossover" and set(action.parent_ids) == {"n0", "n1"}


def test_batch_never_debugs_the_same_leaf_twice() -> None:
    policy = RandomPolicy(
        RandomParams(draft_weight=1.0, improve_weight=0, debug_weight=1e6, max_debug_depth=5)
    )
    for seed in range(20):
        debugs = [
            a.parent_ids
            for a in policy.propose(_journal().view(), rng(seed), 4)
            if a.operator == "debug"
        ]
        assert sorted(debugs) == [("n2",), ("n6",)]


def test_pure_same_journal_same_seed_same_actions() -> None:
    view = _journal().view()
    for seed in range(10):
        assert RandomPolicy().propose(view, rng(seed), 4) == RandomPolicy().propose(
            view, rng(seed), 4
        )
