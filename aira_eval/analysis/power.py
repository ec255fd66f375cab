"""How many seeds: the half-width of the report's own interval of the headline metric if the
study had ``n`` seeds per task.

The report's intervals are analytic intervals over seeds within tasks
(:mod:`aira_eval.selection.tintervals`): *t*, ``θ̂ ± t_{ν, 0.975} · se`` with
``se² = Σ_t s_t² / n_t / T²`` and the Welch–Satterthwaite ``ν``, or (the default) Hall's
skew-corrected *t*, which also uses the estimate's skewness. With ``n`` seeds in every task
and each task's observed sample variance ``s_t²`` (ddof 1; tasks with one search add no variance,
as in the main table) the *t* half-width is

    ``t_{ν_n, 1−α} · sqrt(Σ_t s_t² / n) / T``,  ``ν_n = (Σ_t s_t²)² / Σ_t s_t⁴ · (n − 1)``

and the skew-corrected one is half the width of
:func:`~aira_eval.selection.tintervals.hall_interval` with that ``se`` and ``ν_n`` and the
skewness ``γ_n = (Σ_t m3_t / n² / T³) / (Σ_t ((n − 1)/n) s_t² / n / T²)^{3/2}`` from each
task's observed third central moment ``m3_t`` (plug-in; ``γ`` shrinks as ``1/√n``) — a
projection from the observed per-task moments, not a resampling. Both come from the
intervals' own formulas (:func:`~aira_eval.selection.tintervals.moment_stats`). At the study's
own seed count (equal in every task) it is exactly the main table's half-width; it decreases
with ``n`` (``se`` as ``1/√n``, the *t* quantile with ``ν_n``). (The former percentile
interval of a
resample of the searches came out about half as wide as the report's own interval at the same
``n``, and was not monotone in ``n``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED_COUNTS = (3, 5, 10, 20)


def t_half_width(variances: np.ndarray, n: int, level: float = 0.95) -> float:
    """Half-width of the stratified *t* interval with ``n`` seeds in every task of
    ``variances`` (``(T,)``, NaN: a task without a variance estimate); NaN when no task has one
    or ``n < 2``."""
    return _half_width(variances, np.zeros_like(variances), n, level, "t")


def _half_width(s2: np.ndarray, m3: np.ndarray, n: int, level: float, method: str) -> float:
    """Half the width of the ``method`` interval (the intervals' own formulas,
    :func:`~aira_eval.selection.tintervals.moment_stats`) with ``n`` seeds in every task of
    per-task sample variances ``s2`` and third moments ``m3`` ``(T,)``."""
    from aira_eval.selection.tintervals import hall_interval, moment_stats, t_interval

    if n < 2 or s2.size == 0 or not np.isfinite(s2).any():
        return float("nan")
    counts = np.where(np.isfinite(s2), float(n), 1.0)[:, None]
    stats = moment_stats(counts, np.nan_to_num(s2)[:, None], np.nan_to_num(m3)[:, None])
    lo, hi = (hall_interval if method == "hall" else t_interval)(stats, level)[0]
    return float(hi - lo) / 2.0


def task_moments(values: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """``(T, 2)`` per task with a finite value: sample variance (ddof 1) and plug-in third
    central moment of its finite ``values``; NaN for a task with one value."""
    frame = pd.DataFrame({"v": values, "t": tasks})
    frame = frame[np.isfinite(frame["v"].to_numpy(dtype=float))]
    dev = frame["v"] - frame.groupby("t", sort=False)["v"].transform("mean")
    grouped = frame.assign(d3=dev**3).groupby("t", sort=False)
    out = pd.DataFrame({"s2": grouped["v"].var(ddof=1), "m3": grouped["d3"].mean()})
    out.loc[grouped.size() < 2, :] = np.nan
    return out.to_numpy(dtype=float)


def hall_half_width(moments: np.ndarray, n: int, level: float = 0.95) -> float:
    """Half the width of the skew-corrected *t* interval with ``n`` seeds in every task of
    ``moments`` (:func:`task_moments`); NaN as :func:`t_half_width`."""
    return _half_width(moments[:, 0], moments[:, 1], n, level, "hall")


def half_widths(values: np.ndarray, tasks: np.ndarray, counts: tuple[int, ...] = SEED_COUNTS,
                level: float = 0.95, method: str = "hall") -> pd.DataFrame:
    """Columns ``n_seeds, half_width`` for per-search ``values`` (one group) at each ``n`` of
    ``counts`` (module docstring), of the ``method`` interval (``"hall"`` or ``"t"``)."""
    moments = task_moments(np.asarray(values, dtype=float), np.asarray(tasks))
    rows = [(int(n), hall_half_width(moments, int(n), level) if method == "hall" else
             t_half_width(moments[:, 0], int(n), level)) for n in sorted(set(counts))]
    return pd.DataFrame(rows, columns=["n_seeds", "half_width"])
