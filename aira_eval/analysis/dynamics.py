"""Search dynamics: what the current best-validation node scores, step by step and over time.

Per search, after each node (in step order): the validation score of the node a best-val pick
would submit now (``val_of_pick``), its test score (``test_of_pick``), and the best test score
so far (``oracle``), on the report's :mod:`~aira_eval.analysis.scale`. A search that stopped
early keeps its last values. ``optimism`` is ``val_of_pick − test_of_pick`` (oriented: > 0 means
the pick looked better than it is). Curves are the mean over tasks of the mean over seeds per
group, with percentile bands from a stratified bootstrap over seeds within tasks (the same
resampling as selection).

Over wall time, a search's clock starts at its first node's start (``started_at``), or, where
no timestamps were recorded, runs on the cumulative script time (``exec_time``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from aira_eval.analysis.scale import Scale, oriented
from aira_eval.selection.bootstrap import (
    draw_resamples,
    percentile_interval,
    point_estimate,
    stratified_means,
)

SERIES = ("val_of_pick", "test_of_pick", "oracle", "optimism")


def running_best(nodes: pd.DataFrame, scale: Scale) -> pd.DataFrame:
    """Per node (rows in search, step order): the current best-val pick's values.

    Returns:
        Frame with ``search_id, task, n_explored`` (1-based) and :data:`SERIES`.
    """
    order = np.lexsort((nodes["step"].to_numpy(), pd.factorize(nodes["search_id"])[0]))
    nodes = nodes.take(order).reset_index(drop=True)
    codes = pd.factorize(nodes["search_id"])[0]
    o_val = oriented(nodes, "score_val")
    o_test = oriented(nodes, "score_test")
    cand = np.where(np.isfinite(o_val), o_val, -np.inf)
    cm = pd.Series(cand).groupby(codes).cummax().to_numpy()
    prev = pd.Series(cm).groupby(codes).shift(1, fill_value=-np.inf).to_numpy()
    new = np.isfinite(cand) & (cand > prev)
    idx = pd.Series(np.where(new, np.arange(len(nodes)), np.nan)).groupby(codes).ffill()
    has = idx.notna().to_numpy()
    pick = idx.fillna(0).to_numpy(dtype=np.int64)
    tasks = nodes["task"]
    pv = np.where(has, o_val[pick], np.nan)
    pt = np.where(has, o_test[pick], np.nan)
    oracle = pd.Series(np.where(np.isfinite(o_test), o_test, -np.inf)).groupby(codes).cummax()
    oracle_v = np.where(np.isfinite(oracle.to_numpy()), oracle.to_numpy(), np.nan)
    return pd.DataFrame({
        "search_id": nodes["search_id"].astype(str), "task": tasks.astype(str),
        "n_explored": pd.Series(np.ones(len(nodes))).groupby(codes).cumsum().to_numpy(int),
        "clock": _clock(nodes, codes),
        "val_of_pick": scale.display(pv, tasks), "test_of_pick": scale.display(pt, tasks),
        "oracle": scale.display(oracle_v, tasks), "optimism": scale.gap(pv, pt, tasks),
    })


def _clock(nodes: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Seconds since the search started at which each node finished (NaN: unknown)."""
    fin = nodes["finished_at"].to_numpy(dtype=float)
    start = nodes["started_at"].to_numpy(dtype=float)
    if np.isfinite(fin).any() and np.isfinite(start).any():
        first = pd.Series(start).groupby(codes).transform("min").to_numpy()
        return fin - first
    exe = nodes["exec_time"].to_numpy(dtype=float)
    if np.isfinite(exe).any():
        return pd.Series(np.nan_to_num(exe)).groupby(codes).cumsum().to_numpy()
    return np.full(len(nodes), np.nan)


