"""The stratified bootstrap against scipy.stats.bootstrap and brute force."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from aira_eval.selection.bootstrap import (
    CI_METHODS,
    acceleration,
    bca_interval,
    draw_resamples,
    jackknife,
    paired_bootstrap,
    percentile_interval,
    point_estimate,
    stratified_means,
)
from aira_eval.selection.tintervals import t_stats

RNG = np.random.default_rng(20240501)
SKEWED = RNG.exponential(size=25)


def _mean_of_means(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean([np.mean(s, axis=axis) for s in samples], axis=0)


def _ours(samples: list[np.ndarray], n_resamples: int, seed: int = 0):  # type: ignore[no-untyped-def]
    values = np.concatenate(samples)[:, None, None]
    strata = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    return paired_bootstrap(values, draw_resamples(strata, n_resamples, seed), 0, np.ones(1))


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_one_task_matches_scipy_within_monte_carlo_error(method: str) -> None:
    ours = _ours([SKEWED], 20_000)
    ref = stats.bootstrap((SKEWED,), np.mean, n_resamples=20_000, method=method, rng=1)
    got = (ours.percentile if method == "percentile" else ours.bca)[0, 0]
    # the interval ends' Monte-Carlo error with 20k resamples is ~1% of the SE
    tol = 0.05 * ref.standard_error
    np.testing.assert_allclose(got, ref.confidence_interval, atol=tol)
    assert ours.se[0, 0] == pytest.approx(ref.standard_error, rel=0.03)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_interval_formulas_equal_scipy_on_the_same_distribution(method: str) -> None:
    """Given our bootstrap distribution, scipy computes exactly our interval (one and several
    strata: scipy's multi-sample bootstrap resamples each sample independently, as strata)."""
    samples = [SKEWED, RNG.gamma(2.0, size=9), RNG.normal(size=14)]
    for chosen in (samples[:1], samples):
        values = np.concatenate(chosen)[:, None]
        strata = np.repeat(np.arange(len(chosen)), [len(s) for s in chosen])
        boot = stratified_means(values, draw_resamples(strata, 5000, 7))
        theta = point_estimate(values, strata)
        ref = stats.bootstrap(tuple(chosen), _mean_of_means, n_resamples=0, method=method,
                              bootstrap_result=SimpleNamespace(bootstrap_distribution=boot[:, 0]))
        if method == "percentile":
            got = percentile_interval(boot)[0]
        else:
            got = bca_interval(boot, theta, acceleration(jackknife(values, strata), strata))[0]
        np.testing.assert_allclose(got, ref.confidence_interval, rtol=1e-12)


@pytest.mark.parametrize("by_task", [False, True])
def test_bca_with_missing_values_equals_scipy_on_the_samples_without_them(by_task: bool
                                                                         ) -> None:
    """A missing value (a failed search) is no unit of the jackknife: BCa equals scipy's on
    the samples with it removed, given the same bootstrap distribution."""
    samples = [SKEWED[:12], RNG.gamma(2.0, size=9), RNG.normal(size=14)]
    values = np.concatenate(samples)[:, None]
    strata = np.repeat(np.arange(3), [len(x) for x in samples])
    values[[0, 3, 13, 20], 0] = np.nan
    kept = tuple(values[strata == t, 0][np.isfinite(values[strata == t, 0])] for t in range(3))
    boot = stratified_means(values, draw_resamples(strata, 5000, 7, task_level=by_task))
    theta = point_estimate(values, strata)
    jack = jackknife(values, strata, by_task=by_task, observed_only=True)
    groups = np.zeros(jack.shape[0], dtype=np.int64) if by_task else strata
    got = bca_interval(boot, theta, acceleration(jack, groups))[0]
    if by_task:  # scipy: one sample of tasks, each unit a task's mean
        task_means = np.array([k.mean() for k in kept])
        ref = stats.bootstrap((task_means,), np.mean, n_resamples=0, method="BCa",
                              bootstrap_result=SimpleNamespace(bootstrap_distribution=boot[:, 0]))
    else:
        ref = stats.bootstrap(kept, _mean_of_means, n_resamples=0, method="BCa",
                              bootstrap_result=SimpleNamespace(bootstrap_distribution=boot[:, 0]))
    np.testing.assert_allclose(got, ref.confidence_interval, rtol=1e-12)


def test_stratified_case_matches_scipy_multi_sample_within_monte_carlo_error() -> None:
    samples = [RNG.exponential(size=n) * (t + 1) for t, n in enumerate((10, 20, 15))]
    ours = _ours(samples, 20_000)
    for method, got in (("percentile", ours.percentile), ("BCa", ours.bca)):
        ref = stats.bootstrap(tuple(samples), _mean_of_means, n_resamples=20_000, method=method,
                              rng=2)
        np.testing.assert_allclose(got[0, 0], ref.confidence_interval,
                                   atol=0.05 * ref.standard_error)


def test_weights_resample_within_tasks() -> None:
    strata = np.repeat(np.arange(4), [3, 5, 1, 7])
    one = draw_resamples(strata, 1000, 0)
    for t, n in enumerate([3, 5, 1, 7]):
        assert (one.weights[:, strata == t].sum(axis=1) == n).all()
    assert (one.task_weights == 1).all()
    two = draw_resamples(strata, 1000, 0, task_level=True)
    assert (two.task_weights.sum(axis=1) == 4).all()
    for t, n in enumerate([3, 5, 1, 7]):
        np.testing.assert_array_equal(two.weights[:, strata == t].sum(axis=1),
                                      two.task_weights[:, t] * n)
    np.testing.assert_array_equal(draw_resamples(strata, 50, 3).weights,
                                  draw_resamples(strata, 50, 3).weights)


def test_means_are_matrix_products_equal_to_brute_force() -> None:
    strata = np.repeat(np.arange(3), [4, 2, 5])
    values = RNG.normal(size=(11, 3))
    values[[0, 5, 6], 1] = np.nan  # task 1 loses all of metric 1
    values[9, 2] = np.nan
    resamples = draw_resamples(strata, 200, 1, task_level=True)
    got = stratified_means(values, resamples)
    for r in range(200):
        task_means, task_w = [], []
        for t in range(3):
            w = resamples.weights[r, strata == t]
            v = values[strata == t]
            with np.errstate(invalid="ignore", divide="ignore"):
                task_means.append(np.nansum(w[:, None] * v, axis=0)
                                  / (w[:, None] * np.isfinite(v)).sum(axis=0))
            task_w.append(resamples.task_weights[r, t])
        tm, tw = np.array(task_means), np.array(task_w)[:, None]
        present = np.isfinite(tm) & (tw > 0)
        expected = (np.where(present, tm, 0) * tw).sum(0) / (present * tw).sum(0)
        np.testing.assert_allclose(got[r], expected, rtol=1e-10)


def test_point_estimate_and_jackknife_brute_force() -> None:
    strata = np.repeat(np.arange(3), [4, 3, 2])
    values = RNG.normal(size=(9, 2))
    values[4, 1] = np.nan

    def estimate(v: np.ndarray, s: np.ndarray) -> np.ndarray:
        means = [np.nanmean(v[s == t], axis=0) for t in np.unique(s)]
        return np.nanmean(np.array(means), axis=0)

    np.testing.assert_allclose(point_estimate(values, strata), estimate(values, strata))
    loo = np.array([estimate(np.delete(values, i, 0), np.delete(strata, i)) for i in range(9)])
    np.testing.assert_allclose(jackknife(values, strata), loo)
    by_task = np.array([estimate(values[strata != t], strata[strata != t]) for t in range(3)])
    np.testing.assert_allclose(jackknife(values, strata, by_task=True), by_task)


def test_paired_differences_share_the_resamples() -> None:
    strata = np.repeat(np.arange(5), 6)
    base = RNG.normal(size=30)
    values = np.stack([base, base, base + 0.5 + RNG.normal(scale=0.1, size=30),
                       base - 0.01], axis=1)[:, :, None]
    result = paired_bootstrap(values, draw_resamples(strata, 4000, 0), 0, np.ones(1))
    # a strategy identical to the reference on every search: Δ exactly 0, and no interval
    # (agreeing searches say nothing of how large Δ is where the picks would differ)
    for s in (0, 1):
        assert result.delta[s, 0] == 0.0
        assert result.n_differing[s, 0] == 0
        for method, intervals in result.delta_intervals.items():
            assert np.isnan(intervals[s, 0]).all(), method
        assert np.isnan(result.share_favouring[s, 0])  # no spurious 0.5 for a twin
    # paired: the shift's interval is far narrower than the unpaired intervals
    lo, hi = result.delta_percentile[2, 0]
    assert 0.45 < lo < 0.5 < hi < 0.55
    assert hi - lo < 0.3 * (result.percentile[2, 0, 1] - result.percentile[2, 0, 0])
    assert result.share_favouring[2, 0] == 1.0
    assert result.share_favouring[3, 0] == 0.0  # always 0.01 worse
    np.testing.assert_allclose(result.delta_percentile[3, 0], [-0.01, -0.01])


def test_direction_orients_probability_of_improvement() -> None:
    strata = np.zeros(20, dtype=np.int64)
    base = RNG.normal(size=20)
    values = np.stack([base, base + 1.0], axis=1)[:, :, None].repeat(3, axis=2)
    result = paired_bootstrap(values, draw_resamples(strata, 500, 0), 0,
                              np.array([1.0, -1.0, 0.0]))
    assert result.share_favouring[1, 0] == 1.0
    assert result.share_favouring[1, 1] == 0.0
    assert np.isnan(result.share_favouring[1, 2])


def test_degenerate_distribution_gives_a_point_interval() -> None:
    values = np.ones((8, 1, 1))
    result = paired_bootstrap(values, draw_resamples(np.zeros(8, dtype=np.int64), 300, 0), 0,
                              np.ones(1))
    np.testing.assert_array_equal(result.bca[0, 0], [1.0, 1.0])
    np.testing.assert_array_equal(result.percentile[0, 0], [1.0, 1.0])
    for method in ("t", "expanded"):
        np.testing.assert_array_equal(result.intervals[method][0, 0], [1.0, 1.0])


def test_two_level_bootstrap_is_wider_with_spread_between_tasks() -> None:
    strata = np.repeat(np.arange(8), 5)
    values = (np.repeat(RNG.normal(scale=2.0, size=8), 5) + RNG.normal(scale=0.1, size=40))
    values = values[:, None, None]
    one = paired_bootstrap(values, draw_resamples(strata, 2000, 0), 0, np.ones(1))
    two = paired_bootstrap(values, draw_resamples(strata, 2000, 0, task_level=True), 0,
                           np.ones(1))
    width = lambda r: np.diff(r.percentile[0, 0])[0]  # noqa: E731
    assert width(two) > 5 * width(one)
    assert np.isfinite(two.bca).all()


def test_t_interval_is_welch_satterthwaite() -> None:
    """One task: the one-sample t interval (scipy); two tasks: Welch's df (scipy's ttest_ind
    with equal_var=False gives the same df for the sum of two independent means)."""
    a, b = RNG.normal(size=5), RNG.normal(scale=3.0, size=8)
    one = paired_bootstrap(a[:, None, None], draw_resamples(np.zeros(5, np.int64), 200, 0), 0,
                           np.ones(1))
    ref = stats.ttest_1samp(a, 0.0).confidence_interval(0.95)
    np.testing.assert_allclose(one.intervals["t"][0, 0], [ref.low, ref.high])
    stats_ab = t_stats(np.concatenate([a, b])[:, None], np.repeat([0, 1], [5, 8]))
    welch = stats.ttest_ind(a, b, equal_var=False)
    np.testing.assert_allclose(stats_ab.df[0], welch.df)
    se = np.sqrt(a.var(ddof=1) / 5 + b.var(ddof=1) / 8) / 2
    np.testing.assert_allclose(stats_ab.se[0], se)
    np.testing.assert_allclose(stats_ab.expansion[0] ** 2, (a.var(ddof=1) / 5 + b.var(ddof=1)
                               / 8) / (a.var(ddof=0) / 5 + b.var(ddof=0) / 8))


def test_expanded_percentile_is_wider_than_percentile_at_few_seeds() -> None:
    values = RNG.normal(size=(10, 1, 1))
    strata = np.repeat(np.arange(2), 5)
    result = paired_bootstrap(values, draw_resamples(strata, 4000, 0), 0, np.ones(1),
                              methods=CI_METHODS)
    width = {m: float(np.diff(result.intervals[m][0, 0])[0]) for m in result.intervals}
    assert set(width) == set(CI_METHODS)
    assert width["expanded"] > 1.2 * width["percentile"]
    assert width["studentized"] > 1.2 * width["percentile"]
    assert width["t"] > 1.2 * width["percentile"]
    assert result.estimate[0, 0] == pytest.approx(np.mean(result.intervals["t"][0, 0]))


def test_differences_are_paired_on_the_searches_where_both_have_a_value() -> None:
    """Reference fails on search 0: the difference is over search 1 only (n_pairs 1), not
    mean(strategy) − mean(reference) over different searches."""
    values = np.array([[[np.nan], [0.68]], [[0.90], [0.90]]])  # (U=2, S=2, M=1)
    result = paired_bootstrap(values, draw_resamples(np.zeros(2, np.int64), 500, 0), 0,
                              np.ones(1))
    assert result.estimate[1, 0] - result.estimate[0, 0] == pytest.approx(-0.11)
    assert result.delta[1, 0] == 0.0
    assert result.n_pairs[1, 0] == 1
    assert np.isnan(result.share_favouring[1, 0])
