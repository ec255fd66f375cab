"""One writer per study dir: an OS lock that names its holder and dies with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.config import StudyConfig
from aira_eval.search.study_runner import run_study
from aira_eval.study.lock import LOCK_NAME, lock_holder, study_lock

ROOT = Path(__file__).resolve().parents[2]

_HOLD = """
import sys, time
from pathlib import Path
from aira_eval.study.lock import study_lock
with study_lock(Path(sys.argv[1]), "holder-test"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(study: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(study)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _config() -> StudyConfig:
    return StudyConfig.from_dict({
        "tasks": ["builtin:iris"], "policies": ["greedy"], "seeds": [0], "steps": 1,
        "workers": 1, "node_timeout_s": 60.0, "mlflow": False}).validate()


def test_second_writer_gets_an_error_naming_pid_and_host(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc = _holder(study)
    try:
        with pytest.raises(UsageError) as err, study_lock(study):
            pass
        assert f"pid {proc.pid}" in err.value.message
        assert socket.gethostname() in err.value.message
        holder = lock_holder(study)
        assert holder is not None and holder["command"] == "holder-test"
    finally:
        proc.kill()
        proc.wait()


def test_search_refuses_a_study_held_by_another_process(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc = _holder(study)
    try:
        with pytest.raises(UsageError, match=f"in use by pid {proc.pid}"):
            run_study(_config(), study)
        with pytest.raises(UsageError, match="in use"):
            run_study(_config(), study, resume=True)
        assert not (study / "searches").exists()  # nothing written beside the holder
    finally:
        proc.kill()
        proc.wait()


def test_lock_dies_with_a_kill_9_holder(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc = _holder(study)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with study_lock(study, "next") as path:  # no stale lock to clean up
        holder = lock_holder(study)
        assert holder is not None and holder["pid"] == os.getpid()
        assert path.name == LOCK_NAME


def test_lock_is_reentrant_only_after_release_and_leaves_no_empty_dir(tmp_path: Path) -> None:
    study = tmp_path / "fresh"
    with study_lock(study), pytest.raises(UsageError), study_lock(study):
        pass
    assert not study.exists()  # the failed run left nothing behind
    kept = tmp_path / "kept"
    with study_lock(kept):
        (kept / "study.json").write_text("{}")
    assert (kept / "study.json").exists()


def test_readers_never_wait_for_the_lock(tmp_path: Path) -> None:
    from aira_eval.study.load import load_study

    study = tmp_path / "study"
    run_study(_config(), study)
    proc = _holder(study)
    try:
        loaded = load_study([study])  # would raise or hang if readers took the lock
        assert len(loaded.nodes) == 1
    finally:
        proc.kill()
        proc.wait()


def test_resume_of_a_run_killed_before_its_manifest_starts_afresh(tmp_path: Path) -> None:
    study = tmp_path / "study"
    proc = _holder(study)  # a run that got the lock, then was killed before study.json
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = run_study(_config(), study, resume=True)
    assert (study / "study.json").exists() and len(result.outcomes) == 1
    with pytest.raises(UsageError, match="nothing to resume"):
        run_study(_config(), tmp_path / "typo", resume=True)


def test_a_full_disk_is_a_clear_error_and_resume_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from aira_eval.study import records
    from aira_eval.study.journal import JournalFile

    study = tmp_path / "study"

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records, "write_nodes", full)
    with pytest.raises(UsageError, match="no space left") as err:
        run_study(_config(), study)
    assert err.value.hint and "--resume" in err.value.hint
    monkeypatch.undo()
    journal = JournalFile(study / "searches" / "builtin-iris__greedy__s0" / "journal.jsonl")
    assert len(journal.read()) == 1  # journaled before the table write failed
    run_study(_config(), study, resume=True)
    assert (study / "nodes.parquet").exists() and len(journal.read()) == 1
