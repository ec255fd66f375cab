"""Faults of a study on Ray, through the CLI: the driver killed, Ctrl-C, a worker killed.

Each test runs ``python -m aira_eval search ... --executor ray`` as a process group of its
own, on a two-node loopback cluster (or on the private Ray instance the CLI starts itself),
hurts it while a node's script runs (polled from the study's sandbox run records, never timed),
and checks: the processes that ran the study's nodes end (no leftover task or script), nothing
in the study dir changes after the fault, and the study (resumed where it has to be) has
every step once with the node table of an uninterrupted local run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from aira_eval.search.executors.loopback import LoopbackCluster, _alive, _cmdline
from aira_eval.search.sandbox.leftovers import RUN_SUFFIX, scratch_root
from aira_eval.search.sandbox.watchdog import descendants, process_table
from aira_eval.study.journal import JournalFile
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import cli_env, comparable, run_small

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # ~3 min on a quiet 2-core machine
STEPS = 4
SEARCH = "builtin-iris__greedy__s0"
ARGS = ["search", "--task", "builtin:iris", "--policy", "greedy", "--seeds", "0",
        "--steps", str(STEPS), "--workers", "1", "--node-timeout", "60", "--no-mlflow",
        "--bug-rate", "0", "--executor", "ray"]  # as run_small(steps=STEPS, workers=1)
BOUND_S = 240.0  # generous bounds on waits for events, never expected durations
SLOW_RAY = {"RAY_NUM_REDIS_GET_RETRIES": "120",  # a private instance on a loaded machine
            "RAY_raylet_start_wait_time_s": "120"}  # starts slowly (as LoopbackCluster's)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    pytest.importorskip("ray")
    with LoopbackCluster(nodes=2, cpus=1) as running:  # stopped on every exit path
        yield running


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The node table of the same study run uninterrupted with the local executor."""
    out = run_small(tmp_path_factory.mktemp("local") / "study", steps=STEPS, workers=1).study_dir
    return comparable(read_nodes(out / "nodes.parquet"))


