"""Judge every strategy's picks on the test set, one row per (strategy, search).

Per search and strategy (:data:`METRICS`): the picked test score, the search's oracle test
score, regret (oracle − picked on the higher-is-better scale, so ≥ 0), the pick's own estimates
(its validation score and its empirical-Bayes shrunk estimate) and their optimism (estimate −
test, oriented so positive means the estimate was too good), medal flags (inclusive medal tests,
strict above-median test, exclusive medals) where the task has thresholds, the percentile of
leaderboard teams the pick beats (ties count half) where it has a leaderboard, and the normalized
score ``(score − sample) / (reference − sample)`` where the task has a sample-submission
score, with the task's fixed ``reference_score`` (:class:`~aira_eval.study.manifest.TaskInfo`:
the leaderboard's best, else the best valid test score in the whole loaded study), so that
evaluating a subset of the searches never changes a node's normalized score.

Optimism decomposed: ``optimism`` (validation − test of the pick, oriented) mixes what
selection adds with what every node shares (e.g. a final refit on all of train scoring better
than its CV folds); ``selection_optimism`` is the pick's optimism minus the search's mean
optimism over its valid nodes (the expected optimism of a random valid node), the part due
to picking by validation (0 for ``random`` by construction).

How picks count (:attr:`Strategy.combine`): ``best`` reports the pick with the best test score
(``topk``); ``mean`` averages every metric over the picks (``random``: exact expectations, so
its medal flags are medal probabilities).

Failed submissions (a search where the strategy has nothing to pick, e.g. no valid node), as in
MLE-bench: ``valid_submission`` 0, no medal (flags 0), percentile 0, normalized score 0; the raw
test score, regret and the estimates are NaN and drop out of their means (so ``test_score`` is
the mean over successful submissions; ``valid_submission`` tells how many there were).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aira_eval.selection.strategies import (
    Strategy,
    StrategyParams,
    node_estimates,
    prepare_nodes,
    run_strategies,
)
from aira_eval.selection.views import selection_view
from aira_eval.study.manifest import TaskInfo


@dataclass(frozen=True)
class MetricSpec:
    """A per-search metric: its direction (None: the task's own) and what a failure gets."""

    name: str
    higher_is_better: bool | None
    description: str
    on_failure: float = float("nan")
    bounds: tuple[float, float] | None = None  # the values it can take (None: unbounded)


MEDALS = ("gold", "silver", "bronze", "any_medal", "above_median")
NORMALIZED = ("(score − sample) / (reference − sample), the reference fixed per task: "
              "study.json's reference_score, else the leaderboard's best, else the best test "
              "score in the loaded studies")
RATE = (0.0, 1.0)
#: P(pick beats the reference's pick on the same search), ties half (added by selection)
WIN_RATE = "win_rate"
#: Metrics in the tasks' raw units: a mean of them over tasks on different metrics (or
#: directions) means nothing, so it is not reported (per-task values are).
RAW_UNITS = frozenset({"test_score", "regret", "oracle_score", "val_score", "shrunk_estimate",
                       "optimism", "optimism_shrunk", "selection_optimism"})
METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("test_score", None, "picked test score (successful submissions)"),
        MetricSpec("valid_submission", True, "share of searches with a submission", 0.0, RATE),
        MetricSpec("regret", False, "oracle test score − picked, oriented (≥ 0)",
                   bounds=(0.0, np.inf)),
        MetricSpec("normalized_score", True, NORMALIZED, 0.0),
        MetricSpec("any_medal", True, "medal rate", 0.0, RATE),
        MetricSpec("gold", True, "gold medal rate", 0.0, RATE),
        MetricSpec("silver", True, "silver medal rate", 0.0, RATE),
        MetricSpec("bronze", True, "bronze medal rate", 0.0, RATE),
        MetricSpec("above_median", True, "share strictly above the leaderboard median", 0.0,
                   RATE),
        MetricSpec("percentile", True, "% of leaderboard teams beaten (ties half)", 0.0,
                   (0.0, 100.0)),
        MetricSpec("oracle_score", None, "best test score in the search"),
        MetricSpec("val_score", None, "the pick's own validation score"),
        MetricSpec("shrunk_estimate", None, "the pick's empirical-Bayes estimate"),
        MetricSpec("optimism", False, "validation − test, oriented (> 0: over-estimated)"),
        MetricSpec("optimism_shrunk", False, "shrunk estimate − test, oriented"),
        MetricSpec("selection_optimism", False,
                   "optimism − a random valid node's (the search's mean optimism)"),
    )
}
SEARCH_COLUMNS = ("study_id", "search_id", "task", "policy", "seed", "oracle_run")


