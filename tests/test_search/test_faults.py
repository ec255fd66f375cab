"""Fault campaign, fast part: what a killed harness leaves behind, and who reaps it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from aira_eval.search.sandbox.leftovers import reap, record_run, scratch_root
from aira_eval.study.journal import JournalFile
from tests.test_search.conftest import cli_env, run_small
from tests.test_search.test_sandbox_local import survivors

_HARNESS = """
import sys, tempfile
from pathlib import Path
from aira_eval.search.sandbox import ExecSpec
from aira_eval.search.sandbox.local import LocalSandbox
public = Path(tempfile.mkdtemp()) / "public"
public.mkdir()
work = Path(tempfile.mkdtemp())
code = "import time\\ntime.sleep(120)\\n"
spec = ExecSpec(code=code, public_dir=public, timeout_s=120, env={"FAULT_TOKEN": sys.argv[1]})
LocalSandbox().run(spec, work / "w", work / "keep")
"""


def _wait(predicate: object, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_kill_9_of_the_harness_kills_its_sandboxed_script() -> None:
    token = uuid.uuid4().hex
    harness = subprocess.Popen([sys.executable, "-c", _HARNESS, token], env=cli_env())
    try:
        assert _wait(lambda: survivors(token), 60), "the script never started"
        os.kill(harness.pid, signal.SIGKILL)  # the harness alone, as `kill -9 <cli pid>`
        harness.wait()
        assert _wait(lambda: not survivors(token), 30), "the script outlived its harness"
    finally:
        harness.kill()
        for pid in survivors(token):
            os.kill(pid, signal.SIGKILL)


def _plant_leftover(study: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    scratch = scratch_root(study)
    workdir = scratch / "node-left"
    (workdir / "working").mkdir(parents=True)
    (workdir / "working" / "blob").write_bytes(b"x" * 1000)
    jail = Path(scratch.parent / f"aira-jail-test-{uuid.uuid4().hex[:8]}")
    jail.mkdir()
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    record_run(workdir, proc.pid, jail)
    return proc, workdir, jail


def test_reap_kills_recorded_processes_and_removes_dirs(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc, workdir, jail = _plant_leftover(study)
    stray = scratch_root(study) / "node-unrecorded"
    stray.mkdir()
    try:
        reaped = reap(scratch_root(study))
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert reaped.processes == 1
        assert not workdir.exists() and not jail.exists() and not stray.exists()
        assert list(scratch_root(study).iterdir()) == []
    finally:
        proc.kill()


def test_reap_spares_a_recycled_pid(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc, workdir, _jail = _plant_leftover(study)
    record = workdir.with_name(workdir.name + ".run")
    record.write_text(record.read_text().replace('"start": ', '"start": 1'))  # another start
    try:
        assert reap(scratch_root(study)).processes == 0
        assert proc.poll() is None  # not ours any more: left alone
    finally:
        proc.kill()
        proc.wait()


def test_a_study_run_reaps_what_a_killed_run_left(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc, workdir, jail = _plant_leftover(study)
    try:
        run_small(study, steps=1, workers=1)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert not workdir.exists() and not jail.exists()
        assert not scratch_root(study).exists()  # and the run leaves no scratch behind
        nodes = JournalFile(study / "searches" / "builtin-iris__greedy__s0" /
                            "journal.jsonl").read()
        assert len(nodes) == 1
    finally:
        proc.kill()


def test_jail_init_cmdline_shows_no_harness_path(tmp_path: Path) -> None:
    import aira_eval
    from aira_eval.search.sandbox import ExecSpec
    from aira_eval.search.sandbox.local import LocalSandbox

    sandbox = LocalSandbox()
    public = tmp_path / "task" / "public"
    public.mkdir(parents=True)
    code = "print(open('/proc/1/cmdline','rb').read().replace(b'\\0', b' ').decode())\n"
    work = Path(tempfile.mkdtemp(prefix="aira-test-work-"))
    try:
        res = sandbox.run(ExecSpec(code=code, public_dir=public, timeout_s=30), work / "w",
                          work / "k")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert res.exit_code == 0, res.stderr_tail
    if "pidns" not in res.mechanisms:
        pytest.skip("no PID namespace here: PID 1 is the host's init")
    package_dir = str(Path(aira_eval.__file__).parent)
    assert "python" in res.stdout_tail  # it is the stage
    assert package_dir not in res.stdout_tail and "limits.py" not in res.stdout_tail


def test_a_full_study_disk_stops_the_study_and_no_node_takes_the_blame(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that cannot write its files because the study's disk is full is not journaled
    as an ``error`` node (it would never re-run): the study stops with a clear error naming
    the file, and a resume after freeing space runs exactly the missing nodes. (Scripts are
    not run: a canned failed run stands for each, so the test takes seconds.)"""
    import errno
    import threading

    from aira_eval.errors import UsageError
    from aira_eval.search import runner
    from aira_eval.search.sandbox.base import ExecResult
    from aira_eval.search.study_runner import run_study
    from tests.test_search.conftest import small_config

    study, calls, lock = tmp_path / "study", [], threading.Lock()
    full = threading.Event()

    def canned(_ctx: object, _code: str, node_dir: Path) -> ExecResult:
        with lock:
            calls.append(node_dir)
            if full.is_set() and len(calls) > 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(node_dir / "x.txt"))
        return ExecResult(exit_code=1, timed_out=False, oom=False, killed_reason=None,
                          wall_time=0.01, stdout_tail="", stderr_tail="ValueError: boom",
                          stdout_truncated=False, submission_path=None, isolation="none",
                          isolation_note=None, workdir=node_dir)

    monkeypatch.setattr(runner, "_execute", canned)
    full.set()
    with pytest.raises(UsageError, match=r"no space left writing .*x\.txt") as err:
        run_study(small_config(steps=4, workers=1), study)
    assert err.value.hint and "--resume" in err.value.hint
    journal = JournalFile(study / "searches" / "builtin-iris__greedy__s0" / "journal.jsonl")
    assert [n.step for n in journal.read()] == [0, 1]
    full.clear()  # space freed
    run_study(small_config(steps=4, workers=1), study, resume=True)
    nodes = journal.read()
    assert sorted(n.step for n in nodes) == [0, 1, 2, 3]
    assert not any("No space left" in (n.reason or "") for n in nodes)
    assert all(n.status == "buggy" for n in nodes)  # each canned run's own failure


