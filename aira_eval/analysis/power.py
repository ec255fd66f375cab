"""How many seeds: the interval half-width of the headline metric as if the study had n seeds
per task, by resampling it.

For each ``n`` (3, 5, 10, 20) and each of ``repeats`` draws, ``n`` searches per task are drawn
with replacement from the group's searches, and the half-width of the percentile interval of
the mean over tasks of the mean over seeds (the report's statistic, stratified bootstrap over
seeds within tasks) is computed; the table gives the mean half-width over the draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aira_eval.selection.bootstrap import draw_resamples, percentile_interval, stratified_means

SEED_COUNTS = (3, 5, 10, 20)


def half_widths(values: np.ndarray, tasks: np.ndarray, counts: tuple[int, ...] = SEED_COUNTS,
                repeats: int = 20, n_resamples: int = 400, level: float = 0.95,
                seed: int = 0) -> pd.DataFrame:
    """Columns ``n_seeds, half_width, half_width_sd`` for per-search ``values`` (one group)."""
    rng = np.random.default_rng(seed)
    keep = np.isfinite(values)
    values, tasks = values[keep], tasks[keep]
    by_task = [np.flatnonzero(tasks == t) for t in pd.unique(tasks)]
    rows = []
    for n in counts:
        widths = []
        for _ in range(repeats):
            idx = np.concatenate([rng.choice(u, size=n, replace=True) for u in by_task])
            codes = np.repeat(np.arange(len(by_task)), n)
            boot = stratified_means(values[idx, None], draw_resamples(codes, n_resamples, rng))
            lo, hi = percentile_interval(boot, level)[0]
            widths.append((hi - lo) / 2.0)
        rows.append((n, float(np.mean(widths)), float(np.std(widths))))
    return pd.DataFrame(rows, columns=["n_seeds", "half_width", "half_width_sd"])
