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
skewness ``γ_n = (Σ_t m3_t / n² / T³) / (Σ_t m2_t / n / T²)^{3/2}`` from each task's observed
plug-in moments (``γ`` shrinks as ``1/√n``) — a projection from the observed per-task
moments, not a resampling. At the study's own seed count (equal in every task) it is exactly
the main table's half-width; it decreases with ``n`` (``se`` as ``1/√n``, the *t* quantile
with ``ν_n``). (The former percentile interval of a
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


def task_moments(values: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """``(T, 3)`` per task with a finite value: sample variance (ddof 1), plug-in second and
    third central moments of its finite ``values``; NaN for a task with one value."""
    frame = pd.DataFrame({"v": values, "t": tasks})
    frame = frame[np.isfinite(frame["v"].to_numpy(dtype=float))]
    dev = frame["v"] - frame.groupby("t", sort=False)["v"].transform("mean")
    grouped = frame.assign(d2=dev**2, d3=dev**3).groupby("t", sort=False)
    out = pd.DataFrame({"s2": grouped["v"].var(ddof=1), "m2": grouped["d2"].mean(),
                        "m3": grouped["d3"].mean()})
    out.loc[grouped.size() < 2, :] = np.nan
    return out.to_numpy(dtype=float)


def hall_half_width(moments: np.ndarray, n: int, level: float = 0.95) -> float:
    """Half the width of the skew-corrected *t* interval with ``n`` seeds in every task of
    ``moments`` (:func:`task_moments`); NaN as :func:`t_half_width`."""
    from aira_eval.selection.tintervals import TStats, hall_interval

    t_half = t_half_width(moments[:, 0], n, level)
    ok = np.isfinite(moments[:, 0])
    if not np.isfinite(t_half) or t_half == 0:
        return t_half
    n_tasks = moments.shape[0]
    s2, m2, m3 = moments[ok, 0], moments[ok, 1], moments[ok, 2]
    se = float(np.sqrt(s2.sum() / n)) / n_tasks
    df = float(s2.sum() ** 2 / (s2**2).sum() * (n - 1))
    plug = m2.sum() / n / n_tasks**2
    gamma = m3.sum() / n**2 / n_tasks**3 / plug**1.5 if plug > 0 else 0.0
    one = np.ones(1)
    stats = TStats(0 * one, se * one, df * one, one, one > 0, gamma * one)
    lo, hi = hall_interval(stats, level)[0]
    return float(hi - lo) / 2.0


def half_widths(values: np.ndarray, tasks: np.ndarray, counts: tuple[int, ...] = SEED_COUNTS,
                level: float = 0.95, method: str = "hall") -> pd.DataFrame:
    """Columns ``n_seeds, half_width`` for per-search ``values`` (one group) at each ``n`` of
    ``counts`` (module docstring), of the ``method`` interval (``"hall"`` or ``"t"``)."""
    moments = task_moments(np.asarray(values, dtype=float), np.asarray(tasks))
    rows = [(int(n), hall_half_width(moments, int(n), level) if method == "hall" else
             t_half_width(moments[:, 0], int(n), level)) for n in sorted(set(counts))]
    return pd.DataFrame(rows, columns=["n_seeds", "half_width"])
