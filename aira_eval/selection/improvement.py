"""rliable's probability of improvement (Agarwal et al., "Deep reinforcement learning at the edge
of the statistical precipice", NeurIPS 2021), unpaired over runs.

For strategy ``X`` against the reference ``Y`` on task ``t`` with per-search values ``x_1..x_n``
and ``y_1..y_m`` (oriented so that higher is better), ``P_t(X > Y) = (1/nm) Σ_i Σ_j S(x_i, y_j)``
with ``S = 1`` when ``x_i > y_j``, ½ on a tie, 0 otherwise — the Mann–Whitney statistic over
*all* pairs of searches, not only the same search's (``x_i`` is compared with every ``y_j``);
the study value is the mean of ``P_t`` over tasks. Its interval is the percentile interval of
a stratified bootstrap that resamples the two strategies' searches independently (as rliable
does): ``x`` with the shared weights, ``y`` with a second, independent draw.

Shapes: ``values`` ``(U, S, M)``; weights ``(R, U)``; results ``(S, M)`` and ``(S, M, 2)``.
"""

from __future__ import annotations

import numpy as np

from aira_eval.selection.bootstrap import Resamples, _blocks, percentile_interval


def _pair_scores(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S`` and finite-pair indicator ``F``, each ``(n, n, K)``, for ``x`` ``(n, K)`` (strategy)
    against ``y`` ``(n, K)`` (reference), both oriented."""
    xi, yj = x[:, None, :], y[None, :, :]
    finite = np.isfinite(xi) & np.isfinite(yj)
    with np.errstate(invalid="ignore"):
        score = np.where(finite, (xi > yj) + 0.5 * (xi == yj), 0.0)
    return score, finite.astype(float)


def probability_of_improvement(values: np.ndarray, resamples: Resamples, other: Resamples,
                               reference: int, direction: np.ndarray, level: float = 0.95
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Estimate ``(S, M)`` and percentile interval ``(S, M, 2)`` (module docstring).

    Args:
        values: ``(U, S, M)`` per-search values (NaN missing).
        resamples: weights of the strategies' searches.
        other: an independent draw (same strata) for the reference's searches.
        reference: index of the reference along ``S``.
        direction: ``(M,)`` +1/-1; 0 gives NaN.
        level: confidence level.
    """
    n_units, n_strat, n_met = values.shape
    sign = np.asarray(direction, float)
    oriented = (values * sign).reshape(n_units, -1)
    ref = np.repeat((values[:, reference, :] * sign)[:, None, :], n_strat, axis=1)
    ref = ref.reshape(n_units, -1)
    n_res, k = resamples.n_resamples, oriented.shape[1]
    num, den = np.zeros((n_res, k)), np.zeros((n_res, k))
    point_num, point_den = np.zeros(k), np.zeros(k)
    for t, units in enumerate(_blocks(resamples.strata)):
        score, finite = _pair_scores(oriented[units], ref[units])
        n = units.size
        with np.errstate(invalid="ignore", divide="ignore"):
            p_t = score.sum(axis=(0, 1)) / finite.sum(axis=(0, 1))
        point_num += np.nan_to_num(p_t)
        point_den += np.isfinite(p_t)
        wx = resamples.weights[:, units].astype(np.float64)
        wy = other.weights[:, units].astype(np.float64)
        s_w = (wx @ score.reshape(n, n * k)).reshape(n_res, n, k)
        f_w = (wx @ finite.reshape(n, n * k)).reshape(n_res, n, k)
        s_r = np.einsum("rjk,rj->rk", s_w, wy)
        f_r = np.einsum("rjk,rj->rk", f_w, wy)
        has = f_r > 0
        tw = resamples.task_weights[:, t, None].astype(np.float64)
        num += tw * np.divide(s_r, f_r, out=np.zeros_like(s_r), where=has)
        den += tw * has
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = np.where(den > 0, num / den, np.nan)
        point = np.where(point_den > 0, point_num / point_den, np.nan)
    interval = percentile_interval(boot, level)
    undefined = np.tile(sign == 0, n_strat)
    point = np.where(undefined, np.nan, point)
    interval = np.where(undefined[:, None], np.nan, interval)
    return point.reshape(n_strat, n_met), interval.reshape(n_strat, n_met, 2)
