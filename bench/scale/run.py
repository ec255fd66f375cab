"""Benchmark: study throughput on the local executor, on Ray, and with the docker sandbox.

One study (procedural operators, ``builtin:breast-cancer``, greedy, 4 seeds x 16 steps = 64
nodes, no MLflow) is run five ways: the local executor with 1 and with 2 workers, Ray on this
machine (``ray.init()``, 2 workers), the two-node loopback Ray cluster (``ray start``, one CPU
per node, 2 workers), and the docker sandbox (local executor, 2 workers). For each: nodes per
hour (over the span from the first node's start to the last node's end, and over the whole
call including Ray start-up), the harness overhead per node (node wall time minus the
script's own run time, median) and the dispatch overhead per node (executor capacity not
spent inside nodes: ``(span x workers - sum of node wall times) / nodes``).

A node's time on the builtin task is then split into: sandbox setup/teardown, interpreter
start (a ``pass`` script), imports (numpy, pandas, scikit-learn), the fit itself, and the
harness's own work (operator, grading on every held-out set, journaling).

The local sandbox is also run with the pre-forked interpreter (``sandbox_prefork``, 1
worker): its nodes per hour against the plain local run's, and whether both runs made the
same nodes with the same scores.

Targets (issue 10): Ray on one machine >= 0.9x the local executor's throughput (2 workers
each); docker per-node overhead <= 2x the local sandbox's. Writes
bench/results/scale.json and prints a table.

    python bench/scale/run.py [--seeds 4] [--steps 16] [--skip docker,cluster] [--out FILE]
    python bench/scale/run.py --skip local1,prefork,ray,cluster   # docker vs local only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from aira_eval.search.config import StudyConfig
from aira_eval.search.executors.loopback import LoopbackCluster
from aira_eval.search.node import Node
from aira_eval.search.sandbox import ExecSpec, make_sandbox
from aira_eval.search.study_runner import run_study

TASK = "builtin:breast-cancer"
IMPORTS = "import numpy, pandas, sklearn.ensemble, sklearn.linear_model, sklearn.model_selection\n"


def _config(seeds: int, steps: int, workers: int, **extra: Any) -> StudyConfig:
    """No injected bugs: a ``timeout`` bug sleeps out the node limit, which would measure the
    limit, not the harness (scripts still fail on their own)."""
    return StudyConfig.from_dict({
        "tasks": [TASK], "policies": ["greedy"], "seeds": list(range(seeds)), "steps": steps,
        "workers": workers, "node_timeout_s": 300.0, "mlflow": False,
        "operator_params": {"bug_rate": 0.0}, **extra,
    }).validate()


def _stats(nodes: list[Node], call_s: float, workers: int) -> dict[str, Any]:
    span = max(n.finished_at for n in nodes) - min(n.started_at for n in nodes)
    node_wall = [n.finished_at - n.started_at for n in nodes]
    harness = [w - float(n.meta.get("script_time", n.exec_time))
               for w, n in zip(node_wall, nodes, strict=True)]
    return {
        "nodes": len(nodes), "workers": workers, "call_s": call_s, "span_s": span,
        "nodes_per_hour": 3600 * len(nodes) / span,
        "nodes_per_hour_with_startup": 3600 * len(nodes) / call_s,
        "median_node_s": statistics.median(node_wall),
        "median_script_s": statistics.median(float(n.meta.get("script_time", 0.0))
                                             for n in nodes),
        "median_harness_overhead_ms": 1000 * statistics.median(harness),
        "dispatch_overhead_ms": 1000 * (span * workers - sum(node_wall)) / len(nodes),
        "statuses": {s: sum(n.status == s for n in nodes) for s in sorted({n.status
                                                                          for n in nodes})},
    }


def _study(root: Path, name: str, config: StudyConfig) -> tuple[dict[str, Any], list[Node]]:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = run_study(config, root / name)
    call = time.perf_counter() - t0
    nodes = [n for o in result.outcomes for n in o.nodes]
    stats = _stats(nodes, call, config.workers)
    stats["load_avg_1min"] = {"start": load, "end": os.getloadavg()[0]}
    return stats, nodes


def _script_time(sandbox: str, code: str, public: Path, repeats: int = 5) -> float:
    sb = make_sandbox(sandbox)
    times = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            res = sb.run(ExecSpec(code=code, public_dir=public, timeout_s=120, memory_mb=4096),
                         Path(tmp) / "w", Path(tmp) / f"k{i}")
            times.append(res.script_time if res.script_time is not None else res.wall_time)
    return statistics.median(times)


def _breakdown(nodes: list[Node]) -> dict[str, float]:
    """Median seconds per part of a node's time (local sandbox, 1 worker)."""
    from aira_eval.datasets.registry import resolve_task

    public = resolve_task(TASK).public_dir
    start = _script_time("local", "pass\n", public)
    imports = _script_time("local", IMPORTS, public) - start
    script = statistics.median(float(n.meta.get("script_time", n.exec_time)) for n in nodes)
    return {
        "sandbox_setup_teardown_s": statistics.median(
            n.exec_time - float(n.meta.get("script_time", n.exec_time)) for n in nodes),
        "interpreter_start_s": start, "imports_s": imports,
        "fit_predict_s": script - start - imports,
        "operator_grading_journal_s": statistics.median(
            (n.finished_at - n.started_at) - n.exec_time for n in nodes),
        "node_wall_s": statistics.median(n.finished_at - n.started_at for n in nodes),
    }


