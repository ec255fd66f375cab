"""The report's tables from grouped selection: main table, between-agent Δ, generalization.

Every number comes from :class:`~aira_eval.analysis.selection_view.GroupedSelection` unchanged
(the tests check it); this module only chooses rows, adds Holm-adjusted p-values
(``statsmodels.stats.multitest.multipletests``) and formats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aira_eval.analysis.sections import Table, fmt_ci, fmt_p
from aira_eval.analysis.selection_view import GroupedSelection, p_source
from aira_eval.study import Study

LABELS = {"any_medal": "medal rate", "normalized_score": "normalized score",
          "test_score": "test score", "valid_submission": "valid submission",
          "regret": "regret", "optimism": "optimism", "val_score": "validation score",
          "win_rate": "win rate"}


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values; NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def identical_strategies(sel: GroupedSelection) -> dict[str, list[list[str]]]:
    """Group -> classes (2 or more) of non-reference strategies whose per-search headline
    values are identical on every search (NaN equal to NaN): their paired Δ vs the reference
    are the same numbers, so they test one hypothesis. The reference's duplicates are left
    out (their p is already NaN: identical picks, no hypothesis)."""
    out: dict[str, list[list[str]]] = {}
    for group, block in sel.picks.groupby("group", sort=False):
        names = [str(s) for s in pd.unique(block["strategy"]) if s != sel.reference]
        classes = _classes(_wide(block, sel.headline), names)
        if classes:
            out[str(group)] = classes
    return out


def _wide(picks: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` per search (rows) and strategy (columns)."""
    return (picks.drop_duplicates(["search_id", "strategy"])
            .set_index(["search_id", "strategy"])[metric].unstack())


def _classes(wide: pd.DataFrame, names: list[str]) -> list[list[str]]:
    """Classes (2 or more, in ``names`` order) of the columns of ``wide`` with identical
    values (NaN equal to NaN)."""
    classes: list[list[str]] = []
    for name in names:
        col = wide[name].to_numpy(dtype=float)
        home = next((c for c in classes if _same(wide[c[0]].to_numpy(dtype=float), col)), None)
        if home is None:
            classes.append([name])
        else:
            home.append(name)
    return [c for c in classes if len(c) > 1]


def between_identical(sel: GroupedSelection, metric: str) -> dict[str, list[list[str]]]:
    """``"A − B"`` -> classes of strategies whose per-search ``metric`` values are identical
    in both agents (the reference included): their Δ between the agents are the same numbers,
    one hypothesis."""
    picks, out = sel.picks, {}
    for a, b in sel.compare[["group_a", "group_b"]].drop_duplicates().itertuples(index=False):
        block = picks[picks["group"].astype(str).isin([str(a), str(b)])]
        names = [str(s) for s in pd.unique(block["strategy"])]
        wide = _wide(block.assign(search_id=block["group"].astype(str) + "/" +
                                  block["search_id"].astype(str)), metric)
        classes = _classes(wide, names)
        if classes:
            out[f"{a} − {b}"] = classes
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def holm_once(rows: pd.DataFrame, same: dict[str, list[list[str]]]) -> np.ndarray:
    """Holm over ``rows`` (``group``, ``strategy``, ``p_value``) counting each class of
    :func:`identical_strategies` once: its first member enters the family, the others share
    its p and adjusted p."""
    first = {(g, s): c[0] for g, classes in same.items() for c in classes for s in c[1:]}
    keys = list(zip(rows["group"].astype(str), rows["strategy"].astype(str), strict=True))
    p = rows["p_value"].to_numpy(dtype=float)
    family = np.array([np.nan if k in first else v for k, v in zip(keys, p, strict=True)])
    adjusted = holm(family)
    at = {k: a for k, a in zip(keys, adjusted, strict=True)}
    return np.array([at.get((k[0], first[k]), np.nan) if k in first else at[k]
                     for k in keys])


def _once_words(same: dict[str, list[list[str]]], n_groups: int) -> str:
    """Caption words listing the classes of :func:`identical_strategies`."""
    where: dict[str, list[str]] = {}
    for group, classes in same.items():
        for c in classes:
            where.setdefault(" = ".join(c), []).append(group)
    if not where:
        return ""
    listed = "; ".join(k if len(g) == n_groups else f"{k} ({', '.join(g)})"
                       for k, g in where.items())
    return (" Strategies with identical per-search values (the same picks) count once in "
            f"Holm's family and share its p: {listed}.")


