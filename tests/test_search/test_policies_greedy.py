"""Greedy (AIDE) decisions on scripted journals."""

from __future__ import annotations

from collections import Counter

import pytest

from aira_eval.search.policies.greedy import (
    GreedyParams,
    GreedyPolicy,
    debug_depth,
    debuggable_leaves,
)
from tests.test_search.policy_helpers import BUGGY, Scripted, rng, summary


def _policy(**kw: float) -> GreedyPolicy:
    return GreedyPolicy(GreedyParams(**kw))  # type: ignore[arg-type]


def test_defaults_are_aides() -> None:
    p = GreedyParams()
    assert (p.num_drafts, p.debug_prob, p.max_debug_depth) == (5, 0.5, 3)


def test_drafts_until_num_drafts_in_one_batch() -> None:
    j = Scripted()
    actions = _policy().propose(j.view(), rng(), max_batch=8)
    assert summary(actions) == [("draft", ())] * 5
    j.apply(actions[:3], [0.5, BUGGY, 0.7])
    assert summary(_policy().propose(j.view(), rng(), max_batch=8)) == [("draft", ())] * 2
    assert len(_policy().propose(j.view(), rng(), max_batch=1)) == 1


def test_after_drafts_one_action_at_a_time_improving_the_best() -> None:
    j = Scripted()
    for f in (0.1, 0.9, 0.3, 0.9, 0.2):
        j.add("draft", fitness=f)
    actions = _policy(debug_prob=0.0).propose(j.view(), rng(), max_batch=8)
    assert summary(actions) == [("improve", ("n1",))]  # best; the earliest of the tie


def test_drafts_again_while_no_good_node() -> None:
    j = Scripted()
    for _ in range(5):
        j.add("draft")
    actions = _policy(debug_prob=0.0).propose(j.view(), rng(), max_batch=4)
    assert summary(actions) == [("draft", ())]


def test_debug_prob_one_always_debugs_an_eligible_leaf() -> None:
    j = Scripted()
    for _ in range(4):
        j.add("draft", fitness=0.5)
    bad = j.add("draft")
    chain = [bad]
    for _ in range(3):  # debug depths 1, 2, 3
        chain.append(j.add("debug", chain[-1]))
    deep = j.add("debug", chain[-1])  # debug depth 4 > max_debug_depth 3
    other = j.add("improve", "n0")  # failed leaf at depth 0
    view = j.view()
    assert debug_depth(view, j.by_id(chain[-1])) == 3
    assert [n.node_id for n in debuggable_leaves(view, 3)] == [other]
    policy = _policy(debug_prob=1.0)
    for seed in range(30):
        assert summary(policy.propose(view, rng(seed), 1)) == [("debug", (other,))]
    # AIDE's rule is debug_depth <= max_debug_depth: with max 4 the deep leaf is eligible too.
    picks = {
        GreedyPolicy(GreedyParams(debug_prob=1.0, max_debug_depth=4))
        .propose(view, rng(s), 1)[0]
        .parent_ids[0]
        for s in range(40)
    }
    assert picks == {deep, other}


def test_never_debugs_beyond_max_depth_falls_through_to_improve() -> None:
    j = Scripted()
    for _ in range(4):
        j.add("draft", fitness=0.5)
    cur = j.add("draft")
    for _ in range(4):
        cur = j.add("debug", cur)  # ends at depth 4
    actions = _policy(debug_prob=1.0).propose(j.view(), rng(), 1)
    assert summary(actions) == [("improve", ("n0",))]


def test_debug_probability_matches_debug_prob() -> None:
    j = Scripted()
    for _ in range(4):
        j.add("draft", fitness=0.5)
    j.add("draft")
    view = j.view()
    ops = Counter(_policy(debug_prob=0.3).propose(view, rng(s), 1)[0].operator for s in range(2000))
    assert ops["debug"] / 2000 == pytest.approx(0.3, abs=0.04)
    assert set(ops) == {"debug", "improve"}


def test_ok_node_without_fitness_counts_as_buggy() -> None:
    j = Scripted()
    for _ in range(4):
        j.add("draft", fitness=0.5)
    j.add("draft", status="ok")  # ran, but no usable score: AIDE calls it buggy
    assert summary(_policy(debug_prob=1.0).propose(j.view(), rng(), 1)) == [("debug", ("n4",))]


def test_pure_same_journal_same_seed_same_actions() -> None:
    j = Scripted()
    for f in (0.1, BUGGY, 0.3, BUGGY, 0.2):
        j.add("draft", fitness=f)
    view = j.view()
    policy = _policy()
    for seed in range(10):
        assert policy.propose(view, rng(seed), 3) == policy.propose(view, rng(seed), 3)


def test_describe_is_flat() -> None:
    assert GreedyPolicy().describe() == {
        "name": "greedy",
        "algorithm": "greedy",
        "num_drafts": 5,
        "debug_prob": 0.5,
        "max_debug_depth": 3,
    }


# --- registry (presets, names, parameter validation) ---------------------------------------


def test_registry_builds_every_policy_with_published_defaults() -> None:
    from aira_eval.search.policies.registry import POLICY_NAMES, make_policy, policy_params

    assert set(POLICY_NAMES) >= {"greedy", "greedy-mlebench", "mcts", "evolutionary", "random"}
    for name in POLICY_NAMES:
        policy = make_policy(name, {})
        desc = policy.describe()  # type: ignore[attr-defined]
        assert desc["name"] == name == policy.name
        assert {k: desc[k] for k in policy_params(name)} == policy_params(name)
        assert policy.propose(Scripted().view(), rng(), 2)  # a fresh search gets work


def test_greedy_mlebench_preset_and_overrides() -> None:
    from aira_eval.search.policies.registry import make_policy

    desc = make_policy("greedy-mlebench", {}).describe()  # type: ignore[attr-defined]
    assert (desc["num_drafts"], desc["debug_prob"], desc["max_debug_depth"]) == (5, 1.0, 20)
    assert desc["algorithm"] == "greedy"
    tuned = make_policy("greedy-mlebench", {"max_debug_depth": "7"})  # CLI strings parse
    assert tuned.describe()["max_debug_depth"] == 7  # type: ignore[attr-defined]


def test_registry_rejects_unknown_names_params_and_values() -> None:
    from aira_eval.errors import UsageError
    from aira_eval.search.policies.registry import make_policy

    with pytest.raises(UsageError, match="unknown policy") as err:
        make_policy("beam", {})
    assert "greedy-mlebench" in str(err.value) and "evolutionary" in str(err.value)
    with pytest.raises(UsageError, match="uct") as err:
        make_policy("mcts", {"uct": 1.0})
    assert "uct_c" in str(err.value) and "num_children" in str(err.value)
    with pytest.raises(UsageError, match="debug_prob"):
        make_policy("greedy", {"debug_prob": 1.5})
    with pytest.raises(UsageError, match="int"):
        make_policy("mcts", {"num_children": 2.5})
    with pytest.raises(UsageError, match="float"):
        make_policy("evolutionary", {"crossover_prob": "half"})
