"""How many seeds: the half-width of the report's own interval of the headline metric if the
study had ``n`` seeds per task.

The report's intervals are *t* intervals over seeds within tasks
(:mod:`aira_eval.selection.tintervals`): ``θ̂ ± t_{ν, 0.975} · se`` with
``se² = Σ_t s_t² / n_t / T²`` and the Welch–Satterthwaite ``ν``. With ``n`` seeds in every task
and each task's observed sample variance ``s_t²`` (ddof 1; tasks with one search add no variance,
as in the main table) the half-width is

    ``t_{ν_n, 1−α} · sqrt(Σ_t s_t² / n) / T``,  ``ν_n = (Σ_t s_t²)² / Σ_t s_t⁴ · (n − 1)``

— a projection from the observed per-task variances, not a resampling. At the study's own seed
count (equal in every task) it is exactly the main table's half-width; it decreases with ``n``
(``se`` as ``1/√n``, the *t* quantile with ``ν_n``). (The former percentile interval of a
resample of the searches came out about half as wide as the report's own interval at the same
``n``, and was not monotone in ``n``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED_COUNTS = (3, 5, 10, 20)


def task_variances(values: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """Per task with a finite value: the sample variance (ddof 1) of its finite ``values``,
    NaN for a task with one value."""
    frame = pd.DataFrame({"v": values, "t": tasks})
    frame = frame[np.isfinite(frame["v"].to_numpy(dtype=float))]
    return frame.groupby("t", sort=False)["v"].var(ddof=1).to_numpy(dtype=float)


def t_half_width(variances: np.ndarray, n: int, level: float = 0.95) -> float:
    """Half-width of the stratified *t* interval with ``n`` seeds in every task of
    ``variances`` (``(T,)``, NaN: a task without a variance estimate); NaN when no task has one
    or ``n < 2``."""
    from scipy.special import stdtrit

    n_tasks = variances.size
    v = variances[np.isfinite(variances)]
    if n < 2 or v.size == 0 or n_tasks == 0:
        return float("nan")
    se = float(np.sqrt(v.sum() / n)) / n_tasks
    if se == 0:
        return 0.0
    df = float(v.sum() ** 2 / (v**2).sum() * (n - 1))
    return float(stdtrit(df, 1.0 - (1.0 - level) / 2.0) * se)


def half_widths(values: np.ndarray, tasks: np.ndarray, counts: tuple[int, ...] = SEED_COUNTS,
                level: float = 0.95) -> pd.DataFrame:
    """Columns ``n_seeds, half_width`` for per-search ``values`` (one group) at each ``n`` of
    ``counts`` (module docstring)."""
    variances = task_variances(np.asarray(values, dtype=float), np.asarray(tasks))
    rows = [(int(n), t_half_width(variances, int(n), level)) for n in sorted(set(counts))]
    return pd.DataFrame(rows, columns=["n_seeds", "half_width"])
