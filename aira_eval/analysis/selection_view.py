"""The report's one view of selection: grouped results as tidy frames.

This module is the only place the analysis package calls selection (until the public grouped
``select`` lands, it composes selection's own steps). It judges every strategy's picks on the
whole study, bootstraps each group of searches (by default one group per agent,
:attr:`Study.searches` ``agent``) as ``run_selection`` does, and returns
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
    PairedBootstrap,
    draw_resamples,
    paired_bootstrap,
    percentile_interval,
    point_estimate,
    stratified_means,
)
from aira_eval.selection.evaluate import METRICS, evaluate_strategies
from aira_eval.selection.strategies import StrategyParams
from aira_eval.selection.summary import (
    WIN_RATE,
    SelectionOptions,
    add_win_rate,
    headline_metric,
    metric_directions,
    resolve_strategies,
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

    @property
    def groups(self) -> list[str]:
        return [str(g) for g in pd.unique(self.table["group"])]


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


def _tidy(boot: PairedBootstrap, strategies: list[str], metrics: list[str],
          options: SelectionOptions) -> pd.DataFrame:
    """One row per strategy × metric of a group's bootstrap (:data:`TABLE_COLUMNS`)."""
    pct = options.ci == "percentile"
    ci, d_ci = (boot.percentile, boot.delta_percentile) if pct else (boot.bca, boot.delta_bca)
    rows = []
    for s, name in enumerate(strategies):
        for m, metric in enumerate(metrics):
            p_imp = float(boot.p_improve[s, m])
            p_val = min(1.0, 2.0 * min(p_imp, 1.0 - p_imp)) \
                if np.isfinite(p_imp) and name != options.reference else np.nan
            rows.append((name, metric, boot.estimate[s, m], boot.se[s, m], ci[s, m, 0],
                         ci[s, m, 1], boot.delta[s, m], boot.delta_se[s, m], d_ci[s, m, 0],
                         d_ci[s, m, 1], p_imp, p_val))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).astype(
        {c: float for c in TABLE_COLUMNS[2:]})


def evaluate(study: Study, options: SelectionOptions
             ) -> tuple[pd.DataFrame, list[str], dict[str, str], str]:
    """Per-search picks of every strategy on the whole study (one normalization for every
    group), the strategies run, those skipped and the headline metric."""
    options.check()
    params = StrategyParams(k=options.k, z=options.z)
    strategies, skipped = resolve_strategies(options, study.frame)
    table = evaluate_strategies(study.frame, study.tasks, strategies, params)
    table = add_win_rate(table, options.reference, study.tasks)
    headline = headline_metric(options, table, study.tasks)
    return table, [s.name for s in strategies], skipped, headline


def select_grouped(study: Study, by: Sequence[str] = ("agent",),
                   options: SelectionOptions | None = None) -> GroupedSelection:
    """Selection per group of searches, as tidy frames (module docstring).

    Picks are judged once on the whole study (so normalized scores share the study's best
    test score per task across groups); each group is then bootstrapped as
    :func:`~aira_eval.selection.summary.run_selection` does (same resamples for the same
    searches and seed).
    """
    options = options or SelectionOptions()
    groups = search_groups(study, list(by))
    label_of = {sid: g for g, ids in groups.items() for sid in ids}
    picks, names, skipped, headline = evaluate(study, options)
    picks["group"] = picks["search_id"].astype(str).map(label_of)
    metrics = [*METRICS, WIN_RATE]
    directions = metric_directions(study.tasks, metrics)
    ref = names.index(options.reference)
    tables = []
    for label in groups:
        sub = picks[(picks["group"] == label).to_numpy()]
        n_units = len(sub) // len(names)
        values = sub[metrics].to_numpy(dtype=float).reshape(len(names), n_units, len(metrics))
        codes = pd.factorize(sub["task"].iloc[:n_units])[0]
        res = draw_resamples(codes, options.n_resamples, options.seed,
                             task_level=options.task_bootstrap)
        boot = paired_bootstrap(values.transpose(1, 0, 2), res, ref, directions, options.level)
        tables.append(_tidy(boot, names, metrics, options).assign(group=label))
    table = pd.concat(tables, ignore_index=True)[["group", *TABLE_COLUMNS]]
    compare = compare_groups(picks, study, options)
    return GroupedSelection(by=list(by), table=table, picks=picks, compare=compare,
                            headline=headline, reference=options.reference, options=options,
                            level=options.level, skipped=skipped)


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


def compare_groups(picks: pd.DataFrame, study: Study, options: SelectionOptions
                   ) -> pd.DataFrame:
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
