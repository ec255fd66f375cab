"""Coverage at the seed counts papers use (3, 5, 10, 20 seeds per task), every interval method.

Design: 2 fixed tasks (one higher-, one lower-is-better) × n seeds × 15 nodes; the estimands
are the study-level test score of ``best-val``, ``oracle``, ``topk`` and ``shrinkage`` (mean over
tasks of the expected per-search value) and the paired differences to ``best-val``. Their truth
is the mean over a pool of 64,000 searches per task; the replicates are disjoint blocks of that
pool (searches are independent given the tasks), each run through the whole pipeline
(strategies, evaluation, bootstrap with 1,000 resamples). Run as a script to print the table of
docs/statistics.md: ``python tests/test_selection/test_small_n_coverage.py``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from aira_eval.selection.bootstrap import CI_METHODS, draw_resamples, paired_bootstrap
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import get_strategy
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

SEEDS = (3, 5, 10, 20)
N_REP = 1500
STRATEGIES = ("best-val", "oracle", "topk", "shrinkage")
DEFAULT = "t"


def _pool() -> np.ndarray:
    """Per-search test scores ``(tasks, searches, strategies)``."""
    chunk, parts = 8000, []
    for i in range((sum(SEEDS) * N_REP) // chunk + 2):  # the tasks are the same in every chunk
        spec = SyntheticSpec(n_tasks=2, n_seeds=chunk, n_nodes=15, lower_is_better_every=2,
                             holdouts=False, leaderboard_teams=0, task_seed=11)
        study = generate_study(spec, seed=1 + i)
        table = evaluate_strategies(study.frame, study.tasks,
                                    [get_strategy(s) for s in STRATEGIES])
        score = table["test_score"].to_numpy(dtype=float)
        parts.append(score.reshape(len(STRATEGIES), 2, chunk).transpose(1, 2, 0))
    return np.concatenate(parts, axis=1)


def coverage_table(pool: np.ndarray) -> pd.DataFrame:
    """Coverage per (seeds, estimand, method) over ``N_REP`` replicates."""
    truth = pool.mean(axis=1).mean(axis=0)  # (S,)
    names = [*STRATEGIES, *(f"{s} − best-val" for s in STRATEGIES[1:])]
    true_all = np.r_[truth, truth[1:] - truth[0]]
    rows, start = [], 0
    for n in SEEDS:
        hits = {m: np.zeros(len(names)) for m in CI_METHODS}
        strata = np.repeat(np.arange(2), n)
        for rep in range(N_REP):
            block = pool[:, start + rep * n:start + (rep + 1) * n]  # (T, n, S)
            values = block.reshape(2 * n, len(STRATEGIES))[:, :, None]
            res = paired_bootstrap(values, draw_resamples(strata, 1000, rep), 0, np.ones(1),
                                   methods=CI_METHODS)
            for m in CI_METHODS:
                ci = np.r_[res.intervals[m][:, 0], res.delta_intervals[m][1:, 0]]
                hits[m] += (ci[:, 0] <= true_all) & (true_all <= ci[:, 1])
        start += n * N_REP
        for j, name in enumerate(names):
            rows.append({"seeds": n, "estimand": name,
                         **{m: hits[m][j] / N_REP for m in CI_METHODS}})
    return pd.DataFrame(rows)


@functools.cache
def _table() -> pd.DataFrame:
    return coverage_table(_pool())


@pytest.mark.slow
def test_default_interval_keeps_its_level_from_5_seeds() -> None:
    table = _table().set_index(["seeds", "estimand"])[DEFAULT]
    for n in (5, 10, 20):
        means = table.loc[n].loc[list(STRATEGIES)]
        assert means.between(0.93, 0.97).all(), means
        # paired differences of picks that differ: never below the level; conservative at 5
        diffs = table.loc[n].loc[["oracle − best-val", "topk − best-val"]]
        assert diffs.between(0.93, 0.985).all(), diffs
    # shrinkage picks best-val's node in most searches: zero-inflated, covered from 20 seeds
    assert table.loc[(20, "shrinkage − best-val")] >= 0.93
    assert table.loc[(5, "shrinkage − best-val")] < 0.8  # documented, and warned about


@pytest.mark.slow
def test_percentile_bootstrap_undercovers_at_5_seeds() -> None:
    """The reason for the default (the issue's table): 87–89 % for means at 5 seeds."""
    table = _table()
    assert table.loc[table["seeds"] == 5, "percentile"].max() < 0.9


if __name__ == "__main__":
    result = coverage_table(_pool())
    print(result.to_string(index=False, float_format="{:.3f}".format))
