"""A selection run at the CLI's edge: the JSON summary and the files of ``STUDY/selection/``.

Every run writes into its own folder, ``STUDY/selection/<name>/``, named by the options that
change what is compared (:func:`run_name`: ``all`` for every strategy with default grouping;
``topk``, ``topk.by-policy``, ``all.pooled``, ``all.k5`` ...), so a restricted run never
overwrites a full one. ``STUDY/selection/index.json`` lists the runs and names the ``latest``
and the ``latest_full`` (every strategy) run. Files: ``picks.parquet`` (one row per strategy
and search, group columns included), ``summary.parquet`` (one row per group, strategy and
metric), ``compare.parquet`` (between groups, when there are several), ``summary.json``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aira_eval import __version__
from aira_eval.selection.bootstrap import PairedBootstrap
from aira_eval.selection.evaluate import METRICS, RAW_UNITS
from aira_eval.selection.result import SelectionResult
from aira_eval.selection.strategies import Strategy
from aira_eval.selection.study_stats import per_task_frame
from aira_eval.selection.summary import shared_metric

if TYPE_CHECKING:
    from aira_eval.selection.summary import SelectionOptions
    from aira_eval.study import Study

SUMMARY_FORMAT = "aira-eval.selection"
SUMMARY_VERSION = 2
INDEX = "index.json"


def _num(x: Any) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


def _interval(arr: np.ndarray) -> list[float | None]:
    return [_num(arr[0]), _num(arr[1])]


def _metric_block(boot: PairedBootstrap, s: int, m: int, ci: str) -> dict[str, Any]:
    chosen, d_chosen = boot.intervals[ci], boot.delta_intervals[ci]
    return {
        "estimate": _num(boot.estimate[s, m]), "se": _num(boot.se[s, m]),
        "ci_low": _num(chosen[s, m, 0]), "ci_high": _num(chosen[s, m, 1]),
        **{f"{k}_ci": _interval(v[s, m]) for k, v in boot.intervals.items()},
        "delta": {
            "estimate": _num(boot.delta[s, m]), "se": _num(boot.delta_se[s, m]),
            "n_pairs": int(boot.n_pairs[s, m]), "n_differing": int(boot.n_differing[s, m]),
            "ci_low": _num(d_chosen[s, m, 0]), "ci_high": _num(d_chosen[s, m, 1]),
            **{f"{k}_ci": _interval(v[s, m]) for k, v in boot.delta_intervals.items()},
            "share_resamples_favouring": _num(boot.share_favouring[s, m]),
        },
    }


def _per_task(result: SelectionResult) -> dict[str, dict[str, Any]]:
    """group -> task -> strategy -> metric -> mean over the group's searches on the task."""
    out: dict[str, dict[str, Any]] = {g.label: {t: {} for t in g.tasks} for g in result._stats}
    means = result.picks.groupby(["group", "task", "strategy"], sort=False)[
        result.metrics].mean()
    for key, row in means.to_dict(orient="index").items():
        group, task, name = (str(part) for part in key)  # type: ignore[attr-defined]
        out[group][task][name] = {str(m): _num(v) for m, v in row.items()}
    return out


def _group_block(result: SelectionResult, g: int, strategies: list[Strategy], ci: str,
                 per_task: dict[str, Any], failures: dict[tuple[str, str], int]
                 ) -> dict[str, Any]:
    stats = result._stats[g]
    blocks: dict[str, Any] = {}
    for s, strategy in enumerate(strategies):
        blocks[strategy.name] = {
            "description": strategy.description, "uses_test": strategy.uses_test,
            "combine": strategy.combine, "searches": int(stats.units.size),
            "failures": failures.get((stats.label, strategy.name), 0),
            "metrics": {m: _metric_block(stats.boot, s, j, ci)
                        for j, m in enumerate(result.metrics)},
        }
    return {"key": stats.key, "counts": {"tasks": len(stats.tasks),
                                         "searches": int(stats.units.size)},
            "missing_tasks": result.missing_tasks.get(stats.label, []),
            "strategies": blocks, "per_task": per_task[stats.label]}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({str(k): (_num(v) if isinstance(v, float | np.floating) else v)
                    for k, v in row.items()})
    return out


