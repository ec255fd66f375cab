"""The report's selection numbers are select's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

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
    assert sel.compare["delta"].equals(public.compare["delta"])


def test_bootstrap_intervals_keep_the_bootstrap_p_value(small_study: Study) -> None:
    sel = select_grouped(small_study, (), SelectionOptions(**OPTS, ci="percentile"))
    fav = "share_resamples_favouring"
    p = sel.table.loc[sel.table["strategy"] != "best-val", [fav, "p_value"]]
    assert p["p_value"].notna().any()
    np.testing.assert_allclose(p["p_value"], np.minimum(1, 2 * np.minimum(p[fav], 1 - p[fav])))
    assert sel.p_method == "bootstrap"


def _one_task(study: Study) -> Study:
    nodes = study.nodes
    first = nodes["task"].iloc[0]
    keep = nodes[nodes["task"] == first]
    return Study.from_nodes(keep, {first: study.tasks[first]})


def test_t_p_value_is_the_paired_t_test_of_the_interval(small_study: Study) -> None:
    """One task: the stratified t interval is the one-sample t interval of the per-search
    differences, so p must be scipy's paired t-test and Welch's test between agents."""
    sel = select_grouped(_one_task(small_study), (), SelectionOptions(**OPTS, ci="t"))
    picks = sel.picks.sort_values("search_id")
    metric = "normalized_score"
    checked = 0
    for group in sel.groups:
        mine = picks[picks["group"] == group]
        ref = mine.loc[mine["strategy"] == "best-val", metric].to_numpy(float)
        for strategy in ("oracle", "last", "random"):
            diff = mine.loc[mine["strategy"] == strategy, metric].to_numpy(float) - ref
            row = sel.table[(sel.table["group"] == group) & (sel.table["strategy"] == strategy)
                            & (sel.table["metric"] == metric)].iloc[0]
            if np.all(diff == 0):
                continue
            assert row["p_value"] == pytest.approx(stats.ttest_1samp(diff, 0.0).pvalue,
                                                   rel=1e-9)
            checked += 1
    assert checked >= 3
    row = sel.compare[(sel.compare["strategy"] == "oracle")
                      & (sel.compare["metric"] == metric)].iloc[0]
    a, b = (picks.loc[(picks["group"] == g) & (picks["strategy"] == "oracle"), metric]
            for g in ("greedy", "random"))
    welch = stats.ttest_ind(a.to_numpy(float), b.to_numpy(float), equal_var=False).pvalue
    assert row["p_value"] == pytest.approx(welch, rel=1e-9)


@pytest.mark.parametrize("ci", ["hall", "t"])
def test_p_value_agrees_with_the_interval_shown(small_study: Study, ci: str) -> None:
    sel = select_grouped(small_study, (), SelectionOptions(**OPTS, ci=ci))
    assert sel.p_method == ci and sel.compare_p_method == ci
    t = sel.table[sel.table["p_value"].notna()]
    assert len(t) > 20
    excludes = (t["delta_lo"] > 0) | (t["delta_hi"] < 0)
    assert ((t["p_value"] < 0.05) == excludes).all()
    assert excludes.any() and (~excludes).any()
    c = sel.compare[sel.compare["p_value"].notna()]
    assert ((c["p_value"] < 0.05) == ((c["lo"] > 0) | (c["hi"] < 0))).all()


def test_one_seed_per_task_has_no_p_value(small_study: Study) -> None:
    nodes = small_study.nodes
    one = Study.from_nodes(nodes[nodes["seed"] == nodes["seed"].min()], small_study.tasks)
    for ci in ("hall", "t", "percentile"):
        sel = select_grouped(one, (), SelectionOptions(**OPTS, ci=ci))
        assert sel.table["delta_lo"].isna().all()
        assert sel.table["p_value"].isna().all()
        assert sel.table["share_resamples_favouring"].isna().all()
        assert sel.compare["p_value"].isna().all()
        assert sel.compare["share_resamples_favouring"].isna().all()


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
