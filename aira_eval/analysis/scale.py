"""One scale on which scores of different tasks can be averaged and plotted.

Every scale is linear in the *oriented* score ``o`` (``+score`` for higher-is-better tasks,
``−score`` otherwise): ``display = (o − offset_t) · slope_t`` per task ``t``.

* ``normalized`` (every task has a sample-submission score): selection's normalized score,
  ``(score − sample) / (reference − sample)`` with the task's fixed ``reference_score``
  (:class:`~aira_eval.study.manifest.TaskInfo`; the best test score in the study where none is
  recorded); 0 = the sample submission, 1 = the reference;
* ``raw`` (every task shares one metric and direction): the score itself;
* ``relative`` (otherwise): ``(o − worst) / (best − worst)`` over the task's valid nodes' test
  scores; 0 = the worst node of the task, 1 = the best.

Differences (optimism, gaps) are oriented on every scale: ``|slope|·(o_a − o_b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aira_eval.study import Study


@dataclass(frozen=True)
class Scale:
    """A per-task linear scale (module docstring)."""

    name: str
    label: str  # for captions: what the scale means
    offset: dict[str, float]
    slope: dict[str, float]
    axis: str = "score"  # for axis labels: short

    def arrays(self, tasks: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        t = tasks.astype(str)
        return (t.map(self.offset).to_numpy(dtype=float), t.map(self.slope).to_numpy(dtype=float))

    def display(self, oriented: np.ndarray, tasks: pd.Series) -> np.ndarray:
        off, slope = self.arrays(tasks)
        return (oriented - off) * slope

    def gap(self, o_a: np.ndarray, o_b: np.ndarray, tasks: pd.Series) -> np.ndarray:
        _, slope = self.arrays(tasks)
        return np.abs(slope) * (o_a - o_b)


def oriented(nodes: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` oriented so that higher is better, NaN for invalid nodes."""
    sign = np.where(nodes["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    values = nodes[column].to_numpy(dtype=float) * sign
    return np.where(nodes["valid"].to_numpy(dtype=bool), values, np.nan)


def _task_extremes(nodes: pd.DataFrame) -> pd.DataFrame:
    o = pd.Series(oriented(nodes, "score_test"), index=nodes.index)
    return o.groupby(nodes["task"].astype(str)).agg(["min", "max"])


def study_scale(study: Study) -> Scale:
    """The scale for ``study`` (module docstring)."""
    nodes = study.nodes
    ext = _task_extremes(nodes)
    ext_min: dict[str, float] = {str(k): float(v) for k, v in ext["min"].items()}
    ext_max: dict[str, float] = {str(k): float(v) for k, v in ext["max"].items()}
    tasks = [str(t) for t in pd.unique(nodes["task"])]
    infos = {t: study.tasks[t] for t in tasks if t in study.tasks}
    sign = {t: -1.0 if infos[t].lower_is_better else 1.0 for t in infos}
    if tasks and len(infos) == len(tasks) and all(
            infos[t].sample_score is not None and np.isfinite(ext_max.get(t, np.nan))
            for t in tasks):
        off, slope = {}, {}
        for t in tasks:
            s = float(infos[t].sample_score or 0.0)
            ref = infos[t].reference_score
            best = float(ref) if ref is not None else sign[t] * ext_max[t]
            denom = best - s
            off[t] = sign[t] * s
            slope[t] = sign[t] / denom if denom else np.nan
        return Scale("normalized", "normalized score (0 = sample submission, 1 = the task's "
                     "reference: see the manifest's references table)", off, slope,
                     "normalized score")
    metrics = {(i.metric, i.lower_is_better) for i in infos.values()}
    if len(metrics) == 1:
        metric = next(iter(metrics))[0]
        return Scale("raw", f"raw score ({metric})", {t: 0.0 for t in tasks},
                     {t: sign.get(t, 1.0) for t in tasks}, metric)
    off, slope = {}, {}
    for t in tasks:
        lo, hi = ext_min.get(t, np.nan), ext_max.get(t, np.nan)
        off[t], slope[t] = lo, (1.0 / (hi - lo) if hi > lo else np.nan)
    return Scale("relative", "relative score (0 = task's worst node, 1 = its best)", off, slope,
                 "relative score")
