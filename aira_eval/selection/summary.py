"""Study-level comparison of strategies: run, aggregate, write results.

:func:`run_selection` evaluates every strategy on every search
(:func:`~aira_eval.selection.evaluate.evaluate_strategies`), adds the paired per-search
``win_rate`` against the reference, and bootstraps the mean over tasks of the mean over seeds of
every metric (:mod:`aira_eval.selection.bootstrap`), with paired differences to the reference and
the probability of improvement. :func:`write_results` writes ``picks.parquet`` and
``summary.json``.

``win_rate`` (rliable's probability of improvement, paired by search): per search, 1 when the
strategy's pick has a better test score than the reference's, ½ on a tie, 0 otherwise (a failed
submission loses to any submission; two failures tie); its study mean is the chance that the
strategy beats the reference on a random search of a random task.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from aira_eval import __version__
from aira_eval.errors import UsageError
from aira_eval.selection.bootstrap import PairedBootstrap, draw_resamples, paired_bootstrap
from aira_eval.selection.evaluate import METRICS, evaluate_strategies
from aira_eval.selection.strategies import (
    STRATEGIES,
    Strategy,
    StrategyParams,
    get_strategy,
    not_applicable_reason,
)
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo

SUMMARY_FORMAT = "aira-eval.selection"
SUMMARY_VERSION = 1
WIN_RATE = "win_rate"
CiMethod = Literal["percentile", "bca"]


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
    ci: CiMethod = "percentile"
    level: float = 0.95
    metric: str = "auto"  # the headline metric for deltas and P(improve)

    def check(self) -> None:
        if self.n_resamples < 1:
            raise UsageError(f"--resamples must be at least 1, got {self.n_resamples}")
        if self.ci not in ("percentile", "bca"):
            raise UsageError(f"--ci must be percentile or bca, got {self.ci!r}")
        if not 0.0 < self.level < 1.0:
            raise UsageError(f"the confidence level must be in (0, 1), got {self.level}")
        if self.metric != "auto" and self.metric not in [*METRICS, WIN_RATE]:
            raise UsageError(f"unknown metric {self.metric!r}",
                             hint=f"Known metrics: {', '.join([*METRICS, WIN_RATE])}.")


@dataclass
class SelectionResult:
    """Per-search picks and the JSON-ready summary of one selection run."""

    picks: pd.DataFrame
    summary: dict[str, Any]
    skipped: dict[str, str]


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


def add_win_rate(table: pd.DataFrame, reference: str, tasks: dict[str, TaskInfo]
                 ) -> pd.DataFrame:
    """Add :data:`WIN_RATE` (module docstring).

    ``table`` is :func:`evaluate_strategies`' output: one block per strategy, every block
    listing the same searches in the same order.
    """
    lower = {t: i.lower_is_better for t, i in tasks.items()}
    sign = np.where(table["task"].map(lower).to_numpy(dtype=bool), -1.0, 1.0)
    o = np.nan_to_num(table["test_score"].to_numpy(dtype=float) * sign, nan=-np.inf)
    order = list(pd.unique(table["strategy"]))
    blocks = o.reshape(len(order), -1)
    ref = blocks[order.index(reference)]
    win = (blocks > ref).astype(float) + 0.5 * (blocks == ref)
    out = table.copy()
    out[WIN_RATE] = win.reshape(-1)
    return out


def run_selection(study: Study, options: SelectionOptions) -> SelectionResult:
    """Evaluate strategies on ``study`` and bootstrap their study-level comparison."""
    options.check()
    params = StrategyParams(k=options.k, z=options.z)
    strategies, skipped = resolve_strategies(options, study.frame)
    table = evaluate_strategies(study.frame, study.tasks, strategies, params)
    table = add_win_rate(table, options.reference, study.tasks)
    metrics = [*METRICS, WIN_RATE]
    names = [s.name for s in strategies]
    n_units = len(table) // len(names)
    values = table[metrics].to_numpy(dtype=float).reshape(len(names), n_units, len(metrics))
    values = values.transpose(1, 0, 2)  # (U, S, M)
    task_codes, task_names = pd.factorize(table["task"].iloc[:n_units])
    resamples = draw_resamples(task_codes, options.n_resamples, options.seed,
                               task_level=options.task_bootstrap)
    directions = metric_directions(study.tasks, metrics)
    boot = paired_bootstrap(values, resamples, names.index(options.reference), directions,
                            options.level)
    headline = headline_metric(options, table, study.tasks)
    summary = _summary(study, options, strategies, table, metrics, boot, directions, headline,
                       skipped, [str(t) for t in task_names])
    return SelectionResult(picks=table, summary=summary, skipped=skipped)


def _interval(arr: np.ndarray) -> list[float | None]:
    return [_num(arr[0]), _num(arr[1])]


def _num(x: Any) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


def _metric_block(boot: PairedBootstrap, s: int, m: int, ci: CiMethod) -> dict[str, Any]:
    chosen, d_chosen = (boot.percentile, boot.delta_percentile) if ci == "percentile" else \
        (boot.bca, boot.delta_bca)
    return {
        "estimate": _num(boot.estimate[s, m]), "se": _num(boot.se[s, m]),
        "ci_low": _num(chosen[s, m, 0]), "ci_high": _num(chosen[s, m, 1]),
        "percentile_ci": _interval(boot.percentile[s, m]), "bca_ci": _interval(boot.bca[s, m]),
        "delta": {
            "estimate": _num(boot.delta[s, m]), "se": _num(boot.delta_se[s, m]),
            "ci_low": _num(d_chosen[s, m, 0]), "ci_high": _num(d_chosen[s, m, 1]),
            "percentile_ci": _interval(boot.delta_percentile[s, m]),
            "bca_ci": _interval(boot.delta_bca[s, m]),
        },
        "p_improve": _num(boot.p_improve[s, m]),
    }


def _summary(study: Study, options: SelectionOptions, strategies: list[Strategy],
             table: pd.DataFrame, metrics: list[str], boot: PairedBootstrap,
             directions: np.ndarray, headline: str, skipped: dict[str, str],
             task_names: list[str]) -> dict[str, Any]:
    frame = study.frame
    per_task: dict[str, dict[str, dict[str, float | None]]] = {t: {} for t in task_names}
    means = table.groupby(["task", "strategy"], sort=False)[metrics].mean()
    for key, row in means.to_dict(orient="index").items():
        task, name = (str(part) for part in key)  # type: ignore[attr-defined]
        per_task[task][name] = {str(m): _num(v) for m, v in row.items()}
    strategies_out: dict[str, Any] = {}
    for s, strategy in enumerate(strategies):
        rows = table[table["strategy"] == strategy.name]
        strategies_out[strategy.name] = {
            "description": strategy.description, "uses_test": strategy.uses_test,
            "combine": strategy.combine, "searches": len(rows),
            "failures": int((rows["valid_submission"] == 0).sum()),
            "metrics": {m: _metric_block(boot, s, j, options.ci) for j, m in enumerate(metrics)},
        }
    return {
        "format": SUMMARY_FORMAT, "format_version": SUMMARY_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "aira_eval_version": __version__,
        "sources": [str(s.path) for s in study.sources], "study_ids": study.study_ids,
        "options": {**asdict(options), "strategies": [s.name for s in strategies]},
        "statistic": "mean over tasks of the mean over searches (seeds)",
        "counts": {
            "tasks": len(task_names), "searches": int(len(table) // len(strategies)),
            "nodes": len(frame), "valid_nodes": int(frame["valid"].sum()),
            "oracle_run_searches": int(frame.loc[frame["oracle_run"], "search_id"].nunique()),
        },
        "headline_metric": headline, "reference": options.reference, "ci_method": options.ci,
        "metrics": {m: {"higher_is_better": None if d == 0 else bool(d > 0),
                        "description": METRICS[m].description if m in METRICS else
                        f"P(pick beats {options.reference}'s on the same search), ties half"}
                    for m, d in zip(metrics, directions, strict=True)},
        "strategies": strategies_out,
        "not_applicable": skipped,
        "per_task": per_task,
    }


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_results(result: SelectionResult, out_dir: Path) -> dict[str, Path]:
    """Write ``picks.parquet`` and ``summary.json`` into ``out_dir`` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    picks_path, summary_path = out_dir / "picks.parquet", out_dir / "summary.json"
    picks = result.picks.copy()
    picks.attrs = {}
    _atomic_write(picks_path, lambda p: picks.to_parquet(p, index=False))
    text = json.dumps(result.summary, indent=2, sort_keys=False, allow_nan=False)
    _atomic_write(summary_path, lambda p: p.write_text(text + "\n"))
    return {"picks": picks_path, "summary": summary_path}
