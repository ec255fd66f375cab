"""The report's tables: captions and notes say what the numbers are over."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis import builders, tables
from aira_eval.analysis.context import Context, ReportOptions
from aira_eval.analysis.scale import study_scale
from aira_eval.analysis.selection_view import search_groups, select_grouped
from aira_eval.selection.summary import SelectionOptions
from aira_eval.study import Study
from tests.test_analysis.helpers import agents_study


def _context(study: Study, tmp_path: Path) -> Context:
    options = ReportOptions(resamples=200, band_resamples=20, trees=0)
    groups = {sid: g for g, ids in search_groups(study, []).items() for sid in ids}
    ctx = Context(study, options, tmp_path, groups, study_scale(study))
    ctx.selection = select_grouped(study, [], SelectionOptions(n_resamples=200, seed=0))
    return ctx


@pytest.fixture(scope="module")
def lacking(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """Two agents on three tasks, but random has no search on the last task."""
    frame, tasks = agents_study(n_tasks=3, n_seeds=3, n_nodes=6)
    last = sorted(frame["task"].unique())[-1]
    frame = frame[~((frame["policy"] == "random") & (frame["task"] == last))]
    return _context(Study.from_nodes(frame.reset_index(drop=True), tasks),
                    tmp_path_factory.mktemp("lacking"))


def test_main_table_says_which_tasks_an_agent_lacks(lacking: Context) -> None:
    sel = lacking.selection
    assert sel is not None
    last = sorted(sel.picks["task"].unique())[-1]
    groups = sel.groups
    lacking_group = next(g for g in groups if "random" in g)
    other = next(g for g in groups if g != lacking_group)
    assert tables.missing_tasks(sel) == {lacking_group: [last]}
    caption = tables.main_table(lacking.study, sel).caption
    assert f"{lacking_group}: 2 of 3" in caption and f"{other}: 3 of 3" in caption
    assert f"{lacking_group} has no search on: {last}" in caption
    section = builders.main_section(lacking)
    assert any(n.startswith(f"{lacking_group} has no search on: {last}")
               for n in section.notes)


def test_captions_name_the_interval_method(lacking: Context) -> None:
    sel = lacking.selection
    assert sel is not None
    for table in (tables.main_table(lacking.study, sel),
                  tables.generalization_table(lacking.study, sel)):
        assert table is not None
        assert "t bootstrap" not in table.caption
        assert "skew-corrected t intervals (Hall 1992; analytic: Welch–Satterthwaite df over " \
            "task strata and the estimate's skewness" in table.caption


def test_main_caption_names_the_metric_and_its_direction(tmp_path: Path) -> None:
    """One task, lower is better (an RMSE-like metric): raw columns are shown."""
    frame, tasks = agents_study(n_tasks=1, n_seeds=3, n_nodes=6, lower_every=1)
    assert all(info.lower_is_better for info in tasks.values())
    ctx = _context(Study.from_nodes(frame, tasks), tmp_path)
    assert ctx.selection is not None
    caption = tables.main_table(ctx.study, ctx.selection).caption
    metric = next(iter(tasks.values())).metric
    assert "Headline metric: normalized score (↑ higher is better)" in caption
    assert f"Test score: each task's own metric, {metric} (↓ lower is better)" in caption
    assert "Regret = the oracle pick's test score − this pick's" in caption
    assert "Optimism = the pick's validation − test score, oriented (> 0:" in caption


def test_grouped_by_task_no_task_is_missing(lacking: Context) -> None:
    sel = select_grouped(lacking.study, ["task"], SelectionOptions(n_resamples=50, seed=0))
    assert tables.missing_tasks(sel) == {}
    caption = tables.main_table(lacking.study, sel).caption
    assert "mean over seeds on the group's one task" in caption
    assert "has no search on" not in caption


@pytest.fixture(scope="module")
def by_task(lacking: Context, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The ``lacking`` study grouped by task (``report --by task``)."""
    study = lacking.study
    groups = {sid: g for g, ids in search_groups(study, ["task"]).items() for sid in ids}
    ctx = Context(study, ReportOptions(by=["task"], resamples=50, band_resamples=20, trees=0),
                  tmp_path_factory.mktemp("by_task"), groups, study_scale(study))
    ctx.selection = select_grouped(study, ["task"], SelectionOptions(n_resamples=50, seed=0))
    return ctx


