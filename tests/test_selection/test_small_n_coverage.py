"""Coverage at the seed counts papers use (3, 5, 10, 20 seeds per task), every interval method.

Design: 2 fixed tasks (one higher-, one lower-is-better) × n seeds × 15 nodes; the estimands
are the study-level normalized score of ``best-val``, ``oracle``, ``topk`` and ``shrinkage`` (the
headline metric of a study whose tasks differ in direction: mean over tasks of the expected
per-search value) and the paired differences to ``best-val``. Their truth is the mean over a
pool of 72,000 searches per task; the replicates are disjoint blocks of that pool (searches
are independent given the tasks), each run through the whole pipeline (strategies, evaluation,
bootstrap with 1,000 resamples). Run as a script to print the table of docs/statistics.md:
``python tests/test_selection/test_small_n_coverage.py``; with ``--dominant``, the table with
one task's scores × 10 (one task dominates the variance); with ``--raw``, the table of the raw
test scores, whose differences of picks have opposite skews in the two tasks (a mean
``select`` does not report: the tasks' metrics differ); with ``--mechanism``, the analytic
rules of docs/statistics.md on the raw design's replicates (per-side misses, estimated df);
with ``--analytic``, the analytic intervals (the default among them) on 24,000–96,000
replicates of a larger pool. Coverage is over the replicates that give an interval: a Δ that
is 0 on every search has none (``no interval``: its share).
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.special import stdtrit

from aira_eval.selection.bootstrap import (
    CI_METHODS,
    all_agree,
    draw_resamples,
    paired_bootstrap,
)
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import get_strategy
from aira_eval.selection.summary import SelectionOptions
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.selection.tintervals import (
    _hall_inverse,
    _task_moments,
    hall_interval,
    t_interval,
    t_stats,
)

SEEDS = (3, 5, 10, 20)
N_REP = 1500
STRATEGIES = ("best-val", "oracle", "topk", "shrinkage")
DEFAULT = SelectionOptions().ci  # hall


def _chunks(seeds: range, chunk: int = 8000) -> np.ndarray:
    """Per-search test scores ``(tasks, searches, strategies)``, ``chunk`` searches per task
    from each study seed of ``seeds`` (the tasks are the same in every chunk)."""
    parts = []
    for seed in seeds:
        spec = SyntheticSpec(n_tasks=2, n_seeds=chunk, n_nodes=15, lower_is_better_every=2,
                             holdouts=False, leaderboard_teams=0, task_seed=11)
        study = generate_study(spec, seed=seed)
        table = evaluate_strategies(study.frame, study.tasks,
                                    [get_strategy(s) for s in STRATEGIES])
        score = table["test_score"].to_numpy(dtype=float)
        parts.append(score.reshape(len(STRATEGIES), 2, chunk).transpose(1, 2, 0))
    return np.concatenate(parts, axis=1)


def _pool() -> np.ndarray:
    """The pool of the bootstrap table: enough disjoint searches for every seed count."""
    return _chunks(range(1, (sum(SEEDS) * N_REP) // 8000 + 3))


def normalized(pool: np.ndarray) -> np.ndarray:
    """``pool`` as normalized scores ``(score − sample) / (reference − sample)`` per task, the
    reference fixed as ``select`` fixes it without a leaderboard (docs/statistics.md, rule 3):
    the best test score of the task in the loaded searches (the oracle's best in the pool)."""
    spec = SyntheticSpec(n_tasks=2, n_seeds=2, n_nodes=15, lower_is_better_every=2,
                         holdouts=False, leaderboard_teams=0, task_seed=11)
    infos = list(generate_study(spec, seed=1).tasks.values())
    oracle = pool[:, :, STRATEGIES.index("oracle")]
    out = np.empty_like(pool)
    for t, info in enumerate(infos):
        ref = np.nanmin(oracle[t]) if info.lower_is_better else np.nanmax(oracle[t])
        out[t] = (pool[t] - info.sample_score) / (ref - info.sample_score)
    return out


def _hall_only(values: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Hall's own interval read at the *t* quantile, ``[θ̂ − se·g⁻¹(t_{ν, 0.975}), θ̂ −
    se·g⁻¹(t_{ν, 0.025})]`` (both ends moved; measured, not offered: why the default keeps
    only its long-tail shift), of the means and the differences to ``best-val``,
    ``(2S − 1, 2)``."""
    flat = np.concatenate([values, values[:, 1:] - values[:, :1]], axis=1)
    st = t_stats(flat, strata)
    q, gamma = stdtrit(st.df, 0.975), np.nan_to_num(st.skew)
    bounds = np.stack([st.theta - st.se * _hall_inverse(q, gamma),
                       st.theta - st.se * _hall_inverse(-q, gamma)], axis=1)
    return np.where((st.se == 0)[:, None], st.theta[:, None], bounds)


def coverage_table(pool: np.ndarray) -> pd.DataFrame:
    """Coverage per (seeds, estimand, method) over ``N_REP`` replicates, among the replicates
    that give an interval (a Δ of a strategy that agrees with ``best-val`` on every search
    has none: their share is ``no interval``); ``hall-only`` is Hall's own interval read at
    the t quantile (both ends moved), of which the default ``hall`` keeps only the long-tail
    shift, read at the normal quantile."""
    truth = pool.mean(axis=1).mean(axis=0)  # (S,)
    names = [*STRATEGIES, *(f"{s} − best-val" for s in STRATEGIES[1:])]
    true_all = np.r_[truth, truth[1:] - truth[0]]
    rows, start = [], 0
    columns = (*CI_METHODS, "hall-only")
    for n in SEEDS:
        hits = {m: np.zeros(len(names)) for m in columns}
        given = np.zeros(len(names))
        strata = np.repeat(np.arange(2), n)
        for rep in range(N_REP):
            block = pool[:, start + rep * n:start + (rep + 1) * n]  # (T, n, S)
            values = block.reshape(2 * n, len(STRATEGIES))[:, :, None]
            res = paired_bootstrap(values, draw_resamples(strata, 1000, rep), 0, np.ones(1),
                                   methods=CI_METHODS)
            cis = {m: np.r_[res.intervals[m][:, 0], res.delta_intervals[m][1:, 0]]
                   for m in CI_METHODS}
            agree = np.r_[np.zeros(len(STRATEGIES), bool), res.n_differing[1:, 0] == 0]
            cis["hall-only"] = np.where(agree[:, None], np.nan,
                                        _hall_only(values[:, :, 0], strata))
            given += ~agree
            for m, ci in cis.items():
                hits[m] += (ci[:, 0] <= true_all) & (true_all <= ci[:, 1])
        start += n * N_REP
        for j, name in enumerate(names):
            rows.append({"seeds": n, "estimand": name,
                         **{m: hits[m][j] / given[j] for m in columns},
                         "no interval": 1 - given[j] / N_REP})
    return pd.DataFrame(rows)


BIG_CHUNKS = 60  # 480,000 searches per task: 96,000 / 48,000 / 24,000 replicates at 5/10/20


def _big_pool() -> np.ndarray:
    """A larger pool for the analytic intervals, which need no resampling (the default is
    one): their coverage to ±0.1 %."""
    return _chunks(range(1000, 1000 + BIG_CHUNKS))


def analytic_table(pool: np.ndarray, seeds: tuple[int, ...] = (5, 10, 20)) -> pd.DataFrame:
    """Coverage of the analytic intervals (``hall``, ``t``) over every disjoint block of
    ``pool`` per seed count (all replicates at once: one column each), among the replicates
    that give an interval, with its Monte-Carlo standard error ``se_<method>``."""
    vals = np.concatenate([pool, pool[:, :, 1:] - pool[:, :, :1]], axis=2)  # (T, N, E)
    names = [*STRATEGIES, *(f"{s} − best-val" for s in STRATEGIES[1:])]
    n_est = len(names)
    truth = vals.mean(axis=1).mean(axis=0)
    rows = []
    for n in seeds:
        reps = vals.shape[1] // n
        v = (vals[:, :reps * n].reshape(2, reps, n, n_est).transpose(0, 2, 1, 3)
             .reshape(2 * n, reps * n_est))
        st = t_stats(v, np.repeat(np.arange(2), n))
        agree = all_agree(v[:, :, None])[:, 0].reshape(reps, n_est)  # no Δ interval
        agree[:, :len(STRATEGIES)] = False
        out: dict[str, object] = {}
        for method, interval in (("hall", hall_interval), ("t", t_interval)):
            ci = interval(st).reshape(reps, n_est, 2)
            hit = ((ci[..., 0] <= truth) & (truth <= ci[..., 1]) & ~agree).sum(axis=0)
            cov = hit / (~agree).sum(axis=0)
            out[method], out[f"se_{method}"] = cov, np.sqrt(cov * (1 - cov) / (~agree).sum(0))
        rows.extend({"seeds": n, "estimand": name, "replicates": reps,
                     **{k: float(c[j]) for k, c in out.items()},  # type: ignore[index]
                     "no interval": float(agree[:, j].mean())} for j, name in enumerate(names))
    return pd.DataFrame(rows)


@functools.cache
def _pool_cached() -> np.ndarray:
    return _pool()


@functools.cache
def _table() -> pd.DataFrame:
    return coverage_table(normalized(_pool_cached()))


DIFFS = ["oracle − best-val", "topk − best-val"]


@functools.cache
def _analytic() -> pd.DataFrame:
    return analytic_table(normalized(_big_pool()))


def _within(cov: pd.Series, se: pd.Series, lo: float, hi: float) -> bool:
    """``cov`` in ``[lo, hi]`` up to its Monte-Carlo error (2 se): what a simulation can
    assert of a band."""
    return bool(((cov >= lo - 2 * se) & (cov <= hi + 2 * se)).all())


@pytest.mark.slow
def test_default_interval_keeps_its_level_from_5_seeds() -> None:
    """The issue's promise, for the default, at 24,000–96,000 replicates (Monte-Carlo error
    ±0.1 %): 93–97 % for every strategy's mean and every difference of picks that differ
    (oracle, topk), wherever a task has ≥ 5 seeds; among the intervals given (a Δ that is 0 on
    every search has none: 0.4 % of the replicates for oracle at 5 seeds)."""
    table = _analytic().set_index(["seeds", "estimand"])
    assert DEFAULT == "hall"
    for n in (5, 10, 20):
        rows = table.loc[n].loc[[*STRATEGIES, *DIFFS]]
        assert _within(rows["hall"], rows["se_hall"], 0.93, 0.97), rows
        assert (rows["no interval"] < 0.01).all()
        assert (table.loc[n].loc[DIFFS, "t"] < 0.93).all()  # why the default is not t


@pytest.mark.slow
def test_sparse_differences_are_covered_where_an_interval_is_given() -> None:
    """shrinkage picks best-val's node in most searches (zero-inflated, of either sign, a
    near-zero truth). A replicate whose searches all agree has Δ = 0 and no interval (30 % at
    5 seeds per task, 9 % at 10, 1 % at 20: 0.887^(2n)); the intervals given cover at least
    93 %, conservatively (97–99 %: a few differing values of either sign straddle the
    near-zero truth), in the bootstrap table too."""
    analytic = _analytic().set_index(["seeds", "estimand"])
    boot = _table().set_index(["seeds", "estimand"])
    name = "shrinkage − best-val"
    for n, none in ((5, 0.30), (10, 0.09), (20, 0.01)):
        assert analytic.loc[(n, name), "no interval"] == pytest.approx(none, abs=0.01)
        assert analytic.loc[(n, name), "hall"] >= 0.93
        assert boot.loc[(n, name), DEFAULT] >= 0.93


@pytest.mark.slow
def test_bootstrap_table_agrees_with_the_large_run() -> None:
    """The 1,500-replicate table of every method (docs/statistics.md) reads the default as the
    large run does, within its Monte-Carlo error (±0.6 % at 95 %: 4 se allowed)."""
    boot = _table().set_index(["seeds", "estimand"])[DEFAULT]
    analytic = _analytic().set_index(["seeds", "estimand"])
    for n in (5, 10, 20):
        for name in [*STRATEGIES, *DIFFS]:
            big = analytic.loc[(n, name), "hall"]
            assert abs(boot.loc[(n, name)] - big) <= 4 * np.sqrt(big * (1 - big) / N_REP)


@pytest.mark.slow
def test_halls_own_interval_would_fail_sparse_differences_of_either_sign() -> None:
    """Why the default keeps t's short side: Hall's correction alone (:func:`_hall_only`) moves
    shrinkage − best-val's interval off its near-zero truth (85 % at 20 seeds, t 97 %)."""
    table = _table().set_index(["seeds", "estimand"])
    assert table.loc[(20, "shrinkage − best-val"), "hall-only"] < 0.9
    assert table.loc[(20, "shrinkage − best-val"), DEFAULT] >= 0.93


