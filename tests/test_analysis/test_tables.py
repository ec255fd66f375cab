"""The report's tables: captions and notes say what the numbers are over."""

from __future__ import annotations

from pathlib import Path

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
    assert "mean over its task of the mean over seeds" in caption
    assert "has no search on" not in caption
