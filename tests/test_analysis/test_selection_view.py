"""The report's selection numbers are select's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis.selection_view import select_grouped
from aira_eval.selection.summary import SelectionOptions, run_selection
from aira_eval.study import Study

OPTS = {"n_resamples": 300, "seed": 3}


def _from_summary(summary: dict, metric: str, strategy: str) -> tuple[float, float, float]:
    m = summary["strategies"][strategy]["metrics"][metric]
    return m["estimate"], m["ci_low"], m["ci_high"]


def test_one_group_equals_run_selection(small_study: Study) -> None:
    nodes = small_study.nodes[small_study.nodes["policy"] == "greedy"].reset_index(drop=True)
    study = Study.from_nodes(nodes, small_study.tasks)
    sel = select_grouped(study, ["agent"], SelectionOptions(**OPTS))
    ref = run_selection(study, SelectionOptions(**OPTS)).summary
    assert sel.groups == ["greedy"]
    assert sel.headline == ref["headline_metric"]
    for row in sel.table.itertuples():
        est, lo, hi = _from_summary(ref, row.metric, row.strategy)
        got = (row.estimate, row.lo, row.hi)
        np.testing.assert_allclose(np.array(got, float), np.array([est, lo, hi], float),
                                   rtol=0, atol=1e-12, equal_nan=True)
        delta = ref["strategies"][row.strategy]["metrics"][row.metric]["delta"]
        np.testing.assert_allclose(row.delta, np.nan if delta["estimate"] is None
                                   else delta["estimate"], atol=1e-12, equal_nan=True)


def test_groups_equal_select_on_each_agent(small_study: Study) -> None:
    """Per agent, every metric equals select on that agent's searches alone, except the
    normalized score, whose denominator is the whole study's best (shared by agents)."""
    sel = select_grouped(small_study, ["agent"], SelectionOptions(**OPTS))
    assert set(sel.groups) == {"greedy", "random"}
    for group in sel.groups:
        ids = small_study.searches.loc[small_study.searches["agent"] == group, "search_id"]
        sub = Study.from_nodes(small_study.nodes[small_study.nodes["search_id"].isin(ids)]
                               .reset_index(drop=True), small_study.tasks)
        ref = run_selection(sub, SelectionOptions(**OPTS, metric=sel.headline)).summary
        rows = sel.table[(sel.table["group"] == group)
                         & (sel.table["metric"] != "normalized_score")]
        assert len(rows) > 50
        for row in rows.itertuples():
            expected = np.array(_from_summary(ref, row.metric, row.strategy), float)
            np.testing.assert_allclose(np.array([row.estimate, row.lo, row.hi], float),
                                       expected, atol=1e-12, equal_nan=True)


def test_between_groups_finds_a_planted_difference(small_study: Study) -> None:
    nodes = small_study.nodes.copy()
    better = (nodes["policy"] == "random").to_numpy()
    sign = np.where(nodes["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    nodes.loc[better, "score_test"] += 0.05 * sign[better]
    sel = select_grouped(Study.from_nodes(nodes, small_study.tasks), ["agent"],
                         SelectionOptions(**OPTS))
    row = sel.compare[(sel.compare["strategy"] == "oracle")
                      & (sel.compare["metric"] == "normalized_score")].iloc[0]
    assert (row["group_a"], row["group_b"]) == ("greedy", "random")
    assert row["hi"] < 0 and row["p_improve"] < 0.05


def test_unknown_group_column_is_a_usage_error(small_study: Study) -> None:
    from aira_eval.errors import UsageError

    with pytest.raises(UsageError, match="cannot group by"):
        select_grouped(small_study, ["nope"], SelectionOptions(**OPTS))
    assert isinstance(small_study.searches, pd.DataFrame)
