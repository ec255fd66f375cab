"""MCTS (AIRA-dojo) decisions on scripted journals."""

from __future__ import annotations

import math

import pytest

from aira_eval.search.policies.mcts import (
    ROOT,
    MCTSParams,
    MCTSPolicy,
    select_leaf,
    tree_stats,
)
from tests.test_search.policy_helpers import BUGGY, Scripted, rng, summary


def _policy(**kw: float) -> MCTSPolicy:
    return MCTSPolicy(MCTSParams(**kw))  # type: ignore[arg-type]


def test_published_defaults() -> None:
    p = MCTSParams()
    assert (p.uct_c, p.num_children, p.max_debug_depth) == (0.25, 5, 20)


def test_root_expansion_is_num_children_drafts_in_one_batch() -> None:
    actions = _policy().propose(Scripted().view(), rng(), max_batch=8)
    assert summary(actions) == [("draft", ())] * 5
    assert [a.meta["mcts_slot"] for a in actions] == [0, 1, 2, 3, 4]
    assert {a.meta["mcts_expansion"] for a in actions} == {0}
    assert {a.meta["mcts_leaf"] for a in actions} == {None}


def test_expansion_handed_out_in_chunks_of_max_batch() -> None:
    j = Scripted()
    first = _policy().propose(j.view(), rng(), max_batch=2)
    j.apply(first, [0.5, 0.6])
    second = _policy().propose(j.view(), rng(), max_batch=2)
    assert [a.meta["mcts_slot"] for a in second] == [2, 3]
    assert summary(second) == [("draft", ())] * 2


def test_buggy_children_enter_debug_in_parallel_then_next_expansion_improves() -> None:
    j = Scripted()
    drafts = _policy().propose(j.view(), rng(), 5)
    ids = j.apply(drafts, [0.5, BUGGY, 0.7, BUGGY, 0.6])
    debug = _policy().propose(j.view(), rng(), 5)
    assert summary(debug) == [("debug", (ids[1],)), ("debug", (ids[3],))]
    assert [a.meta["mcts_slot"] for a in debug] == [1, 3]
    j.apply(debug, [0.9, BUGGY])
    again = _policy().propose(j.view(), rng(), 5)
    assert summary(again) == [("debug", (j.nodes[-1].node_id,))]  # only slot 3 still open
    j.apply(again, [0.4])
    # Expansion resolved: select by UCT and expand with improvements.
    nxt = _policy().propose(j.view(), rng(), 5)
    assert len(nxt) == 5 and {a.operator for a in nxt} == {"improve"}
    assert {a.meta["mcts_expansion"] for a in nxt} == {1}
    assert len({a.parent_ids for a in nxt}) == 1


def test_max_batch_one_follows_dojo_order_child_then_its_debug_loop() -> None:
    j = Scripted()
    j.apply(_policy().propose(j.view(), rng(), 1), [BUGGY])
    step = _policy().propose(j.view(), rng(), 1)
    assert summary(step) == [("debug", ("n0",))]
    j.apply(step, [0.3])
    step = _policy().propose(j.view(), rng(), 1)
    assert summary(step) == [("draft", ())] and step[0].meta["mcts_slot"] == 1


def test_debug_loop_bounded_by_depth() -> None:
    j = Scripted()
    policy = _policy(num_children=1, max_debug_depth=2)
    j.apply(policy.propose(j.view(), rng(), 1), [BUGGY])
    j.apply(policy.propose(j.view(), rng(), 1), [BUGGY])  # debug 1
    j.apply(policy.propose(j.view(), rng(), 1), [BUGGY])  # debug 2
    assert [n.operator for n in j.nodes] == ["draft", "debug", "debug"]
    nxt = policy.propose(j.view(), rng(), 1)  # loop over; the dead child is skipped
    assert summary(nxt) == [("draft", ())] and nxt[0].meta["mcts_expansion"] == 1


@pytest.mark.parametrize(("exec_time", "debug_steps"), [(3.0, 1), (1.0, 4), (2.0, 2)])
def test_debug_loop_bounded_by_time(exec_time: float, debug_steps: int) -> None:
    # max_debug_time 5 s: the buggy child and its failed debug nodes are summed after each
    # debug step; the first debug step is always tried.
    policy = _policy(num_children=1, max_debug_depth=10, max_debug_time=5.0)
    j = Scripted()
    for _ in range(12):
        actions = policy.propose(j.view(), rng(), 1)
        if actions[0].operator != "debug" and len(j.nodes) > 0:
            break
        j.apply(actions, [BUGGY], exec_time=exec_time)
    assert sum(n.operator == "debug" for n in j.nodes) == debug_steps


