"""Section builders 6–9: statistical models, how many seeds, search trees, manifest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aira_eval.analysis import manifest, models, power, tables
from aira_eval.analysis.context import Context
from aira_eval.analysis.scale import oriented
from aira_eval.analysis.sections import Figure, Section, Table, fmt, fmt_ci, fmt_p
from aira_eval.analysis.selection_view import ANALYTIC, GroupedSelection


def _coef_table(fit: models.ModelFit, title: str, caption: str) -> Table:
    c = fit.coefs
    display = pd.DataFrame({
        "term": c["term"],
        "coefficient [95% CI]": [fmt_ci(e, lo, hi) for e, lo, hi in
                                 zip(c["coef"], c["lo"], c["hi"], strict=True)],
        "SE": [fmt(x) for x in c["se"]], "p": [fmt_p(x) for x in c["p"]]})
    return Table(f"model_{fit.name}", title, caption, c.assign(model=fit.name), display)


def _gap_data(ctx: Context) -> pd.DataFrame:
    nodes = ctx.study.nodes
    gap = ctx.scale.gap(oriented(nodes, "score_test"), oriented(nodes, "score_val"),
                        nodes["task"])
    return pd.DataFrame({"gap": gap, "step": nodes["step"].to_numpy(float),
                         "agent": nodes["search_id"].astype(str).map(ctx.groups).fillna("all")
                         .to_numpy(), "task": nodes["task"].astype(str).to_numpy()})


def models_section(ctx: Context) -> Section:
    s = Section("models", "Statistical models")
    reason = ctx.no_test()
    if reason:
        s.empty = reason
        return s
    level = ctx.options.level
    gap = models.gap_model(_gap_data(ctx), level, ctx.options.seed)
    ols = "OLS" in gap.formula
    fits = [(gap, "Mixed model of the generalization gap",
             f"{'OLS' if ols else 'Linear mixed model (REML)'} of the gap = test − validation "
             f"of every valid node on the {ctx.scale.label} (oriented; < 0: validation "
             "over-estimated), fixed effects step and agent, "
             + ("no random intercept (the mixed model's task variance is estimated at 0)"
                if ols else "random intercept per task") + "; Wald intervals.")]
    sel = ctx.selection
    if sel is not None:
        single = {n for n in pd.unique(sel.picks["strategy"]) if n not in ("random",)}
        picks = sel.picks[sel.picks["strategy"].isin(single)]
        data = pd.DataFrame({"medal": picks["any_medal"].to_numpy(float),
                             "strategy": picks["strategy"].astype(str).to_numpy(),
                             "agent": picks["group"].astype(str).to_numpy(),
                             "task": picks["task"].astype(str).to_numpy(),
                             "search_id": picks["search_id"].astype(str).to_numpy(),
                             "node_id": picks["node_id"].astype(str).to_numpy()})
        medal = models.medal_model(data, sel.reference, level)
        inference = ("Mancl–DeRouen bias-reduced sandwich SEs, t intervals and p-values on "
                     "tasks − 1 df" if medal.n_groups >= models.MIN_CLUSTERS else
                     f"descriptive only: fewer than {models.MIN_CLUSTERS} tasks (clusters) "
                     "for sandwich inference, so no SE, interval or p-value")
        fits.append((medal, "GEE of the medal rate",
                     "GEE (binomial, logit link, exchangeable correlation within task) of the "
                     "medal flag of each search's pick; log-odds ratios vs the reference "
                     "strategy and the first agent (strategies with the reference's pick on "
                     f"every search left out); {inference}."))
    for fit, title, caption in fits:
        if fit.skipped:  # no formula printed: nothing was fitted
            s.notes.append(f"{title}: not fitted — {fit.skipped}.")
            continue
        s.code.append(f"{fit.name}: {fit.formula}")
        s.tables.append(_coef_table(fit, title, caption + f" n = {fit.n_obs:,} rows in "
                                    f"{fit.n_groups} tasks."))
        s.notes.extend(f"{title}: {n}." for n in fit.notes)
    if not s.tables and not s.notes:
        s.empty = "no model could be fitted"
    return s


def seeds_section(ctx: Context) -> Section:
    from aira_eval.analysis.figures.curves import seeds_figure

    s = Section("seeds", "How many seeds")
    reason = ctx.no_test() or ctx.selection_empty
    if reason:
        s.empty = reason
        return s
    sel = ctx.selection
    assert sel is not None
    picks = sel.picks[sel.picks["strategy"] == sel.reference]
    method = "t" if sel.options.ci == "t" else "hall"
    name = ("t interval" if method == "t" else "skew-corrected t interval (Hall)")
    how = ("t quantile at the Welch–Satterthwaite df for n seeds times the se from each task's "
           "observed variance over n" if method == "t" else
           "the same formula with the se and Welch–Satterthwaite df for n seeds from each "
           "task's observed variance and the skewness from its observed third moment, "
           "shrinking as 1/√n")
    parts, actual = [], {}
    for group, g in picks.groupby("group", sort=False):
        per_task = g.groupby("task")["search_id"].nunique()
        actual[str(group)] = int(per_task.median())
        if int(per_task.max()) < 2:
            continue
        hw = power.half_widths(g[sel.headline].to_numpy(float), g["task"].astype(str)
                               .to_numpy(), (*power.SEED_COUNTS, actual[str(group)]),
                               ctx.options.level, method)
        parts.append(hw.assign(group=group))
    if not parts:
        s.empty = ("one seed per task: no per-task variance to project the interval to more "
                   "seeds from")
        return s
    frame = pd.concat(parts, ignore_index=True)
    files = seeds_figure(frame, sel.headline, actual, ctx.figures)
    own = ("at the study's own seed count it is the main table's half-width" if
           sel.options.ci in ANALYTIC else f"the main table shows {sel.options.ci} "
           "intervals, whose width this approximates")
    projection = (f"Half-width of the {int(ctx.options.level * 100)}% {name} of "
                  f"{sel.reference}'s {sel.headline} if the study had n seeds per task: {how} "
                  f"(a projection, no resampling); {own}")
    caption = (f"{projection}; dotted: the study's own seed count. A common recommendation is "
               "≥ 10 seeds.")
    s.figures.append(Figure("seeds", "How many seeds", caption, files))
    s.tables.append(_seeds_table(frame, actual, sel, projection))
    return s


def _seeds_table(frame: pd.DataFrame, actual: dict[str, int], sel: GroupedSelection,
                 projection: str) -> Table:
    """The seeds figure's numbers: one row per group, one column per seed count."""
    wide = frame.pivot_table(index="group", columns="n_seeds", values="half_width",
                             sort=False).reset_index()
    display = pd.DataFrame({tables.group_header(sel): wide["group"],
                            "seeds in study": [str(actual[str(g)]) for g in wide["group"]],
                            **{f"n={n}": [fmt(v) for v in wide[n]]
                               for n in sorted(wide.columns[1:])}})
    per = "on its task" if "task" in sel.by else "per task (median over its tasks)"
    caption = (f"{projection}. Columns n=…: the half-width with n seeds per task; "
               f"“seeds in study”: the study's own count, the group's searches {per}. A "
               "common recommendation is ≥ 10 seeds.")
    return Table("seeds", "Interval half-width vs seeds", caption, frame, display)


