"""Small-sample intervals for stratified means: Welch–Satterthwaite *t*, its skew-corrected
extension (Hall 1992; the default) and the expanded percentile.

The percentile bootstrap of a mean over ``n`` seeds estimates the variance with divisor ``n``
(not ``n − 1``) and uses normal, not *t*, tails; at the 3–10 seeds per task that papers use its
95 % intervals cover 85–90 % (docs/statistics.md). The corrections, each per column of a
``(U, K)`` value array in strata ``(U,)`` (NaN missing, as :mod:`.bootstrap`):

* **t**: ``θ̂ ± t_{ν, 1−α} · se`` with, at seed level (tasks fixed),
  ``se² = Σ_t v_t / T²``, ``v_t = s_t² / n_t`` (``s_t²`` the task's sample variance, ddof 1,
  over its ``n_t`` finite values; ``T`` the tasks with a value) and the Welch–Satterthwaite
  degrees of freedom ``ν = (Σ v_t)² / Σ v_t² / (n_t − 1)``; tasks with one value add no
  variance and no degrees of freedom. With ``task_level`` (tasks a sample too), ``se`` is the
  standard deviation of the ``T`` task means over ``√T`` and ``ν = T − 1``.
* **hall** (the default; :func:`hall_interval`): *t* extended on the long-tail side by Hall's
  (1992) skewness correction, with the estimate's skewness from plug-in moments
  (:class:`TStats`). Differences of picks (oracle − best-val) are one-sided on every search,
  mostly zero and skewed, and *t* under-covers them (88–92 % at 5–20 seeds per task); this
  holds 94.6–97.3 % (docs/statistics.md).
* **expanded** (Hesterberg 2015, "What teachers should know about the bootstrap", §5.2):
  percentile interval of the bootstrap distribution read at ``α' = Φ(−c · t_{ν, 1−α})``
  instead of ``α``, with the variance-expansion factor ``c² = Σ v_t / Σ ((n_t − 1)/n_t) v_t``
  (``n/(n−1)`` with equal sizes; ``T/(T−1)`` at task level) — it corrects the bootstrap's
  narrowness and normal tails while keeping its skewness.
* **studentized** (bootstrap-*t*, seed level; :func:`studentized_interval`); at task level it
  is the *t* interval.

Paired differences use the same formulas on per-search differences (strategy − reference on
the same search). Differences between two independent groups (agents) add the two groups'
variances (and subtract their third cumulants), with Welch–Satterthwaite degrees of freedom
over every task × group cell (:func:`welch_difference`). Every rule measured and not adopted
is in docs/statistics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit


@dataclass(frozen=True)
class TStats:
    """Per column ``(K,)``: estimate, standard error, degrees of freedom, expansion factor,
    whether a variance can be estimated at all (``estimable``: at seed level some task has two
    values or more, with ``task_level`` two tasks or more), and the estimated skewness of the
    estimate ``γ̂ = κ̂₃(θ̂) / σ̂(θ̂)³`` from plug-in moments (0 where there is none), which
    :func:`hall_interval` corrects for. Where no variance can be estimated, every interval of
    the column is undefined (NaN): a point is not a 95 % interval."""

    theta: np.ndarray
    se: np.ndarray
    df: np.ndarray
    expansion: np.ndarray
    estimable: np.ndarray
    skew: np.ndarray

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


def _cubed_deviations(values: np.ndarray, strata: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Per task ``(T, K)``: sums of cubed deviations from the task means (NaN skipped)."""
    finite = np.isfinite(values)
    dev = np.where(finite, values - means[strata], 0.0)
    out = np.zeros_like(means)
    np.add.at(out, strata, dev**3)
    return out


@dataclass(frozen=True)
class _Parts:
    """Seed-level pieces per column ``(K,)`` (:func:`_seed_parts`); additive over independent
    groups except ``kappa3``, which a difference subtracts."""

    theta: np.ndarray
    var: np.ndarray  # se² = Σ_t v_t / T²
    df_den: np.ndarray  # Σ_t (v_t/T²)² / (n_t − 1), Welch–Satterthwaite's denominator
    shrunk: np.ndarray  # Σ_t ((n_t − 1)/n_t) v_t / T², of the expansion factor
    varied: np.ndarray  # some task has two values or more
    kappa3: np.ndarray  # plug-in third cumulant of θ̂: Σ_t m3_t / (n_t² T³)

    def minus(self, other: _Parts) -> _Parts:
        """The pieces of ``self.theta − other.theta`` for independent groups."""
        return _Parts(self.theta - other.theta, self.var + other.var,
                      self.df_den + other.df_den, self.shrunk + other.shrunk,
                      self.varied | other.varied, self.kappa3 - other.kappa3)


