"""The result of a selection run as DataFrames and arrays (JSON is the CLI's business).

* :attr:`SelectionResult.table` — tidy, one row per (group, strategy, metric): ``group`` and the
  group columns, ``strategy``, ``metric``, ``estimate``, ``se``, ``lo``/``hi`` (the chosen
  interval), ``percentile_lo/hi``, ``bca_lo/hi``, ``delta`` (strategy − reference, paired),
  ``delta_se``, ``delta_lo/hi`` and their percentile/BCa bounds, ``share_resamples_favouring``
  (the share of paired resamples in which Δ favours the strategy, the table's ``fav.``),
  ``searches``, ``tasks``;
* :attr:`SelectionResult.picks` — one row per (strategy, search) with the group columns;
* :attr:`SelectionResult.compare` — between groups, same strategy
  (:func:`~aira_eval.selection.compare.compare_groups`);
* :attr:`SelectionResult.generalization` — per group, the AIRA-dojo Fig. 6a view: the best-val
  pick's validation score (``VAL/VAL``), its test score (``VAL/TEST``), the oracle
  (``TEST/TEST``) and top-k, on the raw score and on the rate metric (medal rate when every task
  has medal thresholds, else the normalized score);
* :meth:`SelectionResult.draws` — the bootstrap distribution ``(R, G, S)`` of one metric.

When the tasks use different metrics or directions, a mean over tasks of a raw-unit metric
(:data:`~aira_eval.selection.evaluate.RAW_UNITS`: test score, regret, optimism, …) is NaN in
all of them (:func:`mask_raw_units`); the per-task values keep their own units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.selection.bootstrap import PairedBootstrap, Resamples, stratified_means
from aira_eval.selection.evaluate import RAW_UNITS


@dataclass
class GroupStats:
    """One group's bootstrap: its label, group-column values, units (rows of the search
    block), tasks, resamples and :class:`PairedBootstrap`."""

    label: str
    key: dict[str, str]
    units: np.ndarray
    tasks: list[str]
    resamples: Resamples
    boot: PairedBootstrap


@dataclass
class SelectionResult:
    """Everything a selection run found (module docstring).

    Attributes:
        picks: one row per (strategy, search), group columns included.
        table: the tidy study-level table.
        compare: between-group differences (empty with one group).
        generalization: the per-group generalization view.
        summary: the JSON-ready summary the CLI writes (``summary.json``).
        skipped: strategies left out as not applicable, with the reason.
        by: the group columns (empty when pooled).
        groups: group labels in order.
        note: why the searches were grouped by default, if they were.
        missing_tasks: per group, the study's tasks it has no search on.
    """

    picks: pd.DataFrame
    table: pd.DataFrame
    compare: pd.DataFrame
    generalization: pd.DataFrame
    summary: dict[str, Any]
    skipped: dict[str, str]
    by: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    note: str | None = None
    missing_tasks: dict[str, list[str]] = field(default_factory=dict)
    strategies: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    _values: np.ndarray | None = field(default=None, repr=False)
    _stats: list[GroupStats] = field(default_factory=list, repr=False)

    def unit_values(self, group: str) -> tuple[np.ndarray, np.ndarray]:
        """One group's per-search values ``(U_g, S, M)`` (as :attr:`strategies` ×
        :attr:`metrics`) and each of those searches' task ``(U_g,)``."""
        assert self._values is not None
        g = self._stats[self.groups.index(group)]
        return self._values[g.units], np.asarray(g.tasks, dtype=object)[g.resamples.strata]

    def draws(self, metric: str = "test_score", delta: bool = False) -> np.ndarray:
        """The bootstrap distribution of ``metric``: ``(R, G, S)`` resamples × groups ×
        strategies (``delta``: minus the reference strategy's, from the same resamples)."""
        if metric not in self.metrics:
            raise UsageError(f"unknown metric {metric!r}",
                             hint=f"Known metrics: {', '.join(self.metrics)}.")
        assert self._values is not None
        m = self.metrics.index(metric)
        ref = self.strategies.index(str(self.summary["reference"]))
        out = []
        n_met = len(self.metrics)
        for g in self._stats:
            if g.boot.draws is not None:
                boot = g.boot.draws[:, m::n_met]  # (R, S) of the (R, S·M) distribution
            else:
                boot = stratified_means(self._values[g.units, :, m], g.resamples)
            out.append(boot - boot[:, ref:ref + 1] if delta else boot)
        return np.stack(out, axis=1)