def _scripted_tree() -> Scripted:
    """root → A(.2) → {A1(.6), A2 ✗ → A2d(.4)}; B(.8); C ✗ → Cd ✗ (never fixed)."""
    j = Scripted()
    a = j.add("draft", fitness=0.2)
    j.add("draft", fitness=0.8)  # B = n1
    c = j.add("draft")
    j.add("improve", a, fitness=0.6)
    a2 = j.add("improve", a)
    j.add("debug", a2, fitness=0.4)
    j.add("debug", c)
    return j


def test_backup_counts_and_values() -> None:
    stats = tree_stats(_scripted_tree().view())
    assert stats.visits == {"n0": 3, "n1": 1, "n2": 0, "n3": 1, "n4": 1, "n5": 1, "n6": 0, ROOT: 4}
    assert stats.value["n0"] == pytest.approx(1.2)
    assert stats.value["n4"] == pytest.approx(0.4)  # the fixed score reaches the buggy child
    assert stats.value[ROOT] == pytest.approx(2.0)
    assert (stats.fmin, stats.fmax) == (0.2, 0.8)


def _uct_tree() -> Scripted:
    """X(.8) with three .8 children (N=4, Q=.8); Y(.6) (N=1); Z(0) (N=1); root N=6."""
    j = Scripted()
    x = j.add("draft", fitness=0.8)
    j.add("draft", fitness=0.6)
    j.add("draft", fitness=0.0)
    for _ in range(3):
        j.add("improve", x, fitness=0.8)
    return j


@pytest.mark.parametrize(("uct_c", "expected"), [(0.25, "n3"), (1.0, "n1")])
def test_uct_picks_highest_normalised_value_plus_exploration(uct_c: float, expected: str) -> None:
    def uct(q: float, n: int, parent_n: int) -> float:
        return (q - 0.0) / (0.8 - 0.0) + uct_c * math.sqrt(math.log(parent_n) / n)

    x, y, z = uct(0.8, 4, 6), uct(0.6, 1, 6), uct(0.0, 1, 6)
    assert (x > y) == (uct_c == 0.25) and max(x, y) > z
    path = select_leaf(tree_stats(_uct_tree().view()), uct_c)
    assert path[-1] == expected  # X's children tie: the earliest (n3) is the leaf
    actions = _policy(uct_c=uct_c).propose(_uct_tree().view(), rng(), 5)
    assert summary(actions) == [("improve", (expected,))] * 5


def test_never_fixed_child_is_never_selected() -> None:
    j = Scripted()
    j.add("draft", fitness=0.1)
    dead = j.add("draft")
    j.add("debug", dead)
    for c in (0.0, 0.25, 100.0):
        assert select_leaf(tree_stats(j.view()), c) == [ROOT, "n0"]


def test_node_whose_children_all_died_is_expanded_again() -> None:
    j = Scripted()
    good = j.add("draft", fitness=0.5)
    for _ in range(2):
        j.add("improve", good)  # both failed, never fixed
    assert summary(_policy().propose(j.view(), rng(), 5)) == [("improve", (good,))] * 5
    dead_root = Scripted()
    dead_root.add("draft")
    assert summary(_policy().propose(dead_root.view(), rng(), 5)) == [("draft", ())] * 5


def test_simulated_search_keeps_expansions_whole() -> None:
    policy, j = _policy(max_debug_depth=2), Scripted()
    gen = rng(7)
    for _ in range(12):
        actions = policy.propose(j.view(), rng(), 3)
        j.apply(actions, [None if gen.random() < 0.3 else float(gen.random()) for _ in actions])
    children = [n for n in j.nodes if n.operator != "debug"]
    per_expansion: dict[int, int] = {}
    for n in children:
        per_expansion[n.meta["mcts_expansion"]] = per_expansion.get(n.meta["mcts_expansion"], 0) + 1
    assert all(v == 5 for k, v in per_expansion.items() if k < max(per_expansion))


def test_pure_same_journal_same_actions() -> None:
    view = _scripted_tree().view()
    assert _policy().propose(view, rng(1), 5) == _policy().propose(view, rng(2), 5)