class Cli:
    """One ``aira-eval search`` process group; killed on every exit path of the test."""

    def __init__(self, out: Path, extra: list[str], env: dict[str, str]) -> None:
        self.out, self.extra, self.env = out, extra, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, resume: bool = False) -> subprocess.Popen[bytes]:
        args = [*ARGS, *self.extra, "--out", str(self.out), *(["--resume"] if resume else [])]
        env = {**cli_env(), **SLOW_RAY, **self.env}
        self.proc = subprocess.Popen([sys.executable, "-m", "aira_eval", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        return self.proc

    def finish(self) -> tuple[int, str]:
        assert self.proc is not None
        rc = self.proc.wait(timeout=BOUND_S)
        return rc, self.proc.stderr.read().decode() if self.proc.stderr else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    made: list[Cli] = []

    def make(extra: list[str], env: dict[str, str] | None = None) -> Cli:
        made.append(Cli(tmp_path / "study", extra, env or {}))
        return made[-1]

    try:
        yield make
    finally:
        for one in made:
            one.kill()


def _journal(out: Path) -> Path:
    return out / "searches" / SEARCH / "journal.jsonl"


def _running_script(proc: subprocess.Popen[bytes], out: Path, lines: int) -> list[Path]:
    """Wait until the journal has ``lines`` lines and a node's script is launched; its run
    records. With one node in flight (``--workers 1``) the first record seen is at most a
    poll old: its script has yet to import numpy, so it is mid-node, far from writing."""
    deadline = time.monotonic() + BOUND_S
    scratch = scratch_root(out)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the study ended before the fault: {err}")
        journal = _journal(out)
        if journal.exists() and journal.read_text().count("\n") >= lines:
            records = sorted(scratch.glob(f"*{RUN_SUFFIX}")) if scratch.is_dir() else []
            if records:
                return records
        time.sleep(0.05)
    raise AssertionError("no node's script ran in time")


def _node_processes(records: list[Path]) -> dict[int, int]:
    """The Ray workers running recorded scripts and every process of those scripts
    (pid -> parent pid), read while they run."""
    table = process_table()
    found: dict[int, int] = {}
    for record in records:
        try:
            stage = int(json.loads(record.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue  # the run just ended
        if stage in table:
            found[table[stage]] = table.get(table[stage], 0)  # its worker
            found.update({p: table[p] for p in descendants(stage, table) if p in table})
    return found


def _workers(processes: dict[int, int]) -> list[int]:
    return [pid for pid in processes if _cmdline(pid).startswith("ray::")]


def _wait_gone(pids: set[int]) -> set[int]:
    deadline = time.monotonic() + BOUND_S
    alive = {p for p in pids if _alive(p)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {p for p in alive if _alive(p)}
    return alive


def _snapshot(out: Path) -> dict[str, tuple[int, int, int]]:
    files = (p for p in out.rglob("*") if p.is_file() and p.name != ".lock")
    return {str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino)
            for p in files}


def _check_complete(out: Path, reference: pd.DataFrame) -> None:
    """Every step once, each node dir holding its journaled script, the local run's table."""
    nodes = JournalFile(_journal(out)).read()
    assert sorted(n.step for n in nodes) == list(range(STEPS))  # none lost, none duplicated
    assert all(n.status != "error" for n in nodes), [n.reason for n in nodes]
    dirs = {p.name for p in (out / "searches" / SEARCH / "nodes").iterdir()}
    assert dirs == {n.node_id for n in nodes}
    for node in nodes:
        assert (out / str(node.code_path)).read_text() == node.code
    got = comparable(read_nodes(out / "nodes.parquet"))
    assert got.equals(reference), got.compare(reference)
    assert not scratch_root(out).exists()  # no working dir left, even of a killed attempt


def _resume_and_check(run: Cli, reference: pd.DataFrame) -> None:
    """``--resume`` the interrupted study: it ends cleanly and equals the uninterrupted run."""
    run.start(resume=True)
    rc, err = run.finish()
    assert rc == 0, err
    _check_complete(run.out, reference)


@pytest.mark.parametrize("where", ["private", "cluster"])
def test_driver_killed_then_resume_completes_and_leftovers_never_write(
    where: str, cluster: LoopbackCluster, cli: Callable[..., Cli],
    reference: pd.DataFrame,
) -> None:
    """``kill -9`` of the CLI's process group mid-node: the Ray instance it started (private)
    or its tasks on the cluster end, none writes into the study dir afterwards, and
    ``--resume`` completes the study. Without ``--ray-address`` every run starts a private
    instance of its own, even where ``RAY_ADDRESS`` names a running cluster (``ray.init()``
    would join that one, and fail: a joining driver may not set the system config)."""
    if where == "private":
        run = cli([], env={"RAY_ADDRESS": cluster.address})
    else:
        run = cli(["--ray-address", cluster.address])
    proc = run.start()
    records = _running_script(proc, run.out, lines=1)
    table = process_table()
    doomed = set(_node_processes(records)) | descendants(proc.pid, table)
    assert _workers(_node_processes(records)), "the node's script runs in no Ray worker"
    before = _snapshot(run.out)
    run.kill()
    assert not _wait_gone(doomed - {proc.pid}), "processes of the killed study live on"
    assert _snapshot(run.out) == before  # nothing written after the kill

    _resume_and_check(run, reference)


def test_ctrl_c_exits_130_cleanly_then_resume_completes(
    cluster: LoopbackCluster, cli: Callable[..., Cli], reference: pd.DataFrame
) -> None:
    """SIGINT to the CLI's process group (what Ctrl-C in a terminal sends) mid-node."""
    run = cli(["--ray-address", cluster.address])
    proc = run.start()
    records = _running_script(proc, run.out, lines=1)
    running = _node_processes(records)
    assert _workers(running), "the node's script runs in no Ray worker"
    os.killpg(proc.pid, signal.SIGINT)
    rc, err = run.finish()
    assert rc == 130, err
    assert "--resume" in err and "Traceback" not in err, err
    assert not _wait_gone(set(running)), "the study's Ray workers or scripts live on"
    assert not scratch_root(run.out).exists()
    nodes = JournalFile(_journal(run.out)).read()
    assert len(nodes) < STEPS and all(n.status != "error" for n in nodes)

    _resume_and_check(run, reference)


def test_killed_worker_process_reruns_its_node(
    cluster: LoopbackCluster, cli: Callable[..., Cli], reference: pd.DataFrame
) -> None:
    """SIGKILL of the Ray worker process running a node (its node stays up): Ray runs the
    task again, the node is journaled once, with both attempts, and no error."""
    run = cli(["--ray-address", cluster.address])
    proc = run.start()
    records = _running_script(proc, run.out, lines=0)
    running = _node_processes(records)
    workers = _workers(running)
    assert workers, "the node's script runs in no Ray worker"
    victims = descendants(workers[0], process_table())
    os.kill(workers[0], signal.SIGKILL)
    assert not _wait_gone(victims), "the killed worker's script lives on"
    rc, err = run.finish()
    assert rc == 0, err
    nodes = JournalFile(_journal(run.out)).read()
    retried = [n for n in nodes if len(n.meta.get("ray_attempts", [])) > 1]
    assert retried, [n.meta.get("ray_attempts") for n in nodes]
    _check_complete(run.out, reference)