def test_grouped_by_task_tables_name_the_grouping(by_task: Context) -> None:
    """N10: the first column is named after the grouping and no caption claims a mean over
    tasks when each group is one task."""
    from aira_eval.analysis.builders_extra import seeds_section

    sel = by_task.selection
    assert sel is not None and sel.by == ["task"]
    main = tables.main_table(by_task.study, sel)
    assert list(main.display.columns[:2]) == ["task", "strategy"]
    assert set(main.display["task"]) == set(sel.picks["task"])
    assert main.caption.startswith("Per task and final-pick strategy: mean over seeds on the "
                                   "group's one task (")
    assert "task(s)" not in main.caption and "Per agent" not in main.caption
    gen = tables.generalization_table(by_task.study, sel)
    assert gen is not None and gen.display.columns[0] == "task"
    assert gen.caption.startswith("Generalization per task ")
    seeds = seeds_section(by_task).tables[0]
    assert seeds.display.columns[0] == "task"
    assert "the group's searches on its task" in seeds.caption


def test_grouped_by_task_correlation_and_topk_tables(by_task: Context,
                                                     lacking: Context) -> None:
    """The rank-correlation table has no second "agent" column when the groups are the
    tasks, and the top-k table's first column is named after the grouping."""
    from aira_eval.analysis.builders import topk_section, val_test_section

    corr = val_test_section(by_task).tables[0]
    assert list(corr.display.columns[:2]) == ["task", "nodes"]
    assert "per task;" in corr.caption and "agent" not in corr.caption
    assert topk_section(by_task).tables[0].display.columns[0] == "task"
    default = val_test_section(lacking).tables[0]
    assert list(default.display.columns[:3]) == ["task", "agent", "nodes"]
    assert topk_section(lacking).tables[0].display.columns[0] == "agent"


def test_default_grouping_keeps_the_agent_header(lacking: Context) -> None:
    sel = lacking.selection
    assert sel is not None
    main = tables.main_table(lacking.study, sel)
    assert main.display.columns[0] == "agent"
    assert main.caption.startswith("Per agent and final-pick strategy: mean over the tasks")


def test_share_favouring_is_not_formatted_as_a_p_value(lacking: Context) -> None:
    """N11: a share of resamples of 0 prints 0.000, not "<0.001"."""
    sel = lacking.selection
    assert sel is not None
    compare = sel.compare.copy()
    rows = np.flatnonzero((compare["metric"] == sel.headline).to_numpy())
    compare.loc[compare.index[rows[0]], "share_resamples_favouring"] = 0.0
    compare.loc[compare.index[rows[1]], "share_resamples_favouring"] = 1.0
    compare.loc[compare.index[rows[2]], "share_resamples_favouring"] = 0.0004
    table = tables.between_table(replace(sel, compare=compare))
    assert table is not None
    assert list(table.display["fav. A"].iloc[:3]) == ["0.000", "1.000", "0.000"]
    assert "<0.001" not in set(table.display["fav. A"])


def test_holm_counts_identical_strategies_once(lacking: Context) -> None:
    """N8: strategies whose per-search values are identical (here oracle = topk, naturally,
    plus a planted copy of oracle) are one hypothesis in Holm's family: they share the p and
    the adjusted p, and the caption says so."""
    from statsmodels.stats.multitest import multipletests

    sel = lacking.selection
    assert sel is not None
    copy_t = sel.table[sel.table["strategy"] == "oracle"].assign(strategy="oracle-copy")
    copy_p = sel.picks[sel.picks["strategy"] == "oracle"].assign(strategy="oracle-copy")
    planted = replace(sel, table=pd.concat([sel.table, copy_t], ignore_index=True),
                      picks=pd.concat([sel.picks, copy_p], ignore_index=True))
    same = tables.identical_strategies(planted)
    assert sorted(same) == sorted(sel.groups)
    for classes in same.values():
        assert any({"oracle", "oracle-copy"} <= set(c) for c in classes)
        assert not any(sel.reference in c for c in classes)
    main = tables.main_table(lacking.study, planted)
    assert "count once in Holm's family and share its p: oracle = topk = oracle-copy" \
        in main.caption
    data = main.data[main.data["metric"] == sel.headline]
    dropped = {(g, s) for g, classes in same.items() for c in classes for s in c[1:]}
    keys = list(zip(data["group"], data["strategy"], strict=True))
    family = [(k, p) for k, p in zip(keys, data["p_value"], strict=True)
              if np.isfinite(p) and k not in dropped]
    assert len(family) < np.isfinite(data["p_value"]).sum() - 2
    expected = dict(zip([k for k, _ in family],
                        multipletests([p for _, p in family], method="holm")[1], strict=True))
    got = dict(zip(keys, data["p_holm"], strict=True))
    assert any(0 < p < 1 for p in expected.values())  # the family size shows
    for k, p in expected.items():
        assert got[k] == pytest.approx(p, rel=1e-12)
    for g, classes in same.items():
        for c in classes:
            assert len({got[(g, s)] for s in c}) == 1, c