def _agreeing_words(rows: pd.DataFrame, sel: GroupedSelection) -> str:
    """Caption words for a Δ of 0 shown without interval: the strategy's value equals the
    reference's on every search (selection/bootstrap.py, :class:`PairedBootstrap`)."""
    agree = rows[(rows["strategy"] != sel.reference) & (rows["delta"] == 0)
                 & rows["delta_lo"].isna() & rows["delta_hi"].isna()]
    if agree.empty:
        return ""
    return (" A Δ of 0 without interval: the same value as the reference's on every search; "
            "searches that agree say nothing of how large Δ is where the picks would differ.")


def fmt_share(share: float) -> str:
    """A share of resamples (not a p-value): three decimals, ``0.000`` and ``1.000`` included;
    ``—`` when missing."""
    return f"{float(share):.3f}" if np.isfinite(share) else "—"


def group_header(sel: GroupedSelection) -> str:
    """The tables' first column header: what a group is (``agent`` by default, else the
    ``by`` columns joined as the group labels are)."""
    return " · ".join(sel.by) if sel.by else "agent"


def shared_metric(study: Study) -> bool:
    """True when every task has the same metric and direction (raw scores average)."""
    return len({(i.metric, i.lower_is_better) for i in study.tasks.values()}) == 1


def main_metrics(study: Study, sel: GroupedSelection) -> list[str]:
    """Medal rate where every task has thresholds, normalized score where available, the raw
    test score, regret and optimism only where raw scores average, valid submission rate."""
    out = []
    if all(i.thresholds for i in study.tasks.values()):
        out.append("any_medal")
    est = sel.table.loc[sel.table["metric"] == "normalized_score", "estimate"]
    if np.isfinite(est.to_numpy(dtype=float)).any():
        out.append("normalized_score")
    shared = shared_metric(study)
    out.extend(["test_score"] if shared else [])
    out.append("valid_submission")
    out.extend(["regret", "optimism"] if shared else [])
    if sel.headline not in out:
        out.insert(0, sel.headline)
    return out


def main_table(study: Study, sel: GroupedSelection) -> Table:
    """Per group × strategy: headline metrics with intervals, Δ vs the reference, Holm p."""
    metrics = main_metrics(study, sel)
    t = sel.table
    rows = t[t["metric"].isin(metrics)].copy()
    head = rows["metric"] == sel.headline
    same = identical_strategies(sel)
    rows["p_holm"] = np.nan
    rows.loc[head, "p_holm"] = holm_once(rows.loc[head], same)
    display = []
    for (group, strategy), block in rows.groupby(["group", "strategy"], sort=False):
        by_metric: dict[str, Any] = {str(r.metric): r for r in block.itertuples()}
        rec: dict[str, Any] = {group_header(sel): group, "strategy": strategy}
        for m in metrics:
            r = by_metric[m]
            rec[LABELS.get(m, m)] = fmt_ci(r.estimate, r.lo, r.hi)
        h = by_metric[sel.headline]
        is_ref = strategy == sel.reference
        rec[f"Δ {LABELS.get(sel.headline, sel.headline)}"] = "ref" if is_ref else \
            fmt_ci(h.delta, h.delta_lo, h.delta_hi)
        rec["p (Holm)"] = "" if is_ref else fmt_p(h.p_holm)
        display.append(rec)
    n = _counts(sel)
    caption = (f"Per {group_header(sel)} and final-pick strategy: {mean_words(sel)} "
               f"({n['searches']} searches), {interval_words(sel)}; "
               f"Δ = {sel.headline} − {sel.reference}'s on the same searches (paired); "
               f"{p_source(sel.p_method, sel.options.n_resamples, sel.level)}, "
               "Holm-adjusted over every Δ of the table; p is blank where the interval is."
               + _once_words(same, len(sel.groups)) + _agreeing_words(rows[head], sel))
    caption += " " + metric_words(study, sel.headline, metrics)
    return Table("main", "Main table: agents × final-pick strategies", caption,
                 rows.reset_index(drop=True), pd.DataFrame(display))


