"""Between-group Δ (independent agents): the default interval is Welch's t, stratified by task."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aira_eval.selection.compare import FAVOURING, CompareOptions, compare_groups
from aira_eval.selection.tintervals import welch_difference

RNG = np.random.default_rng(15)


def _compare(values: np.ndarray, tasks: np.ndarray, groups: np.ndarray, ci: str = "t",
             task_level: bool = False) -> dict[str, float]:
    opts = CompareOptions(n_resamples=2000, task_level=task_level, ci=ci)
    frame = compare_groups(values[:, None, None], tasks, groups, ["A", "B"], ["s"], ["m"],
                           np.ones(1), opts, np.random.default_rng(0))
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def test_one_task_is_scipy_welch_t() -> None:
    a, b = RNG.normal(1.0, 1.0, size=6), RNG.normal(0.0, 3.0, size=9)
    row = _compare(np.r_[a, b], np.array(["t1"] * 15, dtype=object), np.repeat([0, 1], [6, 9]))
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert row["ci_method"] == "t"
    assert row["delta"] == pytest.approx(a.mean() - b.mean())
    np.testing.assert_allclose([row["lo"], row["hi"]], [ref.low, ref.high])
    np.testing.assert_allclose([row["t_lo"], row["t_hi"]], [ref.low, ref.high])
    assert 0.0 <= row[FAVOURING] <= 1.0


def test_strata_add_variances_and_welch_satterthwaite_df() -> None:
    """Two tasks, both groups: se² = (Σ_t v_A,t + Σ_t v_B,t) / T², df over the four cells."""
    cells = [RNG.normal(size=n) * s for n, s in ((5, 1.0), (7, 2.0), (6, 0.5), (8, 3.0))]
    values = np.concatenate(cells)
    strata = np.repeat([0, 1, 0, 1], [5, 7, 6, 8])
    in_a = np.repeat([True, True, False, False], [5, 7, 6, 8])
    got = welch_difference(values[in_a, None], strata[in_a], values[~in_a, None],
                           strata[~in_a])
    v = np.array([c.var(ddof=1) / c.size for c in cells]) / 4.0
    df = v.sum() ** 2 / np.sum(v**2 / np.array([4, 6, 5, 7]))
    assert got.se[0] == pytest.approx(np.sqrt(v.sum()))
    assert got.df[0] == pytest.approx(df)
    theta = (cells[0].mean() + cells[1].mean()) / 2 - (cells[2].mean() + cells[3].mean()) / 2
    assert got.theta[0] == pytest.approx(theta)


def test_task_level_is_the_one_sample_t_of_per_task_differences() -> None:
    n_tasks = 6
    tasks = np.array([f"t{i}" for i in range(n_tasks)], dtype=object)
    a = RNG.normal(size=(n_tasks, 4)) + RNG.normal(size=(n_tasks, 1))
    b = RNG.normal(size=(n_tasks, 3)) + RNG.normal(size=(n_tasks, 1))
    values = np.r_[a.ravel(), b.ravel()]
    row = _compare(values, np.r_[np.repeat(tasks, 4), np.repeat(tasks, 3)],
                   np.repeat([0, 1], [a.size, b.size]), task_level=True)
    ref = stats.ttest_1samp(a.mean(axis=1) - b.mean(axis=1), 0.0).confidence_interval(0.95)
    np.testing.assert_allclose([row["lo"], row["hi"]], [ref.low, ref.high])


@pytest.mark.parametrize("ci", ["percentile", "bca", "expanded", "studentized"])
def test_other_methods_stay_selectable(ci: str) -> None:
    a, b = RNG.normal(size=8), RNG.normal(size=8)
    row = _compare(np.r_[a, b], np.array(["t1"] * 16, dtype=object), np.repeat([0, 1], 8), ci)
    shown = "hall" if ci == "studentized" else ci  # not computed between groups: says so
    assert row["ci_method"] == shown
    assert (row["lo"], row["hi"]) == (row[f"{shown}_lo"], row[f"{shown}_hi"])
    assert row["percentile_lo"] < row["delta"] < row["percentile_hi"]
    width = {m: row[f"{m}_hi"] - row[f"{m}_lo"] for m in ("t", "expanded", "percentile")}
    assert width["t"] > width["percentile"] and width["expanded"] > width["percentile"]
