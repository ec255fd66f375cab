"""The report's one view of selection: grouped results as tidy frames.

This module is the only place the analysis package calls selection. It runs
:func:`~aira_eval.selection.summary.run_selection` once per group of searches (by default one
group per agent, :attr:`Study.searches` ``agent``) and flattens its summaries into
:class:`GroupedSelection`: ``table`` (one row per group × strategy × metric: estimate, se,
interval, paired Δ vs the reference strategy, P(improvement) and its two-sided bootstrap
p-value), ``picks`` (per search and strategy, with the group columns) and ``compare`` (Δ between
groups for the same strategy and metric, from independent stratified resamples of each group's
searches within the tasks both groups share).

Two-sided bootstrap p-value of a paired Δ: ``min(1, 2·min(P*, 1 − P*))`` with ``P*`` the share
of resamples favouring the strategy (ties half) — the usual percentile-bootstrap test of Δ = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.selection.bootstrap import (
    draw_resamples,
    percentile_interval,
    point_estimate,
    stratified_means,
)
from aira_eval.selection.evaluate import METRICS
from aira_eval.selection.summary import (
    WIN_RATE,
    SelectionOptions,
    SelectionResult,
    metric_directions,
    run_selection,
)
from aira_eval.study import Study

TABLE_COLUMNS = ("strategy", "metric", "estimate", "se", "lo", "hi", "delta", "delta_se",
                 "delta_lo", "delta_hi", "p_improve", "p_value")


@dataclass
class GroupedSelection:
    """Selection results per group, as tidy frames (module docstring)."""

    by: list[str]
    table: pd.DataFrame
    picks: pd.DataFrame
    compare: pd.DataFrame
    headline: str
    reference: str
    options: SelectionOptions
    level: float
    skipped: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return list(self.summaries)


def group_label(row: Any, by: Sequence[str]) -> str:
    return " / ".join(str(row[c]) for c in by)


def search_groups(study: Study, by: Sequence[str]) -> dict[str, list[str]]:
    """Group label -> search ids, in order of first appearance."""
    searches = study.searches
    missing = [c for c in by if c not in searches.columns]
    if missing:
        raise UsageError(f"cannot group by {missing}: not a search attribute",
                         hint="Known: " + ", ".join(map(str, searches.columns)))
    labels = searches[list(by)].astype(str).agg(" / ".join, axis=1)
    out: dict[str, list[str]] = {}
    for label, sid in zip(labels, searches["search_id"], strict=True):
        out.setdefault(str(label), []).append(str(sid))
    return out


def _tidy(summary: dict[str, Any], ci: str) -> pd.DataFrame:
    rows = []
    for name, block in summary["strategies"].items():
        for metric, s in block["metrics"].items():
            d, p_imp = s["delta"], s["p_improve"]
            p_val = None if p_imp is None or name == summary["reference"] else \
                min(1.0, 2.0 * min(p_imp, 1.0 - p_imp))
            rows.append((name, metric, s["estimate"], s["se"], s["ci_low"], s["ci_high"],
                         d["estimate"], d["se"], d["ci_low"], d["ci_high"], p_imp, p_val))
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    num = list(TABLE_COLUMNS[2:])
    frame[num] = frame[num].astype(float)
    return frame


def select_grouped(study: Study, by: Sequence[str] = ("agent",),
                   options: SelectionOptions | None = None) -> GroupedSelection:
    """Run selection per group of searches and flatten the results (module docstring)."""
    options = options or SelectionOptions()
    groups = search_groups(study, list(by))
    tables, picks, summaries = [], [], {}
    skipped: dict[str, str] = {}
    for label, ids in groups.items():
        nodes = study.nodes[study.nodes["search_id"].isin(ids).to_numpy()]
        sub = Study.from_nodes(nodes.reset_index(drop=True), study.tasks)
        sub.sources = study.sources
        result = run_selection(sub, options)
        if options.metric == "auto":  # one headline for every group
            options = _with_metric(options, result.summary["headline_metric"])
        tables.append(_tidy(result.summary, options.ci).assign(group=label))
        picks.append(result.picks.assign(group=label))
        summaries[label] = result.summary
        skipped.update(result.skipped)
    table = pd.concat(tables, ignore_index=True)
    table = table[["group", *TABLE_COLUMNS]]
    all_picks = pd.concat(picks, ignore_index=True)
    first = next(iter(summaries.values()))
    compare = compare_groups(all_picks, study, options, first["headline_metric"])
    return GroupedSelection(by=list(by), table=table, picks=all_picks, compare=compare,
                            headline=first["headline_metric"], reference=options.reference,
                            options=options, level=options.level, skipped=skipped,
                            summaries=summaries)


def _with_metric(options: SelectionOptions, metric: str) -> SelectionOptions:
    from dataclasses import replace

    return replace(options, metric=metric)


def _values(picks: pd.DataFrame, strategies: list[str], metrics: list[str]
            ) -> tuple[np.ndarray, np.ndarray]:
    """``(U, S·M)`` per-search values of one group and their task codes ``(U,)``."""
    blocks = [picks[picks["strategy"] == s].reset_index(drop=True) for s in strategies]
    tasks = blocks[0]["task"].astype(str).to_numpy()
    values = np.concatenate([b[metrics].to_numpy(dtype=float) for b in blocks], axis=1)
    return values, tasks


def _group_draws(picks: pd.DataFrame, tasks_kept: list[str], strategies: list[str],
                 metrics: list[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    values, tasks = _values(picks, strategies, metrics)
    keep = np.isin(tasks, tasks_kept)
    values, tasks = values[keep], tasks[keep]
    codes = pd.factorize(tasks)[0]
    res = draw_resamples(codes, n, seed)
    return stratified_means(values, res), point_estimate(values, codes)


def compare_groups(picks: pd.DataFrame, study: Study, options: SelectionOptions,
                   headline: str) -> pd.DataFrame:
    """Δ (group A − group B) per strategy and metric over the tasks both have.

    Columns: ``group_a, group_b, strategy, metric, delta, lo, hi, p_improve, p_value,
    tasks_shared, tasks_missing`` (tasks one of the two lacks, reported, not used).
    """
    cols = ["group_a", "group_b", "strategy", "metric", "delta", "lo", "hi", "p_improve",
            "p_value", "tasks_shared", "tasks_missing"]
    groups = list(pd.unique(picks["group"]))
    if len(groups) < 2:
        return pd.DataFrame(columns=cols)
    strategies = list(pd.unique(picks["strategy"]))
    metrics = [m for m in [*METRICS, WIN_RATE] if m in picks.columns]
    directions = metric_directions(study.tasks, metrics)
    task_sets = {g: set(picks.loc[picks["group"] == g, "task"].astype(str)) for g in groups}
    rows: list[tuple[Any, ...]] = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            shared = sorted(task_sets[a] & task_sets[b])
            missing = sorted(task_sets[a] ^ task_sets[b])
            if not shared:
                continue
            pa_, pb_ = (picks[picks["group"] == g] for g in (a, b))
            boot_a, th_a = _group_draws(pa_, shared, strategies, metrics,
                                        options.n_resamples, options.seed + 2 * i + 1)
            boot_b, th_b = _group_draws(pb_, shared, strategies, metrics,
                                        options.n_resamples, options.seed + 2 * i + 2)
            rows.extend(_delta_rows(a, b, boot_a - boot_b, th_a - th_b, strategies, metrics,
                                    directions, options.level, len(shared), missing))
    return pd.DataFrame(rows, columns=cols)


def _delta_rows(a: str, b: str, draws: np.ndarray, theta: np.ndarray, strategies: list[str],
                metrics: list[str], directions: np.ndarray, level: float, n_shared: int,
                missing: list[str]) -> list[tuple[Any, ...]]:
    ci = percentile_interval(draws, level)
    oriented = draws * np.tile(directions, len(strategies))
    finite = np.isfinite(oriented).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_imp = ((oriented > 0).sum(axis=0) + 0.5 * (oriented == 0).sum(axis=0)) / finite
    rows = []
    for j in range(draws.shape[1]):
        s, m = divmod(j, len(metrics))
        p = float(p_imp[j]) if directions[m] != 0 else float("nan")
        p_val = min(1.0, 2.0 * min(p, 1.0 - p)) if np.isfinite(p) else float("nan")
        rows.append((a, b, strategies[s], metrics[m], float(theta[j]), float(ci[j, 0]),
                     float(ci[j, 1]), p, p_val, n_shared, ", ".join(missing)))
    return rows
