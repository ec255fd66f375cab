"""The report's one view of selection: grouped results as tidy frames.

This module is the only place the analysis package calls selection. It runs the grouped
:func:`~aira_eval.selection.summary.run_selection` (what ``ae.select`` and ``aira-eval
select`` run; grouping as ``select``: by agent when the searches' agents differ, or ``by``)
and keeps what the report shows: ``table`` (one row per group × strategy × metric: estimate,
se, interval, paired Δ vs the reference strategy, the share of resamples favouring it and a
two-sided p-value of Δ = 0), ``picks`` (per search and strategy, with ``group``) and
``compare`` (Δ between groups for the same strategy and metric, over the tasks both ran).

The p-value of a Δ comes from the method of the interval shown beside it, so that
``p < 1 − level`` exactly when that interval excludes 0:

* *hall* (the default) and *t* intervals: the interval's analytic inversion
  (:func:`~aira_eval.selection.tintervals.analytic_p`): with *t* the two-sided *t*-test
  ``2·F_ν(−|Δ̂| / se)``, with *hall* the same of Hall's transformed statistic
  ``2·F_ν(−|g(Δ̂ / se)|)``, each with the interval's own ``se``, skewness and
  Welch–Satterthwaite ``ν`` (:func:`~aira_eval.selection.tintervals.t_stats` on the
  per-search paired differences; :func:`~aira_eval.selection.tintervals.welch_difference`
  between groups: Welch's test);
* bootstrap intervals (``ci`` percentile, BCa, expanded, studentized): the percentile-bootstrap
  test ``min(1, 2·min(P*, 1 − P*))`` with ``P*`` the share of resamples favouring the strategy
  (ties half) — it need not agree with a BCa/expanded/studentized interval (captions say so).

Where the Δ interval is undefined (no variance estimate: one seed per task), the p-value and
the share favouring are NaN too: with nothing to resample every resample equals the point
estimate and the share is 0 or 1 — no evidence at all, not ``p < 0.001``. The p-value is also
NaN where the share is (the reference itself, every per-search Δ 0, a metric without a
direction), so the Holm family is the same under every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from aira_eval.selection.compare import COMPARE_METHODS
from aira_eval.selection.grouping import GROUP_LABEL, resolve_grouping
from aira_eval.selection.result import SelectionResult
from aira_eval.selection.summary import SelectionOptions, run_selection
from aira_eval.selection.tintervals import ANALYTIC_METHODS as ANALYTIC
from aira_eval.selection.tintervals import analytic_p, t_stats, welch_difference
from aira_eval.study import Study

TABLE_COLUMNS = ("strategy", "metric", "estimate", "se", "lo", "hi", "delta", "delta_se",
                 "delta_lo", "delta_hi", "share_resamples_favouring", "p_value")
FAVOURING = "share_resamples_favouring"


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
    note: str | None = None
    p_method: str = "hall"  # where the table's p-values come from: "hall", "t", "bootstrap"
    compare_p_method: str = "hall"  # the same for ``compare`` (Welch's df)
    warnings: list[str] = field(default_factory=list)  # ``select``'s, one line each

    @property
    def groups(self) -> list[str]:
        return [str(g) for g in pd.unique(self.table["group"])]


def two_sided(share_favouring: pd.Series) -> np.ndarray:
    """Two-sided bootstrap p-values from the share of resamples favouring (module docstring)."""
    p = share_favouring.to_numpy(dtype=float)
    return np.minimum(1.0, 2.0 * np.minimum(p, 1.0 - p))




def p_source(method: str, n_resamples: int, level: float, welch: bool = False) -> str:
    """Caption words naming where a table's p-values come from."""
    if method in ANALYTIC:
        test = (f"{'Welch ' if welch else ''}t-test of Δ" if method == "t" else
                f"{'Welch ' if welch else ''}t-test of Δ with Hall's skewness correction")
        return (f"p-values from the two-sided {test}, with the interval's own se and "
                f"Welch–Satterthwaite df (p < {1 - level:.2g} exactly when the interval "
                "excludes 0)")
    return (f"p-values from the percentile bootstrap (2·min(share, 1 − share) over "
            f"{n_resamples} resamples), not from the interval shown")


def _paired_t_p(result: SelectionResult, reference: str, task_level: bool, method: str
                ) -> dict[tuple[str, str, str], float]:
    """``(group, strategy, metric) -> `` analytic p (``method``) of the paired Δ vs
    ``reference``."""
    ref = result.strategies.index(reference)
    out = {}
    for group in result.groups:
        values, tasks = result.unit_values(group)
        diffs = values - values[:, ref:ref + 1, :]
        codes = pd.factorize(tasks)[0]
        p = analytic_p(t_stats(diffs.reshape(len(diffs), -1), codes, task_level), method)
        p = p.reshape(len(result.strategies), len(result.metrics))
        for i, s in enumerate(result.strategies):
            out.update({(group, s, m): float(p[i, j]) for j, m in enumerate(result.metrics)})
    return out