def summary_dict(study: Study, options: SelectionOptions, strategies: list[Strategy],
                 result: SelectionResult, directions: np.ndarray, headline: str
                 ) -> dict[str, Any]:
    """The JSON-ready summary (``summary.json``, ``--json``, MLflow)."""
    frame, picks = study.frame, result.picks
    per_task = _per_task(result)
    failed = picks[picks["valid_submission"].to_numpy() == 0]
    failures = {(str(g), str(s)): int(n) for (g, s), n in
                failed.groupby(["group", "strategy"]).size().items()}
    groups = {g.label: _group_block(result, i, strategies, options.ci, per_task, failures)
              for i, g in enumerate(result._stats)}
    out: dict[str, Any] = {
        "format": SUMMARY_FORMAT, "format_version": SUMMARY_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "aira_eval_version": __version__,
        "sources": [str(s.path) for s in study.sources], "study_ids": study.study_ids,
        "options": {**asdict(options), "strategies": [s.name for s in strategies]},
        "statistic": "mean over tasks of the mean over searches (seeds), per group",
        "counts": {
            "tasks": int(picks["task"].nunique()), "searches": int(len(picks) // len(strategies)),
            "nodes": len(frame), "valid_nodes": int(frame["valid"].sum()),
            "oracle_run_searches": int(frame.loc[frame["oracle_run"], "search_id"].nunique()),
            "groups": len(groups),
        },
        "headline_metric": headline, "reference": options.reference, "ci_method": options.ci,
        "metrics": {m: {"higher_is_better": None if d == 0 else bool(d > 0),
                        "description": METRICS[m].description if m in METRICS else
                        f"P(pick beats {options.reference}'s on the same search), ties half"}
                    for m, d in zip(result.metrics, directions, strict=True)},
        "by": result.by, "grouping_note": result.note, "groups": groups,
        "comparison": _records(result.compare[result.compare["metric"] == headline]),
        "generalization": _records(result.generalization),
        "not_applicable": result.skipped,
    }
    if not shared_metric(study.tasks):
        out["not_pooled"] = _not_pooled(study, result.metrics)
    if len(groups) == 1:  # the pooled layout of format 1, kept for readers of it
        only = next(iter(groups.values()))
        out["strategies"], out["per_task"] = only["strategies"], only["per_task"]
    return out


def _not_pooled(study: Study, metrics: list[str]) -> dict[str, Any]:
    """Which metrics have no mean over tasks here, and why."""
    named = ", ".join(f"{t}: {i.metric} ({'lower' if i.lower_is_better else 'higher'} is "
                      "better)" for t, i in sorted(study.tasks.items()))
    return {"metrics": [m for m in metrics if m in RAW_UNITS],
            "reason": f"the tasks use different metrics or directions ({named}): a mean of "
                      "their raw scores over tasks means nothing, so these are null here; "
                      "per_task_intervals has each task's, in its own metric"}


def run_name(options: SelectionOptions) -> str:
    """The folder of a run under ``STUDY/selection/`` (module docstring)."""
    parts = ["-".join(options.strategies) if options.strategies else "all"]
    if options.by:
        parts.append("by-" + "+".join(options.by))
    if options.pool:
        parts.append("pooled")
    if options.reference != "best-val":
        parts.append(f"ref-{options.reference}")
    if options.k != 3 and (not options.strategies or "topk" in options.strategies):
        parts.append(f"k{options.k}")
    if options.z != 1.0 and (not options.strategies or "lcb" in options.strategies):
        parts.append(f"z{options.z:g}")
    return ".".join(p.replace("/", "_") for p in parts)


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.copy()
    frame.attrs = {}
    _atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def write_results(result: SelectionResult, out_dir: Path) -> dict[str, Path]:
    """Write the run's files into ``out_dir`` (atomically, each); returns them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"picks": out_dir / "picks.parquet", "table": out_dir / "summary.parquet"}
    _parquet(result.picks, files["picks"])
    _parquet(result.table, files["table"])
    if len(result.groups) > 1:
        files["compare"] = out_dir / "compare.parquet"
        _parquet(result.compare, files["compare"])
    per_task = per_task_frame(result.summary)
    if len(per_task):
        files["per_task"] = out_dir / "per_task.parquet"
        _parquet(per_task, files["per_task"])
    files["summary"] = out_dir / "summary.json"
    text = json.dumps(result.summary, indent=2, sort_keys=False, allow_nan=False)
    _atomic_write(files["summary"], lambda p: p.write_text(text + "\n"))
    return files


def update_index(selection_dir: Path, name: str, result: SelectionResult) -> Path:
    """Record run ``name`` in ``selection_dir/index.json`` as the latest (and the latest full
    one when it compared every strategy)."""
    path = selection_dir / INDEX
    try:
        index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        index = {}
    runs = index.get("runs", {})
    full = name.split(".")[0] == "all"
    runs[name] = {"created_at": result.summary["created_at"], "full": full,
                  "strategies": result.strategies, "by": result.by, "groups": result.groups}
    index = {"latest": name, "latest_full": name if full else index.get("latest_full"),
             "runs": runs}
    _atomic_write(path, lambda p: p.write_text(json.dumps(index, indent=2) + "\n"))
    return path
