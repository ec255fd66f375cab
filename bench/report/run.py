"""Benchmark: the full report (`aira-eval report`) on the 220,000-node synthetic study.

22 tasks × 10 seeds × 2 agents (greedy, random policies) × 500 nodes, generated as
bench/selection does; every format, the default 4 search trees, 10,000 resamples. Prints
the time of every section and writes bench/results/report.json. Targets: ≤ 60 s wall and
≤ 2 GB peak RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.analysis.context import ReportOptions
from aira_eval.analysis.report import report
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.study import Study

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"wall_s": 60.0, "peak_rss_mb": 2048.0}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_study(tasks: int, seeds: int, nodes: int) -> Study:
    frames, infos = [], {}
    for i, policy in enumerate(("greedy", "random")):
        synth = generate_study(SyntheticSpec(n_tasks=tasks, n_seeds=seeds, n_nodes=nodes,
                                             policy=policy, study_id=f"bench-{policy}",
                                             task_seed=7), seed=i)
        frames.append(synth.frame)
        infos.update(synth.tasks)
    frame = pd.concat(frames, ignore_index=True)
    frame["exec_time"] = 1.0 + (frame["step"] % 7).astype(float)  # a wall-time axis
    return Study.from_nodes(frame, infos)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=22)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "report.json")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    study = make_study(args.tasks, args.seeds, args.nodes)
    gen_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="aira-eval-bench-report-") as tmp:
        t1 = time.perf_counter()
        result = report(study, Path(tmp) / "report", ReportOptions(resamples=args.resamples))
        wall = time.perf_counter() - t1
    rss = peak_rss_mb()
    out = {
        "config": {"tasks": args.tasks, "seeds": args.seeds, "agents": 2,
                   "nodes_per_search": args.nodes, "nodes": len(study.nodes),
                   "resamples": args.resamples, "formats": ["md", "html", "tex"], "trees": 4},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "load_avg_1min": os.getloadavg()[0]},
        "generate_s": gen_s, "wall_s": wall, "peak_rss_mb": rss,
        "sections_s": result.timings, "sections_cpu_s": result.cpu,
        "cpu_s": result.cpu["total"], "empty_sections": {s.key: s.empty for s in
                                                         result.sections if s.empty},
        "errors": result.errors, "targets": TARGETS,
        "pass": {"wall": wall <= TARGETS["wall_s"], "memory": rss <= TARGETS["peak_rss_mb"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    _print(out, args.out)
    return out


def _print(r: dict[str, Any], path: Path) -> None:
    c = r["config"]
    lines = [f"report benchmark: {c['tasks']} tasks × {c['seeds']} seeds × {c['agents']} agents "
             f"× {c['nodes_per_search']} nodes = {c['nodes']:,} nodes, {c['resamples']:,} "
             f"resamples, formats md/html/tex, {c['trees']} trees "
             f"(load average {r['machine']['load_avg_1min']:.1f} on {r['machine']['cpus']} CPUs)",
             f"{'section':<20}{'wall (s)':>10}{'CPU (s)':>10}"]
    lines += [f"{k:<20}{v:>10.2f}{r['sections_cpu_s'][k]:>10.2f}"
              for k, v in r["sections_s"].items()]
    lines += ["(wall time depends on the machine's load; CPU time is this process's own work, "
              "single-threaded except BLAS)",
              f"wall {r['wall_s']:.1f} s (target ≤ {r['targets']['wall_s']:.0f} s): "
              f"{'pass' if r['pass']['wall'] else 'FAIL'}; peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(target ≤ {r['targets']['peak_rss_mb']:.0f} MB): "
              f"{'pass' if r['pass']['memory'] else 'FAIL'}"]
    if r["errors"]:
        lines.append(f"section errors: {r['errors']}")
    lines.append(f"written to {path}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