@pytest.mark.slow
def test_t_undercovers_differences_of_picks() -> None:
    """Why the default is not t: it ignores the skewness of one-sided differences."""
    table = _table().set_index(["seeds", "estimand"])["t"]
    for n in (5, 10, 20):
        assert (table.loc[n].loc[DIFFS] < 0.93).all()
        assert table.loc[n].loc[list(STRATEGIES)].between(0.93, 0.97).all()


DOMINANT_SCALE = 10.0


@functools.cache
def _dominant_table() -> pd.DataFrame:
    """The same replicates with task 0's scores × :data:`DOMINANT_SCALE`."""
    pool = normalized(_pool_cached())
    pool[0] *= DOMINANT_SCALE
    return coverage_table(pool)


@pytest.mark.slow
def test_one_dominant_task() -> None:
    """docs/statistics.md "When one task dominates": means keep their level; the default
    under-covers differences of picks at 5 seeds (one task's 5 skewed, mostly-zero values;
    warned about) and holds from 10; t under-covers up to 20."""
    table = _dominant_table().set_index(["seeds", "estimand"])
    for n in (5, 10, 20):
        assert table.loc[n].loc[list(STRATEGIES), DEFAULT].between(0.93, 0.97).all()
        assert (table.loc[n].loc[DIFFS, "t"] < 0.93).all()
    assert (table.loc[5].loc[DIFFS, DEFAULT] < 0.93).all()
    for n in (10, 20):
        assert table.loc[n].loc[DIFFS, DEFAULT].between(0.93, 0.985).all()