def test_a_delta_without_interval_is_explained(lacking: Context) -> None:
    """A strategy equal to the reference on every search (a planted copy of it): Δ = 0 with
    no interval and no p, and the caption says why."""
    sel = lacking.selection
    assert sel is not None
    ref = sel.table[sel.table["strategy"] == sel.reference]
    head = ref[ref["metric"] == sel.headline]
    assert (head["delta"] == 0).all() and head["delta_lo"].isna().all()  # Δ of itself
    planted = replace(sel, table=pd.concat([sel.table, ref.assign(strategy="bv-copy")],
                                           ignore_index=True))
    main = tables.main_table(lacking.study, planted)
    assert "A Δ of 0 without interval: the same value as the reference's on every search" \
        in main.caption
    assert "A Δ of 0 without interval" not in tables.main_table(lacking.study, sel).caption
    rows = main.display[main.display["strategy"] == "bv-copy"]
    delta = next(c for c in main.display.columns if c.startswith("Δ"))
    assert set(rows[delta]) == {"0.000"} and set(rows["p (Holm)"]) == {"—"}


def test_between_agents_holm_counts_identical_strategies_once(lacking: Context) -> None:
    """Strategies with identical per-search values in both agents (a planted copy of
    best-val, in picks and in the comparison) have the same Δ between the agents: one
    hypothesis in the between table's Holm family, as in the main table."""
    from statsmodels.stats.multitest import multipletests

    sel = lacking.selection
    assert sel is not None
    head = sel.compare[sel.compare["metric"] == sel.headline]
    planted = replace(
        sel,
        picks=pd.concat([sel.picks, sel.picks[sel.picks["strategy"] == "best-val"]
                         .assign(strategy="bv-copy")], ignore_index=True),
        compare=pd.concat([sel.compare, head[head["strategy"] == "best-val"]
                           .assign(strategy="bv-copy")], ignore_index=True))
    same = tables.between_identical(planted, sel.headline)
    assert same and all(any({"best-val", "bv-copy"} <= set(c) for c in classes)
                        for classes in same.values())
    table = tables.between_table(planted)
    assert table is not None
    data = table.data
    copy = data[data["strategy"] == "bv-copy"]["p_holm"].to_numpy()
    orig = data[data["strategy"] == "best-val"]["p_holm"].to_numpy()
    np.testing.assert_array_equal(copy, orig)
    assert "count once in Holm's family and share its p: best-val = " in table.caption
    dropped = {(f"{a} − {b}", s) for a, b, s in
               zip(data["group_a"], data["group_b"], data["strategy"], strict=True)
               if any(s in c[1:] for c in same.get(f"{a} − {b}", []))}
    keys = [(f"{a} − {b}", s) for a, b, s in
            zip(data["group_a"], data["group_b"], data["strategy"], strict=True)]
    family = [(k, p) for k, p in zip(keys, data["p_value"], strict=True)
              if np.isfinite(p) and k not in dropped]
    expected = multipletests([p for _, p in family], method="holm")[1]
    got = dict(zip(keys, data["p_holm"], strict=True))
    for (k, _), p in zip(family, expected, strict=True):
        assert got[k] == pytest.approx(p, rel=1e-12)


def test_main_section_carries_selects_warnings(lacking: Context) -> None:
    """Issue 15: the report warns in one line, as ``select`` does, where the intervals are
    approximate (here 3 seeds per task), and every other ``select`` warning."""
    from aira_eval.analysis.builders import main_section

    sel = lacking.selection
    assert sel is not None and sel.warnings
    notes = main_section(lacking).notes
    assert [n for n in notes if n.startswith("Warning: ")] == [f"Warning: {w}"
                                                               for w in sel.warnings]
    assert any("fewer than 5 searches" in n for n in notes)
