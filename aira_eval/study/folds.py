"""Per-node statistics of the validation folds a script reported (node-table ``val_folds``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FOLD_COLUMNS = ("_n_folds", "_fold_mean", "_fold_sd")


def fold_stats(view: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: number of finite folds, their mean, their sd (ddof=1); shapes (nodes,).

    Uses the precomputed columns (:data:`FOLD_COLUMNS`, added by selection's ``prepare_nodes``)
    when the frame has them.
    """
    if all(c in view.columns for c in FOLD_COLUMNS):
        return tuple(view[c].to_numpy(dtype=float) for c in FOLD_COLUMNS)  # type: ignore[return-value]
    n_nodes = len(view)
    if "val_folds" not in view.columns:
        empty = np.full(n_nodes, np.nan)
        return np.zeros(n_nodes), empty, empty
    folds = view["val_folds"].to_numpy()
    try:
        lengths = np.fromiter(map(len, folds), np.int64, count=n_nodes)
    except TypeError:  # None (null list) somewhere
        lengths = np.fromiter((0 if f is None else len(f) for f in folds), np.int64, n_nodes)
    parts = folds[lengths > 0]
    flat = np.concatenate(parts).astype(float) if parts.size else np.zeros(0)
    owner = np.repeat(np.arange(n_nodes), lengths)
    ok = np.isfinite(flat)
    count = np.bincount(owner[ok], minlength=n_nodes).astype(float)
    total = np.bincount(owner[ok], weights=flat[ok], minlength=n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = flat[ok] - mean[owner[ok]]
        ss = np.bincount(owner[ok], weights=dev * dev, minlength=n_nodes)
        sd = np.sqrt(ss / (count - 1))
    return count, mean, np.where(count >= 2, sd, np.nan)

