"""Resume after kill -9 at random moments: no node lost or duplicated, same result."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from aira_eval.study.journal import JournalFile
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import comparable, run_small, start_cli

STEPS = 6
ARGS = ["search", "--task", "builtin:iris", "--policy", "greedy", "--seeds", "0",
        "--steps", str(STEPS), "--workers", "2", "--node-timeout", "120", "--no-mlflow",
        "--bug-rate", "0"]  # as the uninterrupted reference (run_small)


JOURNAL = Path("searches") / "builtin-iris__greedy__s0" / "journal.jsonl"


def _wait_for_nodes(proc: object, journal: Path, n: int = 1, timeout: float = 300.0) -> None:
    """Until the journal has ``n`` lines or the process ended: no guess at how fast the machine
    is (a kill before the study's manifest exists would test nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:  # type: ignore[attr-defined]
        if journal.exists() and journal.read_text().count("\n") >= n:
            return
        time.sleep(0.1)


def _kill_group(proc: object) -> None:
    pid = proc.pid  # type: ignore[attr-defined]
    os.killpg(pid, signal.SIGKILL)
    proc.wait()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted study both interrupted ones must equal (one run for the module)."""
    out = tmp_path_factory.mktemp("reference") / "study"
    return run_small(out, steps=STEPS, workers=2, node_timeout_s=120.0).study_dir


def _same_nodes(study: Path, reference: Path) -> None:
    got = comparable(read_nodes(study / "nodes.parquet"))
    want = comparable(read_nodes(reference / "nodes.parquet"))
    assert got.equals(want), got.compare(want)


def test_kill_9_then_resume_matches_uninterrupted_run(tmp_path: Path, reference: Path) -> None:
    rng = random.Random(1234)
    out = tmp_path / "killed"
    proc = start_cli([*ARGS, "--out", str(out)])
    kills = 0
    for i in range(3):
        _wait_for_nodes(proc, out / JOURNAL, n=1 + 2 * i)
        time.sleep(rng.uniform(0.0, 2.0))  # somewhere inside a node, or between two
        if proc.poll() is not None:
            break
        _kill_group(proc)
        kills += 1
        proc = start_cli([*ARGS, "--out", str(out), "--resume"])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert kills >= 1

    journal = JournalFile(out / "searches" / "builtin-iris__greedy__s0" / "journal.jsonl")
    nodes = journal.read()
    steps = [n.step for n in nodes]
    assert sorted(steps) == list(range(STEPS)), steps  # none lost, none duplicated
    _same_nodes(out, reference)


def test_ctrl_c_stops_cleanly_and_resume_completes(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "interrupted"
    args = [*ARGS, "--out", str(out)]
    proc = start_cli(args)
    _wait_for_nodes(proc, out / JOURNAL, n=1)
    assert proc.poll() is None, "the study finished before it could be interrupted"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=60)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert rc == 130, stderr
    assert time.monotonic() - t0 < 100  # running scripts are killed, not waited for (120 s)
    assert "--resume" in stderr and "Traceback" not in stderr
    journal = JournalFile(out / "searches" / "builtin-iris__greedy__s0" / "journal.jsonl")
    before = journal.read()
    assert len(before) < STEPS and all(n.status != "pending" for n in before)
    resumed = start_cli([*args, "--resume"])
    assert resumed.wait(timeout=300) == 0
    assert sorted(n.step for n in journal.read()) == list(range(STEPS))
    _same_nodes(out, reference)


@pytest.mark.slow  # a CLI study started and stopped
def test_sigterm_stops_like_ctrl_c_and_leaves_the_runs_killed(tmp_path: Path) -> None:
    """`kill PID` (SIGTERM) stops a search as Ctrl-C does: exit 130, resumable, and its MLflow
    runs KILLED (not left RUNNING by a process killed outright)."""
    from mlflow.tracking import MlflowClient

    out = tmp_path / "terminated"
    args = [a for a in ARGS if a != "--no-mlflow"]
    proc = start_cli([*args, "--out", str(out)])
    _wait_for_nodes(proc, out / JOURNAL, n=1)
    assert proc.poll() is None, "the study finished before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert rc == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{out.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name(f"aira-eval/{out.name}")
    assert {r.info.status for r in client.search_runs([exp.experiment_id])} == {"KILLED"}