def tidy_table(stats: list[GroupStats], columns: list[str], strategies: list[str],
               metrics: list[str], ci: str, searches: list[int]) -> pd.DataFrame:
    """One row per (group, strategy, metric) from the groups' bootstraps."""
    parts = []
    n_s, n_m = len(strategies), len(metrics)
    for g, n_searches in zip(stats, searches, strict=True):
        b = g.boot
        lo_hi, d_lo_hi = b.intervals[ci], b.delta_intervals[ci]
        frame = pd.DataFrame({
            "group": g.label, **{c: g.key[c] for c in columns},
            "strategy": np.repeat(np.asarray(strategies, dtype=object), n_m),
            "metric": np.tile(np.asarray(metrics, dtype=object), n_s),
            "estimate": b.estimate.reshape(-1), "se": b.se.reshape(-1),
            "lo": lo_hi[..., 0].reshape(-1), "hi": lo_hi[..., 1].reshape(-1),
            "percentile_lo": b.percentile[..., 0].reshape(-1),
            "percentile_hi": b.percentile[..., 1].reshape(-1),
            "bca_lo": b.bca[..., 0].reshape(-1), "bca_hi": b.bca[..., 1].reshape(-1),
            "delta": b.delta.reshape(-1), "delta_se": b.delta_se.reshape(-1),
            "delta_lo": d_lo_hi[..., 0].reshape(-1), "delta_hi": d_lo_hi[..., 1].reshape(-1),
            "delta_percentile_lo": b.delta_percentile[..., 0].reshape(-1),
            "delta_percentile_hi": b.delta_percentile[..., 1].reshape(-1),
            "delta_bca_lo": b.delta_bca[..., 0].reshape(-1),
            "delta_bca_hi": b.delta_bca[..., 1].reshape(-1),
            "share_resamples_favouring": b.share_favouring.reshape(-1),
            "searches": n_searches, "tasks": len(g.tasks),
        }, index=pd.RangeIndex(n_s * n_m))
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


#: (view, strategy, metric) of the generalization view; ``rate`` is the medal rate or the
#: normalized score; TEST/TEST on the raw score is any pick's search oracle.
VIEWS = (("VAL/VAL", "best-val", "val_score"), ("VAL/TEST", "best-val", "test_score"),
         ("TEST/TEST", "oracle", "test_score"), ("top-k", "topk", "test_score"),
         ("VAL/TEST", "best-val", "rate"), ("TEST/TEST", "oracle", "rate"),
         ("top-k", "topk", "rate"))


def generalization_table(table: pd.DataFrame, columns: list[str], rate: str) -> pd.DataFrame:
    """Per group: ``view``, ``strategy``, ``metric``, ``estimate``, ``lo``, ``hi`` (module
    docstring) read from the tidy ``table``; views whose strategy did not run are left out.
    Raw-score views of tasks on different metrics are NaN there already
    (:func:`mask_raw_units`)."""
    keys = ["group", *columns]
    lookup = {(str(g), str(s), str(m)): (e, lo, hi) for g, s, m, e, lo, hi in zip(
        table["group"], table["strategy"], table["metric"], table["estimate"], table["lo"],
        table["hi"], strict=True)}
    rows = []
    for key, _ in table.groupby(keys, sort=False):
        parts = key if isinstance(key, tuple) else (key,)
        group: dict[str, Any] = dict(zip(keys, parts, strict=True))
        for view, strategy, metric in VIEWS:
            name = rate if metric == "rate" else metric
            look = (str(group["group"]), strategy, name)
            if look not in lookup and view == "TEST/TEST" and metric != "rate":
                look = (str(group["group"]), "best-val", "oracle_score")
            if look not in lookup:
                continue
            estimate, lo, hi = lookup[look]
            rows.append({**group, "view": view, "strategy": look[1], "metric": look[2],
                         "estimate": estimate, "lo": lo, "hi": hi})
    return pd.DataFrame(rows, columns=[*keys, "view", "strategy", "metric", "estimate", "lo",
                                       "hi"])


def _nan_columns(array: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """A float copy of ``array`` ``(S, M, ...)`` with the metrics ``raw`` ``(M,)`` set NaN."""
    out = array.astype(float, copy=True)
    out[:, raw] = np.nan
    return out


def mask_raw_units(stats: list[GroupStats], compare: pd.DataFrame, metrics: list[str]
                   ) -> pd.DataFrame:
    """NaN for every mean over tasks of a :data:`RAW_UNITS` metric (tasks on different
    metrics): each group's bootstrap (estimates, intervals, Δ, draws; in place) and the
    between-group ``compare`` rows (returned). Counts (``n_pairs``, searches) are kept."""
    raw = np.array([m in RAW_UNITS for m in metrics])
    for g in stats:
        b = g.boot
        for name in ("estimate", "se", "delta", "delta_se", "share_favouring"):
            setattr(b, name, _nan_columns(getattr(b, name), raw))
        b.intervals = {k: _nan_columns(v, raw) for k, v in b.intervals.items()}
        b.delta_intervals = {k: _nan_columns(v, raw) for k, v in b.delta_intervals.items()}
        if b.draws is not None:
            draws = b.draws.reshape(len(b.draws), -1, len(metrics)).astype(float, copy=True)
            draws[:, :, raw] = np.nan  # (R, S, M)
            b.draws = draws.reshape(b.draws.shape)
    rows = compare["metric"].isin(list(RAW_UNITS)).to_numpy(dtype=bool)
    numbers = [c for c in compare.columns if pd.api.types.is_float_dtype(compare[c])]
    out = compare.copy()
    out.loc[rows, numbers] = np.nan
    return out
