"""``random``'s win rate is its expectation over valid nodes, as its other metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aira_eval as ae
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes


@pytest.mark.parametrize("lower", [False, True])
def test_random_win_rate_averages_each_nodes_win(lower: bool) -> None:
    sign = -1.0 if lower else 1.0
    # best-val picks the node with test 0.6; the valid nodes lose, tie, win, win: 2.5 / 4;
    # a failed node does not count; the mean test score (0.6875) would "win" outright
    specs = [{"val": 0.1 * sign, "test": 0.5 * sign}, {"val": 0.9 * sign, "test": 0.6 * sign},
             {"val": 0.2 * sign, "test": 0.7 * sign}, {"val": 0.3 * sign, "test": 0.95 * sign},
             {"val": 0.4 * sign, "valid": False}]
    frames = [make_nodes(specs, search_id=f"s{s}", seed=s, lower_is_better=lower)
              for s in range(2)]
    # a search whose reference fails: every valid node beats a failure
    frames.append(make_nodes([{"test": 0.5 * sign}, {"test": 0.7 * sign}], search_id="s2",
                             seed=2, lower_is_better=lower))
    study = Study.from_nodes(pd.concat(frames, ignore_index=True),
                             {"t1": TaskInfo(task="t1", metric="m", lower_is_better=lower)})
    res = ae.select(study, strategies=["best-val", "random"], resamples=100)
    picks = res.picks[res.picks["strategy"] == "random"].set_index("search_id")
    assert picks.loc[["s0", "s1", "s2"], "win_rate"].tolist() == [0.625, 0.625, 1.0]
    row = res.table[(res.table["strategy"] == "random") & (res.table["metric"] == "win_rate")]
    assert float(row["estimate"].iloc[0]) == pytest.approx(np.mean([0.625, 0.625, 1.0]))