def _same_scores(a: list[Node], b: list[Node]) -> bool:
    """The two runs made the same nodes with the same statuses and scores."""
    def key(nodes: list[Node]) -> list[tuple[Any, ...]]:
        return sorted((n.search_id, n.node_id, n.status, tuple(sorted(n.scores.items())))
                      for n in nodes)
    return key(a) == key(b)


def _runs(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], list[Node]]:
    runs: dict[str, Any] = {}
    local1: list[Node] = []
    if "local1" not in args.skip:
        runs["local_1_worker"], local1 = _study(root, "local1", _config(args.seeds, args.steps,
                                                                        1))
    if "prefork" not in args.skip and local1:
        runs["local_prefork_1_worker"], forked = _study(root, "prefork1", _config(
            args.seeds, args.steps, 1, sandbox_prefork=True))
        runs["local_prefork_1_worker"]["same_scores_as_local_1_worker"] = \
            _same_scores(local1, forked)
    if "local2" not in args.skip:
        runs["local_2_workers"], _ = _study(root, "local2", _config(args.seeds, args.steps, 2))
    if "ray" not in args.skip:
        runs["ray_this_machine"], _ = _study(root, "ray1", _config(args.seeds, args.steps, 2,
                                                                   executor="ray"))
    if "cluster" not in args.skip:
        try:
            with LoopbackCluster(nodes=2, cpus=1) as cluster:
                runs["ray_2_node_cluster"], _ = _study(root, "ray2", _config(
                    args.seeds, args.steps, 2, executor="ray", ray_address=cluster.address))
        except RuntimeError as err:  # a raylet too slow to start on a loaded machine
            print(f"two-node cluster skipped: {str(err)[:300]}")
    if "docker" not in args.skip:
        runs["docker_sandbox"], _ = _study(root, "docker", _config(args.seeds, args.steps, 2,
                                                                   sandbox="docker"))
    return runs, local1