def _chosen_searches(ctx: Context) -> list[str]:
    searches = ctx.study.searches
    ids = [str(x) for x in searches["search_id"]]
    if ctx.options.trees is None:
        return ids
    per_group: dict[str, list[str]] = {}
    for sid in ids:
        per_group.setdefault(ctx.groups.get(sid, "all"), []).append(sid)
    chosen: list[str] = []
    while len(chosen) < min(ctx.options.trees, len(ids)):  # round-robin over agents
        for group_ids in per_group.values():
            if group_ids and len(chosen) < ctx.options.trees:
                chosen.append(group_ids.pop(0))
    return chosen


def trees_section(ctx: Context) -> Section:
    from aira_eval.analysis.figures.trees import tree_figure

    s = Section("trees", "Search trees")
    nodes = ctx.study.nodes
    picks: dict[str, dict[str, str]] = {}
    if ctx.selection is not None:
        for row in ctx.selection.picks[["search_id", "strategy", "node_id"]].itertuples():
            if isinstance(row.node_id, str) and row.strategy in ("best-val", "oracle"):
                d = picks.setdefault(str(row.search_id), {})
                d[str(row.node_id)] = "+".join(filter(None, [d.get(str(row.node_id)),
                                                             str(row.strategy)]))
    by_search = {str(k): v for k, v in nodes.groupby("search_id", sort=False)}
    for i, sid in enumerate(_chosen_searches(ctx)):
        part = by_search[sid]
        task = str(part["task"].iloc[0])
        files = tree_figure(part, picks.get(sid, {}), ctx.study.metrics.get(task, "score"),
                            ctx.figures, f"tree_{i:03d}")
        s.figures.append(Figure(f"tree_{i:03d}", f"Search {sid}", (
            f"Search {sid} ({ctx.groups.get(sid, 'all')}, {task}): nodes by step (x) and depth "
            "(y), filled by validation score, outlined by test score (same colour scale "
            "range), marker = operator, failed nodes grey crosses; ringed: the best-val and "
            "oracle picks."), files))
    if ctx.options.trees == 0:
        s.empty = "no search trees asked for (--trees 0)"
    elif not s.figures:
        s.empty = "the study has no search"
    elif ctx.options.trees is not None and len(by_search) > len(s.figures):
        s.notes.append(f"{len(s.figures)} of {len(by_search)} searches shown (one per agent "
                       "in turn); `--trees all` draws every search.")
    return s


