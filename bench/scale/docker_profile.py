"""Profile: where a docker sandbox run's time goes, beside the local sandbox's.

Runs the same short script (a 0.3 s sleep that writes a submission: long enough for the
next container to be started meanwhile, as during a real node) ``--runs`` times, one after
another, through ``make_sandbox("local")``, and ``make_sandbox("docker")`` with and without
``prestart`` (the next node's container started while a node runs), with a node's limits
(memory, disk bound, time limit). Every step of the docker runs is timed by wrapping the
docker SDK's calls and the sandbox module's helpers (nothing in the library changes):
mounting the bounded working dir, preparing it, ``containers.create``, ``attach``,
``start``, opening the gate, the supervision loop, ``wait`` + ``reload``, copying the
submission out, ``remove``, unmounting. A step on the sandbox's background thread is
marked ``(bg)``: it is off the node's clock. For every backend: the sandbox overhead per run
(``run()`` wall time minus the script's own run time), medians. Then, on bare containers
(``python3 -c pass``, no limits): create, start call to docker's ``StartedAt``,
``FinishedAt`` to the end of the output stream, and remove; and ``exec_run(["true"])`` in
a running container (the cost per node of one long-lived container per search).

    python bench/scale/docker_profile.py [--runs 20] [--out FILE]

Writes bench/results/docker_profile.json and prints a table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aira_eval.search.sandbox import ExecSpec, make_sandbox

CODE = ("import time\ntime.sleep(0.3)\n"
        "with open('submission/submission.csv', 'w') as fh:\n    fh.write('id\\n1\\n')\n")


class Timings:
    """Seconds per step, one list per step name."""

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = defaultdict(list)

    def wrap(self, owner: Any, attr: str, name: str | None = None) -> Callable[[], None]:
        """Time every call of ``owner.attr``; returns the undo."""
        original = getattr(owner, attr)
        label = name or attr

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                bg = threading.current_thread().name.startswith("aira-docker-bg")
                self.steps[label + (" (bg)" if bg else "")].append(time.perf_counter() - t0)

        setattr(owner, attr, timed)
        return lambda: setattr(owner, attr, original)


@contextmanager
def instrumented(timings: Timings) -> Iterator[None]:
    """Time the docker SDK calls and the docker sandbox's helpers while inside."""
    import docker.models.containers as models

    from aira_eval.search.sandbox import docker as module
    from aira_eval.search.sandbox import docker_warm as warm

    undo = [timings.wrap(models.ContainerCollection, "create", "create"),
            timings.wrap(models.Container, "attach"),
            timings.wrap(models.Container, "start"),
            timings.wrap(models.Container, "wait"),
            timings.wrap(models.Container, "reload"),
            timings.wrap(models.Container, "remove"),
            timings.wrap(models.Container, "kill")]
    for helper in ("mount_bounded", "open_gate", "collect_submission", "fresh_workdir",
                   "explain_disk", "pids_counter", "remove_tree"):
        undo.append(timings.wrap(module, helper))
    for method in ("_launch", "_prepare", "_execute", "_supervise", "_result"):
        undo.append(timings.wrap(module.DockerSandbox, method))
    undo += [timings.wrap(warm.Warm, "destroy"), timings.wrap(warm.WarmPool, "take")]
    try:
        yield
    finally:
        for step in undo:
            step()


def _stamp(text: str) -> float:
    from datetime import UTC, datetime

    base, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(base).replace(tzinfo=UTC).timestamp() + float(
        f"0.{frac[:9] or 0}")


def _runs(name: str, runs: int, public: Path, timings: Timings | None,
          **options: Any) -> list[float]:
    """Sandbox overhead (s) of each run of ``CODE`` on backend ``name``."""
    sandbox = make_sandbox(name, **options)
    overheads = []
    spec = ExecSpec(code=CODE, public_dir=public, timeout_s=120, memory_mb=2048, disk_mb=512)
    with tempfile.TemporaryDirectory(prefix="aira-profile-") as tmp:
        for i in range(runs + 1):  # the first run warms caches up and is dropped
            t0 = time.perf_counter()
            res = sandbox.run(spec, Path(tmp) / "w", Path(tmp) / f"k{i}")
            wall = time.perf_counter() - t0
            assert res.exit_code == 0 and res.submission_path is not None, res.stderr_tail
            if i:
                overheads.append(wall - (res.script_time or res.wall_time))
            elif timings is not None:
                timings.steps.clear()
        close = getattr(sandbox, "close", None)
        if close is not None:
            close()
    return overheads