def _alternate(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Local (2 workers) and Ray on this machine, alternated ``args.alternate`` times each
    (local, Ray, local, Ray, ...): on a shared machine whose load drifts, each Ray run is
    compared with the local runs on either side of it, so drift cancels in the ratio."""
    local: list[dict[str, Any]] = []
    ray: list[dict[str, Any]] = []
    for i in range(args.alternate):
        local.append(_study(root, f"alt-local{i}", _config(args.seeds, args.steps, 2))[0])
        ray.append(_study(root, f"alt-ray{i}", _config(args.seeds, args.steps, 2,
                                                       executor="ray"))[0])
    local.append(_study(root, "alt-local-last", _config(args.seeds, args.steps, 2))[0])
    ratios = [r["nodes_per_hour"] / statistics.mean(
        [local[i]["nodes_per_hour"], local[i + 1]["nodes_per_hour"]])
        for i, r in enumerate(ray)]
    return {"local_2_workers": local, "ray_this_machine": ray,
            "ray_vs_local_throughput_per_pair": ratios,
            "ray_vs_local_throughput_median": statistics.median(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alternate", type=int, default=0, metavar="N",
                        help="only local vs Ray, alternated N times (drift-robust ratio)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="JSON result path")
    parser.add_argument("--skip", default="",
                        help="comma list: local1 (and the breakdown), prefork, local2, ray, "
                        "cluster, docker")
    args = parser.parse_args()
    if args.alternate:
        with tempfile.TemporaryDirectory(prefix="aira-bench-scale-") as tmp:
            alt = _alternate(args, Path(tmp))
        out = args.out or Path(__file__).resolve().parents[1] / "results" / "scale-alt.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(alt, indent=2))
        for kind in ("local_2_workers", "ray_this_machine"):
            print(kind, [f"{r['nodes_per_hour']:.0f}/h (load {r['load_avg_1min']['start']:.1f})"
                         for r in alt[kind]])
        print("ray vs local per pair:", [f"{x:.2f}" for x in
                                         alt["ray_vs_local_throughput_per_pair"]],
              f"median {alt['ray_vs_local_throughput_median']:.2f}x; results in {out}")
        return
    with tempfile.TemporaryDirectory(prefix="aira-bench-scale-") as tmp:
        runs, local1 = _runs(args, Path(tmp))
        breakdown = _breakdown(local1) if local1 else {}
    ratios = {}
    if "ray_this_machine" in runs and "local_2_workers" in runs:
        ratios["ray_vs_local_throughput"] = (runs["ray_this_machine"]["nodes_per_hour"]
                                             / runs["local_2_workers"]["nodes_per_hour"])
    if "local_prefork_1_worker" in runs:
        ratios["prefork_vs_plain_throughput"] = (
            runs["local_prefork_1_worker"]["nodes_per_hour"]
            / runs["local_1_worker"]["nodes_per_hour"])
    if "docker_sandbox" in runs and "local_2_workers" in runs:
        ratios["docker_vs_local_overhead"] = (
            runs["docker_sandbox"]["median_harness_overhead_ms"]
            / runs["local_2_workers"]["median_harness_overhead_ms"])
        ratios["docker_vs_local_throughput"] = (runs["docker_sandbox"]["nodes_per_hour"]
                                                / runs["local_2_workers"]["nodes_per_hour"])
    result = {"task": TASK, "runs": runs, "ratios": ratios, "breakdown": breakdown,
              "cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0],
              "targets": {"ray_vs_local_throughput": ">= 0.9", "docker_vs_local_overhead": "<= 2"}}
    out = args.out or Path(__file__).resolve().parents[1] / "results" / "scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    _print(runs, ratios, breakdown, out)


def _print(runs: dict[str, Any], ratios: dict[str, float], breakdown: dict[str, float],
           out: Path) -> None:
    print(f"{'run':<20}{'nodes':>6}{'nodes/h':>9}{'+startup':>10}{'node s':>8}"
          f"{'harness ms':>12}{'dispatch ms':>13}  statuses")
    for name, r in runs.items():
        print(f"{name:<20}{r['nodes']:>6}{r['nodes_per_hour']:>9.0f}"
              f"{r['nodes_per_hour_with_startup']:>10.0f}{r['median_node_s']:>8.2f}"
              f"{r['median_harness_overhead_ms']:>12.0f}{r['dispatch_overhead_ms']:>13.0f}"
              f"  {r['statuses']}")
    if breakdown:
        print("\nwhere a node's time goes (local sandbox, 1 worker, medians):")
    for part, seconds in breakdown.items():
        print(f"  {part:<28}{seconds:>8.3f} s")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    print(f"results in {out}")


if __name__ == "__main__":
    main()