HIGHER_BETTER = {"any_medal", "normalized_score", "valid_submission", "win_rate"}


def metric_words(study: Study, headline: str, metrics: list[str]) -> str:
    """What the columns measure and which way is better (↑/↓), for a caption."""
    raw = sorted({(i.metric, i.lower_is_better) for i in study.tasks.values()})
    test = "; ".join(f"{m} ({'↓ lower' if low else '↑ higher'} is better)" for m, low in raw)
    arrow = {**dict.fromkeys(HIGHER_BETTER, "↑ higher is better"), "regret": "↓ lower is "
             "better", "optimism": "> 0: validation over-estimated the test score"}
    if len(raw) == 1:
        arrow["test_score"] = test
    words = [f"Headline metric: {LABELS.get(headline, headline)} "
             f"({arrow.get(headline, 'see below')})."]
    if "normalized_score" in metrics:
        words.append("Normalized score: 0 = the sample submission, 1 = the task's reference "
                     "(per task, with the rule that set it, in the manifest's references "
                     "table).")
    if "test_score" in metrics:
        words.append(f"Test score: each task's own metric, {test}.")
    if "regret" in metrics:
        words.append("Regret = the oracle pick's test score − this pick's, oriented so that "
                     "≥ 0 (↓ lower is better).")
    if "optimism" in metrics:
        words.append("Optimism = the pick's validation − test score, oriented (> 0: "
                     "validation over-estimated; 0 is ideal).")
    return " ".join(words)


def interval_words(sel: GroupedSelection) -> str:
    """How the tables' intervals were computed, in words: hall and t are analytic."""
    level = f"{int(sel.level * 100)}%"
    if sel.options.ci == "t":
        return (f"{level} t intervals (analytic: Welch–Satterthwaite df over task strata, no "
                "resampling)")
    if sel.options.ci == "hall":
        return (f"{level} skew-corrected t intervals (Hall 1992; analytic: Welch–Satterthwaite "
                "df over task strata and the estimate's skewness, no resampling)")
    name = {"studentized": "studentized (bootstrap-t)", "expanded": "expanded percentile",
            "bca": "BCa"}.get(sel.options.ci, sel.options.ci)
    return (f"{level} {name} bootstrap intervals ({sel.options.n_resamples} stratified "
            "resamples of seeds within tasks)")


def missing_tasks(sel: GroupedSelection) -> dict[str, list[str]]:
    """Group -> the tasks of the table on which it has no search (only groups lacking some)."""
    picks = sel.picks
    if "task" in sel.by:  # grouped by task: each group has its one task by construction
        return {}
    every = sorted({str(t) for t in picks["task"]})
    have = {str(g): {str(t) for t in block} for g, block in
            picks.groupby("group", sort=False)["task"]}
    return {g: [t for t in every if t not in tasks] for g, tasks in have.items()
            if len(tasks) < len(every)}


def mean_words(sel: GroupedSelection) -> str:
    """What a group's number is a mean over: seeds on its one task when grouped by task,
    else tasks of the mean over seeds."""
    if "task" in sel.by:  # each group is one task: no mean over tasks
        return "mean over seeds on the group's one task"
    return f"mean over {_task_count(sel)} of the mean over seeds"


def _task_count(sel: GroupedSelection) -> str:
    """``N task(s)``, or per agent when their task sets differ."""
    n = int(sel.picks["task"].nunique())
    if not missing_tasks(sel):
        return f"{n} task(s)"
    per = sel.picks.groupby("group", sort=False)["task"].nunique()
    lacks = "; ".join(f"{g} has no search on: {', '.join(t)}"
                      for g, t in missing_tasks(sel).items())
    return ("the tasks each agent ran (" + ", ".join(f"{g}: {int(k)} of {n}" for g, k in
                                                     per.items()) + f"; {lacks} — so agents "
            "are not comparable down a column: see the between-agents table)")


def _counts(sel: GroupedSelection) -> dict[str, int]:
    picks = sel.picks
    return {"tasks": int(picks["task"].nunique()),
            "searches": int(picks[["group", "search_id"]].drop_duplicates().shape[0])}


