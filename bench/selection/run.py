"""Benchmark of ``aira-eval select``'s core: picks, evaluation and paired bootstrap.

A synthetic study (default 22 tasks × 20 seeds × 500 nodes = 220,000 nodes), every strategy,
10,000 paired resamples. Targets: ≤ 5 s wall and ≤ 2 GB peak RSS on 2 cores, and ≥ 20× faster
than a straightforward baseline measured in the same run: pandas groupby-apply per strategy
(a per-search Python function computing the pick and its metrics), then ``scipy.stats.bootstrap``
per strategy and task (all metrics in one vectorized call, BCa, plus the percentile interval
from the same bootstrap distribution). When ``--baseline-tasks`` is below the study's task
count, the baseline runs on that many tasks and its time is extrapolated linearly (said so in
the output). Writes ``bench/results/selection.json`` and prints a table.

    python bench/selection/run.py [--tasks 22 --seeds 20 --nodes 500 --resamples 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import STRATEGIES
from aira_eval.selection.summary import SelectionOptions
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo

ROOT = Path(__file__).resolve().parents[2]
METRICS = ["test_score", "valid_submission", "regret", "normalized_score", "any_medal", "gold",
           "silver", "bronze", "above_median", "percentile", "oracle_score", "val_score",
           "shrunk_estimate", "optimism", "optimism_shrunk"]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------ the straightforward baseline


def _node_se(folds: Any, val: float, n_val: int) -> float:
    if folds is not None and len(folds) >= 2:
        return float(np.std(folds, ddof=1) / np.sqrt(len(folds)))
    if n_val > 0 and 0 <= val <= 1:
        p = (val * n_val + 2) / (n_val + 4)
        return float(np.sqrt(p * (1 - p) / (n_val + 4)))
    return 0.0


def _baseline_keys(v: pd.DataFrame, name: str, sign: float, z: float) -> pd.Series:
    if name in ("best-val", "topk"):
        return v["score_val"] * sign
    if name == "oracle":
        return v["score_test"] * sign
    if name in ("best-search", "best-select"):
        return v["score_" + name.split("-")[1]] * sign
    if name == "last":
        return v["step"].astype(float)
    m = v["score_val"] * sign
    se = pd.Series([_node_se(f, x, n) for f, x, n in
                    zip(v["val_folds"], v["score_val"], v["n_val"], strict=True)], index=v.index)
    if name == "lcb":
        return m - z * se
    tau2 = max(0.0, m.var(ddof=1) - float(np.mean(se**2))) if len(m) > 1 else 0.0
    shrink = np.where(se > 0, tau2 / (tau2 + se**2), 1.0)
    return m.mean() + shrink * (m - m.mean())


def _baseline_metrics(g: pd.DataFrame, name: str, info: TaskInfo, best: float,
                      k: int, z: float) -> pd.Series:
    sign = -1.0 if info.lower_is_better else 1.0
    v = g[g["valid"] & g["score_val"].notna()].sort_values("step")
    if v.empty:
        return pd.Series({"valid_submission": 0.0})
    if name == "random":
        picked = v
    else:
        keys = _baseline_keys(v, name, sign, z)
        n = k if name == "topk" else 1
        picked = v.loc[keys.sort_values(ascending=False, kind="stable").index[:n]]
    frame = _pick_metrics(picked, sign, info, best, float((v["score_test"] * sign).max()))
    out = frame.mean() if name == "random" else frame.loc[frame["o"].idxmax()]
    return out.drop("o")


def _pick_metrics(p: pd.DataFrame, sign: float, info: TaskInfo, best: float, oracle_o: float
                  ) -> pd.DataFrame:
    o = p["score_test"] * sign
    th = {k: v * sign for k, v in info.thresholds.items()}
    gold, silver, bronze = o >= th["gold"], o >= th["silver"], o >= th["bronze"]
    board = np.sort(np.asarray(info.leaderboard_scores) * sign)
    lo, hi = np.searchsorted(board, o, "left"), np.searchsorted(board, o, "right")
    sample = info.sample_score if info.sample_score is not None else np.nan
    return pd.DataFrame({
        "o": o, "test_score": p["score_test"], "valid_submission": 1.0,
        "regret": oracle_o - o, "normalized_score": (p["score_test"] - sample) / (best - sample),
        "any_medal": (gold | silver | bronze).astype(float), "gold": gold.astype(float),
        "silver": (silver & ~gold).astype(float), "bronze": (bronze & ~silver).astype(float),
        "above_median": (o > th["median"]).astype(float),
        "percentile": 100 * (lo + 0.5 * (hi - lo)) / board.size,
        "oracle_score": oracle_o * sign, "val_score": p["score_val"],
        "shrunk_estimate": np.nan, "optimism": (p["score_val"] - p["score_test"]) * sign,
        "optimism_shrunk": np.nan})


def baseline(frame: pd.DataFrame, tasks: dict[str, TaskInfo], n_resamples: int
             ) -> dict[str, Any]:
    """Groupby-apply picks + metrics per strategy, then scipy.stats.bootstrap per (strategy,
    task); returns timings and the study-level estimates."""
    best = frame.groupby("task").apply(
        lambda g: (g["score_test"] * (-1 if tasks[g.name].lower_is_better else 1)).max()
        * (-1 if tasks[g.name].lower_is_better else 1))
    t0 = time.perf_counter()
    per: dict[str, pd.DataFrame] = {}
    for name in STRATEGIES:
        per[name] = frame.groupby("search_id").apply(
            lambda g, name=name: pd.concat([pd.Series({"task": g["task"].iloc[0]}),
                                            _baseline_metrics(g, name, tasks[g["task"].iloc[0]],
                                                              best[g["task"].iloc[0]], 3, 1.0)]))
    t1 = time.perf_counter()
    estimates: dict[str, float] = {}
    warnings.simplefilter("ignore")  # scipy warns on degenerate (constant) metrics
    for name, table in per.items():
        task_means = []
        for _, rows in table.groupby("task"):
            data = rows[METRICS].to_numpy(dtype=float).T  # (metrics, seeds)
            data = np.nan_to_num(data)
            res = stats.bootstrap((data,), np.mean, axis=-1, n_resamples=n_resamples,
                                  method="BCa", rng=0)
            stats.bootstrap((data,), np.mean, axis=-1, n_resamples=0, method="percentile",
                            bootstrap_result=res)
            task_means.append(rows["test_score"].astype(float).mean())
        estimates[name] = float(np.mean(task_means))
    t2 = time.perf_counter()
    return {"apply_s": t1 - t0, "bootstrap_s": t2 - t1, "total_s": t2 - t0,
            "test_score": estimates}


# ------------------------------------------------------------------------------ ours


def ours(frame: pd.DataFrame, tasks: dict[str, TaskInfo], n_resamples: int) -> dict[str, Any]:
    """``aira_eval.select`` on the in-memory study; with several policies in ``frame`` it
    groups by agent (per-group bootstrap and every between-group comparison)."""
    import aira_eval as ae

    study = Study.from_nodes(frame, tasks)
    options = SelectionOptions(n_resamples=n_resamples)
    t0 = time.perf_counter()
    result = ae.select(study, options)
    t1 = time.perf_counter()
    table = evaluate_strategies(frame, tasks, list(STRATEGIES.values()))  # stage timing
    t2 = time.perf_counter()
    per_task = result.picks.groupby(["strategy", "task"], sort=False)["test_score"].mean()
    estimates = {str(n): float(v) for n, v in per_task.groupby(level=0, sort=False).mean()
                 .items()}  # the pooled statistic, for the agreement check
    return {"total_s": t1 - t0, "picks_and_evaluation_s": t2 - t1,
            "bootstrap_and_summary_s": (t1 - t0) - (t2 - t1), "test_score": estimates,
            "rows": len(table), "groups": len(result.groups),
            "comparisons": int(len(result.compare) // max(1, len(result.metrics)
                                                         * len(result.strategies)))}


def with_agents(frame: pd.DataFrame, n_groups: int) -> pd.DataFrame:
    """Give the searches ``n_groups`` different policies (by seed), so that selection groups
    them by agent; 1 keeps one policy (pooled)."""
    if n_groups <= 1:
        return frame
    names = np.array(["greedy", "mcts", "evolutionary", "random", "greedy-mlebench"] +
                     [f"policy{i}" for i in range(5, n_groups)], dtype=object)[:n_groups]
    return frame.assign(policy=names[frame["seed"].to_numpy() % n_groups])


def _subset(frame: pd.DataFrame, tasks: dict[str, TaskInfo], n: int
            ) -> tuple[pd.DataFrame, dict[str, TaskInfo]]:
    keep = list(tasks)[:n]
    return frame[frame["task"].isin(keep)].reset_index(drop=True), {t: tasks[t] for t in keep}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=22)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=2,
                        help="policies the searches are split into (by seed); selection groups "
                        "by agent and compares every pair; 1: pooled")
    parser.add_argument("--baseline-tasks", type=int, default=None,
                        help="run the baseline on this many tasks and extrapolate linearly")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "selection.json")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    synth = generate_study(SyntheticSpec(n_tasks=args.tasks, n_seeds=args.seeds,
                                         n_nodes=args.nodes, study_id="bench"), seed=0)
    frame = with_agents(synth.frame, args.groups)
    frame["n_val"] = 800  # what load_study adds from the manifest's held-out sizes
    gen_s = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    ours(frame, synth.tasks, 200)  # warm-up (imports, BLAS threads), not timed
    mine = ours(frame, synth.tasks, args.resamples)
    rss_ours = peak_rss_mb()

    n_base = args.baseline_tasks or args.tasks
    base_frame, base_tasks = _subset(frame, synth.tasks, n_base)
    base = baseline(base_frame, base_tasks, args.resamples)
    scale = args.tasks / n_base
    base_total = base["total_s"] * scale
    agree = None
    if n_base == args.tasks:
        agree = max(abs(mine["test_score"][n] - base["test_score"][n]) for n in STRATEGIES)
    result = {
        "config": {"tasks": args.tasks, "seeds": args.seeds, "nodes_per_search": args.nodes,
                   "groups": mine["groups"], "group_comparisons": mine["comparisons"],
                   "nodes": len(frame), "strategies": list(STRATEGIES),
                   "resamples": args.resamples, "ci": "percentile and BCa, paired deltas"},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "numpy": np.__version__,
                    "pandas": pd.__version__},
        "generate_s": gen_s,
        "ours": {k: v for k, v in mine.items() if k != "test_score"},
        "baseline": {"tasks_measured": n_base, "extrapolated": n_base != args.tasks,
                     "scale": scale, "apply_s": base["apply_s"] * scale,
                     "bootstrap_s": base["bootstrap_s"] * scale, "total_s": base_total,
                     "measured_total_s": base["total_s"]},
        "speedup": base_total / mine["total_s"],
        "max_abs_diff_test_score_vs_baseline": agree,
        "peak_rss_mb": {"after_data": rss_data, "after_ours": rss_ours,
                        "after_baseline": peak_rss_mb()},
        "targets": {"wall_s": 5.0, "peak_rss_mb": 2048.0, "speedup": 20.0},
    }
    result["pass"] = {"wall": mine["total_s"] <= 5.0, "memory": rss_ours <= 2048.0,
                      "speedup": result["speedup"] >= 20.0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result, args.out)
    return result


def _print(r: dict[str, Any], out: Path) -> None:
    c, o, b = r["config"], r["ours"], r["baseline"]
    extra = (f" (measured on {b['tasks_measured']} of {c['tasks']} tasks, extrapolated ×"
             f"{b['scale']:.2f})" if b["extrapolated"] else "")
    lines = [
        f"selection benchmark: {c['tasks']} tasks × {c['seeds']} seeds × {c['nodes_per_search']} "
        f"nodes = {c['nodes']:,} nodes, {len(c['strategies'])} strategies, "
        f"{c['resamples']:,} paired resamples, {c['groups']} group(s) (agents), "
        f"{c['group_comparisons']} between-group comparison(s)",
        f"{'stage':<34}{'ours (s)':>12}{'baseline (s)':>16}",
        f"{'picks + per-search metrics':<34}{o['picks_and_evaluation_s']:>12.3f}"
        f"{b['apply_s']:>16.2f}",
        f"{'bootstrap (per group, between groups)':<34}{o['bootstrap_and_summary_s']:>12.3f}"
        f"{b['bootstrap_s']:>16.2f}",
        f"{'total':<34}{o['total_s']:>12.3f}{b['total_s']:>16.2f}",
        f"speedup: {r['speedup']:.1f}× (target ≥ 20×){extra}",
        f"peak RSS: {r['peak_rss_mb']['after_ours']:.0f} MB after ours (target ≤ 2048 MB; "
        f"{r['peak_rss_mb']['after_data']:.0f} MB after generating the data)",
        f"wall target ≤ 5 s: {'pass' if r['pass']['wall'] else 'FAIL'}; memory: "
        f"{'pass' if r['pass']['memory'] else 'FAIL'}; speedup: "
        f"{'pass' if r['pass']['speedup'] else 'FAIL'}",
    ]
    if r["max_abs_diff_test_score_vs_baseline"] is not None:
        lines.append("study-level test scores agree with the baseline to "
                     f"{r['max_abs_diff_test_score_vs_baseline']:.2e}")
    lines.append(f"written to {out}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
