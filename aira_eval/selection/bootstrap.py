"""Stratified, vectorized bootstrap of study-level means, with paired differences.

The statistic is the *mean over tasks of the mean over searches* (seeds) of a per-search value,
for every strategy and metric at once. Shapes follow rliable's conventions:

* ``values``: ``(U, S, M)`` — units (searches) × strategies × metrics; NaN = missing (the value
  drops out of its task's mean; a task with no value drops out of the mean over tasks);
* ``strata``: ``(U,)`` integer task code of each unit;
* :class:`Resamples` ``weights``: ``(R, U)`` — how often resample ``r`` draws unit ``u``;
  ``task_weights``: ``(R, T)`` — how often it draws task ``t`` (all ones unless tasks are
  resampled too).

One :class:`Resamples` serves every strategy and metric, so differences between strategies are
paired: they come from the same draws. Means are matrix products of the weights with the value
array, one per task; there is no Python loop over resamples.

Resampling: seeds are drawn with replacement within each task (``n_t`` draws from task ``t``'s
``n_t`` searches); with ``task_level`` the tasks are first drawn with replacement, and a task drawn
``m`` times gets ``m·n_t`` seed draws, pooled into one task mean that counts ``m`` times (exact for
complete data; with missing values the ``m`` inner means are pooled).

Intervals (level ``1 − 2α``): *percentile* — the α and 1−α quantiles of the bootstrap
distribution (linear interpolation, as ``numpy.quantile`` and ``scipy.stats.bootstrap``); *BCa* —
Efron's bias-corrected and accelerated interval, as ``scipy.stats.bootstrap(method="BCa")``:
``z0 = Φ⁻¹((#{θ* < θ̂} + #{θ* ≤ θ̂}) / 2R)``; acceleration from delete-one jackknife values
``θ_(hi)``: with the seed-level bootstrap, units are searches and strata are tasks, and the
multi-sample formula ``a = Σ_h Σ_i U_hi³/n_h³ / (6 (Σ_h Σ_i U_hi²/n_h²)^{3/2})`` with
``U_hi = (n_h − 1)(mean_i θ_(hi) − θ_(hi))`` (scipy's formula for several independent samples,
which is what strata are); with ``task_level`` the jackknife deletes whole tasks (one sample of
``T`` units). Quantiles are then taken at ``Φ(z0 + (z0 + z_α)/(1 − a(z0 + z_α)))``. A
degenerate bootstrap distribution (all equal) gives the interval ``[θ̂, θ̂]``, but an interval
without a variance estimate (every task with one value at seed level, one task with
``task_level``) is undefined, NaN, whatever the method (:class:`~.tintervals.TStats`).

Small-sample intervals (``hall``, the default, ``t`` and ``expanded``): :mod:`.tintervals`.

Paired differences are means of *per-search* differences (strategy − reference on the same
search), over the searches where both have a value — never a difference of two means over
different sets of searches. The share of favouring resamples is the share of resamples in
which that difference favours the strategy in the metric's direction, ties counting half (it
is not rliable's probability of improvement: :mod:`.improvement`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from aira_eval.selection.tintervals import (
    expanded_levels,
    hall_interval,
    studentized_interval,
    t_interval,
    t_stats,
)


@dataclass(frozen=True)
class Resamples:
    """Resampling weights shared by every strategy and metric.

    Attributes:
        weights: ``(R, U)`` float32 draw counts per unit.
        task_weights: ``(R, T)`` float32 draw counts per task.
        strata: ``(U,)`` task code per unit, codes ``0..T-1``.
        task_level: tasks were resampled too.
    """

    weights: np.ndarray
    task_weights: np.ndarray
    strata: np.ndarray
    task_level: bool

    @property
    def n_resamples(self) -> int:
        return int(self.weights.shape[0])


def _blocks(strata: np.ndarray) -> list[np.ndarray]:
    """Unit indices of each task code 0..T-1 (each sorted)."""
    order = np.argsort(strata, kind="stable")
    bounds = np.searchsorted(strata[order], np.arange(int(strata.max()) + 2))
    return [order[bounds[t]:bounds[t + 1]] for t in range(len(bounds) - 1)]


def draw_counts(rng: np.random.Generator, draws: np.ndarray, n: int) -> np.ndarray:
    """Counts ``(R, n)`` of ``draws[r]`` uniform draws with replacement from ``n`` units."""
    n_res = draws.size
    width = int(draws.max()) if n_res else 0
    if width == 0:
        return np.zeros((n_res, n), dtype=np.float32)
    idx = rng.integers(0, n, size=(n_res, width))
    keep = np.arange(width)[None, :] < draws[:, None]
    flat = (idx + (np.arange(n_res) * n)[:, None])[keep]
    return np.bincount(flat, minlength=n_res * n).reshape(n_res, n).astype(np.float32)


def draw_resamples(strata: np.ndarray, n_resamples: int, seed: int | np.random.Generator = 0,
                   task_level: bool = False) -> Resamples:
    """Draw one set of stratified resamples.

    Args:
        strata: ``(U,)`` task code per unit, codes ``0..T-1`` (every code used).
        n_resamples: ``R``.
        seed: seed or generator.
        task_level: resample tasks too (two-level bootstrap).

    Returns:
        :class:`Resamples` with ``weights`` ``(R, U)`` and ``task_weights`` ``(R, T)``.
    """
    strata = np.asarray(strata, dtype=np.int64)
    rng = np.random.default_rng(seed)
    blocks = _blocks(strata)
    n_tasks = len(blocks)
    if task_level:
        task_w = draw_counts(rng, np.full(n_resamples, n_tasks), n_tasks)
    else:
        task_w = np.ones((n_resamples, n_tasks), dtype=np.float32)
    weights = np.zeros((n_resamples, strata.size), dtype=np.float32)
    for t, units in enumerate(blocks):
        draws = (task_w[:, t] * units.size).astype(np.int64)
        weights[:, units] = draw_counts(rng, draws, units.size)
    return Resamples(weights=weights, task_weights=task_w, strata=strata, task_level=task_level)


def _split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(values)
    return np.where(finite, values, 0.0), finite.astype(np.float64)


def stratified_means(values: np.ndarray, resamples: Resamples) -> np.ndarray:
    """Bootstrap distribution of the mean over tasks of the mean over units.

    Columns without a missing value take one matrix product, ``(W / n_task) @ X / T`` (every
    task's draws sum to ``m_t·n_t`` and the ``m_t`` sum to ``T``); the others a product per task
    with NaN-aware counts.

    Args:
        values: ``(U, K)`` per-unit values (NaN missing).
        resamples: shared weights.

    Returns:
        ``(R, K)``; NaN where no task has a value in that resample.
    """
    complete = np.isfinite(values).all(axis=0)
    out = np.empty((resamples.n_resamples, values.shape[1]))
    strata = resamples.strata
    if complete.any():
        sizes = np.bincount(strata).astype(np.float64)
        scaled = resamples.weights.astype(np.float64) / (sizes[strata] * sizes.size)
        out[:, complete] = scaled @ values[:, complete]
    if not complete.all():
        out[:, ~complete] = _means_with_missing(values[:, ~complete], resamples)
    return out


def _means_with_missing(values: np.ndarray, resamples: Resamples) -> np.ndarray:
    """:func:`stratified_means` for columns with missing values; ``(U, K) -> (R, K)``."""
    x, m = _split(values)
    n_res = resamples.n_resamples
    num = np.zeros((n_res, values.shape[1]))
    den = np.zeros((n_res, values.shape[1]))
    for t, units in enumerate(_blocks(resamples.strata)):
        w = resamples.weights[:, units].astype(np.float64)
        total, count = w @ x[units], w @ m[units]
        has = count > 0
        task_mean = np.divide(total, count, out=np.zeros_like(total), where=has)
        tw = resamples.task_weights[:, t, None].astype(np.float64)
        num += tw * task_mean
        den += tw * has
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _task_sums(values: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task sums and counts of finite values, each ``(T, K)``."""
    x, m = _split(values)
    n_tasks = int(strata.max()) + 1
    sums = np.zeros((n_tasks, values.shape[1]))
    counts = np.zeros((n_tasks, values.shape[1]))
    np.add.at(sums, strata, x)
    np.add.at(counts, strata, m)
    return sums, counts


def point_estimate(values: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Mean over tasks of the mean over units, ``(U, K) -> (K,)`` (NaN-aware)."""
    sums, counts = _task_sums(values, strata)
    present = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present, sums / counts, 0.0)
        return np.where(present.any(axis=0), means.sum(axis=0) / present.sum(axis=0), np.nan)


def jackknife(values: np.ndarray, strata: np.ndarray, by_task: bool = False,
              observed_only: bool = False) -> np.ndarray:
    """Delete-one jackknife values of :func:`point_estimate`.

    Args:
        values: ``(U, K)``.
        strata: ``(U,)`` task codes.
        by_task: delete whole tasks (``(T, K)`` result) instead of single units (``(U, K)``).
        observed_only: NaN where the deleted unit (task) has no value in that column, so that
            :func:`acceleration` sees the samples with their missing values removed, as scipy
            does (deleting a missing value would otherwise count as a unit that changes
            nothing).
    """
    sums, counts = _task_sums(values, strata)
    present = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present, sums / counts, 0.0)
        total, n_present = means.sum(axis=0), present.sum(axis=0)
        if by_task:
            out = (total - means) / (n_present - present)
            return np.where(present, out, np.nan) if observed_only else out
        x, m = _split(values)
        loo_count = counts[strata] - m
        loo_present = loo_count > 0
        loo_mean = np.where(loo_present, (sums[strata] - x) / loo_count, 0.0)
        num = total - means[strata] + loo_mean
        out = num / (n_present - present[strata] + loo_present)
        return np.where(m > 0, out, np.nan) if observed_only else out


def acceleration(jack: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """BCa acceleration from jackknife values ``(J, K)`` in strata ``groups`` ``(J,)``; ``(K,)``.

    Non-finite jackknife values (units without a value) are left out, and each group's size
    is its number of finite values per column. Zero where it is undefined (no spread among
    the jackknife values).
    """
    n_groups = int(groups.max()) + 1
    finite = np.isfinite(jack)
    sizes = np.zeros((n_groups, jack.shape[1]))
    sums = np.zeros((n_groups, jack.shape[1]))
    np.add.at(sizes, groups, finite.astype(float))
    np.add.at(sums, groups, np.where(finite, jack, 0.0))
    n = np.maximum(sizes[groups], 1.0)  # (J, K): the size of each value's group
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(finite, (n - 1.0) * (sums[groups] / n - jack), 0.0)
        num = np.sum(u**3 / n**3, axis=0)
        den = np.sum(u**2 / n**2, axis=0)
        a = num / (6.0 * den**1.5)
    return np.where(den > 0, a, 0.0)


def quantiles(boot: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-column linear-interpolated quantiles (as ``numpy.quantile``), ignoring NaN.

    Args:
        boot: ``(R, K)`` bootstrap values.
        q: ``(K, 2)`` probabilities per column (NaN gives NaN).

    Returns:
        ``(K, 2)``.
    """
    return _sorted_quantiles(np.sort(boot.T, axis=1), q)


def _sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles ``(K, 2)`` from rows sorted ascending with NaN last, ``ordered`` ``(K, R)``."""
    n_finite = np.isfinite(ordered).sum(axis=1)[:, None]
    h = q * (n_finite - 1.0)
    valid = np.isfinite(h) & (n_finite > 0)
    h = np.where(valid, h, 0.0)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n_finite - 1, 0))
    rows = np.arange(ordered.shape[0])[:, None]
    low_v, high_v = ordered[rows, lo], ordered[rows, hi]
    return np.where(valid, low_v + (h - lo) * (high_v - low_v), np.nan)


def percentile_interval(boot: np.ndarray, level: float = 0.95,
                        ordered: np.ndarray | None = None) -> np.ndarray:
    """Percentile intervals ``(K, 2)`` from bootstrap values ``(R, K)``.

    ``ordered`` (``boot.T`` sorted along its rows) spares a sort when the caller has it.
    """
    alpha = (1.0 - level) / 2.0
    q = np.tile([alpha, 1.0 - alpha], (boot.shape[1], 1))
    return _sorted_quantiles(np.sort(boot.T, axis=1) if ordered is None else ordered, q)


def bca_interval(boot: np.ndarray, theta: np.ndarray, accel: np.ndarray,
                 level: float = 0.95, ordered: np.ndarray | None = None) -> np.ndarray:
    """BCa intervals ``(K, 2)``.

    Args:
        boot: ``(R, K)`` bootstrap values.
        theta: ``(K,)`` point estimates.
        accel: ``(K,)`` accelerations (:func:`acceleration`).
        level: confidence level.
        ordered: ``boot.T`` sorted along its rows, if the caller has it.
    """
    ordered = np.sort(boot.T, axis=1) if ordered is None else ordered
    n = np.isfinite(ordered).sum(axis=1).astype(float)
    below = np.array([np.searchsorted(row, t, side="left") for row, t in zip(ordered, theta,
                                                                            strict=True)])
    at_or_below = np.array([np.searchsorted(row, t, side="right") for row, t in
                            zip(ordered, theta, strict=True)])
    at_or_below = np.minimum(at_or_below, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = ndtri((np.minimum(below, n) + at_or_below) / (2.0 * n))
        z_alpha = ndtri(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
        shifted = z0[:, None] + z_alpha[None, :]
        q = ndtr(z0[:, None] + shifted / (1.0 - accel[:, None] * shifted))
    out = _sorted_quantiles(ordered, q)
    first = ordered[:, 0]
    last = ordered[np.arange(ordered.shape[0]), np.maximum(n.astype(np.int64) - 1, 0)]
    degenerate = (n > 0) & (first == last)
    return np.where(degenerate[:, None], theta[:, None], out)


CI_METHODS = ("hall", "t", "studentized", "expanded", "percentile", "bca")
DEFAULT_METHODS = ("hall", "t", "expanded", "percentile", "bca")  # studentized ~5x: opt-in


def bootstrap_intervals(boot: np.ndarray, theta: np.ndarray, jack: np.ndarray,
                        groups: np.ndarray, level: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(se ``(K,)``, percentile ``(K, 2)``, BCa ``(K, 2)``) of a bootstrap distribution
    ``boot`` ``(R, K)`` (between-group comparisons, :mod:`.compare`)."""
    finite = np.isfinite(boot)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.where(finite, boot - np.where(finite, boot, 0.0).sum(axis=0) / n, 0.0)
        se = np.where(n > 1, np.sqrt((centred**2).sum(axis=0) / (n - 1)), np.nan)
    ordered = np.sort(boot.T, axis=1)
    return (se, percentile_interval(boot, level, ordered),
            bca_interval(boot, theta, acceleration(jack, groups), level, ordered))


@dataclass
class PairedBootstrap:
    """Study-level estimates and intervals for every strategy × metric.

    Arrays are ``(S, M)`` (strategies × metrics); ``intervals`` and ``delta_intervals`` map
    each method of :data:`CI_METHODS` to ``(S, M, 2)``. ``delta*`` describe the paired
    difference strategy − reference, a mean of *per-search* differences over the searches
    where both have a value (``n_pairs`` of them; ``n_differing`` of them non-zero), from the
    same resamples. With no differing search, Δ is 0 and its interval undefined (NaN): the
    searches that agree say nothing of how large Δ is where the picks would differ (a
    ``[0, 0]`` would claim that they never do; docs/statistics.md).
    ``share_favouring`` is the share of those resamples in which the difference favours the
    strategy (ties half); NaN for the reference, for a strategy whose every per-search
    difference is 0, and for metrics without a direction.
    """

    estimate: np.ndarray
    se: np.ndarray
    intervals: dict[str, np.ndarray]
    delta: np.ndarray
    delta_se: np.ndarray
    delta_intervals: dict[str, np.ndarray]
    share_favouring: np.ndarray
    n_pairs: np.ndarray
    n_differing: np.ndarray
    n_resamples: int
    draws: np.ndarray | None = None  # bootstrap distribution of the means, (R, S·M)

    @property
    def p_improve(self) -> np.ndarray:
        """Deprecated name of :attr:`share_favouring` (it is not a probability of
        improvement: :mod:`.improvement` has rliable's)."""
        return self.share_favouring

    @property
    def percentile(self) -> np.ndarray:
        return self.intervals["percentile"]

    @property
    def bca(self) -> np.ndarray:
        return self.intervals["bca"]

    @property
    def delta_percentile(self) -> np.ndarray:
        return self.delta_intervals["percentile"]

    @property
    def delta_bca(self) -> np.ndarray:
        return self.delta_intervals["bca"]


def _stratified_intervals(flat: np.ndarray, resamples: Resamples, level: float,
               methods: tuple[str, ...] = DEFAULT_METHODS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Bootstrap ``(R, K)``, estimate ``(K,)``, se ``(K,)`` and intervals ``{method: (K, 2)}``
    (the ``methods`` asked for) of the stratified mean of ``flat`` ``(U, K)``."""
    strata, by_task = resamples.strata, resamples.task_level
    boot = stratified_means(flat, resamples)
    theta = point_estimate(flat, strata)
    jack = jackknife(flat, strata, by_task=by_task, observed_only=True)
    groups = np.zeros(jack.shape[0], dtype=np.int64) if by_task else strata
    se, pct, bca = bootstrap_intervals(boot, theta, jack, groups, level)
    ordered = np.sort(boot.T, axis=1)
    tstats = t_stats(flat, strata, task_level=by_task)
    expanded = _sorted_quantiles(ordered, expanded_levels(tstats, level))
    degenerate = tstats.se == 0
    out = {
        "hall": hall_interval(tstats, level),
        "t": t_interval(tstats, level),
        "expanded": np.where(degenerate[:, None], theta[:, None], expanded),
        "percentile": pct,
        "bca": bca,
    }
    if "studentized" in methods:
        out["studentized"] = (out["t"] if by_task else
                              studentized_interval(flat, resamples.weights, strata, tstats, level))
    out = {m: tstats.undefined(out[m]) for m in CI_METHODS if m in methods}
    return boot, theta, np.where(tstats.estimable, se, np.nan), out


def clip_intervals(intervals: np.ndarray, ranges: np.ndarray, delta: bool = False
                   ) -> np.ndarray:
    """``intervals`` ``(S, M, 2)`` intersected with each metric's range ``ranges`` ``(M, 2)``
    (``[lo − hi, hi − lo]`` for differences): a rate's interval stays within ``[0, 1]``. The
    truth lies in the range, so coverage is unchanged; NaN (undefined) stays NaN."""
    lo, hi = ranges[:, 0], ranges[:, 1]
    if delta:
        lo, hi = lo - ranges[:, 1], hi - ranges[:, 0]
    return np.clip(intervals, lo[None, :, None], hi[None, :, None])


def all_agree(diffs: np.ndarray) -> np.ndarray:
    """``(S, M)``: True where the per-search differences ``diffs`` ``(U, S, M)`` are 0 on
    every search that has one (NaN: missing)."""
    return np.all(np.isnan(diffs) | (diffs == 0), axis=0)


def without_agreeing(intervals: np.ndarray, agree: np.ndarray) -> np.ndarray:
    """Δ ``intervals`` ``(S, M, 2)`` made undefined (NaN) where ``agree`` ``(S, M)``
    (:func:`all_agree`): Δ is 0 there, and searches that agree say nothing of how large it is
    where the picks would differ; ``[0, 0]`` would claim that they never do."""
    return np.where(agree[:, :, None], np.nan, intervals)


def paired_bootstrap(values: np.ndarray, resamples: Resamples, reference: int,
                     direction: np.ndarray, level: float = 0.95,
                     methods: tuple[str, ...] = DEFAULT_METHODS,
                     ranges: np.ndarray | None = None) -> PairedBootstrap:
    """Estimates, intervals, paired differences and their share of favouring resamples.

    Args:
        values: ``(U, S, M)`` per-search values (NaN missing).
        resamples: shared weights over the ``U`` units (``resamples.strata`` ``(U,)``).
        reference: index of the reference strategy along ``S``.
        direction: ``(M,)`` +1 higher is better, -1 lower is better, 0 undefined (its
            share of favouring resamples is NaN).
        level: confidence level.
        methods: the interval methods to compute (of :data:`CI_METHODS`).
        ranges: ``(M, 2)`` the values each metric can take; every interval is intersected
            with it (:func:`clip_intervals`). None: unbounded.

    Returns:
        :class:`PairedBootstrap`.
    """
    n_units, n_strat, n_met = values.shape
    flat = values.reshape(n_units, n_strat * n_met)
    boot, theta, se, cis = _stratified_intervals(flat, resamples, level, methods)
    diffs = values - values[:, reference : reference + 1, :]
    d_flat = diffs.reshape(n_units, -1)
    d_boot, d_theta, d_se, d_cis = _stratified_intervals(d_flat, resamples, level,
                                                          methods)
    oriented = d_boot.reshape(-1, n_strat, n_met) * np.asarray(direction, float)
    finite = np.isfinite(oriented)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = ((oriented > 0).sum(axis=0) + 0.5 * (oriented == 0).sum(axis=0)) / finite.sum(
            axis=0)
    all_zero = all_agree(diffs)
    shape2, shape3 = (n_strat, n_met), (n_strat, n_met, 2)
    undefined = np.isnan(d_se.reshape(shape2)) & ~all_zero  # no variance: nothing resampled
    share = np.where((np.asarray(direction)[None, :] == 0) | all_zero | undefined, np.nan,
                     share)
    if ranges is None:
        ranges = np.tile([-np.inf, np.inf], (n_met, 1))
    return PairedBootstrap(
        estimate=theta.reshape(shape2), se=se.reshape(shape2),
        intervals={k: clip_intervals(v.reshape(shape3), ranges) for k, v in cis.items()},
        delta=d_theta.reshape(shape2), delta_se=d_se.reshape(shape2),
        delta_intervals={k: without_agreeing(clip_intervals(v.reshape(shape3), ranges,
                                                            delta=True), all_zero)
                         for k, v in d_cis.items()},
        share_favouring=share, n_pairs=np.isfinite(diffs).sum(axis=0),
        n_differing=(np.isfinite(diffs) & (diffs != 0)).sum(axis=0),
        n_resamples=resamples.n_resamples, draws=boot,
    )
