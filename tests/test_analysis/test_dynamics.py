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
