"""The report's selection numbers are select's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import aira_eval as ae
from aira_eval.analysis.selection_view import select_grouped
from aira_eval.errors import UsageError
from aira_eval.selection.summary import SelectionOptions
from aira_eval.study import Study

OPTS = {"n_resamples": 300, "seed": 3}
KEYS = ["group", "strategy", "metric"]


def test_table_is_the_public_select_table(small_study: Study) -> None:
    sel = select_grouped(small_study, (), SelectionOptions(**OPTS))
    public = ae.select(small_study, resamples=300, seed=3)
    assert sel.groups == public.groups == ["greedy", "random"]
    merged = sel.table.merge(public.table, on=KEYS, suffixes=("", "_api"))
    assert len(merged) == len(sel.table) == len(public.table)
    fav = "share_resamples_favouring"
    for col in ("estimate", "se", "lo", "hi", "delta", "delta_lo", "delta_hi", fav):
        np.testing.assert_array_equal(merged[col].to_numpy(float),
                                      merged[f"{col}_api"].to_numpy(float))
    assert sel.headline == public.summary["headline_metric"]
    p = sel.table.loc[sel.table["strategy"] != "best-val", [fav, "p_value"]]
    np.testing.assert_allclose(p["p_value"], np.minimum(1, 2 * np.minimum(p[fav], 1 - p[fav])))
    assert sel.compare["delta"].equals(public.compare["delta"])


def test_between_groups_finds_a_planted_difference(small_study: Study) -> None:
    nodes = small_study.nodes.copy()
    better = (nodes["policy"] == "random").to_numpy()
    sign = np.where(nodes["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    nodes.loc[better, "score_test"] += 0.05 * sign[better]
    sel = select_grouped(Study.from_nodes(nodes, small_study.tasks), ["policy"],
                         SelectionOptions(**OPTS))
    row = sel.compare[(sel.compare["strategy"] == "oracle")
                      & (sel.compare["metric"] == "normalized_score")].iloc[0]
    assert (row["group_a"], row["group_b"]) == ("greedy", "random")
    assert row["hi"] < 0 and row["share_resamples_favouring"] < 0.05 and row["p_value"] < 0.1


def test_unknown_group_column_is_a_usage_error(small_study: Study) -> None:
    with pytest.raises(UsageError, match=r"unknown by \(--by\)"):
        select_grouped(small_study, ["nope"], SelectionOptions(**OPTS))
