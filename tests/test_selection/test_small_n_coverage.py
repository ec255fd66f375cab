"""Coverage at the seed counts papers use (3, 5, 10, 20 seeds per task), every interval method.

Design: 2 fixed tasks (one higher-, one lower-is-better) × n seeds × 15 nodes; the estimands
are the study-level test score of ``best-val``, ``oracle``, ``topk`` and ``shrinkage`` (mean over
tasks of the expected per-search value) and the paired differences to ``best-val``. Their truth
is the mean over a pool of 64,000 searches per task; the replicates are disjoint blocks of that
pool (searches are independent given the tasks), each run through the whole pipeline
(strategies, evaluation, bootstrap with 1,000 resamples). Run as a script to print the table of
docs/statistics.md: ``python tests/test_selection/test_small_n_coverage.py``; with ``--mechanism``
it prints instead why t over-covers the differences of picks (per-side misses, the estimated
degrees of freedom, and the analytic alternatives of docs/statistics.md on the same replicates);
with ``--dominant``, the coverage table with one task's scores × 10 (one task dominates).
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.special import stdtrit

from aira_eval.selection.bootstrap import CI_METHODS, draw_resamples, paired_bootstrap
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import get_strategy
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.selection.tintervals import _task_moments, t_stats

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
        # and 10 seeds (98 %, 97 %) from a downward-biased estimated df and the kurtosis of
        # zero-inflated differences — measured, and no correction adopted: docs/statistics.md
        # "Why t over-covers differences of picks" (the issue asked for ≤ 97 %)
        diffs = table.loc[n].loc[["oracle − best-val", "topk − best-val"]]
        assert diffs.between(0.93, 0.985).all(), diffs
    # shrinkage picks best-val's node in most searches: zero-inflated, covered from 20 seeds
    assert table.loc[(20, "shrinkage − best-val")] >= 0.93
    assert table.loc[(5, "shrinkage − best-val")] < 0.8  # documented, and warned about


DOMINANT_SCALE = 10.0


@functools.cache
def _dominant_table() -> pd.DataFrame:
    """The same replicates with task 0's scores × :data:`DOMINANT_SCALE`."""
    pool = _pool().copy()
    pool[0] *= DOMINANT_SCALE
    return coverage_table(pool)


@pytest.mark.slow
def test_one_dominant_task() -> None:
    """docs/statistics.md "When one task dominates": means keep their level; t under-covers
    differences of picks (skewed, zero-inflated, nothing cancels); studentized holds from 10."""
    table = _dominant_table().set_index(["seeds", "estimand"])
    diffs = ["oracle − best-val", "topk − best-val"]
    for n in (5, 10, 20):
        assert table.loc[n].loc[list(STRATEGIES), DEFAULT].between(0.93, 0.97).all()
        assert (table.loc[n].loc[diffs, DEFAULT] < 0.93).all()
    assert (table.loc[5].loc[diffs, DEFAULT] < 0.85).all()
    for n in (10, 20):
        assert table.loc[n].loc[diffs, "studentized"].between(0.93, 0.98).all()


@pytest.mark.slow
def test_percentile_bootstrap_undercovers_at_5_seeds() -> None:
    """The reason for the default (the issue's table): 87–89 % for means at 5 seeds."""
    table = _table()
    assert table.loc[table["seeds"] == 5, "percentile"].max() < 0.9


def _critical_values(v: np.ndarray, strata: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per rule, the multiplier of ``se`` of a symmetric interval (docs: the rules tried)."""
    st = t_stats(v, strata)
    counts, means, ss = _task_moments(v, strata)
    var = ss / (counts - 1) / counts
    w47 = np.minimum(var.sum(0) ** 2 / (var**2 / (counts + 1)).sum(0) - 2, 2.0 * (n - 1))
    dev = v - means[strata]
    m2, m3, m4 = (np.zeros_like(means) for _ in range(3))
    for m, k in ((m2, 2), (m3, 3), (m4, 4)):
        np.add.at(m, strata, dev**k)
    m2, m3, m4 = m2 / counts, m3 / counts, m4 / counts
    c, tasks = counts, means.shape[0]
    k3 = c * c * m3 / ((c - 1) * (c - 2))
    k4 = (c * c * ((c + 1) * m4 - 3 * (c - 1) * m2**2) / ((c - 1) * (c - 2) * (c - 3))
          if n > 3 else np.zeros_like(m2))
    big2 = (ss / (c - 1) / c).sum(0) / tasks**2
    with np.errstate(invalid="ignore", divide="ignore"):
        skew2 = np.where(big2 > 0, ((k3 / c**2).sum(0) / tasks**3) ** 2 / big2**3, 0.0)
        kurt = np.where(big2 > 0, (k4 / c**3).sum(0) / tasks**4 / big2**2, 0.0)
    x = stdtrit(st.df, 0.975)
    cornish = x * np.clip(1 - kurt / 12 * (x**2 - 3) + skew2 / 18 * (x**4 + 2 * x**2 - 3), 0.5, 2)
    return {"welch-satterthwaite": x, "welch-1947": stdtrit(w47, 0.975),
            "pooled": np.full_like(x, stdtrit(2.0 * (n - 1), 0.975)),
            "cornish-fisher": cornish, "normal": np.full_like(x, 1.959964)}


def mechanism_table(pool: np.ndarray) -> pd.DataFrame:
    """Per (seeds, estimand, rule): coverage, misses above and below, mean WS df."""
    vals = np.concatenate([pool, pool[:, :, 1:] - pool[:, :, :1]], axis=2)
    names = [*STRATEGIES, *(f"{s} − best-val" for s in STRATEGIES[1:])]
    truth = vals.mean(axis=1).mean(axis=0)
    rows, start = [], 0
    for n in SEEDS[1:]:
        start += (SEEDS[0] if n == SEEDS[1] else 0) * N_REP
        strata = np.repeat(np.arange(2), n)
        above, below, dfs = {}, {}, []
        for rep in range(N_REP):
            v = vals[:, start + rep * n:start + (rep + 1) * n].reshape(2 * n, -1)
            st = t_stats(v, strata)
            dfs.append(st.df)
            for rule, x in _critical_values(v, strata, n).items():
                half = np.where(st.se == 0, 0.0, x * st.se)
                above[rule] = above.get(rule, 0) + (st.theta - half > truth)
                below[rule] = below.get(rule, 0) + (st.theta + half < truth)
        start += n * N_REP
        rows.extend({"seeds": n, "estimand": name, "rule": rule,
                     "coverage": 1 - (above[rule][j] + below[rule][j]) / N_REP,
                     "above": above[rule][j] / N_REP, "below": below[rule][j] / N_REP,
                     "mean_ws_df": float(np.nanmean(np.array(dfs)[:, j]))}
                    for rule in above for j, name in enumerate(names))
    return pd.DataFrame(rows)


if __name__ == "__main__":
    if "--dominant" in sys.argv:
        result = _dominant_table()
    else:
        result = (mechanism_table if "--mechanism" in sys.argv else coverage_table)(_pool())
    print(result.to_string(index=False, float_format="{:.3f}".format))