def metric_ranges(metrics: Sequence[str], extra: Mapping[str, tuple[float, float]] | None = None
                  ) -> np.ndarray:
    """``(M, 2)``: the values each metric can take (``±inf`` where unbounded), for
    :data:`METRICS`, :data:`WIN_RATE` and ``extra``."""
    known = {**{n: m.bounds for n, m in METRICS.items()}, WIN_RATE: RATE, **(extra or {})}
    return np.array([known.get(m) or (-np.inf, np.inf) for m in metrics], dtype=float)


def _task_array(frame: pd.DataFrame, values: Mapping[str, float | None]) -> np.ndarray:
    """Per-row value of a per-task mapping; NaN for tasks without one; shape (rows,).

    Uses the ``_task`` codes and ``attrs["task_names"]`` that :func:`node_metrics` sets.
    """
    names = frame.attrs["task_names"]
    table = np.array([np.nan if values.get(t) is None else float(values[t])  # type: ignore[arg-type]
                      for t in names])
    return table[frame["_task"].to_numpy()]


def _medals(nodes: pd.DataFrame, tasks: Mapping[str, TaskInfo], o: np.ndarray,
            sign: np.ndarray) -> dict[str, np.ndarray]:
    """Exclusive medal flags and the strict above-median flag; NaN without thresholds."""
    flags: dict[str, np.ndarray] = {}
    for level in ("gold", "silver", "bronze", "median"):
        th = {t: i.thresholds[level] for t, i in tasks.items()
              if i.thresholds.get(level) is not None}
        bound = _task_array(nodes, th) * sign
        with np.errstate(invalid="ignore"):
            hit = (o > bound) if level == "median" else (o >= bound)
        flags[level] = np.where(np.isnan(bound) | np.isnan(o), np.nan, hit.astype(float))
    gold, silver, bronze = (np.nan_to_num(flags[k]) for k in ("gold", "silver", "bronze"))
    has_medals = ~np.isnan(flags["gold"])
    return {
        "gold": flags["gold"],
        "silver": np.where(has_medals, silver * (1.0 - gold), np.nan),
        "bronze": np.where(has_medals, bronze * (1.0 - np.fmax(gold, silver)), np.nan),
        "any_medal": np.where(has_medals, np.fmax(np.fmax(gold, silver), bronze), np.nan),
        "above_median": flags["median"],
    }


def _percentile(nodes: pd.DataFrame, tasks: Mapping[str, TaskInfo], o: np.ndarray) -> np.ndarray:
    """% of leaderboard teams each node beats (ties half); NaN without a leaderboard."""
    out = np.full(len(nodes), np.nan)
    task_col = nodes["_task"].to_numpy()
    for code, task in enumerate(nodes.attrs["task_names"]):
        info = tasks.get(task)
        if info is None or not info.leaderboard_scores:
            continue
        rows = (task_col == code) & np.isfinite(o)
        board = np.sort(np.asarray(info.leaderboard_scores, float)
                        * (-1.0 if info.lower_is_better else 1.0))
        worse = np.searchsorted(board, o[rows], side="left")
        ties = np.searchsorted(board, o[rows], side="right") - worse
        out[rows] = 100.0 * (worse + 0.5 * ties) / board.size
    return out