def _grid(run: pd.DataFrame, axis: str, n_points: int) -> tuple[np.ndarray, np.ndarray,
                                                                 list[str], list[str]]:
    """Per search, the series sampled at a shared grid: ``(U, G, 4)`` values, the grid,
    search ids and their tasks."""
    ids = list(pd.unique(run["search_id"]))
    codes = pd.factorize(run["search_id"])[0]
    x = run[axis].to_numpy(dtype=float)
    top = np.nanmax(x) if np.isfinite(x).any() else 0.0
    grid = np.arange(1, int(top) + 1, dtype=float) if axis == "n_explored" else \
        np.linspace(0.0, top, n_points)
    values = run[list(SERIES)].to_numpy(dtype=float)
    out = np.full((len(ids), grid.size, len(SERIES)), np.nan)
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
    for u in range(len(ids)):
        lo, hi = bounds[u], bounds[u + 1]
        xs = x[lo:hi]
        ok = np.isfinite(xs)
        pos = np.searchsorted(xs[ok], grid, side="right") - 1
        block = values[lo:hi][ok]
        out[u] = np.where((pos >= 0)[:, None], block[np.maximum(pos, 0)], np.nan)
    tasks = run.groupby("search_id", sort=False)["task"].first().reindex(ids).tolist()
    return out, grid, [str(i) for i in ids], [str(t) for t in tasks]


FAILED_AS_ZERO = ("test_of_pick", "oracle")
RULE_FAILED = ("a search without a valid node yet counts as a failed submission (0 on the "
               "normalized score, as in MLE-bench and the main table) in the test and oracle "
               "curves; ")
RULE_COMPLETE = ("each curve starts at the first x where every search that ever has a value "
                 "contributes (so the set of searches averaged does not change along it; "
                 "n_searches in the data = searches averaged at each x)")


def fill_missing(values: np.ndarray, failed_as_zero: bool) -> np.ndarray:
    """``(U, G, S)`` running values with the averaging rule applied (module docstring of
    :func:`curves`): with ``failed_as_zero``, test and oracle of a search without a valid node
    yet are 0 (a failed submission on the normalized score); otherwise, and for the other
    series always, every x before the first where all searches that ever have a value have
    one is NaN for all searches, so a curve never averages a changing set of searches."""
    out = values.copy()
    for k, name in enumerate(SERIES):
        block = out[:, :, k]
        if failed_as_zero and name in FAILED_AS_ZERO:
            block[~np.isfinite(block)] = 0.0
            continue
        ever = np.isfinite(block).any(axis=1)
        if not ever.any():
            continue
        complete = np.isfinite(block[ever]).all(axis=0)
        start = int(np.argmax(complete)) if complete.any() else block.shape[1]
        block[:, :start] = np.nan
    return out


def curves(run: pd.DataFrame, groups: Mapping[str, str], axis: str = "n_explored",
           n_points: int = 60, n_resamples: int = 200, level: float = 0.95,
           seed: int = 0, failed_as_zero: bool = False) -> pd.DataFrame:
    """Mean curves with bootstrap bands per group.

    A curve never averages a changing set of searches (:func:`fill_missing`): with
    ``failed_as_zero`` (the normalized scale) a search without a valid node yet scores 0 on the
    test and oracle curves, as a failed submission; the other curves (and every curve on
    other scales) start where every search that ever has a value contributes.

    Args:
        run: :func:`running_best` output.
        groups: search id -> group label.
        axis: ``n_explored`` (nodes explored) or ``clock`` (seconds).

    Returns:
        Tidy frame: ``group, axis, x, series, mean, lo, hi, n_searches`` (the searches
        averaged at that x).
    """
    if axis == "clock" and not np.isfinite(run["clock"].to_numpy(dtype=float)).any():
        return pd.DataFrame(columns=["group", "axis", "x", "series", "mean", "lo", "hi",
                                     "n_searches"])
    values, grid, ids, tasks = _grid(run, axis, n_points)
    values = fill_missing(values, failed_as_zero)
    labels = np.array([groups.get(i, "all") for i in ids])
    parts = []
    for g in pd.unique(labels):
        rows = labels == g
        flat = values[rows].reshape(int(rows.sum()), -1)
        codes = pd.factorize(np.array(tasks)[rows])[0]
        theta = point_estimate(flat, codes)
        boot = stratified_means(flat, draw_resamples(codes, n_resamples, seed))
        ci = percentile_interval(boot, level)
        k = len(SERIES)
        parts.append(pd.DataFrame({
            "group": g, "axis": axis, "x": np.repeat(grid, k), "series": np.tile(SERIES,
                                                                                 grid.size),
            "mean": theta, "lo": ci[:, 0], "hi": ci[:, 1],
            "n_searches": np.isfinite(flat).sum(axis=0)}))
    return pd.concat(parts, ignore_index=True)


