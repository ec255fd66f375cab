"""Section builders 1–5: selection tables, dynamics, validation vs test, top-k.

Each builder takes the :class:`~aira_eval.analysis.context.Context` and returns a
:class:`~aira_eval.analysis.sections.Section`; a section with nothing to show says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aira_eval.analysis import correlations, dynamics, tables
from aira_eval.analysis.context import Context
from aira_eval.analysis.sections import Figure, Section, Table, fmt_ci


def _bands(ctx: Context, kind: str = "bands") -> str:
    """The figures' interval method in words (percentile bootstrap)."""
    opts = ctx.options
    return (f"{int(opts.level * 100)}% percentile bootstrap {kind} ({opts.band_resamples} "
            "stratified resamples of seeds within tasks)")


def _needs_selection(section: Section, ctx: Context) -> bool:
    reason = ctx.no_test() or ctx.selection_empty
    if reason:
        section.empty = reason
    return reason is None


def main_section(ctx: Context) -> Section:
    s = Section("main", "Main results")
    if not _needs_selection(s, ctx):
        return s
    sel = ctx.selection
    assert sel is not None
    s.tables.append(tables.main_table(ctx.study, sel))
    between = tables.between_table(sel)
    if between is not None:
        s.tables.append(between)
    else:
        s.notes.append("One agent only: no between-agent comparison.")
    s.notes.extend(f"{group} has no search on: {', '.join(tasks)} (its means are over "
                   "fewer tasks than the other agents')." for group, tasks in
                   tables.missing_tasks(sel).items())
    s.notes.extend(f"Warning: {w}" for w in sel.warnings)  # what the intervals cannot say
    s.data["selection"] = sel.table
    s.data["between_all_metrics"] = sel.compare
    if sel.skipped:
        s.notes.append("Not applicable: " + "; ".join(f"{k} ({v})" for k, v in
                                                       sel.skipped.items()))
    if int(sel.picks.groupby(["group", "task"])["search_id"].nunique().max()) < 2:
        s.notes.append("One seed per task: the bootstrap over seeds has nothing to resample, "
                       "so the intervals are degenerate. Run more seeds.")
    return s


def generalization_section(ctx: Context) -> Section:
    s = Section("generalization", "Generalization: validation vs test of the picks")
    if not _needs_selection(s, ctx):
        return s
    assert ctx.selection is not None
    table = tables.generalization_table(ctx.study, ctx.selection)
    if table is None:
        s.empty = "the best-val strategy was not run (select it to get this table)"
    else:
        s.tables.append(table)
    return s


def dynamics_section(ctx: Context) -> Section:
    from aira_eval.analysis.figures.curves import dynamics_figure

    s = Section("dynamics", "Search dynamics")
    reason = ctx.no_test()
    if reason:
        s.empty = reason
        return s
    run = dynamics.running_best(ctx.study.nodes, ctx.scale)
    opts = ctx.options
    failed = ctx.scale.name == "normalized"
    steps = dynamics.curves(run, ctx.groups, "n_explored", n_resamples=opts.band_resamples,
                            level=opts.level, seed=opts.seed, failed_as_zero=failed)
    clock = dynamics.curves(run, ctx.groups, "clock", n_resamples=opts.band_resamples,
                            level=opts.level, seed=opts.seed, failed_as_zero=failed)
    s.data.update({"dynamics_steps": steps, "dynamics_time": clock})
    files = dynamics_figure(steps, clock, ctx.scale.axis, ctx.figures)
    n = run["search_id"].nunique()
    s.figures.append(Figure("dynamics", "Search dynamics", (
        f"Per agent, over nodes explored{' and over wall time' if len(clock) else ''}: the "
        "validation score of the current best-validation node (dashed), its test score "
        "(solid) and the best test score so far (the oracle, dotted), on the "
        f"{ctx.scale.label}; mean over tasks of the mean over seeds ({n} searches), "
        f"{_bands(ctx)}; {dynamics.RULE_FAILED if failed else ''}{dynamics.RULE_COMPLETE}. "
        "The gap between dashed and solid is the pick's optimism; between solid and dotted, "
        "what a perfect pick would add."), files))
    if not len(clock):
        s.notes.append("No timings recorded (started_at, exec_time): no wall-time panel.")
    ctx.cache["running_best"] = run
    ctx.cache["dynamics_steps"] = steps
    return s


