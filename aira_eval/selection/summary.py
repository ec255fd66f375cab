"""Study-level comparison of strategies, per group of searches (agent), and between groups.

:func:`run_selection` evaluates every strategy on every search
(:func:`~aira_eval.selection.evaluate.evaluate_strategies`), adds the paired per-search
``win_rate`` against the reference, groups the searches (:mod:`aira_eval.selection.grouping`:
by agent when agents differ), and per group bootstraps the mean over tasks of the mean over
seeds of every metric (:mod:`aira_eval.selection.bootstrap`), with paired differences to the
reference and the share of resamples favouring the strategy; then compares groups for the
same strategy (:mod:`aira_eval.selection.compare`). The result is a
:class:`~aira_eval.selection.result.SelectionResult` of DataFrames; JSON and files are
:mod:`aira_eval.selection.outputs`' business.

``win_rate`` (rliable's probability of improvement, paired by search): per search, 1 when the
strategy's pick has a better test score than the reference's, ½ on a tie, 0 otherwise (a failed
submission loses to any submission; two failures tie); its study mean is the chance that the
strategy beats the reference on a random search of a random task. For ``random`` (a ``mean``
strategy) it is, like its other metrics, the mean over the search's valid nodes of each node's
win against the reference's pick.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError, check_field_types
from aira_eval.selection.bootstrap import (
    CI_METHODS,
    DEFAULT_METHODS,
    draw_resamples,
    paired_bootstrap,
)
from aira_eval.selection.compare import CompareOptions, compare_groups
from aira_eval.selection.duplicates import study_code_hashes
from aira_eval.selection.evaluate import (
    METRICS,
    RAW_UNITS,
    WIN_RATE,
    evaluate_strategies,
    metric_ranges,
)
from aira_eval.selection.grouping import Grouping, resolve_grouping
from aira_eval.selection.result import (
    GroupStats,
    SelectionResult,
    generalization_table,
    mask_raw_units,
    tidy_table,
)
from aira_eval.selection.strategies import (
    STRATEGIES,
    Strategy,
    StrategyParams,
    get_strategy,
    not_applicable_reason,
)
from aira_eval.selection.study_stats import add_study_stats
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo

CiMethod = Literal["hall", "t", "studentized", "expanded", "percentile", "bca"]


@dataclass
class SelectionOptions:
    """Options of a selection run (the ``aira-eval select`` flags)."""

    strategies: list[str] = field(default_factory=list)  # empty: every applicable one
    k: int = 3
    z: float = 1.0
    reference: str = "best-val"
    n_resamples: int = 10_000
    seed: int = 0
    task_bootstrap: bool = False
    ci: CiMethod = "hall"
    level: float = 0.95
    metric: str = "auto"  # the headline metric for deltas and P(improve)
    by: list[str] = field(default_factory=list)  # group columns; empty: by agent if they differ
    pool: bool = False  # one group, even when agents differ
    baseline_group: str | None = None  # compare every group with this one (default: all pairs)

    def check(self) -> None:
        """Types first (:func:`~aira_eval.errors.check_field_types`), then values; messages
        name the Python keyword and the ``aira-eval select`` flag."""
        if isinstance(self.by, str):
            self.by = [self.by]
        if isinstance(self.strategies, str):
            self.strategies = [self.strategies]
        for name, value in vars(self).items():  # numpy scalars (np.int64(3)) as Python's
            if isinstance(value, np.generic):
                setattr(self, name, value.item())
        check_field_types(self, SELECT_LABELS, hint=lambda key: (
            "A select() keyword / SelectionConfig field of that type, e.g. resamples=2000, "
            'k=3, level=0.95, by="policy", strategies=["best-val", "topk"].'))
        self.strategies, self.by = list(self.strategies), list(self.by)
        if self.n_resamples < 1:
            raise UsageError(f"{SELECT_LABELS['n_resamples']} must be at least 1, got "
                             f"{self.n_resamples}",
                             hint="Use 10000 (the default) for a paper, 1000 for a quick look.")
        if self.k < 1:
            raise UsageError(f"k (--k) must be at least 1, got {self.k}",
                             hint="k is how many nodes topk submits per search (default 3).")
        if self.ci not in CI_METHODS:
            raise UsageError(f"ci (--ci) must be one of {', '.join(CI_METHODS)}, got "
                             f"{self.ci!r}",
                             hint="hall (the default) keeps its level from 5 seeds per task "
                                  "for means and differences of picks; see "
                                  "docs/statistics.md.")
        if not 0.0 < self.level < 1.0:
            raise UsageError(f"the confidence level (level) must be in (0, 1), got "
                             f"{self.level}", hint="For a 95% interval pass 0.95.")
        if self.metric != "auto" and self.metric not in [*METRICS, WIN_RATE]:
            raise UsageError(f"unknown metric (--metric) {self.metric!r}",
                             hint=f"Known metrics: {', '.join([*METRICS, WIN_RATE])}.")


#: How messages name the options: the Python keyword and the ``aira-eval select`` flag.
SELECT_LABELS = {"n_resamples": "resamples (--resamples)", "k": "k (--k)", "z": "z (--z)",
                 "ci": "ci (--ci)", "seed": "seed (--seed)", "by": "by (--by)",
                 "strategies": "strategies (--strategy)", "reference": "reference (--reference)",
                 "metric": "metric (--metric)", "pool": "pool (--pool)",
                 "task_bootstrap": "task_bootstrap (--task-bootstrap)",
                 "baseline_group": "baseline_group (--baseline-group)"}


#: The public name of the options.
SelectionConfig = SelectionOptions


def resolve_strategies(options: SelectionOptions, frame: pd.DataFrame
                       ) -> tuple[list[Strategy], dict[str, str]]:
    """The strategies to run (reference included) and those skipped as not applicable."""
    names = options.strategies or list(STRATEGIES)
    chosen = [get_strategy(n) for n in dict.fromkeys(names)]
    reference = get_strategy(options.reference)
    if reference.name not in [s.name for s in chosen]:
        chosen.insert(0, reference)
    skipped: dict[str, str] = {}
    runnable = []
    for strategy in chosen:
        reason = not_applicable_reason(strategy, frame)
        if reason is None:
            runnable.append(strategy)
        elif options.strategies or strategy.name == reference.name:
            raise UsageError(f"strategy {strategy.name} is not applicable: {reason}",
                             hint="Drop it, or run a study with that held-out set.")
        else:
            skipped[strategy.name] = reason
    return runnable, skipped


def task_direction(tasks: dict[str, TaskInfo]) -> float:
    """+1/-1 when every task shares a direction, 0 when they differ."""
    lowers = {info.lower_is_better for info in tasks.values()}
    return 0.0 if len(lowers) != 1 else (-1.0 if lowers.pop() else 1.0)


def metric_directions(tasks: dict[str, TaskInfo], metrics: Sequence[str]) -> np.ndarray:
    """``(M,)`` +1 higher-better, -1 lower-better, 0 undefined (raw scores of mixed tasks)."""
    shared = task_direction(tasks)
    out = []
    for name in metrics:
        spec = METRICS.get(name)
        hib = True if spec is None else spec.higher_is_better
        out.append(shared if hib is None else (1.0 if hib else -1.0))
    return np.array(out)


def headline_metric(options: SelectionOptions, table: pd.DataFrame,
                    tasks: dict[str, TaskInfo]) -> str:
    """``--metric``, else the normalized score when every task has one, else the test score
    when all tasks share a direction, else the win rate."""
    if options.metric != "auto":
        return options.metric
    if all(i.sample_score is not None for i in tasks.values()) and \
            np.isfinite(table["normalized_score"].to_numpy(dtype=float)).any():
        return "normalized_score"
    return "test_score" if task_direction(tasks) != 0 else WIN_RATE


def _oriented(scores: pd.Series, task: pd.Series, tasks: dict[str, TaskInfo]) -> np.ndarray:
    """Test scores on the higher-is-better scale; a failure (NaN) is −∞."""
    lower = {t: i.lower_is_better for t, i in tasks.items()}
    sign = np.where(task.map(lower).to_numpy(dtype=bool), -1.0, 1.0)
    return np.nan_to_num(scores.to_numpy(dtype=float) * sign, nan=-np.inf)


def _expected_win(searches: pd.Series, ref: np.ndarray, nodes: pd.DataFrame,
                  tasks: dict[str, TaskInfo]) -> np.ndarray:
    """Per search (``searches``, with the reference's oriented score ``ref``): the mean over
    the search's valid nodes of each node's win indicator against the reference — what a
    ``mean`` strategy (``random``: every valid node) wins in expectation; a search without a
    valid node is a failure (ties a failed reference)."""
    valid = nodes[nodes["valid"].to_numpy(dtype=bool) & nodes["score_test"].notna().to_numpy()]
    o = _oriented(valid["score_test"], valid["task"], tasks)
    r = valid["search_id"].map(pd.Series(ref, index=searches.to_numpy())).to_numpy(dtype=float)
    win = pd.Series((o > r) + 0.5 * (o == r), index=valid.index)
    mean = win.groupby(valid["search_id"].to_numpy()).mean()
    out = searches.map(mean).to_numpy(dtype=float)
    return np.where(np.isnan(out), np.where(np.isneginf(ref), 0.5, 0.0), out)


def add_win_rate(table: pd.DataFrame, reference: str, tasks: dict[str, TaskInfo],
                 nodes: pd.DataFrame | None = None, expected: Sequence[str] = ()
                 ) -> pd.DataFrame:
    """Add :data:`WIN_RATE` (module docstring).

    ``table`` is :func:`evaluate_strategies`' output: one block per strategy, every block
    listing the same searches in the same order. The strategies in ``expected`` (``mean``
    strategies: ``random``) get the mean over each search's valid ``nodes`` of the per-node
    win, as every other metric of theirs, not the win of their mean score.
    """
    o = _oriented(table["test_score"], table["task"], tasks)
    order = list(pd.unique(table["strategy"]))
    blocks = o.reshape(len(order), -1)
    ref = blocks[order.index(reference)]
    win = (blocks > ref).astype(float) + 0.5 * (blocks == ref)
    searches = table["search_id"].iloc[:blocks.shape[1]].reset_index(drop=True)
    for name in expected:
        if nodes is not None and name in order and name != reference:
            win[order.index(name)] = _expected_win(searches, ref, nodes, tasks)
    out = table.copy()
    out[WIN_RATE] = win.reshape(-1)
    return out


def shared_metric(tasks: dict[str, TaskInfo]) -> bool:
    """True when every task has the same metric and direction: only then is a mean of raw
    scores over tasks meaningful."""
    return len({(info.metric, info.lower_is_better) for info in tasks.values()}) <= 1


def rate_metric(tasks: dict[str, TaskInfo]) -> str:
    """The generalization view's rate: medal rate when every task has medal thresholds, else
    the normalized score."""
    return "any_medal" if tasks and all(i.thresholds for i in tasks.values()) \
        else "normalized_score"


def _group_stats(values: np.ndarray, searches: pd.DataFrame, grouping: Grouping,
                 options: SelectionOptions, reference: int, directions: np.ndarray,
                 ranges: np.ndarray) -> list[GroupStats]:
    """Per group: resamples within its tasks and the paired bootstrap ``(U_g, S, M)``;
    intervals within each metric's range ``ranges`` ``(M, 2)``."""
    rng = np.random.default_rng(options.seed)  # one group: the pooled run's draws
    codes = grouping.codes(searches["search_id"])
    stats = []
    for g, (label, key) in enumerate(zip(grouping.labels, grouping.keys(), strict=True)):
        units = np.flatnonzero(codes == g)
        task_codes, task_names = pd.factorize(searches["task"].iloc[units])
        res = draw_resamples(task_codes, options.n_resamples, rng,
                             task_level=options.task_bootstrap)
        boot = paired_bootstrap(values[units], res, reference, directions, options.level,
                                _methods(options.ci), ranges)
        stats.append(GroupStats(label, key, units, [str(t) for t in task_names], res, boot))
    return stats


def check_metric(options: SelectionOptions, tasks: dict[str, TaskInfo]) -> None:
    """A usage error for a ``--metric`` in raw units when the tasks' metrics differ: it has
    no mean over tasks (:func:`~aira_eval.selection.result.mask_raw_units`), so its Δ
    column would be empty."""
    if options.metric not in RAW_UNITS or shared_metric(tasks):
        return
    named = ", ".join(sorted({i.metric for i in tasks.values()}))
    raise UsageError(
        f"metric (--metric) {options.metric} is in the tasks' raw units, and the tasks use "
        f"different metrics or directions ({named}): it has no mean over tasks, so its Δ "
        "would be empty",
        hint="Use --metric normalized_score, win_rate, percentile or any_medal (pooled across "
             "tasks), or select the searches of one task; --json has each task's own values.")


def run_selection(study: Study, options: SelectionOptions) -> SelectionResult:
    """Evaluate strategies on ``study``, per group, and compare groups (module docstring)."""
    from aira_eval.selection.outputs import summary_dict

    options.check()
    check_metric(options, study.tasks)
    params = StrategyParams(k=options.k, z=options.z)
    strategies, skipped = resolve_strategies(options, study.frame)
    grouping = resolve_grouping(study, options.by, options.pool)
    if options.baseline_group is not None and options.baseline_group not in grouping.labels:
        close = difflib.get_close_matches(options.baseline_group, grouping.labels, n=3)
        raise UsageError(f"no group {options.baseline_group!r}",
                         hint=(f"Did you mean {', '.join(close)}? " if close else "")
                         + f"Groups: {', '.join(grouping.labels)}.")
    frame = study.frame.assign(code_sha=study_code_hashes(study))
    table = evaluate_strategies(frame, study.tasks, strategies, params)
    expected = [s.name for s in strategies if s.combine == "mean"]
    table = grouping.annotate(add_win_rate(table, options.reference, study.tasks, frame,
                                           expected))
    metrics, names = [*METRICS, WIN_RATE], [s.name for s in strategies]
    n_units = len(table) // len(names)
    values = table[metrics].to_numpy(dtype=float).reshape(len(names), n_units, len(metrics))
    values = values.transpose(1, 0, 2)  # (U, S, M)
    searches = table.iloc[:n_units]
    directions = metric_directions(study.tasks, metrics)
    ref = names.index(options.reference)
    stats = _group_stats(values, searches, grouping, options, ref, directions,
                         metric_ranges(metrics))
    counts = [int(g.units.size) for g in stats]
    compare_opts = CompareOptions(options.n_resamples, options.task_bootstrap, options.level,
                                  options.ci)
    compare = compare_groups(values, searches["task"].to_numpy(dtype=object),
                             grouping.codes(searches["search_id"]), grouping.labels, names,
                             metrics, directions, compare_opts,
                             np.random.default_rng([options.seed, 1]), options.baseline_group,
                             [g.boot.draws for g in stats])
    if not shared_metric(study.tasks):  # raw units of different metrics have no mean
        compare = mask_raw_units(stats, compare, metrics)
    tidy = tidy_table(stats, grouping.columns, names, metrics, options.ci, counts)
    all_tasks = [str(t) for t in pd.unique(searches["task"])]
    missing = {g.label: [t for t in all_tasks if t not in g.tasks] for g in stats
               if "task" not in grouping.columns}  # grouped by task: lacking others is the point
    result = SelectionResult(
        picks=table, table=tidy, compare=compare,
        generalization=generalization_table(tidy, grouping.columns, rate_metric(study.tasks)),
        summary={}, skipped=skipped, by=grouping.columns, groups=grouping.labels,
        note=grouping.note, missing_tasks={k: v for k, v in missing.items() if v},
        strategies=names, metrics=metrics, _values=values, _stats=stats)
    headline = headline_metric(options, table, study.tasks)
    result.summary = summary_dict(study, options, strategies, result, directions, headline)
    add_study_stats(result, options, study, directions)
    return result


def _methods(ci: str) -> tuple[str, ...]:
    """The interval methods a run computes: the default five and the chosen one."""
    return tuple(m for m in CI_METHODS if m in (*DEFAULT_METHODS, ci))
