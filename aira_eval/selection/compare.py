"""Between-group differences: Δ(A − B) of the same strategy, with a stratified bootstrap.

For groups ``A`` and ``B`` (two agents, say) and every strategy × metric, the statistic is
``θ_A − θ_B``, each ``θ`` the mean over the *shared* tasks of the mean over the group's
searches (seeds) on that task. Searches are resampled with replacement within task × group (the
two groups' searches are independent); with ``task_level`` the tasks are resampled too, the
same draw for both groups (tasks are shared, so the comparison stays paired by task). Tasks
that only one group has are left out of its Δ and listed (``only_a``, ``only_b``), never
dropped silently.

Intervals: the same family as within a group. **hall** (the default): the Welch *t* below
extended toward the long tail by Hall's skewness correction, with the skewness of the
difference of two independent means (:func:`~aira_eval.selection.tintervals.hall_interval`);
**t**: Welch's two-sample *t* stratified by task
(:func:`~aira_eval.selection.tintervals.welch_difference`: ``se² = se_A² + se_B²`` from the
per-task variances of both groups, Welch–Satterthwaite degrees of freedom over the task ×
group cells; with ``task_level`` the per-task differences are the sample, ``ν = T − 1``);
**expanded** (the percentile interval of the Δ draws at Hesterberg's expanded levels);
**percentile** and **BCa** as in :mod:`aira_eval.selection.bootstrap` (the BCa acceleration from
the delete-one-search jackknife of Δ, searches stratified by task × group, or delete-one-task
with ``task_level``). The studentized interval is not computed between groups; asking for it
shows *hall* (the ``ci_method`` column says which). ``share_resamples_favouring``: the share of
resamples in which Δ favours ``A`` in the metric's direction, ties half — a bootstrap summary
of Δ, not a probability that A is better (the same name and meaning as within a group).

Shapes: ``values`` ``(U, S, M)`` units (searches) × strategies × metrics, ``tasks`` ``(U,)``
task labels, ``groups`` ``(U,)`` group codes; results are one row per (pair, strategy, metric).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aira_eval.selection.bootstrap import (
    Resamples,
    bootstrap_intervals,
    clip_intervals,
    draw_counts,
    jackknife,
    point_estimate,
    quantiles,
    stratified_means,
)
from aira_eval.selection.evaluate import metric_ranges
from aira_eval.selection.tintervals import (
    expanded_levels,
    hall_interval,
    t_interval,
    welch_difference,
)

INTERVAL_COLUMNS = ("hall_lo", "hall_hi", "t_lo", "t_hi", "expanded_lo", "expanded_hi",
                    "percentile_lo", "percentile_hi", "bca_lo", "bca_hi")
COMPARE_METHODS = ("hall", "t", "expanded", "percentile", "bca")
FAVOURING = "share_resamples_favouring"


@dataclass(frozen=True)
class CompareOptions:
    """Bootstrap settings of a between-group comparison."""

    n_resamples: int = 10_000
    task_level: bool = False
    level: float = 0.95
    ci: str = "hall"


def group_pairs(labels: Sequence[str], baseline: str | None = None) -> list[tuple[int, int]]:
    """``(a, b)`` index pairs: every ``a < b``, or every group against ``baseline``."""
    if baseline is None:
        return [(a, b) for a in range(len(labels)) for b in range(a + 1, len(labels))]
    base = list(labels).index(baseline)
    return [(a, base) for a in range(len(labels)) if a != base]


def _side_weights(rng: np.random.Generator, strata: np.ndarray, task_w: np.ndarray
                  ) -> np.ndarray:
    """``(R, U)`` draw counts of one group's units given shared task draws ``(R, T)``."""
    weights = np.zeros((task_w.shape[0], strata.size), dtype=np.float32)
    for t in range(task_w.shape[1]):
        units = np.flatnonzero(strata == t)
        draws = (task_w[:, t] * units.size).astype(np.int64)
        weights[:, units] = draw_counts(rng, draws, units.size)
    return weights


