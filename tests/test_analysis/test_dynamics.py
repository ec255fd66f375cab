"""Dynamics and top-k: exact random-k, running best-val pick, curves' last point = select."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from aira_eval.analysis.dynamics import _per_search_k, running_best
from aira_eval.analysis.scale import study_scale
from aira_eval.study import Study


def test_random_k_is_the_exact_expectation() -> None:
    t = np.array([0.3, 0.9, 0.1, 0.5, 0.7])
    frame = pd.DataFrame({"search_id": "s", "task": "t", "v": [1.0, 0.0, 3.0, 2.0, np.nan],
                          "t": t, "step": range(5)})
    top, rnd = _per_search_k(frame, ["s"], 6)
    for k in range(1, 6):
        brute = np.mean([max(c) for c in itertools.combinations(t, k)])
        assert np.isclose(rnd[0, k - 1], brute)
    assert np.isclose(rnd[0, 5], 0.9)
    # by validation: 0.1 (v=3), 0.5 (v=2), 0.3 (v=1), 0.9 (v=0); the NaN-val node never
    np.testing.assert_allclose(top[0], [0.1, 0.5, 0.5, 0.9, 0.9, 0.9])


def test_running_best_ends_at_select_best_val(small_study: Study) -> None:
    from aira_eval.selection.evaluate import evaluate_strategies
    from aira_eval.selection.strategies import get_strategy

    run = running_best(small_study.nodes, study_scale(small_study))
    last = run.groupby("search_id").tail(1).set_index("search_id")
    picks = evaluate_strategies(small_study.nodes, small_study.tasks,
                                [get_strategy("best-val")]).set_index("search_id")
    scale = study_scale(small_study)
    tasks = picks["task"]
    sign = np.where(picks["task"].map({k: v.lower_is_better for k, v in
                                       small_study.tasks.items()}), -1.0, 1.0)
    expected = scale.display(picks["test_score"].to_numpy(float) * sign, tasks)
    np.testing.assert_allclose(last.loc[picks.index, "test_of_pick"].to_numpy(float), expected)
    np.testing.assert_allclose(last.loc[picks.index, "test_of_pick"],
                               picks["normalized_score"].to_numpy(float))


def _late_run() -> pd.DataFrame:
    """Two searches of one task: ``a`` valid from its first node (0.5, then 0.6), ``b`` only
    from its second (0.9): a mean over the searches that have a value at x falls from 0.5
    (a alone) to 0.75 — fine — but an oracle mean over {a} then {a, b} is no running max."""
    nan = np.nan
    return pd.DataFrame({
        "search_id": ["a", "a", "b", "b"], "task": "t", "n_explored": [1, 2, 1, 2],
        "clock": [1.0, 2.0, 1.0, 2.0],
        "val_of_pick": [0.9, 0.9, nan, 0.2], "test_of_pick": [0.5, 0.6, nan, 0.9],
        "oracle": [0.5, 0.6, nan, 0.9], "optimism": [0.4, 0.3, nan, -0.7]})


def _at(curve: pd.DataFrame, series: str) -> pd.DataFrame:
    return curve[curve["series"] == series].set_index("x")[["mean", "n_searches"]]


def test_curves_never_average_a_changing_set_of_searches() -> None:
    from aira_eval.analysis.dynamics import curves

    run = _late_run()
    failed = curves(run, {"a": "g", "b": "g"}, n_resamples=20, failed_as_zero=True)
    oracle = _at(failed, "oracle")
    assert list(oracle["n_searches"]) == [2, 2]
    np.testing.assert_allclose(oracle["mean"], [0.25, 0.75])  # b failed at x=1: 0
    assert oracle["mean"].is_monotonic_increasing
    val = _at(failed, "val_of_pick")  # no failure value: starts where both contribute
    assert list(val["n_searches"]) == [0, 2] and np.isnan(val["mean"].iloc[0])
    plain = curves(run, {"a": "g", "b": "g"}, n_resamples=20)
    oracle = _at(plain, "oracle")
    assert list(oracle["n_searches"]) == [0, 2] and np.isnan(oracle["mean"].iloc[0])
    np.testing.assert_allclose(oracle["mean"].iloc[1], 0.75)
