"""Coverage of the between-group Δ (two independent agents, same tasks) at 5, 10 and 20 seeds.

Design: 2 fixed tasks (one higher-, one lower-is-better) × 15 nodes; agent A is the synthetic
default, agent B improves less along its search (``drift`` 0.02 instead of 0.05) and varies
twice as much between seeds (``search_sd`` 0.04 instead of 0.02), so the two groups' per-task
variances differ (what Welch's t is for). Estimands: Δ(A − B) of the study-level test score of
``best-val``, ``oracle`` and ``topk``; truth from pools of 40,000 searches per task and agent;
replicates are disjoint blocks of the pools, each run through
:func:`~aira_eval.selection.compare.compare_groups` (1,000 resamples). Run as a script to print
the table of docs/statistics.md: ``python tests/test_selection/test_between_coverage.py``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from aira_eval.selection.compare import COMPARE_METHODS, CompareOptions, compare_groups
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import get_strategy
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

SEEDS = (5, 10, 20)
N_REP = 1000
STRATEGIES = ("best-val", "oracle", "topk")
AGENTS = {"A": {}, "B": {"drift": 0.02, "search_sd": 0.04}}


def _pool(agent: dict[str, float], seed: int) -> np.ndarray:
    """Per-search test scores ``(tasks, searches, strategies)`` of one agent."""
    chunk, parts = 8000, []
    for i in range((sum(SEEDS) * N_REP) // chunk + 1):  # the tasks are the same in every chunk
        spec = SyntheticSpec(n_tasks=2, n_seeds=chunk, n_nodes=15, lower_is_better_every=2,
                             holdouts=False, leaderboard_teams=0, task_seed=11, **agent)
        study = generate_study(spec, seed=seed + i)
        table = evaluate_strategies(study.frame, study.tasks,
                                    [get_strategy(s) for s in STRATEGIES])
        score = table["test_score"].to_numpy(dtype=float)
        parts.append(score.reshape(len(STRATEGIES), 2, chunk).transpose(1, 2, 0))
    return np.concatenate(parts, axis=1)


def coverage_table(pool_a: np.ndarray, pool_b: np.ndarray) -> pd.DataFrame:
    """Coverage per (seeds, strategy, method) over ``N_REP`` replicates."""
    truth = pool_a.mean(axis=1).mean(axis=0) - pool_b.mean(axis=1).mean(axis=0)  # (S,)
    rows, start = [], 0
    tasks = np.array(["t0", "t1"], dtype=object)
    opts = CompareOptions(n_resamples=1000)
    for n in SEEDS:
        hits = {m: np.zeros(len(STRATEGIES)) for m in COMPARE_METHODS}
        unit_tasks, groups = np.tile(np.repeat(tasks, n), 2), np.repeat([0, 1], 2 * n)
        for rep in range(N_REP):
            cut = slice(start + rep * n, start + (rep + 1) * n)
            values = np.concatenate([pool_a[:, cut].reshape(2 * n, -1),
                                     pool_b[:, cut].reshape(2 * n, -1)])[:, :, None]
            frame = compare_groups(values, unit_tasks, groups, ["A", "B"], STRATEGIES, ["m"],
                                   np.ones(1), opts, np.random.default_rng(rep))
            for m in COMPARE_METHODS:
                lo, hi = frame[f"{m}_lo"].to_numpy(), frame[f"{m}_hi"].to_numpy()
                hits[m] += (lo <= truth) & (truth <= hi)
        start += n * N_REP
        rows.extend({"seeds": n, "estimand": f"{s}: A − B",
                     **{m: hits[m][j] / N_REP for m in COMPARE_METHODS}}
                    for j, s in enumerate(STRATEGIES))
    return pd.DataFrame(rows)


@functools.cache
def _table() -> pd.DataFrame:
    return coverage_table(_pool(AGENTS["A"], 1), _pool(AGENTS["B"], 1001))


@pytest.mark.slow
def test_default_and_welch_t_keep_their_level_between_agents() -> None:
    table = _table()
    assert CompareOptions().ci == "hall"
    for method in ("hall", "t"):
        assert table[method].between(0.93, 0.97).all(), table


if __name__ == "__main__":
    print(_table().to_string(index=False, float_format="{:.3f}".format))