def _references_table(rows: list[dict[str, Any]]) -> Table:
    data = pd.DataFrame(rows, columns=["task", "metric", "lower_is_better", "sample_score",
                                       "reference_score", "reference_rule"])
    display = pd.DataFrame({
        "task": data["task"], "metric": [f"{m} ({'↓' if low else '↑'})" for m, low in
                                         zip(data["metric"], data["lower_is_better"],
                                             strict=True)],
        "sample (= 0)": [_num(v) for v in data["sample_score"]],
        "reference (= 1)": [_num(v) for v in data["reference_score"]],
        "reference from": data["reference_rule"].astype(str)})
    caption = ("What the normalized score's 0 and 1 are per task: 0 = the sample submission's "
               "test score, 1 = the reference, with the rule that gave it (study.json's "
               "reference, else the leaderboard's best, else the best valid test node in the "
               "loaded studies — study-dependent: another set of studies gives other "
               "normalized scores).")
    return Table("references", "Normalized-score references", caption, data, display)


def _num(value: Any) -> str:
    return "—" if value is None or not np.isfinite(float(value)) else f"{float(value):.4g}"


def manifest_section(ctx: Context) -> Section:
    s = Section("manifest", "Reproducibility manifest")
    info = manifest.build(ctx.study, ctx.groups, ctx.out, ctx.options.argv)
    ctx.cache["manifest"] = info
    kv = [("aira-eval commit", info["aira_eval_commit"]),
          *((f"package {k}", v) for k, v in info["packages"].items()),
          *((f"study {st['study_id']}", f"config {st['config_hash']}, created "
             f"{st['created_at']}") for st in info["studies"]),
          *((f"data {t}", c) for t, c in info["task_checksums"].items()),
          *((f"seeds {g}", ", ".join(map(str, x)) or "—")
            for g, x in info["seeds_per_agent"].items()),
          *((("completeness", info["completeness"]),) if info["completeness"] else ()),
          ("LLM models", ", ".join(info["llm_models"])),
          ("LLM caches", ", ".join(info["llm_caches"]))]
    frame = pd.DataFrame(kv, columns=["item", "value"])
    s.tables.append(Table("manifest", "Manifest", "Versions, commit, config hashes (sha256 of "
                          "the recorded search config), task data checksums (sha256 over the "
                          "prepared files' md5s) — both their first 16 hex digits (the full "
                          "configs are in reproduce/) — seeds and LLM models.", frame, frame))
    s.tables.append(_references_table(info["references"]))
    counts = pd.DataFrame(info["node_counts"])
    s.tables.append(Table("node_counts", "Nodes and failures", "Searches and nodes per agent, "
                          "by final status.", counts, counts.astype(str)))
    s.code.extend(info["commands"])
    return s
