"""Check 3: nodes whose test score beats their own validation score far beyond noise.

A script that saw the test labels (or tuned on them) scores better on test than its honest
validation predicts. For every node with both scores the check computes

    d = oriented(test − val)        (test − val when higher is better, val − test otherwise)
    z = (d − c) / SE

where ``c`` is the task's median gap when the task has at least 5 scored nodes (else 0): a
shift every node shares (a final fit on all of train scoring better than the cross-validation
folds, an easier test split) is not contamination; a node far above its peers is.

and flags ``z > threshold`` (default 4: under normal noise a false flag has probability
≈ 3e-5 per node, so a search of a few hundred nodes has ~1% chance of a false flag).

The standard error SE is, in order of preference:

1. ``analytic``: ``sqrt(se_val² + se_test²)`` where ``se_val = sd/sqrt(k)`` from the node's
   k >= 2 per-fold validation scores (``sd`` = the larger of the node's fold SD and the
   task's median fold SD, see :func:`pooled_fold_sd`), and ``se_test = sqrt(p(1−p)/n_test)`` for
   accuracy-like metrics (p the test score, n_test its rows), else — when the task's
   validation size n_val is known — ``se_test = sd·sqrt((n_val/k)/n_test)``: a fold of
   n_val/k rows scatters by sd(folds), so a test set of n_test rows scatters by that much
   times sqrt(fold rows / test rows) (exact for per-row averages such as log loss or
   accuracy, a first-order approximation for AUC or RMSE);
2. ``robust``: for other metrics or nodes without folds, a per-task scale
   ``1.4826 · MAD(d)`` over the task's scored nodes (needs >= 5 of them) — how much test−val
   gaps vary between nodes around their median, which includes both sampling noises;
3. ``partial``: only one of ``se_val``/``se_test`` is known and the task has too few nodes for
   the robust scale: SE is that one part (a lower bound on the noise, so z is generous).

A node with neither gets no z (reported, never flagged). The check is ``skip`` when no node has
both scores, ``fail`` when any node is flagged, else ``pass``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aira_eval.study.folds import fold_stats

ACCURACY_LIKE = frozenset({"accuracy", "acc", "error_rate", "error", "misclassification"})
MAD_SCALE = 1.4826
MIN_ROBUST_NODES = 5


@dataclass
class GapRow:
    """The statistic of one node."""

    node_id: str
    search_id: str
    task: str
    score_val: float
    score_test: float
    gap: float
    se: float | None
    method: str
    z: float | None
    flagged: bool


@dataclass
class GapResult:
    """Per-node z statistics and the flagged nodes."""

    threshold: float
    rows: list[GapRow] = field(default_factory=list)
    median_gap: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> list[GapRow]:
        return [r for r in self.rows if r.flagged]

    def status(self) -> str:
        if not self.rows:
            return "skip"
        return "fail" if self.flagged else "pass"

    def to_dict(self, max_rows: int = 20) -> dict[str, Any]:
        scored = [r for r in self.rows if r.z is not None]
        top = sorted(scored, key=lambda r: -(r.z or 0.0))[:max_rows]
        return {
            "statistic": "z = (oriented(test - val) - task median gap) / SE",
            "threshold": self.threshold,
            "n_nodes": len(self.rows),
            "n_with_z": len(scored),
            "methods": {m: sum(r.method == m for r in self.rows)
                        for m in sorted({r.method for r in self.rows})},
            "median_gap": self.median_gap,
            "flagged": [asdict(r) for r in self.flagged],
            "top": [asdict(r) for r in top],
        }


def fold_se(folds: Any) -> float | None:
    """``sd(folds)/sqrt(k)`` for k >= 2 finite folds, else None."""
    if folds is None:
        return None
    values = np.asarray(list(folds), dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return None
    return float(values.std(ddof=1) / math.sqrt(values.size))


def binomial_se(p: float, n: int) -> float | None:
    """``sqrt(p(1−p)/n)`` for a proportion p in [0, 1] over n > 0 rows, else None."""
    if n <= 0 or not 0.0 <= p <= 1.0:
        return None
    return math.sqrt(max(p * (1.0 - p), 0.25 / n) / n)  # floor: p at 0 or 1 is not exact


def robust_scale(gaps: np.ndarray) -> float | None:
    """``1.4826 · MAD`` of the gaps, None with fewer than 5 finite gaps or a zero MAD."""
    gaps = gaps[np.isfinite(gaps)]
    if gaps.size < MIN_ROBUST_NODES:
        return None
    mad = float(np.median(np.abs(gaps - np.median(gaps))))
    return MAD_SCALE * mad if mad > 0 else None


def _scaled_test_se(sd: float, k: int, n_val: int | None, n_test: int) -> float | None:
    if not n_val or n_test <= 0:
        return None
    return sd * math.sqrt((n_val / k) / n_test)


def fold_scaled_test_se(
    folds: Any, n_val: int | None, n_test: int, sd: float | None = None
) -> float | None:
    """``sd(folds)·sqrt((n_val/k)/n_test)``: the test set's noise scaled from the folds'
    (``sd`` overrides the folds' own SD, e.g. with the task's pooled one)."""
    se = fold_se(folds)
    if se is None:
        return None
    k = int(np.isfinite(np.asarray(list(folds), dtype=float)).sum())
    return _scaled_test_se(sd if sd is not None else se * math.sqrt(k), k, n_val, n_test)


def pooled_fold_sd(n_folds: np.ndarray, sd: np.ndarray) -> float | None:
    """The median fold SD over a task's nodes (>= 5 nodes with folds), else None;
    ``n_folds``/``sd`` per node as :func:`~aira_eval.selection.views.fold_stats` gives them.

    Five folds give a noisy SD (a chi-square with 4 degrees of freedom): one node's own SD is
    too often far too small, which would make z heavy-tailed. Nodes of one task score the same
    rows with similar noise, so their median SD is the stable estimate.
    """
    sds = sd[n_folds >= 2]
    return float(np.median(sds)) if sds.size >= MIN_ROBUST_NODES else None


def _se(
    own_sd: float, k: int, score_test: float, n_test: int, metric: str | None,
    scale: float | None, n_val: int | None = None, pooled_sd: float | None = None,
) -> tuple[float | None, str]:
    """SE of one node's gap; ``own_sd``/``k``: its fold SD (NaN below 2 folds) and fold count."""
    has_folds = k >= 2
    sd = max(own_sd, pooled_sd or 0.0)
    se_val = sd / math.sqrt(k) if has_folds else None
    se_test = None
    if metric is not None and metric.lower() in ACCURACY_LIKE:
        se_test = binomial_se(score_test, n_test)
    if se_test is None and has_folds:
        se_test = _scaled_test_se(sd, k, n_val, n_test)
    if se_val is not None and se_test is not None:
        return math.hypot(se_val, se_test), "analytic"
    if scale is not None:
        return scale, "robust"
    part = se_val if se_val is not None else se_test
    if part is not None and part > 0:
        return part, "partial"
    return None, "none"


