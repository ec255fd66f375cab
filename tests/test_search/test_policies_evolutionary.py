"""Evolutionary (AIRA-dojo) decisions on scripted journals."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from aira_eval.search.policies.evolutionary import (
    EvolutionaryParams,
    EvolutionaryPolicy,
    island_members,
    rebuild,
    softmax_weights,
    temperature,
)
from tests.test_search.policy_helpers import BUGGY, Scripted, rng, summary


def _params(**kw: Any) -> EvolutionaryParams:
    return EvolutionaryParams(**kw)


def _run_generation(
    j: Scripted, policy: EvolutionaryPolicy, outcomes: list[float | None], seed: int = 0
) -> list[str]:
    """Hand out one whole generation and apply ``outcomes`` (no debugging needed)."""
    actions = policy.propose(j.view(), rng(seed), max_batch=len(outcomes))
    assert len(actions) == len(outcomes)
    return j.apply(actions, outcomes)


def test_published_defaults() -> None:
    p = EvolutionaryParams()
    assert (p.num_islands, p.max_island_size, p.individuals_per_generation) == (1, 500, 5)
    assert (p.crossover_prob, p.migration_prob, p.initial_temp, p.final_temp) == (
        0.5,
        0.0,
        1.0,
        1.0,
    )
    assert p.num_generations_till_crossover == 2


def test_generation_zero_is_drafts_in_one_batch() -> None:
    actions = EvolutionaryPolicy().propose(Scripted().view(), rng(), max_batch=8)
    assert summary(actions) == [("draft", ())] * 5
    assert [a.meta["evo_individual"] for a in actions] == [0, 1, 2, 3, 4]
    assert {(a.meta["evo_generation"], a.meta["evo_island"]) for a in actions} == {(0, 0)}
    assert len(EvolutionaryPolicy().propose(Scripted().view(), rng(), max_batch=2)) == 2


def test_buggy_child_is_debugged_within_bounds_before_next_generation() -> None:
    policy, j = EvolutionaryPolicy(_params(max_debug_depth=2)), Scripted()
    ids = _run_generation(j, policy, [0.5, BUGGY, 0.6, 0.7, 0.8])
    target = ids[1]
    for _ in range(2):
        step = policy.propose(j.view(), rng(), 5)
        assert summary(step) == [("debug", (target,))]
        assert step[0].meta["evo_generation"] == 0
        target = j.apply(step, [BUGGY])[0]
    nxt = policy.propose(j.view(), rng(), 5)
    assert {a.meta["evo_generation"] for a in nxt} == {1}
    assert ids[1] not in {p for a in nxt for p in a.parent_ids}  # discarded, never fixed


def test_fixed_node_joins_the_island_in_place_of_the_buggy_child() -> None:
    policy, j = EvolutionaryPolicy(_params(individuals_per_generation=2)), Scripted()
    ids = _run_generation(j, policy, [0.5, BUGGY])
    fixed = j.apply(policy.propose(j.view(), rng(), 2), [0.25])
    assert island_members(j.view(), policy.params) == [[ids[0], fixed[0]]]


@pytest.mark.parametrize("temp", [1.0, 0.25])
def test_parent_weights_are_softmax_of_normalised_fitness(temp: float) -> None:
    params = _params(initial_temp=temp, final_temp=temp)
    policy, j = EvolutionaryPolicy(params), Scripted()
    ids = _run_generation(j, policy, [0.0, 0.25, 0.5, 0.75, 1.0])
    view, n = j.view(), 4000
    counts = Counter(policy.propose(view, rng(s), 1)[0].parent_ids[0] for s in range(n))
    expected = softmax_weights([0.0, 0.25, 0.5, 0.75, 1.0], temp)
    observed = np.array([counts[i] / n for i in ids])
    assert np.abs(observed - expected).max() < 0.03
    assert abs(expected[-1] / expected[0] - np.exp(1.0 / temp)) < 1e-9


def test_temperature_schedule_is_linear_over_generations() -> None:
    p = _params(initial_temp=2.0, final_temp=1.0, num_generations=10)
    assert [temperature(p, g) for g in (0, 5, 10)] == [2.0, 1.5, 1.0]


def test_crossover_only_from_generation_two() -> None:
    policy, j = EvolutionaryPolicy(_params(crossover_prob=1.0)), Scripted()
    _run_generation(j, policy, [0.1, 0.2, 0.3, 0.4, 0.5])
    gen1 = policy.propose(j.view(), rng(), 5)
    assert {a.operator for a in gen1} == {"improve"}
    j.apply(gen1, [0.6, 0.7, 0.8, 0.9, 1.0])
    gen2 = policy.propose(j.view(), rng(), 5)
    assert {a.operator for a in gen2} == {"crossover"}
    assert all(len(set(a.parent_ids)) == 2 for a in gen2)
    assert {a.meta["evo_generation"] for a in gen2} == {2}


def test_crossover_mix_follows_crossover_prob() -> None:
    policy, j = EvolutionaryPolicy(), Scripted()
    _run_generation(j, policy, [0.1, 0.2, 0.3, 0.4, 0.5])
    _run_generation(j, policy, [0.6, 0.7, 0.8, 0.9, 1.0])
    ops = Counter(policy.propose(j.view(), rng(s), 1)[0].operator for s in range(1000))
    assert ops["crossover"] / 1000 == pytest.approx(0.5, abs=0.05)


def test_child_admitted_only_if_at_least_island_mean() -> None:
    params = _params(individuals_per_generation=3)
    policy, j = EvolutionaryPolicy(params), Scripted()
    seeds = _run_generation(j, policy, [0.25, 0.5, 0.75])  # mean 0.5
    # 0.375 < 0.5: out; 0.75 >= 0.5: in (mean now 0.5625); 0.5625 == mean: in.
    gen1 = _run_generation(j, policy, [0.375, 0.75, 0.5625])
    policy.propose(j.view(), rng(), 3)  # generation 1 is complete: replayed
    assert island_members(j.view(), params) == [[*seeds, gen1[1], gen1[2]]]


def test_worst_member_evicted_above_max_island_size() -> None:
    params = _params(individuals_per_generation=3, max_island_size=3, max_debug_depth=0)
    policy, j = EvolutionaryPolicy(params), Scripted()
    seeds = _run_generation(j, policy, [0.25, 0.5, 0.75])
    gen1 = _run_generation(j, policy, [1.0, BUGGY, 0.875])  # the buggy one is not debugged
    # 1.0 joins (size 4 > 3: 0.25 evicted); 0.875 >= mean(0.5, 0.75, 1.0): joins, 0.5 evicted.
    assert island_members(j.view(), params) == [[seeds[2], gen1[0], gen1[2]]]


def test_done_after_num_generations() -> None:
    policy, j = EvolutionaryPolicy(_params(num_generations=2)), Scripted()
    _run_generation(j, policy, [0.1, 0.2, 0.3, 0.4, 0.5])
    _run_generation(j, policy, [0.6, 0.7, 0.8, 0.9, 1.0])
    assert policy.propose(j.view(), rng(), 5) == []


def test_empty_islands_fall_back_to_drafts() -> None:
    policy, j = EvolutionaryPolicy(_params(max_debug_depth=0)), Scripted()
    _run_generation(j, policy, [BUGGY] * 5)
    actions = policy.propose(j.view(), rng(), 5)
    assert summary(actions) == [("draft", ())] * 5
    assert {a.meta["evo_generation"] for a in actions} == {1}


def test_migration_resets_weaker_islands_and_is_replayed() -> None:
    params = _params(num_islands=2, migration_prob=1.0, individuals_per_generation=6)
    policy, j = EvolutionaryPolicy(params), Scripted()
    _run_generation(j, policy, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], seed=3)
    _run_generation(j, policy, [0.7, 0.8, 0.9, 1.0, 0.95, 0.85], seed=4)
    before, g, _ = rebuild(j.view(), params)
    assert g == 2 and all(len(i) >= 2 for i in before.islands)
    first = policy.propose(j.view(), rng(5), 1)
    moves = first[0].meta["evo_migration"]
    j.apply(first, [0.5])
    after, g, _ = rebuild(j.view(), params)
    weaker = min(range(2), key=lambda k: (max(n.fitness for n in before.islands[k]), k))
    assert len(after.islands[weaker]) == 1 + len(moves)
    assert sum(len(i) for i in after.islands) == sum(len(i) for i in before.islands) - (
        len(before.islands[weaker]) - 1
    )


def test_pure_same_journal_same_seed_same_actions() -> None:
    policy, j = EvolutionaryPolicy(), Scripted()
    _run_generation(j, policy, [0.1, BUGGY, 0.3, 0.4, 0.5])
    j.apply(policy.propose(j.view(), rng(), 5), [0.2])
    view = j.view()
    for seed in range(10):
        assert policy.propose(view, rng(seed), 5) == policy.propose(view, rng(seed), 5)
