"""The default interval ``--ci hall`` — t with its long-tail end moved out by Hall's (1992)
skewness correction — against independent computations: scipy's moments, quantiles and
t interval, and Hall's cubic solved by ``numpy.roots``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aira_eval.selection.tintervals import (
    analytic_p,
    hall_interval,
    t_interval,
    t_stats,
    welch_difference,
)

SKEWED = np.array([0.0, 0.0, 0.0, 0.3, 0.0, 1.2, 0.0, 0.1, 0.0, 0.5])


def _solve(y: float, gamma: float) -> float:
    """The real root of ``u + γu²/3 + γ²u³/27 + γ/6 = y`` (Hall 1992's transformation)."""
    roots = np.roots([gamma**2 / 27, gamma / 3, 1.0, gamma / 6 - y])
    real = roots[np.abs(roots.imag) < 1e-7].real
    return float(real[0])


def test_one_sample_matches_an_independent_computation() -> None:
    n = SKEWED.size
    st = t_stats(SKEWED[:, None], np.zeros(n, dtype=np.int64))
    gamma = stats.skew(SKEWED, bias=True) / np.sqrt(n)  # skewness of the mean, plug-in
    assert st.skew[0] == pytest.approx(gamma, rel=1e-12)
    se = stats.sem(SKEWED)
    z = stats.norm.ppf(0.975)
    shift = -_solve(-z, gamma) - z  # how much further Hall's interval reaches at z, in se
    t_lo, t_hi = stats.ttest_1samp(SKEWED, 0.0).confidence_interval(0.95)
    np.testing.assert_allclose(hall_interval(st)[0], [t_lo, t_hi + shift * se], rtol=1e-9)


def test_a_right_skewed_sample_reaches_further_up_and_keeps_t_below() -> None:
    one = np.zeros(SKEWED.size, dtype=np.int64)
    st = t_stats(SKEWED[:, None], one)
    (lo, hi), (t_lo, t_hi) = hall_interval(st)[0], t_interval(st)[0]
    assert hi > t_hi and lo == t_lo
    left = t_stats(-SKEWED[:, None], one)
    (lo, hi), (t_lo, t_hi) = hall_interval(left)[0], t_interval(left)[0]
    assert lo < t_lo and hi == t_hi  # left-skewed: further down


def test_sparse_differences_of_either_sign_are_never_narrower_than_t() -> None:
    """Two searches differ, both upward by chance: Hall's own interval would move its lower
    end above 0 (a false 'better'); the default keeps t's."""
    diffs = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 0.0, 0.1, 0.0, 0.0])
    st = t_stats(diffs[:, None], np.zeros(diffs.size, dtype=np.int64))
    t_lo = t_interval(st)[0, 0]
    assert t_lo < 0 and hall_interval(st)[0, 0] == t_lo
    t_p = stats.ttest_1samp(diffs, 0.0).pvalue
    assert analytic_p(st, "hall")[0] == pytest.approx(t_p, rel=1e-9) and t_p > 0.05


def test_symmetric_data_give_the_t_interval() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 4.0])  # each task symmetric about its mean
    strata = np.r_[np.zeros(5, dtype=np.int64), np.ones(2, dtype=np.int64)]
    st = t_stats(x[:, None], strata)
    assert st.skew[0] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(hall_interval(st), t_interval(st), rtol=1e-12)


def test_stratified_skewness_is_the_third_cumulant_of_the_mean_over_tasks() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.exponential(size=6), -rng.exponential(size=9) * 3
    values = np.r_[a, b, np.nan][:, None]
    strata = np.r_[np.zeros(6), np.ones(9), np.ones(1)].astype(np.int64)
    st = t_stats(values, strata)
    m2 = [np.mean((x - x.mean()) ** 2) / x.size for x in (a, b)]
    k3 = [np.mean((x - x.mean()) ** 3) / x.size**2 for x in (a, b)]
    assert st.skew[0] == pytest.approx(sum(k3) / 8 / (sum(m2) / 4) ** 1.5, rel=1e-12)


def test_between_groups_the_skewness_of_a_difference() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(size=7), rng.exponential(size=5) ** 2
    zeros_a, zeros_b = np.zeros(7, dtype=np.int64), np.zeros(5, dtype=np.int64)
    st = welch_difference(a[:, None], zeros_a, b[:, None], zeros_b)
    var = np.var(a) / a.size + np.var(b) / b.size
    k3 = stats.moment(a, 3) / a.size**2 - stats.moment(b, 3) / b.size**2
    assert st.skew[0] == pytest.approx(k3 / var**1.5, rel=1e-12)
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert st.df[0] == pytest.approx(welch.df, rel=1e-12)


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("offset", [0.05, 0.4])  # 0 below the mean (t side), above (long tail)
def test_the_p_value_inverts_the_interval(level: float, offset: float) -> None:
    """At level 1 − p the interval's nearer endpoint is exactly 0."""
    st = t_stats(SKEWED[:, None] - offset, np.zeros(SKEWED.size, dtype=np.int64))
    p = analytic_p(st, "hall")[0]
    t_p = stats.ttest_1samp(SKEWED - offset, 0.0).pvalue
    assert p == pytest.approx(t_p, rel=1e-12) if offset < 0.2 else p > t_p
    lo, hi = hall_interval(st, 1.0 - p)[0]
    assert min(abs(lo), abs(hi)) == pytest.approx(0.0, abs=1e-9)
    lo, hi = hall_interval(st, level)[0]
    assert (p < 1 - level) == (lo > 0 or hi < 0)


def test_no_spread_and_no_variance() -> None:
    flat = t_stats(np.full((4, 1), 0.3), np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(hall_interval(flat)[0], [0.3, 0.3])
    one = t_stats(np.array([[0.3], [0.7]]), np.array([0, 1]))
    assert np.isnan(hall_interval(one)).all() and np.isnan(analytic_p(one, "hall")).all()
    with pytest.raises(ValueError, match="no analytic p-value"):
        analytic_p(flat, "bca")
