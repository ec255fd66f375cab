"""Study-level extras of a selection run: rliable's probability of improvement, per-task
intervals, small-sample warnings and the note on what the bootstrap resamples.

Warnings (one line each, returned in ``summary["warnings"]``; the CLI prints them):

* a (group, task) with fewer than :data:`MIN_SEEDS` searches: the default interval's coverage was
  checked from 5 seeds per task up (docs/statistics.md); below that it is approximate;
* a strategy that differs from the reference on fewer than :data:`MIN_SEEDS` searches
  (:func:`sparse_difference_warnings`);
* a task whose test set has fewer than :data:`MIN_TEST_ROWS` rows: a pick's test score is
  itself noisy by about ``1/√rows``, and the intervals, which resample seeds on this one test
  set, do not include that noise;
* a headline Δ whose variance comes for :data:`DOMINANT_SHARE` or more from one task with fewer
  searches than the interval needs there (:data:`DOMINANT_SEEDS`: 10 for hall and
  studentized, else 20), whose differences are skewed or mostly zero
  (:func:`dominant_task_warnings`): the interval under-covers there (docs/statistics.md,
  "When one task dominates").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aira_eval.selection.bootstrap import (
    Resamples,
    all_agree,
    clip_intervals,
    draw_resamples,
    paired_bootstrap,
    without_agreeing,
)
from aira_eval.selection.evaluate import metric_ranges
from aira_eval.selection.improvement import probability_of_improvement
from aira_eval.selection.tintervals import (
    ANALYTIC_METHODS,
    hall_interval,
    t_interval,
    t_stats,
)

if TYPE_CHECKING:
    from aira_eval.selection.result import SelectionResult
    from aira_eval.selection.summary import SelectionOptions
    from aira_eval.study import Study

MIN_SEEDS = 5
DOMINANT_SHARE = 0.8
DOMINANT_SEEDS = {"hall": 10, "studentized": 10}  # searches from which each holds 95 %
DOMINANT_SEEDS_OTHER = 20  # t and the percentile family: still under-cover at 20
MIN_TEST_ROWS = 100
NO_VARIANCE = "no variance estimate"
CI_NAMES = {"hall": "skew-corrected t (Hall 1992)", "t": "t (Welch–Satterthwaite)",
            "studentized": "studentized (bootstrap-t)",
            "expanded": "expanded percentile", "percentile": "percentile", "bca": "BCa"}


def _num(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


def probability_block(values: np.ndarray, resamples: Resamples, reference: int,
                      direction: np.ndarray, options: SelectionOptions
                      ) -> Callable[[int], dict[str, Any]]:
    """``s -> {"estimate", "ci_low", "ci_high"}`` of rliable's probability of improvement
    (:mod:`aira_eval.selection.improvement`) of strategy ``s`` on one metric: ``values``
    ``(U, S)``, ``direction`` its sign."""
    other = draw_resamples(resamples.strata, resamples.n_resamples, options.seed + 1)
    point, interval = probability_of_improvement(values[:, :, None], resamples, other,
                                                 reference, np.atleast_1d(direction),
                                                 options.level)

    def block(s: int) -> dict[str, Any]:
        return {"estimate": _num(point[s, 0]), "ci_low": _num(interval[s, 0, 0]),
                "ci_high": _num(interval[s, 0, 1]),
                "definition": "rliable (Agarwal et al. 2021): P(a search of this strategy beats "
                              "a search of the reference), unpaired, mean over tasks"}

    return block


def _seed_level(resamples: Resamples, options: SelectionOptions) -> Resamples:
    """``resamples`` when they resample seeds within fixed tasks; else seed-level draws over
    the same units (per-task intervals resample each task's searches only)."""
    if not resamples.task_level:
        return resamples
    return draw_resamples(resamples.strata, resamples.n_resamples, options.seed + 2)


def per_task_intervals(values: np.ndarray, resamples: Resamples, reference: int,
                       direction: np.ndarray, options: SelectionOptions, task_names: list[str],
                       names: list[str], metrics: list[str]) -> dict[str, Any]:
    """``task -> strategy -> metric ->`` estimate, interval (``options.ci``), number of
    searches with a value and the paired difference to the reference, each in the task's own
    metric. The hall and t intervals are analytic; the bootstrap methods resample the task's
    own searches
    (seed level, whatever the study-level resampling): the task's columns of the shared
    weights at seed level, fresh seed-level draws under ``--task-bootstrap`` (whose weights
    of one task sum to ``m·n_t``, ``m`` the times the task was drawn)."""
    out: dict[str, Any] = {}
    _, n_strat, n_met = values.shape
    seed_level = _seed_level(resamples, options)
    diffs = values - values[:, reference : reference + 1, :]
    ranges = metric_ranges(metrics)
    for t, task in enumerate(task_names):
        units = np.flatnonzero(resamples.strata == t)
        if options.ci in ANALYTIC_METHODS:
            interval = hall_interval if options.ci == "hall" else t_interval
            one = np.zeros(units.size, dtype=np.int64)
            means = t_stats(values[units].reshape(units.size, -1), one)
            deltas = t_stats(diffs[units].reshape(units.size, -1), one)
            est, d_est = means.theta.reshape(n_strat, n_met), deltas.theta.reshape(n_strat, n_met)
            ci = clip_intervals(interval(means, options.level).reshape(n_strat, n_met, 2),
                                ranges)
            d_ci = without_agreeing(clip_intervals(
                interval(deltas, options.level).reshape(n_strat, n_met, 2), ranges, delta=True),
                all_agree(diffs[units]))
        else:
            sub = Resamples(weights=seed_level.weights[:, units],
                            task_weights=np.ones((resamples.n_resamples, 1), dtype=np.float32),
                            strata=np.zeros(units.size, dtype=np.int64), task_level=False)
            boot = paired_bootstrap(values[units], sub, reference, direction, options.level,
                                    (options.ci,), ranges)
            est, d_est = boot.estimate, boot.delta
            ci, d_ci = boot.intervals[options.ci], boot.delta_intervals[options.ci]
        counts = np.isfinite(values[units]).sum(axis=0)
        pairs = np.isfinite(diffs[units]).sum(axis=0)
        out[task] = {name: {metric: {
            "estimate": _num(est[s, m]), "ci_low": _num(ci[s, m, 0]),
            "ci_high": _num(ci[s, m, 1]), "n": int(counts[s, m]),
            "delta": _num(d_est[s, m]), "delta_ci_low": _num(d_ci[s, m, 0]),
            "delta_ci_high": _num(d_ci[s, m, 1]), "n_pairs": int(pairs[s, m]),
        } for m, metric in enumerate(metrics)} for s, name in enumerate(names)}
    return out


def per_task_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """Every group's ``per_task_intervals`` as a long table: one row per (group, task,
    strategy, metric)."""
    rows = [{"group": label, "task": task, "strategy": name, "metric": metric, **stats}
            for label, group in summary.get("groups", {}).items()
            for task, by_name in group.get("per_task_intervals", {}).items()
            for name, by_metric in by_name.items() for metric, stats in by_metric.items()]
    return pd.DataFrame(rows)


def _undefined_note(seeds: pd.Series, task_level: bool) -> str:
    """Why the intervals are undefined when a group (``seeds``: searches per group and task)
    has no variance estimate, else ''."""
    per_group = seeds.groupby(level=0, sort=False)
    bare = per_group.size() < 2 if task_level else per_group.max() < 2
    if not bare.any():
        return ""
    unit = "one task" if task_level else "one search per task"
    return (f" With {unit} there is {NO_VARIANCE}: the intervals are undefined (—), "
            "not a point.")


def _fewest(few: pd.Series, grouped: bool) -> str:
    """``task n`` of the fewest searches, per group when there are several."""
    parts = []
    for group, counts in few.groupby(level=0, sort=False):
        task = counts.droplevel(0)
        parts.append(f"{group} {int(task.min())} on {task.idxmin()}" if grouped
                     else f"{int(task.min())}, {task.idxmin()}")
    return ("per group: " if grouped else "") + ", ".join(parts)


def small_sample_warnings(table: pd.DataFrame, study: Study, task_level: bool = False
                          ) -> list[str]:
    """One line per kind of small sample (module docstring); searches are counted per
    compared group (``table``'s ``group`` column, when it has one) and task."""
    out: list[str] = []
    first = table[table["strategy"] == table["strategy"].iloc[0]]
    group = first["group"] if "group" in first.columns else pd.Series("all", first.index)
    seeds = first.groupby([group.astype(str), first["task"]], sort=False).size()
    few = seeds[seeds < MIN_SEEDS]
    if len(few):
        grouped = group.nunique() > 1
        cells = "(group, task) pair(s)" if grouped else "task(s)"
        out.append(f"{len(few)} {cells} have fewer than {MIN_SEEDS} searches (fewest: "
                   f"{_fewest(few, grouped)}): the 95% intervals are approximate "
                   f"there (coverage is checked from {MIN_SEEDS} seeds per task up) — read them "
                   "as rough, and prefer more seeds to a finer method."
                   + _undefined_note(seeds, task_level))
    nodes = study.frame[study.frame["valid"].to_numpy(dtype=bool)]
    rows = nodes.groupby("task")["n_test"].median()
    small = rows[(rows > 0) & (rows < MIN_TEST_ROWS)]
    if len(small):
        out.append(f"{len(small)} task(s) have test sets under {MIN_TEST_ROWS} rows (smallest: "
                   f"{int(small.min())}, {small.idxmin()}): each test score is itself noisy "
                   "(about ±1/√rows), which the intervals (seeds resampled, test set fixed) do "
                   "not include.")
    return out


def sparse_difference_warnings(summary: dict[str, Any], reference: str,
                               group: str | None = None) -> list[str]:
    """One line naming every strategy whose headline Δ rests on 1 to :data:`MIN_SEEDS` − 1
    searches where it differs from the reference (a zero-inflated difference: no interval
    method keeps its level then, docs/statistics.md), with its count; one line naming those
    that differ on none: Δ = 0 exactly, and no interval (the agreeing searches say nothing
    of how large Δ is where the picks would differ)."""
    head = summary["headline_metric"]
    few, none = [], []
    for name, block in summary["strategies"].items():
        delta = block["metrics"][head]["delta"]
        if name == reference or not delta["n_pairs"]:
            continue
        if 0 < delta["n_differing"] < MIN_SEEDS:
            few.append(f"{name} on {delta['n_differing']} of {delta['n_pairs']}")
        elif delta["n_differing"] == 0:
            none.append(f"{name} ({delta['n_pairs']} of {delta['n_pairs']})")
    where = f"{group}: " if group else ""
    out = []
    if few:
        out.append(f"{where}few searches where the pick differs from {reference}'s ({head}): "
                   f"{', '.join(few)}; their Δ intervals rest on those few searches: read the "
                   "counts, not the intervals.")
    if none:
        out.append(f"{where}the same {head} as {reference} on every search: "
                   f"{', '.join(none)}; Δ = 0 there, with no interval (—): searches that "
                   "agree say nothing of how large Δ is where the picks would differ.")
    return out


def _skewed(d: np.ndarray) -> bool:
    """A handful of differences that are mostly zero or skewed (|sample skewness| ≥ 1)."""
    from scipy.stats import skew

    if d.size < 3 or not np.any(d != 0):
        return False
    return bool(np.mean(d == 0) >= 0.25 or abs(float(skew(d))) >= 1.0)


def dominant_task_warnings(values: np.ndarray, strata: np.ndarray, tasks: list[str],
                           reference: int, names: list[str], head: str,
                           group: str | None = None, ci: str = "hall") -> list[str]:
    """One line naming the strategies whose Δ on the headline metric rests on one task.

    Args:
        values: ``(U, S)`` the group's per-search values of the headline metric.
        strata: ``(U,)`` task index of each search, into ``tasks``.
        ci: the interval shown, which sets the searches needed (:data:`DOMINANT_SEEDS`).
    """
    needed = DOMINANT_SEEDS.get(ci, DOMINANT_SEEDS_OTHER)
    found = []
    for s, name in enumerate(names):
        diff = values[:, s] - values[:, reference]
        ok = np.isfinite(diff)
        n = np.bincount(strata[ok], minlength=len(tasks))
        var = np.array([np.var(diff[ok & (strata == t)], ddof=1) / n[t] if n[t] > 1 else 0.0
                        for t in range(len(tasks))])
        if s == reference or var.sum() <= 0:
            continue
        top = int(np.argmax(var))
        share = var[top] / var.sum()
        if share >= DOMINANT_SHARE and n[top] < needed and \
                _skewed(diff[ok & (strata == top)]):
            found.append(f"{name} on {tasks[top]} ({share:.0%} of its variance, "
                         f"{n[top]} searches)")
    if not found:
        return []
    where = f"{group}: " if group else ""
    advice = ("(86–88 % at 5 searches of that task, measured) — read it as rough, or add "
              "seeds: it holds 95 % from 10" if ci in DOMINANT_SEEDS else
              "— read it as rough, add seeds, or use --ci hall (the default), which holds "
              "95 % from 10 searches of that task")
    return [f"{where}Δ ({head}) rests on one task's skewed differences: {', '.join(found)}; "
            f"the {CI_NAMES.get(ci, ci)} interval can cover far less than 95 % there "
            f"{advice}."]


def undefined_interval_warnings(summary: dict[str, Any]) -> list[str]:
    """One line naming the strategies whose headline estimate has no interval although it
    has a value: every task has at most one value of it (e.g. one search reports a
    validation score), so no variance can be estimated."""
    head = summary["headline_metric"]
    names = sorted({name for group in summary["groups"].values()
                    for name, block in group["strategies"].items()
                    if block["metrics"][head]["estimate"] is not None
                    and block["metrics"][head]["ci_low"] is None})
    if not names:
        return []
    return [f"no interval for {', '.join(names)} ({head}): at most one value per task, so "
            f"{NO_VARIANCE} (shown as —)."]


def resampling_note(options: SelectionOptions) -> str:
    """What the intervals resample and what they hold fixed (the table's caption)."""
    what = ("tasks resampled, then seeds (searches) within each drawn task"
            if options.task_bootstrap else
            "seeds (searches) resampled within each task; the tasks are fixed (--task-bootstrap "
            "to resample them too)")
    return (f"{round(options.level * 100)}% {CI_NAMES[options.ci]} intervals; {what}; "
            "each task's test set and leaderboard fixed. Δ: mean per-search difference to the "
            "reference over searches where both have a value; fav.: share of "
            f"{options.n_resamples} paired resamples in which Δ favours the strategy.")


def add_study_stats(result: SelectionResult, options: SelectionOptions, study: Study,
                    directions: np.ndarray) -> None:
    """Per group: rliable's probability of improvement (headline metric) into each strategy's
    headline block and ``per_task_intervals``; the run's ``warnings`` and ``resampling`` note
    (all into ``result.summary``)."""
    summary, values = result.summary, result._values
    assert values is not None
    names, metrics = result.strategies, result.metrics
    reference, head = names.index(options.reference), metrics.index(summary["headline_metric"])
    dominant: list[str] = []
    for stats in result._stats:
        group = summary["groups"][stats.label]
        sub = values[stats.units]
        poi = probability_block(sub[:, :, head], stats.resamples, reference, directions[head],
                                options)
        for s, name in enumerate(names):
            group["strategies"][name]["metrics"][metrics[head]]["prob_improvement"] = poi(s)
        group["per_task_intervals"] = per_task_intervals(
            sub, stats.resamples, reference, directions, options, stats.tasks, names, metrics)
        if not options.task_bootstrap:
            dominant += dominant_task_warnings(
                sub[:, :, head], stats.resamples.strata, stats.tasks, reference, names,
                metrics[head], stats.label if len(result._stats) > 1 else None, options.ci)
    if len(result._stats) == 1:
        summary["per_task_intervals"] = next(iter(summary["groups"].values()))[
            "per_task_intervals"]
    small = small_sample_warnings(result.picks, study, options.task_bootstrap)
    explained = any(NO_VARIANCE in w for w in small)
    summary["warnings"] = [*small, *([] if explained else undefined_interval_warnings(summary)),
                           *(w for label, g in summary["groups"].items()
                             for w in sparse_difference_warnings(
                                 {"headline_metric": summary["headline_metric"], **g},
                                 options.reference, label if len(summary["groups"]) > 1
                                 else None)), *dominant]
    summary["resampling"] = resampling_note(options)
