"""Benchmark: the procedural cost model's estimate against the script's measured wall time.

For each task and pipeline (every family's defaults, and a linear SVM at C = 0.3, 1, 3, 10),
render the procedural script, run it (``python code.py`` with ``input/`` linking the task's
public files; single-threaded, as in the sandbox) and compare with ``Space.cost``. A pipeline
whose estimate exceeds ``--max-estimate`` is not run (listed as skipped). The estimate only
needs to be right within a small factor (drafting prefers cheap pipelines, debugging makes a
timeout cheaper); the table prints measured / estimated.

Tasks: ``builtin:digits`` and ``builtin:diabetes``, and the four MLE-bench competitions when
their data is found (``--data-dir``, default ``../shared/data/mlebench``). Writes
``bench/results/cost_model.json``.

    python bench/cost_model/run.py [--max-estimate 300] [--tasks builtin:digits ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aira_eval.datasets.registry import resolve_task
from aira_eval.search.operators.procedural.config import FAMILIES, PipelineConfig
from aira_eval.search.operators.procedural.render import render
from aira_eval.search.operators.procedural.schema import infer_schema
from aira_eval.search.operators.procedural.space import Space

REAL = ("leaf-classification", "spaceship-titanic", "nomad2018-predict-transparent-conductors",
        "detecting-insults-in-social-commentary")
SVM_C = (0.3, 1.0, 3.0, 10.0)
RESULTS = Path(__file__).resolve().parents[1] / "results" / "cost_model.json"
SHARED_MLEBENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "mlebench"


def _configs(space: Space) -> list[tuple[str, PipelineConfig]]:
    configs = [(family, space.default_config(family)) for family in FAMILIES]
    linear_svm = space.default_config("svm").with_value("model.params.kernel", "linear")
    if "linear" in space.param_grid("svm")["kernel"]:
        configs += [(f"svm-linear-C{c:g}", linear_svm.with_value("model.params.C", c))
                    for c in SVM_C]
    return configs


def _run(code: str, public: Path, timeout_s: float) -> float | None:
    """Wall seconds of ``python code.py`` in a fresh directory; None on failure/timeout."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "input").mkdir()
        for item in public.iterdir():
            (work / "input" / item.name).symlink_to(item)
        (work / "code.py").write_text(code)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "code.py"], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        seconds = time.perf_counter() - start
        return seconds if proc.returncode == 0 else None


def bench_task(task_id: str, data_dir: Path, max_estimate: float) -> list[dict[str, Any]]:
    task = resolve_task(task_id, data_dir=data_dir)
    assert task.problem is not None, task_id
    space = Space(task.problem, infer_schema(task.public_dir, task.problem))
    rows = []
    for name, config in _configs(space):
        config = space.normalize(config)
        estimate = space.cost(config)
        row: dict[str, Any] = {"task": task_id, "pipeline": name, "estimate_s": estimate}
        if estimate > max_estimate:
            rows.append({**row, "measured_s": None, "note": "skipped (estimate too high)"})
            continue
        measured = _run(render(config, space, plan="bench"), task.public_dir,
                        max(60.0, 10 * estimate))
        rows.append({**row, "measured_s": measured,
                     "ratio": None if measured is None else measured / estimate,
                     "note": "" if measured is not None else "failed or timed out"})
        print(f"{task_id:45s} {name:20s} est {estimate:8.1f}s  measured "
              f"{'—' if measured is None else f'{measured:8.1f}s'}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-estimate", type=float, default=300.0)
    parser.add_argument("--data-dir", type=Path, default=SHARED_MLEBENCH)
    parser.add_argument("--tasks", nargs="*", default=None)
    args = parser.parse_args()
    tasks = args.tasks or ["builtin:digits", "builtin:diabetes",
                           *(f"mlebench:{c}" for c in REAL if (args.data_dir / c).is_dir())]
    rows = [r for t in tasks for r in bench_task(t, args.data_dir, args.max_estimate)]
    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    summary = {"load_average": os.getloadavg(), "rows": rows,
               "ratio_min": min(ratios, default=None), "ratio_max": max(ratios, default=None)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"\nmeasured / estimated: {min(ratios):.2f} – {max(ratios):.2f} over {len(ratios)} "
          f"runs (load average {os.getloadavg()[0]:.1f}); {RESULTS}")


if __name__ == "__main__":
    main()