def _welch_p(result: SelectionResult, compare: pd.DataFrame, task_level: bool,
             method: str) -> np.ndarray:
    """Welch's (``method`` ``"t"``) or Hall-corrected Welch (``"hall"``) p of every
    ``compare`` row, over the tasks both groups ran."""
    out = np.full(len(compare), np.nan)
    strat = {s: i for i, s in enumerate(result.strategies)}
    metric = {m: j for j, m in enumerate(result.metrics)}
    pairs = pd.unique(pd.Series(list(zip(compare["group_a"], compare["group_b"], strict=True)),
                                dtype=object))
    for a, b in pairs:
        rows = np.flatnonzero((compare["group_a"] == a).to_numpy()
                              & (compare["group_b"] == b).to_numpy())
        (va, ta), (vb, tb) = result.unit_values(str(a)), result.unit_values(str(b))
        code = {t: i for i, t in enumerate(t for t in pd.unique(ta) if t in set(tb))}
        if not code:
            continue
        ka, kb = np.isin(ta, list(code)), np.isin(tb, list(code))
        welch = welch_difference(va[ka].reshape(int(ka.sum()), -1),
                                 np.array([code[t] for t in ta[ka]], dtype=np.int64),
                                 vb[kb].reshape(int(kb.sum()), -1),
                                 np.array([code[t] for t in tb[kb]], dtype=np.int64),
                                 task_level)
        p = analytic_p(welch, method).reshape(len(strat), len(metric))
        for i in rows.tolist():
            s, m = str(compare["strategy"].iat[i]), str(compare["metric"].iat[i])
            out[i] = p[strat[s], metric[m]]
    return out


def _masked(p: np.ndarray, share: pd.Series, interval_lo: pd.Series) -> np.ndarray:
    """NaN where the interval is undefined or the share favouring is (module docstring)."""
    undefined = interval_lo.isna().to_numpy() | share.isna().to_numpy()
    return np.where(undefined, np.nan, p)


def search_groups(study: Study, by: Sequence[str]) -> dict[str, list[str]]:
    """Group label -> search ids, grouped as ``select`` groups them."""
    grouping = resolve_grouping(study, list(by))
    frame = grouping.searches
    return {str(g): [str(s) for s in frame.loc[frame[GROUP_LABEL] == g, "search_id"]]
            for g in grouping.labels}


def select_grouped(study: Study, by: Sequence[str] = (),
                   options: SelectionOptions | None = None) -> GroupedSelection:
    """Grouped selection on ``study`` (module docstring)."""
    options = replace(options or SelectionOptions(), by=list(by))
    result = run_selection(study, options)
    headline = str(result.summary["headline_metric"])
    table, compare = result.table.copy(), result.compare.copy()
    task_level = options.task_bootstrap
    p_method = options.ci if options.ci in ANALYTIC else "bootstrap"
    if p_method in ANALYTIC:
        lookup = _paired_t_p(result, options.reference, task_level, p_method)
        raw = np.array([lookup[(str(g), str(s), str(m))] for g, s, m in
                        zip(table["group"], table["strategy"], table["metric"], strict=True)])
    else:
        raw = two_sided(table[FAVOURING])
    table["p_value"] = np.where(table["strategy"] == options.reference, np.nan,
                                _masked(raw, table[FAVOURING], table["delta_lo"]))
    table[FAVOURING] = table[FAVOURING].where(table["delta_lo"].notna())
    compare_p = ("hall" if options.ci not in COMPARE_METHODS else
                 options.ci if options.ci in ANALYTIC else "bootstrap")
    raw = _welch_p(result, compare, task_level, compare_p) if compare_p in ANALYTIC else \
        two_sided(compare[FAVOURING])
    compare["p_value"] = _masked(raw, compare[FAVOURING], compare["lo"])
    compare[FAVOURING] = compare[FAVOURING].where(compare["lo"].notna())
    compare = compare.rename(columns={"tasks": "tasks_shared"})
    compare["tasks_missing"] = [", ".join(x for x in (a, b) if x) for a, b in
                                zip(compare["only_a"], compare["only_b"], strict=True)]
    return GroupedSelection(by=list(result.by), table=table[["group", *TABLE_COLUMNS]],
                            picks=result.picks, compare=compare, headline=headline,
                            reference=options.reference, options=options, level=options.level,
                            skipped=dict(result.skipped), note=result.note,
                            p_method=p_method, compare_p_method=compare_p,
                            warnings=[str(w) for w in result.summary.get("warnings", [])])