def _bare_containers(runs: int) -> dict[str, float]:
    """Medians (ms) on bare containers: create, start call -> StartedAt, FinishedAt -> the
    output stream's end, remove; exec_run in a running one."""
    import docker

    cli = docker.from_env()
    image = os.environ.get("AIRA_EVAL_DOCKER_IMAGE", "aira-eval-sandbox")
    to_started, to_stream_end, create_s, remove_s = [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        ctr = cli.containers.create(image, ["python3", "-c", "pass"], network_disabled=True,
                                    network_mode="none", labels={"aira-eval.profile": "1"})
        create_s.append(time.perf_counter() - t0)
        stream = ctr.attach(stdout=True, stderr=True, stream=True, logs=True)
        called = time.time()
        ctr.start()
        for _chunk in stream:
            pass
        ended = time.time()
        ctr.reload()
        state = ctr.attrs["State"]
        to_started.append(_stamp(state["StartedAt"]) - called)
        to_stream_end.append(ended - _stamp(state["FinishedAt"]))
        t0 = time.perf_counter()
        ctr.remove(force=True)
        remove_s.append(time.perf_counter() - t0)
    idle = cli.containers.run(image, ["sleep", "600"], detach=True, network_disabled=True,
                              network_mode="none", labels={"aira-eval.profile": "1"})
    exec_s = []
    try:
        for _ in range(runs):  # the alternative: one container per search, exec per node
            t0 = time.perf_counter()
            idle.exec_run(["true"])
            exec_s.append(time.perf_counter() - t0)
    finally:
        idle.remove(force=True)
    return {"create_bare_ms": 1000 * statistics.median(create_s),
            "exec_run_true_ms": 1000 * statistics.median(exec_s),
            "start_call_to_StartedAt_ms": 1000 * statistics.median(to_started),
            "FinishedAt_to_stream_end_ms": 1000 * statistics.median(to_stream_end),
            "remove_bare_ms": 1000 * statistics.median(remove_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="JSON result path")
    args = parser.parse_args()
    from aira_eval.datasets.registry import resolve_task

    public = resolve_task("builtin:breast-cancer").public_dir
    load = os.getloadavg()[0]
    local = _runs("local", args.runs, public, None)
    steps, calls, overhead = {}, {}, {}
    for prestart in (False, True):
        timings = Timings()
        with instrumented(timings):
            overhead[prestart] = _runs("docker", args.runs, public, timings, prestart=prestart)
        name = "prestart" if prestart else "no_prestart"
        steps[name] = {k: 1000 * statistics.median(v) for k, v in timings.steps.items()}
        calls[name] = {k: len(v) / args.runs for k, v in timings.steps.items()}
    gaps = _bare_containers(args.runs)
    result = {"runs": args.runs, "load_avg_1min": {"start": load, "end": os.getloadavg()[0]},
              "local_overhead_ms": 1000 * statistics.median(local),
              "docker_overhead_ms": 1000 * statistics.median(overhead[True]),
              "docker_no_prestart_overhead_ms": 1000 * statistics.median(overhead[False]),
              "docker_steps_ms": steps, "docker_calls_per_run": calls,
              "bare_container_ms": gaps}
    out = args.out or Path(__file__).resolve().parents[1] / "results" / "docker_profile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"load average {result['load_avg_1min']}, {args.runs} runs each, medians")
    print(f"sandbox overhead per run: local {result['local_overhead_ms']:.0f} ms, docker "
          f"{result['docker_overhead_ms']:.0f} ms (without prestart "
          f"{result['docker_no_prestart_overhead_ms']:.0f} ms)")
    for name, table in steps.items():
        print(f"{'docker step, ' + name:<34}{'ms':>8}{'calls/run':>11}")
        for step, ms in sorted(table.items(), key=lambda kv: -kv[1]):
            print(f"  {step:<32}{ms:>8.1f}{calls[name][step]:>11.1f}")
    print("bare containers:")
    for name, ms in gaps.items():
        print(f"  {name:<32}{ms:>8.1f}")
    print(f"results in {out}")


if __name__ == "__main__":
    main()
