"""Small-sample intervals for stratified means: Welch–Satterthwaite *t* and expanded percentile.

The percentile bootstrap of a mean over ``n`` seeds estimates the variance with divisor ``n``
(not ``n − 1``) and uses normal, not *t*, tails; at the 3–10 seeds per task that papers use its
95 % intervals cover 85–90 % (docs/statistics.md). Two corrections, both per column of a
``(U, K)`` value array in strata ``(U,)`` (NaN missing, as :mod:`.bootstrap`):

* **t** (the default): ``θ̂ ± t_{ν, 1−α} · se`` with, at seed level (tasks fixed),
  ``se² = Σ_t v_t / T²``, ``v_t = s_t² / n_t`` (``s_t²`` the task's sample variance, ddof 1,
  over its ``n_t`` finite values; ``T`` the tasks with a value) and the Welch–Satterthwaite
  degrees of freedom ``ν = (Σ v_t)² / Σ v_t² / (n_t − 1)``; tasks with one value add no
  variance and no degrees of freedom. With ``task_level`` (tasks a sample too), ``se`` is the
  standard deviation of the ``T`` task means over ``√T`` and ``ν = T − 1``.
* **expanded** (Hesterberg 2015, "What teachers should know about the bootstrap", §5.2):
  percentile interval of the bootstrap distribution read at ``α' = Φ(−c · t_{ν, 1−α})``
  instead of ``α``, with the variance-expansion factor ``c² = Σ v_t / Σ ((n_t − 1)/n_t) v_t``
  (``n/(n−1)`` with equal sizes; ``T/(T−1)`` at task level) — it corrects the bootstrap's
  narrowness and normal tails while keeping its skewness.

* **studentized** (bootstrap-*t*, seed level; :func:`studentized_interval`), measured but not
  better than *t* at these sizes (docs/statistics.md); at task level it is the *t* interval.

Paired differences use the same formulas on per-search differences (strategy − reference on
the same search). Differences between two independent groups (agents) add the two groups'
variances, with Welch–Satterthwaite degrees of freedom over every task × group cell
(:func:`welch_difference`). Why *t* over-covers zero-inflated, heavy-tailed differences of
picks at 5–10 seeds (a downward-biased estimated df and kurtosis), and which corrections were
measured and not adopted: docs/statistics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, stdtrit


@dataclass(frozen=True)
class TStats:
    """Per column ``(K,)``: estimate, standard error, degrees of freedom, expansion factor, and
    whether a variance can be estimated at all (``estimable``: at seed level some task has two
    values or more, with ``task_level`` two tasks or more). Where it cannot, every interval of
    the column is undefined (NaN): a point is not a 95 % interval."""

    theta: np.ndarray
    se: np.ndarray
    df: np.ndarray
    expansion: np.ndarray
    estimable: np.ndarray

    def undefined(self, intervals: np.ndarray) -> np.ndarray:
        """``intervals`` ``(K, 2)`` with NaN in the columns without a variance estimate."""
        return np.where(self.estimable[:, None], intervals, np.nan)


def _task_moments(values: np.ndarray, strata: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per task ``(T, K)``: finite counts, means and sums of squared deviations."""
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    n_tasks = int(strata.max()) + 1
    counts = np.zeros((n_tasks, values.shape[1]))
    sums = np.zeros_like(counts)
    np.add.at(counts, strata, finite.astype(float))
    np.add.at(sums, strata, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    dev = np.where(finite, values - means[strata], 0.0)
    ss = np.zeros_like(counts)
    np.add.at(ss, strata, dev * dev)
    return counts, means, ss


def _seed_parts(values: np.ndarray, strata: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seed-level pieces per column ``(K,)``: estimate, variance ``se²`` (``Σ_t v_t / T²``),
    the Welch–Satterthwaite denominator ``Σ_t (v_t/T²)² / (n_t − 1)``, the shrunk variance
    ``Σ_t ((n_t − 1)/n_t) v_t / T²`` of the expansion factor, and whether any task varied."""
    counts, means, ss = _task_moments(values, strata)
    present = counts > 0
    n_present = present.sum(axis=0).astype(float)
    varied = counts > 1
    dof = np.maximum(counts - 1.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(n_present > 0, np.nansum(means, axis=0) / n_present, np.nan)
        c = np.where(varied, ss / dof / np.maximum(counts, 1.0), 0.0) / n_present**2
    return (theta, c.sum(axis=0), np.where(varied, c * c / dof, 0.0).sum(axis=0),
            np.where(varied, c * (counts - 1.0) / np.maximum(counts, 1.0), 0.0).sum(axis=0),
            np.asarray(varied.any(axis=0)))


def _from_parts(theta: np.ndarray, var: np.ndarray, df_den: np.ndarray, shrunk: np.ndarray,
                varied: np.ndarray) -> TStats:
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(varied, var**2 / df_den, np.nan)
        expansion = np.where(shrunk > 0, np.sqrt(var / shrunk), 1.0)
    return TStats(theta, np.sqrt(var), df, expansion, np.asarray(varied, dtype=bool))


def _nan_mean(x: np.ndarray) -> np.ndarray:
    """Column means of ``(T, K)`` ignoring NaN; NaN for an all-NaN column (no warning)."""
    n = np.isfinite(x).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(x, axis=0) / n, np.nan)


def _task_level(means: np.ndarray, theta: np.ndarray) -> TStats:
    """*t* pieces when the tasks are a sample: ``means`` ``(T, K)`` per-task values (NaN
    where absent); ``se`` their standard deviation over ``√T``, ``ν = T − 1``."""
    present = np.isfinite(means)
    n_present = present.sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(present, means, 0.0).sum(axis=0) / n_present
        dev = np.where(present, means - centre, 0.0)
        var = (dev * dev).sum(axis=0) / (n_present - 1.0) / n_present
        df = np.where(n_present > 1, n_present - 1.0, np.nan)
        expansion = np.sqrt(n_present / (n_present - 1.0))
    return TStats(theta, np.sqrt(var), df, expansion, n_present > 1)


def t_stats(values: np.ndarray, strata: np.ndarray, task_level: bool = False) -> TStats:
    """Estimate, se, Welch–Satterthwaite df and expansion factor (module docstring).

    Args:
        values: ``(U, K)`` per-unit values (NaN missing).
        strata: ``(U,)`` task codes ``0..T-1``.
        task_level: tasks are a sample too.

    Returns:
        :class:`TStats` of ``(K,)`` arrays; ``df`` NaN where no variance can be estimated.
    """
    if task_level:
        counts, means, _ = _task_moments(values, strata)
        means = np.where(counts > 0, means, np.nan)
        return _task_level(means, _nan_mean(means))
    return _from_parts(*_seed_parts(values, strata))


def welch_difference(values_a: np.ndarray, strata_a: np.ndarray, values_b: np.ndarray,
                     strata_b: np.ndarray, task_level: bool = False) -> TStats:
    """*t* pieces of ``θ_A − θ_B`` for two **independent** groups (between agents).

    Seed level: ``se² = se_A² + se_B²`` (each group's stratified formula) with the
    Welch–Satterthwaite degrees of freedom over every task × group cell,
    ``ν = (Σ c)² / Σ c² / (n − 1)``, ``c = v_{t,g} / T_g²`` — with one task exactly Welch's
    two-sample *t* (``scipy.stats.ttest_ind(equal_var=False)``). With ``task_level`` (one
    task draw shared by both groups) the per-task differences ``m_A,t − m_B,t`` are the
    sample: ``se`` their standard deviation over ``√T``, ``ν = T − 1``. Strata codes index
    the same tasks in both groups.
    """
    if task_level:
        ca, ma, _ = _task_moments(values_a, strata_a)
        cb, mb, _ = _task_moments(values_b, strata_b)
        n = max(ma.shape[0], mb.shape[0])
        pad = [np.full((n, values_a.shape[1]), np.nan) for _ in range(2)]
        pad[0][:ma.shape[0]] = np.where(ca > 0, ma, np.nan)
        pad[1][:mb.shape[0]] = np.where(cb > 0, mb, np.nan)
        return _task_level(pad[0] - pad[1], _nan_mean(pad[0]) - _nan_mean(pad[1]))
    a, b = _seed_parts(values_a, strata_a), _seed_parts(values_b, strata_b)
    return _from_parts(a[0] - b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] | b[4])


def t_interval(stats: TStats, level: float = 0.95) -> np.ndarray:
    """``θ̂ ± t_{ν, 1−α} · se`` per column, ``(K, 2)``; ``[θ̂, θ̂]`` when ``se`` is 0 (no
    spread), NaN when no variance can be estimated (:class:`TStats`)."""
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        half = np.where(stats.se == 0, 0.0, stdtrit(stats.df, 1.0 - alpha) * stats.se)
    return stats.undefined(np.stack([stats.theta - half, stats.theta + half], axis=1))


def expanded_levels(stats: TStats, level: float = 0.95) -> np.ndarray:
    """Quantile levels ``(K, 2)`` of the expanded percentile interval (module docstring)."""
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        low = ndtr(-stats.expansion * stdtrit(stats.df, 1.0 - alpha))
    low = np.where(stats.se == 0, alpha, low)
    return np.stack([low, 1.0 - low], axis=1)


def studentized_interval(values: np.ndarray, weights: np.ndarray, strata: np.ndarray,
                         stats: TStats, level: float = 0.95) -> np.ndarray:
    """Bootstrap-*t* (studentized) interval per column, ``(K, 2)``, at seed level.

    Every resample ``r`` gives ``t*_r = (θ*_r − θ̂) / se*_r`` with ``se*_r`` the formula of
    :func:`t_stats` on the resample (per task: the draws' weighted sample variance over their
    count); the interval is ``[θ̂ − t*_{(1−α)} se, θ̂ − t*_{(α)} se]`` (order statistics, no
    interpolation: ``t*`` may be infinite where a resample has no spread). ``[θ̂, θ̂]`` when
    ``se`` is 0.

    Args:
        values: ``(U, K)`` (NaN missing).
        weights: ``(R, U)`` draw counts (seed level: every task drawn once).
        strata: ``(U,)`` task codes.
        stats: :func:`t_stats` of ``values``.
        level: confidence level.
    """
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    m = finite.astype(np.float64)
    n_res, k = weights.shape[0], values.shape[1]
    total, var, n_tasks = np.zeros((n_res, k)), np.zeros((n_res, k)), np.zeros((n_res, k))
    for t in range(int(strata.max()) + 1):
        units = np.flatnonzero(strata == t)
        w = weights[:, units].astype(np.float64)
        s0, s1, s2 = w @ m[units], w @ x[units], w @ (x[units] ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(s0 > 0, s1 / s0, 0.0)
            ss = np.maximum(s2 - s0 * mean * mean, 0.0)
            var += np.where(s0 > 1, ss / (s0 - 1.0) / s0, 0.0)
        total += mean
        n_tasks += s0 > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        theta_r = total / n_tasks
        se_r = np.sqrt(var) / n_tasks
        t_star = (theta_r - stats.theta) / se_r
    t_star = np.where(np.isnan(t_star) & np.isfinite(theta_r), 0.0, t_star)
    alpha = (1.0 - level) / 2.0
    ordered = np.sort(t_star.T, axis=1)  # (K, R), NaN last
    n = np.isfinite(theta_r).sum(axis=0)
    last = np.maximum(n - 1, 0)
    rows = np.arange(ordered.shape[0])
    lo_q = ordered[rows, np.minimum(np.floor(alpha * last).astype(np.int64), last)]
    hi_q = ordered[rows, np.minimum(np.ceil((1.0 - alpha) * last).astype(np.int64), last)]
    lo_q, hi_q = np.where(n > 0, lo_q, np.nan), np.where(n > 0, hi_q, np.nan)
    out = np.stack([stats.theta - hi_q * stats.se, stats.theta - lo_q * stats.se], axis=1)
    return stats.undefined(np.where((stats.se == 0)[:, None], stats.theta[:, None], out))