def _pair_draws(flat_a: np.ndarray, strata_a: np.ndarray, flat_b: np.ndarray,
                strata_b: np.ndarray, n_tasks: int, opts: CompareOptions,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(Δ draws ``(R, K)``, Δ estimate ``(K,)``, jackknife ``(J, K)``, its strata ``(J,)``)."""
    n_res = opts.n_resamples
    if opts.task_level:
        task_w = draw_counts(rng, np.full(n_res, n_tasks), n_tasks)
    else:
        task_w = np.ones((n_res, n_tasks), dtype=np.float32)
    boots = []
    for flat, strata in ((flat_a, strata_a), (flat_b, strata_b)):
        res = Resamples(_side_weights(rng, strata, task_w), task_w, strata, opts.task_level)
        boots.append(stratified_means(flat, res))
    theta_a, theta_b = point_estimate(flat_a, strata_a), point_estimate(flat_b, strata_b)
    if opts.task_level:
        jack = jackknife(flat_a, strata_a, by_task=True) - jackknife(flat_b, strata_b, by_task=True)
        jack_strata = np.zeros(n_tasks, dtype=np.int64)
    else:
        jack = np.vstack([jackknife(flat_a, strata_a) - theta_b,
                          theta_a - jackknife(flat_b, strata_b)])
        jack_strata = np.r_[strata_a, n_tasks + strata_b]
    return boots[0] - boots[1], theta_a - theta_b, jack, jack_strata


def _share_favouring(d_boot: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Share ``(S, M)`` of the Δ draws ``(R, S, M)`` favouring A (ties half); NaN for metrics
    without a direction."""
    oriented = d_boot * np.asarray(directions, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = ((oriented > 0).sum(axis=0) + 0.5 * (oriented == 0).sum(axis=0)) / \
            np.isfinite(oriented).sum(axis=0)
    return np.where(np.asarray(directions)[None, :] == 0, np.nan, share)


def compare_pair(values: np.ndarray, tasks: np.ndarray, groups: np.ndarray, a: int, b: int,
                 directions: np.ndarray, opts: CompareOptions, rng: np.random.Generator,
                 draws: Sequence[np.ndarray | None] | None = None
                 ) -> dict[str, np.ndarray | list[str]]:
    """Δ(A − B) for every strategy × metric of ``values`` ``(U, S, M)`` (module docstring).

    ``draws``: per group, its own bootstrap distribution ``(R, S·M)`` (searches resampled
    within its tasks). When the two groups have the same tasks and tasks are not resampled,
    these are already draws of the stratified two-group bootstrap and Δ uses them (the
    per-group and between-group intervals then come from the same resamples); otherwise the
    pair gets its own draws over the shared tasks.

    Returns:
        ``delta``, ``se`` (the standard deviation of the Δ draws, as within a group), one
        ``(S, M, 2)`` interval per method of :data:`COMPARE_METHODS`, :data:`FAVOURING`
        ``(S, M)`` (NaN everywhere when the groups share no task), and the task lists
        ``shared``, ``only_a``, ``only_b``.
    """
    _, n_strat, n_met = values.shape
    in_a, in_b = groups == a, groups == b
    tasks_a, tasks_b = list(pd.unique(tasks[in_a])), list(pd.unique(tasks[in_b]))
    shared = [t for t in tasks_a if t in set(tasks_b)]
    out: dict[str, np.ndarray | list[str]] = {
        "shared": shared, "only_a": [t for t in tasks_a if t not in shared],
        "only_b": [t for t in tasks_b if t not in shared]}
    nan2, nan3 = np.full((n_strat, n_met), np.nan), np.full((n_strat, n_met, 2), np.nan)
    if not shared:
        return {**out, "delta": nan2, "se": nan2, FAVOURING: nan2,
                **{m: nan3 for m in COMPARE_METHODS}}
    code = {t: i for i, t in enumerate(shared)}
    sel_a = np.flatnonzero(in_a & np.isin(tasks, shared))
    sel_b = np.flatnonzero(in_b & np.isin(tasks, shared))
    strata_a = np.array([code[t] for t in tasks[sel_a]], dtype=np.int64)
    strata_b = np.array([code[t] for t in tasks[sel_b]], dtype=np.int64)
    flat_a = values[sel_a].reshape(sel_a.size, -1)
    flat_b = values[sel_b].reshape(sel_b.size, -1)
    given = (draws[a], draws[b]) if draws is not None else (None, None)
    if given[0] is not None and given[1] is not None and not opts.task_level and \
            not out["only_a"] and not out["only_b"]:
        theta_a, theta_b = point_estimate(flat_a, strata_a), point_estimate(flat_b, strata_b)
        d_boot, d_theta = given[0] - given[1], theta_a - theta_b
        jack = np.vstack([jackknife(flat_a, strata_a) - theta_b,
                          theta_a - jackknife(flat_b, strata_b)])
        jack_strata = np.r_[strata_a, len(shared) + strata_b]
    else:
        d_boot, d_theta, jack, jack_strata = _pair_draws(flat_a, strata_a, flat_b, strata_b,
                                                         len(shared), opts, rng)
    se, pct, bca = bootstrap_intervals(d_boot, d_theta, jack, jack_strata, opts.level)
    welch = welch_difference(flat_a, strata_a, flat_b, strata_b, opts.task_level)
    expanded = np.where((welch.se == 0)[:, None], d_theta[:, None],
                        quantiles(d_boot, expanded_levels(welch, opts.level)))
    intervals = {"hall": hall_interval(welch, opts.level), "t": t_interval(welch, opts.level),
                 "expanded": welch.undefined(expanded),
                 "percentile": welch.undefined(pct), "bca": welch.undefined(bca)}
    se = np.where(welch.estimable, se, np.nan)
    return {**out, "delta": d_theta.reshape(n_strat, n_met), "se": se.reshape(n_strat, n_met),
            FAVOURING: _share_favouring(d_boot.reshape(-1, n_strat, n_met), directions),
            **{m: v.reshape(n_strat, n_met, 2) for m, v in intervals.items()}}


def compare_groups(values: np.ndarray, tasks: np.ndarray, groups: np.ndarray,
                   labels: Sequence[str], strategies: Sequence[str], metrics: Sequence[str],
                   directions: np.ndarray, opts: CompareOptions, rng: np.random.Generator,
                   baseline: str | None = None,
                   draws: Sequence[np.ndarray | None] | None = None) -> pd.DataFrame:
    """One row per (pair, strategy, metric): ``group_a``, ``group_b``, ``strategy``,
    ``metric``, ``delta``, ``se`` (bootstrap), ``lo``/``hi`` (the ``opts.ci``
    interval, named in ``ci_method``), every method's bounds (:data:`INTERVAL_COLUMNS`),
    :data:`FAVOURING`, ``tasks`` (shared), ``only_a``/``only_b`` (comma lists).
    ``draws``: per group, as in :func:`compare_pair`."""
    method = opts.ci if opts.ci in COMPARE_METHODS else "hall"
    ranges = metric_ranges(metrics)  # Δ intervals within [lo − hi, hi − lo]
    parts = []
    n_strat, n_met = len(strategies), len(metrics)
    strat_col = np.repeat(np.asarray(strategies, dtype=object), n_met)
    metric_col = np.tile(np.asarray(metrics, dtype=object), n_strat)
    for a, b in group_pairs(labels, baseline):
        r = compare_pair(values, tasks, groups, a, b, directions, opts, rng, draws)
        r.update({m: clip_intervals(np.asarray(r[m]), ranges, delta=True)
                  for m in COMPARE_METHODS})
        bounds = {f"{m}_{side}": np.asarray(r[m])[..., i].reshape(-1)
                  for m in COMPARE_METHODS for i, side in enumerate(("lo", "hi"))}
        parts.append(pd.DataFrame({
            "group_a": labels[a], "group_b": labels[b], "strategy": strat_col,
            "metric": metric_col, "delta": np.asarray(r["delta"]).reshape(-1),
            "se": np.asarray(r["se"]).reshape(-1), "ci_method": method,
            "lo": bounds[f"{method}_lo"], "hi": bounds[f"{method}_hi"], **bounds,
            FAVOURING: np.asarray(r[FAVOURING]).reshape(-1),
            "tasks": len(r["shared"]), "only_a": ", ".join(r["only_a"]),
            "only_b": ", ".join(r["only_b"]),
        }))
    if not parts:
        return pd.DataFrame(columns=["group_a", "group_b", "strategy", "metric", "delta", "se",
                                     "ci_method", "lo", "hi", *INTERVAL_COLUMNS,
                                     FAVOURING, "tasks", "only_a", "only_b"])
    return pd.concat(parts, ignore_index=True)
