"""Rank agreement between validation and test scores, per task and group.

Spearman's ρ and Kendall's τ-b over the valid nodes that have both scores, with Fisher-z
intervals using Fieller, Hartley & Pearson's (1957) variances, ``1.06/(n−3)`` for ρ and
``0.437/(n−4)`` for τ. Nodes of one search are not independent, so these intervals are
optimistic when searches are few; the per-search spread is in the scatter figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

VARIANCE = {"spearman": (1.06, 3), "kendall": (0.437, 4)}


def fisher_interval(r: float, n: int, kind: str, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval of a rank correlation (module docstring); NaN when n is too small."""
    from scipy.stats import norm

    num, lag = VARIANCE[kind]
    if not np.isfinite(r) or n <= lag:
        return float("nan"), float("nan")
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = norm.ppf(0.5 + level / 2) * np.sqrt(num / (n - lag))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def rank_correlations(nodes: pd.DataFrame, groups: Mapping[str, str],
                      level: float = 0.95) -> pd.DataFrame:
    """Columns: ``task, group, n_nodes, spearman, spearman_lo, spearman_hi, kendall,
    kendall_lo, kendall_hi``."""
    from scipy.stats import kendalltau, spearmanr

    val, test = nodes["score_val"].to_numpy(float), nodes["score_test"].to_numpy(float)
    ok = nodes["valid"].to_numpy(dtype=bool) & np.isfinite(val) & np.isfinite(test)
    data = pd.DataFrame({"task": nodes["task"].astype(str).to_numpy()[ok],
                         "group": nodes["search_id"].astype(str).map(groups).fillna("all")
                         .to_numpy()[ok], "v": val[ok], "t": test[ok]})
    rows = []
    for (task, group), g in data.groupby(["task", "group"], sort=False):
        n = len(g)
        const = n < 3 or g["v"].nunique() < 2 or g["t"].nunique() < 2
        rho = float("nan") if const else float(spearmanr(g["v"], g["t"]).statistic)
        tau = float("nan") if const else float(kendalltau(g["v"], g["t"]).statistic)
        rows.append((task, group, n, rho, *fisher_interval(rho, n, "spearman", level),
                     tau, *fisher_interval(tau, n, "kendall", level)))
    return pd.DataFrame(rows, columns=["task", "group", "n_nodes", "spearman", "spearman_lo",
                                       "spearman_hi", "kendall", "kendall_lo", "kendall_hi"])