def test_a_journal_line_that_cannot_be_finished_is_undone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from aira_eval.search.node import Node
    from aira_eval.study import journal as journal_module

    journal = JournalFile(tmp_path / "journal.jsonl")
    journal.append(Node(node_id="a", search_id="s", step=0, batch=0, operator="draft"))
    before = journal.path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 8:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", half_then_full)
    with pytest.raises(OSError) as info:
        journal.append(Node(node_id="b", search_id="s", step=1, batch=1, operator="draft"))
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(journal.path)
    assert journal.path.read_bytes() == before  # no torn line left behind


def test_disk_full_sees_through_wrappers_and_errno_less_errors() -> None:
    import errno

    from aira_eval.errors import disk_full

    plain = OSError(errno.ENOSPC, "No space left on device")
    arrow = OSError("IOError: error writing nodes.parquet. Detail: [errno 28] No space left "
                    "on device")  # pyarrow's: no errno attribute
    try:
        try:
            raise plain
        except OSError as err:
            raise RuntimeError("wrapped") from err
    except RuntimeError as wrapped:
        assert disk_full(wrapped) is plain
    assert disk_full(arrow) is arrow
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full(ValueError("No space left on device")) is None


def _bench(name: str) -> Any:
    """A module of bench/faults (the campaign's scripts are not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "faults" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"faults_{name}", path)
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _llm_targets(figures: dict[str, Any]) -> None:
    """The llm scenario's targets: every step a node, errors only where retries ran out."""
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert figures["nodes_journaled"] == figures["budget"], figures
    assert figures["searches_stopped"] == ["budget"], figures  # the search went on
    assert figures["error_nodes"] == figures["prompts_exhausted_code"], figures
    assert figures["error_nodes_not_exhausted"] == 0, figures
    assert figures["exhausted_without_error_node"] == 0, figures
    assert figures["failed_reviews"] == figures["reviews_exhausted"], figures
    assert figures["tracebacks"] == 0 and figures["raised"] == [], figures
    assert figures["backoff_sleeps_skipped"] == (figures["faults_injected"].get("rate_limit", 0)
                                                 + figures["faults_injected"].get("timeout", 0)
                                                 - figures["transport_exhausted"]), figures