def between_table(sel: GroupedSelection, metric: str | None = None) -> Table | None:
    """Δ between agents for each strategy on the headline metric, Holm over the table."""
    metric = metric or sel.headline
    c = sel.compare
    if c.empty:
        return None
    rows = c[c["metric"] == metric].copy()
    pairs = rows["group_a"].astype(str) + " − " + rows["group_b"].astype(str)
    same = between_identical(sel, metric)
    rows["p_holm"] = holm_once(rows.assign(group=pairs), same)
    display = pd.DataFrame({
        "agents": pairs,
        "strategy": rows["strategy"],
        f"Δ {LABELS.get(metric, metric)}": [fmt_ci(d, lo, hi) for d, lo, hi in
                                            zip(rows["delta"], rows["lo"], rows["hi"],
                                                strict=True)],
        "fav. A": [fmt_share(x) for x in rows["share_resamples_favouring"]],
        "p (Holm)": [fmt_p(p) for p in rows["p_holm"]],
        "tasks": rows["tasks_shared"].astype(str),
    })
    missing = sorted({m for m in rows["tasks_missing"] if m})
    method = str(rows["ci_method"].iloc[0]) if "ci_method" in rows and len(rows) else \
        sel.options.ci
    interval = ("Welch t intervals (both agents' per-task variances)" if method == "t" else
                "skew-corrected Welch t intervals (Hall 1992; both agents' per-task variances "
                "and skewness)" if method == "hall" else
                f"{method} intervals from {sel.options.n_resamples} stratified resamples of "
                "each agent's seeds within those tasks")
    caption = (f"Δ of {metric} between agents (A − B) for the same strategy, over the tasks "
               f"both ran; {int(sel.level * 100)}% {interval}; fav. A = share of "
               f"{sel.options.n_resamples} resamples in which Δ favours A; "
               f"{p_source(sel.compare_p_method, sel.options.n_resamples, sel.level, True)}"
               ", Holm-adjusted over the table." + _once_words(same, int(pairs.nunique()))
               + (f" Tasks one agent lacks (not used): {'; '.join(missing)}." if missing else ""))
    return Table("between_agents", "Between agents", caption, rows.reset_index(drop=True),
                 display)


GEN_COLUMNS = (("VAL/VAL", "best-val", "val_score"), ("VAL/TEST", "best-val", None),
               ("TEST/TEST", "oracle", None), ("top-k", "topk", None))


def generalization_table(study: Study, sel: GroupedSelection) -> Table | None:
    """AIRA-dojo Fig. 6a layout: per agent, the best-val pick's validation score (VAL/VAL),
    its test result (VAL/TEST), the oracle's (TEST/TEST) and top-k's."""
    t: dict[tuple[str, str, str], Any] = {(str(r.group), str(r.strategy), str(r.metric)): r
                                          for r in sel.table.itertuples()}
    strategies = set(sel.table["strategy"])
    if "best-val" not in strategies:
        return None
    metrics: list[str] = [m for m in ("any_medal", "normalized_score")
                          if m in main_metrics(study, sel)]
    if shared_metric(study):
        metrics.insert(0, "test_score")
    data, display = [], []
    for group in pd.unique(sel.table["group"]):
        for metric in metrics:
            rec: dict[str, Any] = {group_header(sel): group,
                                   "metric": LABELS.get(metric, metric)}
            for col, strategy, override in GEN_COLUMNS:
                m = override if override and metric == "test_score" else metric
                key = (str(group), strategy, m)
                if (override and metric != "test_score") or key not in t:
                    rec[col] = "—"
                    continue
                r = t[key]
                rec[col] = fmt_ci(r.estimate, r.lo, r.hi)
                data.append({"group": group, "column": col, "strategy": strategy, "metric": m,
                             "estimate": r.estimate, "lo": r.lo, "hi": r.hi})
            display.append(rec)
    k = sel.options.k
    caption = (f"Generalization per {group_header(sel)} (AIRA-dojo Fig. 6a layout): VAL/VAL = "
               f"validation score of the best-validation pick, VAL/TEST = its test result, "
               f"TEST/TEST = "
               f"the oracle (best test node), top-k = best test among the top {k} by "
               f"validation; {interval_words(sel)}. VAL/VAL exists on the raw score only (the "
               "validation score has no medal or normalized counterpart).")
    return Table("generalization", "Generalization", caption, pd.DataFrame(data),
                 pd.DataFrame(display))