def _scored(nodes: pd.DataFrame) -> pd.DataFrame:
    mask = np.isfinite(nodes["score_val"].to_numpy(dtype=float)) & np.isfinite(
        nodes["score_test"].to_numpy(dtype=float))
    if "status" in nodes.columns:
        mask &= (nodes["status"] == "ok").to_numpy()
    return nodes.loc[mask]


def check_test_vs_val(
    nodes: pd.DataFrame,
    metrics: dict[str, str] | None = None,
    threshold: float = 4.0,
    val_rows: dict[str, int] | None = None,
) -> GapResult:
    """The z statistic of every ok node with both a validation and a test score.

    Args:
        nodes: a node table (``NODE_SCHEMA`` columns: task, node_id, search_id, status,
            lower_is_better, score_val, score_test, val_folds, n_test).
        metrics: task id -> metric name (decides whether the binomial test SE applies).
        threshold: flag nodes with z above this.
        val_rows: task id -> rows the scripts' cross-validation scored (for the fold-scaled
            test SE of non-accuracy metrics).
    """
    metrics = metrics or {}
    result = GapResult(threshold=threshold)
    scored = _scored(nodes)
    for task, group in scored.groupby("task", sort=True):
        sign = np.where(group["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
        gaps = sign * (group["score_test"].to_numpy(dtype=float)
                       - group["score_val"].to_numpy(dtype=float))
        result.median_gap[str(task)] = float(np.median(gaps))
        centre = result.median_gap[str(task)] if gaps.size >= MIN_ROBUST_NODES else 0.0
        scale = robust_scale(gaps)
        n_folds, _, fold_sd = fold_stats(group)
        pooled = pooled_fold_sd(n_folds, fold_sd)
        n_val = (val_rows or {}).get(str(task))
        val = group["score_val"].to_numpy(dtype=float)
        test = group["score_test"].to_numpy(dtype=float)
        n_test = (group["n_test"].fillna(0).to_numpy(dtype=np.int64) if "n_test" in group.columns
                  else np.zeros(len(group), dtype=np.int64))
        search_ids = group.get("search_id", pd.Series("", index=group.index))
        for i, (node_id, search_id) in enumerate(zip(group["node_id"], search_ids, strict=True)):
            se, method = _se(float(fold_sd[i]), int(n_folds[i]), float(test[i]), int(n_test[i]),
                             metrics.get(str(task)), scale, n_val, pooled)
            z = float((gaps[i] - centre) / se) if se else None
            result.rows.append(GapRow(
                node_id=str(node_id), search_id=str(search_id), task=str(task),
                score_val=float(val[i]), score_test=float(test[i]), gap=float(gaps[i]), se=se,
                method=method, z=z, flagged=bool(z is not None and z > threshold),
            ))
    return result