@functools.cache
def _raw_table() -> pd.DataFrame:
    return coverage_table(_pool_cached())


@pytest.mark.slow
def test_raw_scores_of_opposite_directions() -> None:
    """Raw test scores averaged over a higher- and a lower-is-better task (not reported by
    ``select``): the two tasks' skews cancel; t over-covers differences at 5 seeds, Hall's
    own correction, from noisy skewness estimates, falls to 92–93 % at 10, and the default
    (t with its long-tail end moved out) stays at or above t (docs/statistics.md)."""
    table = _raw_table().set_index(["seeds", "estimand"])
    for n in (5, 10, 20):
        assert table.loc[n].loc[list(STRATEGIES), DEFAULT].between(0.93, 0.975).all()
        assert (table.loc[n].loc[DIFFS, DEFAULT] >= 0.93).all()  # t over-covers: so does it
        assert (table.loc[n].loc[DIFFS, DEFAULT] >= table.loc[n].loc[DIFFS, "t"]).all()
    assert (table.loc[10].loc[DIFFS, "hall-only"] < 0.94).all()


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
    elif "--raw" in sys.argv:
        result = _raw_table()
    elif "--analytic" in sys.argv:
        result = _analytic()
    elif "--mechanism" in sys.argv:
        result = mechanism_table(_pool_cached())
    else:
        result = _table()
    print(result.to_string(index=False, float_format="{:.3f}".format))