def _seed_parts(values: np.ndarray, strata: np.ndarray) -> _Parts:
    """:class:`_Parts` of the stratified mean of ``values`` ``(U, K)`` in ``strata``."""
    counts, means, ss = _task_moments(values, strata)
    cubes = _cubed_deviations(values, strata, means)
    n_present = (counts > 0).sum(axis=0).astype(float)
    dof, size = np.maximum(counts - 1.0, 1.0), np.maximum(counts, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(n_present > 0, np.nansum(means, axis=0) / n_present, np.nan)
    return _moment_parts(theta, counts, ss / dof, cubes / size)


def _moment_parts(theta: np.ndarray, counts: np.ndarray, variances: np.ndarray,
                  third: np.ndarray) -> _Parts:
    """:class:`_Parts` from per-task ``(T, K)`` counts, sample variances (ddof 1) and plug-in
    third central moments; tasks with one value or none add no variance."""
    n_present = (counts > 0).sum(axis=0).astype(float)
    varied = counts > 1
    dof, size = np.maximum(counts - 1.0, 1.0), np.maximum(counts, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(varied, variances / size, 0.0) / n_present**2
        k3 = np.where(varied, third / size**2, 0.0).sum(axis=0) / n_present**3
    return _Parts(theta, c.sum(axis=0), np.where(varied, c * c / dof, 0.0).sum(axis=0),
                  np.where(varied, c * (counts - 1.0) / size, 0.0).sum(axis=0),
                  np.asarray(varied.any(axis=0)), k3)


def moment_stats(counts: np.ndarray, variances: np.ndarray, third: np.ndarray) -> TStats:
    """:class:`TStats` (estimate 0) of a stratified mean with per-task ``(T, K)`` ``counts``,
    sample variances (ddof 1) and plug-in third central moments — what :func:`t_stats`
    computes from the values, for moments given (the report's seed-count projection)."""
    return _from_parts(_moment_parts(np.zeros(counts.shape[1]), counts, variances, third))


def _from_parts(parts: _Parts) -> TStats:
    var = parts.var
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(parts.varied, var**2 / parts.df_den, np.nan)
        expansion = np.where(parts.shrunk > 0, np.sqrt(var / parts.shrunk), 1.0)
        # plug-in variance of θ̂ (divisor n_t) standardizes the plug-in third cumulant
        skew = np.where(parts.shrunk > 0, parts.kappa3 / parts.shrunk**1.5, 0.0)
    return TStats(parts.theta, np.sqrt(var), df, expansion,
                  np.asarray(parts.varied, dtype=bool), skew)


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
        m2 = (dev * dev).sum(axis=0) / n_present
        m3 = (dev**3).sum(axis=0) / n_present
        skew = np.where(m2 > 0, m3 / m2**1.5 / np.sqrt(n_present), 0.0)
    return TStats(theta, np.sqrt(var), df, expansion, n_present > 1, skew)


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
    return _from_parts(_seed_parts(values, strata))


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
    return _from_parts(_seed_parts(values_a, strata_a).minus(_seed_parts(values_b, strata_b)))


def t_interval(stats: TStats, level: float = 0.95) -> np.ndarray:
    """``θ̂ ± t_{ν, 1−α} · se`` per column, ``(K, 2)``; ``[θ̂, θ̂]`` when ``se`` is 0 (no
    spread), NaN when no variance can be estimated (:class:`TStats`)."""
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        half = np.where(stats.se == 0, 0.0, stdtrit(stats.df, 1.0 - alpha) * stats.se)
    return stats.undefined(np.stack([stats.theta - half, stats.theta + half], axis=1))


def _hall_inverse(y: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``g⁻¹(y)`` of Hall's transformation ``g(u) = ((1 + γu/3)³ − 1)/γ + γ/6`` (``u``
    where ``γ`` is 0): the real cube root keeps it monotone for every ``γ``."""
    small = np.abs(gamma) < 1e-12
    g = np.where(small, 1.0, gamma)
    with np.errstate(invalid="ignore"):
        inv = (3.0 / g) * (np.cbrt(1.0 + g * (y - g / 6.0)) - 1.0)
    return np.where(small, y, inv)


def _far_shift(gamma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """How much further than the normal quantile ``z`` Hall's interval reaches on the long-tail
    side, in se: ``−g⁻¹(−z) − z`` at ``|γ|`` (≥ 0)."""
    a = np.abs(gamma)
    return np.maximum(-_hall_inverse(-z, a) - z, 0.0)


def hall_interval(stats: TStats, level: float = 0.95) -> np.ndarray:
    """The default interval: *t*, extended on the long-tail side by Hall's (1992) skewness
    correction, per column ``(K, 2)``.

    The studentized estimate ``U = (θ̂ − θ) / se`` of a skewed sample is skewed too (its
    Edgeworth expansion has the term ``(γ/6)(2x² + 1)φ(x)``, ``γ`` the skewness of ``θ̂``);
    Hall's monotone cubic ``g(U) = U + γU²/3 + γ²U³/27 + γ/6`` removes it. At the normal
    quantile ``z`` his interval reaches ``δ = −g⁻¹(−z) − z`` further on the long-tail side
    (:func:`_far_shift`, ``γ = stats.skew``), and that is what *t* lacks for a skewed sample.
    The interval is the *t* interval with its long-tail end moved out by ``δ·se``:
    ``[θ̂ − t·se, θ̂ + (t + δ)·se]`` for ``γ > 0`` (mirrored for ``γ < 0``), ``t`` the
    Welch–Satterthwaite quantile. Two parts of Hall's own interval are left out, each
    measured (docs/statistics.md): its short-tail end moves *in*, which rests on ``γ̂`` being
    right, and where a few values set both ``θ̂`` and ``γ̂`` (sparse differences of either
    sign) it excludes a near-zero truth one time in seven; and evaluated at the *t* quantile of
    a few seeds the cubic passes its turning point and multiplies the far end by up to 4.
    With ``γ = 0`` it is the *t* interval. ``[θ̂, θ̂]`` when ``se`` is 0, NaN where no variance
    can be estimated.

    Reference: P. Hall (1992), "On the removal of skewness by transformation", *Journal of the
    Royal Statistical Society B* 54(1), 221–228.
    """
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        q = stdtrit(stats.df, 1.0 - alpha)
    gamma = np.nan_to_num(stats.skew)
    shift = _far_shift(gamma, np.full_like(q, ndtri(1.0 - alpha)))
    lo = stats.theta - stats.se * (q + np.where(gamma < 0, shift, 0.0))
    hi = stats.theta + stats.se * (q + np.where(gamma > 0, shift, 0.0))
    flat = stats.se == 0
    out = np.stack([np.where(flat, stats.theta, lo), np.where(flat, stats.theta, hi)], axis=1)
    return stats.undefined(out)


def _hall_p(stats: TStats, u: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Two-sided p of :func:`hall_interval` where 0 lies on its extended side: the level at
    which ``|θ̂|/se = t_{ν, 1−p/2} + δ(z_{1−p/2})``, by bisection on ``log p`` (both sides
    grow as ``p`` falls)."""
    a = np.abs(u)
    lo, hi = np.full_like(a, -745.0), np.zeros_like(a)  # log p in [log 5e-324, 0]
    for _ in range(80):
        mid = (lo + hi) / 2.0
        half = np.exp(mid) / 2.0
        with np.errstate(invalid="ignore"):
            reach = -stdtrit(stats.df, half) + _far_shift(gamma, -ndtri(half))
        inside = a <= reach  # 0 still in the interval of level 1 − p: p is larger
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return np.exp((lo + hi) / 2.0)


ANALYTIC_METHODS = ("hall", "t")  # closed-form intervals: no resampling, p by inversion


def analytic_p(stats: TStats, method: str = "t") -> np.ndarray:
    """Two-sided p-value of ``θ = 0`` per column ``(K,)``, the inversion of the interval of
    ``method`` (``"t"``: :func:`t_interval`, ``"hall"``: :func:`hall_interval`): ``p < α``
    exactly when that ``1 − α`` interval excludes 0. With *t* the *t*-test
    ``2·F_ν(−|θ̂|/se)``; with *hall* the same where 0 lies on the interval's *t* side, else the
    level at which its extended end reaches 0. 0 when ``se`` is 0 and ``θ̂ ≠ 0``; NaN when
    both are 0 and where no variance can be estimated."""
    if method not in ANALYTIC_METHODS:
        raise ValueError(f"no analytic p-value for the {method!r} interval")
    with np.errstate(invalid="ignore", divide="ignore"):
        u = stats.theta / stats.se
        p = 2.0 * stdtr(stats.df, -np.abs(u))
    if method == "hall":
        gamma = np.nan_to_num(stats.skew)
        toward_zero = np.isfinite(u) & (np.sign(gamma) * np.sign(u) < 0)  # tail points at 0
        if toward_zero.any():
            p = np.where(toward_zero, _hall_p(stats, np.where(toward_zero, u, 0.0), gamma), p)
    p = np.where(stats.se == 0, np.where(stats.theta == 0, np.nan, 0.0), p)
    return np.where(stats.estimable, p, np.nan)


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