def _per_search_k(frame: pd.DataFrame, ids: list[str], k_max: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per search ``(U, k_max)``: top-k (best oriented test among the k best by validation,
    ties to the earlier step) and the exact random-k expectation over valid nodes."""
    from scipy.special import gammaln

    top = np.full((len(ids), k_max), np.nan)
    rnd = np.full((len(ids), k_max), np.nan)
    pos = {s: i for i, s in enumerate(ids)}
    for sid, g in frame.groupby("search_id", sort=False):
        u = pos[str(sid)]
        ranked = g[np.isfinite(g["v"])].sort_values(["v", "step"], ascending=[False, True])
        best = np.maximum.accumulate(ranked["t"].to_numpy())[:k_max]
        top[u, :best.size] = best
        top[u, best.size:] = best[-1] if best.size else np.nan
        x = np.sort(g["t"].to_numpy())
        n = x.size
        for k in range(1, min(n, k_max) + 1):
            i = np.arange(k, n + 1)  # P(max = x_(i)) = C(i-1, k-1) / C(n, k)
            w = np.exp(gammaln(i) - gammaln(k) - gammaln(i - k + 1) - (
                gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)))
            rnd[u, k - 1] = float(np.sum(w * x[k - 1:]))
        rnd[u, min(n, k_max):] = x[-1] if n else np.nan
    return top, rnd


def topk_curve(nodes: pd.DataFrame, scale: Scale, groups: Mapping[str, str], k_max: int = 10,
               n_resamples: int = 200, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Top-k (best test among the k best by validation) vs the exact random-k baseline
    (expected best test of k valid nodes drawn without replacement), k = 1…k_max.

    Returns:
        Tidy frame ``group, k, curve (topk|random-k), mean, lo, hi, n_searches``.
    """
    o_val, o_test = oriented(nodes, "score_val"), oriented(nodes, "score_test")
    ok = np.isfinite(o_test)
    frame = pd.DataFrame({"search_id": nodes["search_id"].astype(str).to_numpy()[ok],
                          "task": nodes["task"].astype(str).to_numpy()[ok],
                          "v": np.where(np.isfinite(o_val[ok]), o_val[ok], np.nan),
                          "t": o_test[ok], "step": nodes["step"].to_numpy()[ok]})
    ids = list(pd.unique(nodes["search_id"].astype(str)))
    ks = np.arange(1, k_max + 1)
    top, rnd = _per_search_k(frame, ids, k_max)
    task_of = pd.Series(nodes["task"].astype(str).to_numpy(),
                        index=nodes["search_id"].astype(str).to_numpy())
    task_of = task_of[~task_of.index.duplicated()]
    tasks = task_of.reindex(ids)
    tasks.index = pd.RangeIndex(len(ids))
    disp_top = np.column_stack([scale.display(top[:, j], tasks) for j in range(k_max)])
    disp_rnd = np.column_stack([scale.display(rnd[:, j], tasks) for j in range(k_max)])
    labels = np.array([groups.get(i, "all") for i in ids])
    parts = []
    for g in pd.unique(labels):
        rows = labels == g
        codes = pd.factorize(tasks.to_numpy()[rows])[0]
        flat = np.concatenate([disp_top[rows], disp_rnd[rows]], axis=1)
        theta = point_estimate(flat, codes)
        ci = percentile_interval(stratified_means(flat, draw_resamples(codes, n_resamples,
                                                                       seed)), level)
        parts.append(pd.DataFrame({"group": g, "k": np.tile(ks, 2),
                                   "curve": np.repeat(["topk", "random-k"], k_max),
                                   "mean": theta, "lo": ci[:, 0], "hi": ci[:, 1],
                                   "n_searches": int(rows.sum())}))
    return pd.concat(parts, ignore_index=True)