def val_test_section(ctx: Context) -> Section:
    from aira_eval.analysis.figures.curves import optimism_figure
    from aira_eval.analysis.figures.scatter import MAX_PANELS, scatter_figure

    s = Section("val_vs_test", "Validation vs test")
    reason = ctx.no_test()
    if reason:
        s.empty = reason
        return s
    study, sel = ctx.study, ctx.selection
    picked: set[str] = set()
    if sel is not None:
        bv = sel.picks[sel.picks["strategy"] == "best-val"]
        picked = {str(x) for x in bv["node_id"].dropna()}
    files = scatter_figure(study.nodes, ctx.groups, picked, study.metrics, ctx.figures)
    n_tasks = study.nodes["task"].nunique()
    s.figures.append(Figure("val_vs_test", "Validation vs test per node", (
        f"Every valid node's validation (x) and test (y) score, one panel per task"
        f"{f' (first {MAX_PANELS} of {n_tasks})' if n_tasks > MAX_PANELS else ''}, coloured by "
        "agent, best-validation picks ringed; dashed: y = x (points below it were "
        "over-estimated by validation on higher-is-better metrics)."), files))
    corr = correlations.rank_correlations(study.nodes, ctx.groups, ctx.options.level)
    s.tables.append(_correlation_table(corr, ctx.options.level, _group_column(ctx)))
    steps = ctx.cache.get("dynamics_steps")
    if isinstance(steps, pd.DataFrame) and len(steps):
        files = optimism_figure(steps, ctx.scale.axis, ctx.figures)
        s.figures.append(Figure("optimism", "Optimism vs nodes explored", (
            "Optimism of the best-validation pick (its validation minus its test score, "
            f"oriented; > 0: over-estimated) after n nodes, on the {ctx.scale.label}; mean "
            f"over tasks of the mean over seeds, {_bands(ctx)}."), files))
    return s


def _group_column(ctx: Context) -> str:
    """What a group is, as the tables' header says it (``agent`` unless ``--by``)."""
    return " · ".join(ctx.options.by) if ctx.options.by else "agent"


def _correlation_table(corr: pd.DataFrame, level: float, group: str = "agent") -> Table:
    """Per task and group (``group`` the header; left out when the groups are the tasks)."""
    columns: dict[str, Any] = {"task": corr["task"]}
    if group != "task":
        columns[group] = corr["group"]
    display = pd.DataFrame({
        **columns, "nodes": corr["n_nodes"].astype(str),
        "Spearman ρ": [fmt_ci(r, lo, hi) for r, lo, hi in
                       zip(corr["spearman"], corr["spearman_lo"], corr["spearman_hi"],
                           strict=True)],
        "Kendall τ": [fmt_ci(r, lo, hi) for r, lo, hi in
                      zip(corr["kendall"], corr["kendall_lo"], corr["kendall_hi"],
                          strict=True)]})
    per = "task" if group == "task" else f"task and {group}"
    caption = ("Rank correlation between validation and test scores of the valid nodes, per "
               f"{per}; {int(level * 100)}% Fisher-z intervals (Fieller–Hartley–"
               "Pearson variances), treating nodes as independent (optimistic when "
               "searches are few).")
    return Table("rank_correlations", "Rank correlations", caption, corr, display)


def topk_section(ctx: Context) -> Section:
    from aira_eval.analysis.figures.curves import topk_figure

    s = Section("topk", "Top-k vs random-k")
    reason = ctx.no_test()
    if reason:
        s.empty = reason
        return s
    opts = ctx.options
    curve = dynamics.topk_curve(ctx.study.nodes, ctx.scale, ctx.groups,
                                n_resamples=opts.band_resamples, level=opts.level,
                                seed=opts.seed)
    files = topk_figure(curve, ctx.scale.axis, ctx.figures)
    s.figures.append(Figure("topk", "Top-k curve", (
        "Best test score among the k nodes with the best validation scores (solid) vs the "
        "exact expected best of k valid nodes drawn at random without replacement (dashed), "
        f"k = 1…10, on the {ctx.scale.label}; mean over tasks of the mean over seeds, "
        f"{_bands(ctx)}. k is capped at a search's valid nodes: beyond them both curves equal "
        "its best node (the oracle)."), files))
    keep = curve[curve["k"].isin([1, 3, 5, 10])]
    wide = keep.assign(v=[fmt_ci(m, lo, hi) for m, lo, hi in
                          zip(keep["mean"], keep["lo"], keep["hi"], strict=True)])
    display = wide.pivot_table(index=["group", "curve"], columns="k", values="v",
                               aggfunc="first", sort=False).reset_index()
    display.columns = [_group_column(ctx), "curve", *(f"k={k}" for k in display.columns[2:])]
    s.tables.append(Table("topk", "Top-k vs random-k", (
        f"Values of the top-k figure at k = 1, 3, 5, 10 ({ctx.scale.label}); "
        f"{_bands(ctx, 'intervals')} (so top-1 = best-val may differ from the main table's "
        "t interval)."), curve, display))
    return s