def node_metrics(prepared: pd.DataFrame, tasks: Mapping[str, TaskInfo],
                 params: StrategyParams | None = None) -> pd.DataFrame:
    """Metrics of every node as if it were the submission, aligned with ``prepared``'s rows.

    Args:
        prepared: node frame from :func:`~aira_eval.selection.strategies.prepare_nodes`.
        tasks: task id -> info.
        params: ``z`` for the estimates.

    Returns:
        Frame of ``len(prepared)`` rows: ``o_test`` (oriented test score) and every metric of
        :data:`METRICS` except ``valid_submission``; NaN for nodes that are not valid or have
        no test score (they cannot count as a submission).
    """
    params = params or StrategyParams()
    task_codes, task_names = pd.factorize(prepared["task"])
    prepared = prepared.assign(_task=task_codes)
    prepared.attrs["task_names"] = [str(t) for t in task_names]
    est = node_estimates(selection_view(prepared), params.z)
    keep = prepared["valid"].to_numpy(dtype=bool)
    sign = np.where(prepared["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    test = np.where(keep, prepared["score_test"].to_numpy(dtype=float), np.nan)
    o = test * sign
    codes = prepared["_search"].to_numpy()
    oracle_o = pd.Series(o).groupby(codes).transform("max").to_numpy()
    sample = _task_array(prepared, {t: i.sample_score for t, i in tasks.items()
                                    if i.sample_score is not None})
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = _reference(prepared, tasks, o, task_codes) - sample
        normalized = np.where(denom != 0, (test - sample) / denom, np.nan)
    scored = np.isfinite(o)
    columns = {
        "o_test": o, "test_score": test, "oracle_score": np.where(scored, oracle_o * sign, np.nan),
        "regret": oracle_o - o, "normalized_score": normalized,
        **_medals(prepared, tasks, o, sign), "percentile": _percentile(prepared, tasks, o),
        "val_score": np.where(scored, prepared["score_val"].to_numpy(dtype=float), np.nan),
        "shrunk_estimate": np.where(scored, est["shrunk"].to_numpy(), np.nan),
    }
    columns["optimism"] = (columns["val_score"] - test) * sign
    columns["optimism_shrunk"] = (columns["shrunk_estimate"] - test) * sign
    random_pick = pd.Series(columns["optimism"]).groupby(codes).transform("mean").to_numpy()
    columns["selection_optimism"] = columns["optimism"] - random_pick
    return pd.DataFrame(columns)


def _reference(prepared: pd.DataFrame, tasks: Mapping[str, TaskInfo], o: np.ndarray,
               task_codes: np.ndarray) -> np.ndarray:
    """Per row (nodes,): the task's fixed ``reference_score``; where a task has none (infos
    not passed through :func:`~aira_eval.study.manifest.fix_reference_scores`), the best test
    score of a valid node of the task in ``prepared``."""
    fixed = _task_array(prepared, {t: i.reference_score for t, i in tasks.items()
                                   if i.reference_score is not None})
    sign = np.where(prepared["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    best = pd.Series(o).groupby(task_codes).transform("max").to_numpy() * sign
    return np.where(np.isfinite(fixed), fixed, best)


def _best_rows(rows: np.ndarray, codes: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Per search, the pick with the best oriented test score (ties: earlier pick)."""
    ok = np.isfinite(o[rows])
    rows = rows[ok]
    order = np.lexsort((np.arange(rows.size), -o[rows], codes[rows]))
    sorted_codes = codes[rows[order]]
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    return rows[order[first]]


def _combine(picks: pd.DataFrame, metrics: pd.DataFrame, values: np.ndarray,
             codes: np.ndarray, n_searches: int, how: str) -> pd.DataFrame:
    """Per-search metrics of one strategy's picks; rows = search codes ``0..n_searches-1``.

    Returns:
        Frame with ``n_picked``, ``_best_row`` (-1 for ``mean`` and failures) and the metrics
        (NaN for searches without a scored pick); ``values`` is ``metrics``' metric columns
        as an array ``(nodes, metrics)``.
    """
    names = [m for m in METRICS if m in metrics.columns]
    o = metrics["o_test"].to_numpy()
    rows = picks["_row"].to_numpy(dtype=np.int64)
    rows = rows[np.isfinite(o[rows])]
    n_picked = np.bincount(codes[rows], minlength=n_searches)
    out = pd.DataFrame(index=pd.RangeIndex(n_searches))
    out["n_picked"] = n_picked
    best = np.full(n_searches, -1, dtype=np.int64)
    if how == "best":
        chosen = _best_rows(rows, codes, o)
        best[codes[chosen]] = chosen
        block = np.full((n_searches, len(names)), np.nan)
        block[codes[chosen]] = values[chosen]
    else:
        values = values[rows]
        ok = np.isfinite(values)
        block = np.full((n_searches, len(names)), np.nan)
        for j in range(len(names)):
            total = np.bincount(codes[rows], weights=np.where(ok[:, j], values[:, j], 0.0),
                                minlength=n_searches)
            count = np.bincount(codes[rows], weights=ok[:, j].astype(float),
                                minlength=n_searches)
            with np.errstate(invalid="ignore", divide="ignore"):
                block[:, j] = total / count
    out["_best_row"] = best
    out[names] = block
    return out


def _searches(prepared: pd.DataFrame) -> pd.DataFrame:
    """One row per search code (0..S-1): :data:`SEARCH_COLUMNS`."""
    codes = prepared["_search"].to_numpy()
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    cols = [c for c in SEARCH_COLUMNS if c in prepared.columns]
    searches = prepared[cols].take(first).reset_index(drop=True)
    oracle = np.bincount(codes, weights=prepared["oracle_run"].to_numpy(dtype=float))
    searches["oracle_run"] = oracle[codes[first]] > 0
    searches.index = pd.Index(codes[first])
    return searches.sort_index()


def _fill_failures(table: pd.DataFrame, tasks: Mapping[str, TaskInfo]) -> pd.DataFrame:
    """Failed submissions get MLE-bench's treatment where the metric applies to the task."""
    failed = table["valid_submission"].to_numpy() == 0.0
    applies = {
        "normalized_score": {t for t, i in tasks.items() if i.sample_score is not None},
        "percentile": {t for t, i in tasks.items() if i.leaderboard_scores},
        **{m: {t for t, i in tasks.items() if i.thresholds} for m in MEDALS},
    }
    for metric, task_set in applies.items():
        mask = failed & table["task"].isin(task_set).to_numpy()
        table.loc[mask, metric] = METRICS[metric].on_failure
    return table


def _skipped(picks: pd.DataFrame, codes: np.ndarray, n_searches: int) -> np.ndarray:
    """Per search code ``(n_searches,)``: duplicates the strategy passed over (``topk``)."""
    out = np.zeros(n_searches, dtype=np.int64)
    if "duplicates_skipped" in picks.columns and len(picks):
        np.maximum.at(out, codes[picks["_row"].to_numpy()],
                      picks["duplicates_skipped"].to_numpy(dtype=np.int64))
    return out


def _picked_lists(picks: pd.DataFrame, codes: np.ndarray, n_searches: int) -> list[list[str]]:
    lists: list[list[str]] = [[] for _ in range(n_searches)]
    for code, node in zip(codes[picks["_row"].to_numpy()], picks["node_id"], strict=True):
        lists[code].append(str(node))
    return lists


def evaluate_strategies(
    frame: pd.DataFrame,
    tasks: Mapping[str, TaskInfo],
    strategies: Sequence[Strategy],
    params: StrategyParams | None = None,
) -> pd.DataFrame:
    """Run ``strategies`` on every search of ``frame`` and judge their picks.

    Args:
        frame: node frame of one or more searches (with test scores).
        tasks: task id -> info (thresholds, leaderboard, sample score).
        strategies: registered strategies to run.
        params: ``k``, ``z``.

    Returns:
        One row per (strategy, search): ``strategy``, :data:`SEARCH_COLUMNS`, ``n_picked``,
        ``duplicates_skipped`` (identical solutions ``topk`` passed over),
        ``node_id`` (the counted pick, ``str`` dtype; missing — NaN — for ``mean``
        strategies and failures),
        ``picked_nodes`` (list; empty for ``mean`` strategies) and every metric of
        :data:`METRICS`.
    """
    params = params or StrategyParams()
    prepared = prepare_nodes(frame)
    searches = _searches(prepared)
    codes = prepared["_search"].to_numpy()
    metrics = node_metrics(prepared, tasks, params)
    picks = run_strategies(list(strategies), prepared, params)
    values = metrics[[m for m in METRICS if m in metrics.columns]].to_numpy()
    parts = []
    for strategy in strategies:
        per = _combine(picks[strategy.name], metrics, values, codes, len(searches),
                       strategy.combine)
        best = per.pop("_best_row").to_numpy()
        ids = prepared["node_id"].iloc[np.maximum(best, 0)].to_numpy(dtype=object)
        per.insert(0, "node_id", pd.Series(np.where(best >= 0, ids, None), index=per.index,
                                           dtype="str"))  # text: missing as NaN, as on disk
        per.insert(1, "picked_nodes", _picked_lists(picks[strategy.name], codes, len(searches))
                   if strategy.combine == "best" else [[] for _ in range(len(searches))])
        per.insert(1, "duplicates_skipped", _skipped(picks[strategy.name], codes, len(searches)))
        per["valid_submission"] = (per["n_picked"] > 0).astype(float)
        per.insert(0, "strategy", strategy.name)
        parts.append(pd.concat([searches.reset_index(drop=True), per], axis=1))
    table = _fill_failures(pd.concat(parts, ignore_index=True), tasks)
    order = ["strategy", *SEARCH_COLUMNS, "n_picked", "duplicates_skipped", "node_id",
             "picked_nodes", *METRICS]
    return table[[c for c in order if c in table.columns]]