def test_faulty_model_answers_from_the_prompt_never_the_call_order() -> None:
    from aira_eval.search.operators.llm.scripted import Call

    faults = _bench("llm_faults")

    def call(user: str, op: str = "draft", attempt: int = 0) -> Call:
        return Call(op, attempt, [{"role": "system", "content": "s"},
                                  {"role": "user", "content": user}], None, None)

    calls = [call(f"# Draft a solution\nprompt {i}") for i in range(40)]
    calls += [call(f"# Review a run\nrun {i}", "analyze") for i in range(40)]
    first, second = faults.FaultyModel(0.5, 3, 4), faults.FaultyModel(0.5, 3, 4)
    forward = [repr(first(c)) for c in calls]
    backward = [repr(second(c)) for c in reversed(calls)][::-1]
    assert forward == backward and first.injected == second.injected
    assert set(first.injected) == {"rate_limit", "timeout", "prose", "malformed"}
    # a rate limit or timeout recurs on resends of one prompt, then the model answers
    model = faults.FaultyModel(1.0, 3, 4)
    key = next(c for c in calls if model.fault_of(faults.prompt_key(c.messages), c.op)[0]
               in faults.TRANSIENT)
    kind, times = model.fault_of(faults.prompt_key(key.messages), key.op)
    replies = [model(key) for _ in range(4)]
    assert replies[:times] == [faults.RAISED[kind]] * times
    assert faults.RAISED[kind] not in replies[times:]


def test_llm_faults_scenario_tiny(tmp_path: Path) -> None:
    """bench/faults' llm scenario at its smallest: every prompt faulted, 3 steps, 1 search."""
    figures = _bench("llm_faults").llm(tmp_path, steps=3, share=1.0, operator_sets=("aide",))
    assert sum(figures["faults_injected"].values()) >= 3, figures
    _llm_targets(figures)


@pytest.mark.slow
def test_fault_campaign_meets_its_targets(tmp_path: Path) -> None:
    """bench/faults/run.py's scenarios: 0 lost, 0 duplicated, 0 left behind, 0 tracebacks, the
    same table as an uninterrupted run, MLflow complete; LLM faults never stop a search."""
    campaign = _bench("run")
    kills = campaign.kills(tmp_path, n_kills=6, steps=12, seed=7)
    assert kills["exit_code"] == 0 and kills["lost"] == 0 and kills["duplicated"] == 0
    assert kills["processes_left_behind"] == 0 and not kills["scratch_left_behind"]
    assert kills["tracebacks"] == 0 and kills["table_equals_uninterrupted"]
    assert kills["mlflow_missing"] == 0 and kills["mlflow_duplicated"] == 0, kills
    assert kills["mlflow_search_runs"] == 1 and kills["mlflow_runs_left_running"] == 0, kills
    llm = campaign.llm(tmp_path, steps=8, share=0.4)
    _llm_targets(llm)
    assert llm["budget"] == 16 and sum(llm["faults_injected"].values()) > 0, llm
    together = campaign.concurrent(tmp_path, steps=4)
    assert together["exit_codes"] == [0, 2] and together["second_refused_naming_pid"]
    assert together["resume_during_run_refused"] and together["duplicated"] == 0
    assert together["tracebacks"] == 0
    full = campaign.fullfs(tmp_path, steps=8)
    if "skipped" not in full:  # needs root to mount the small filesystem
        assert full["clear_error"], full["message"]
        assert full["journal_intact"] and full["nodes_journaled_with_disk_error"] == 0
        assert full["resume_exit_code"] == 0 and full["lost"] == 0
        assert full["duplicated"] == 0 and full["tracebacks"] == 0
        assert not full["scratch_left_behind"]
