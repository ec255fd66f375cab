"""The local sandbox: real scripts, real containment, and a harness left unharmed.

Every containment test runs a hostile script through the strongest mode this machine allows
(the ``jail`` when run as root) and checks both the recorded reason and that nothing escaped.
A few tests force the weaker ``pidns``/``plain`` modes so the fallbacks stay honest.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.report import format_report_lines, parse_report
from aira_eval.search.sandbox import ExecResult, ExecSpec, Sandbox, make_sandbox, prefork
from aira_eval.search.sandbox.base import OutputCapture, copy_submission
from aira_eval.search.sandbox.local import JAIL_PREFIX, LocalSandbox

ANSWERS = "id,target\n1,SECRET-ANSWER-7f3a\n"


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    return LocalSandbox()


@pytest.fixture
def task(tmp_path: Path) -> Path:
    """A task dir: public/ (what the script sees) next to private/ (answers)."""
    root = tmp_path / "task"
    (root / "public" / "images").mkdir(parents=True)
    (root / "public" / "train.csv").write_text("id,x,target\n1,0.5,0\n2,0.7,1\n")
    (root / "public" / "test.csv").write_text("id,x\n3,0.1\n")
    (root / "public" / "images" / "a.txt").write_text("pixel")
    (root / "private").mkdir()
    (root / "private" / "answers.csv").write_text(ANSWERS)
    return root


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A workdir parent away from the task, as the search runner uses (``mkdtemp``)."""
    path = Path(tempfile.mkdtemp(prefix="aira-test-work-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(sb: LocalSandbox, task: Path, scratch: Path, code: str, **kw: object) -> ExecResult:
    """Run ``code`` (dedented) on ``task`` with test defaults, overridable by ``kw``."""
    spec = ExecSpec(code=textwrap.dedent(code), public_dir=task / "public",
                    **{"timeout_s": 20.0, "memory_mb": 2048, **kw})  # type: ignore[arg-type]
    return sb.run(spec, scratch / "work", scratch / "keep")


def none_survive(token: str, seconds: float = 30.0) -> bool:
    """Whether every process marked with ``token`` is gone, waiting for that (bounded) rather
    than assuming how fast the kernel tears down a killed tree on a loaded machine."""
    deadline = time.monotonic() + seconds
    while survivors(token):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def survivors(token: str) -> list[int]:
    """Live processes whose environment holds ``token`` (but this harness's own idle
    pre-forked interpreters, which start with the scripts' environment)."""
    hits, zygotes = [], prefork.zygote_pids()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) in zygotes:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in env and state != b"Z":
            hits.append(int(pid))
    return hits


# ---- the ordinary contract ----


def test_normal_script_submission_and_score(sandbox: LocalSandbox, task: Path,
                                            scratch: Path) -> None:
    code = f"""
        import os, pandas as pd
        train = pd.read_csv("input/train.csv")
        assert os.listdir("submission") == [] and os.path.isdir("working")
        assert open("input/images/a.txt").read() == "pixel"
        pd.DataFrame({{"id": [3], "target": [1]}}).to_csv("submission/submission.csv", index=False)
        print("rows", len(train))
        print({format_report_lines(0.75, [0.7, 0.8])!r}, end="")
    """
    res = run(sandbox, task, scratch, code)
    assert res.ok, res.stderr_tail
    assert res.exit_code == 0 and not res.timed_out and not res.oom
    assert res.report.score == 0.75 and res.report.folds == [0.7, 0.8]
    keep = scratch / "keep"
    assert parse_report((keep / "stdout.txt").read_text()).score == 0.75
    assert res.submission_path == keep / "submission.csv"
    assert res.submission_path.read_text() == "id,target\n3,1\n"
    assert (keep / "code.py").read_text().startswith("\nimport os")
    assert (keep / "stderr.txt").exists()
    assert not (scratch / "work").exists(), "the working dir is removed"
    assert res.isolation in ("unshare-net", "unshare-net+prefork", "none")
    assert res.wall_time > 0 and res.script_time is not None


def test_no_submission(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    res = run(sandbox, task, scratch, "print('VALIDATION_SCORE: 0.5')\n")
    assert res.exit_code == 0
    assert res.submission_path is None
    assert not (scratch / "keep" / "submission.csv").exists()


def test_nonzero_exit_keeps_the_traceback(sandbox: LocalSandbox, task: Path,
                                          scratch: Path) -> None:
    res = run(sandbox, task, scratch, "print('start')\ndef f():\n    return 1 / 0\nf()\n")
    assert res.exit_code == 1 and not res.ok and not res.oom and res.killed_reason is None
    assert "Traceback (most recent call last)" in res.stderr_tail
    assert "ZeroDivisionError" in res.stderr_tail
    assert "ZeroDivisionError" in (scratch / "keep" / "stderr.txt").read_text()


def test_clean_environment(sandbox: LocalSandbox, task: Path, scratch: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak-me-not")
    res = run(sandbox, task, scratch, "import os\nprint(sorted(os.environ.items()))\n",
              env={"MY_VAR": "given"})
    assert "sk-leak-me-not" not in res.stdout_tail and "OPENAI_API_KEY" not in res.stdout_tail
    assert "('MY_VAR', 'given')" in res.stdout_tail
    assert "('OMP_NUM_THREADS', '1')" in res.stdout_tail


def test_inputs_are_read_only_and_originals_intact(sandbox: LocalSandbox, task: Path,
                                                   scratch: Path) -> None:
    code = """
        import os
        for action in (lambda: open("input/train.csv", "a").write("x"),
                       lambda: os.chmod("input/train.csv", 0o666),
                       lambda: os.unlink("input/test.csv"),
                       lambda: open("input/new.csv", "w")):
            try:
                action()
                print("WROTE")
            except OSError as err:
                print("DENIED", err.errno)
    """
    before = (task / "public" / "train.csv").read_bytes()
    res = run(sandbox, task, scratch, code)
    if sandbox.mode_for(sys.executable).name == "jail":
        assert res.stdout_tail.count("DENIED") == 4, res.stdout_tail
    assert (task / "public" / "train.csv").read_bytes() == before
    assert oct((task / "public" / "train.csv").stat().st_mode & 0o777) == oct(0o644)
    assert (task / "public" / "test.csv").exists()


def test_input_on_another_filesystem_is_bind_mounted(sandbox: LocalSandbox, task: Path,
                                                     scratch: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if sandbox.mode_for(sys.executable).name != "jail":
        pytest.skip("the bind-mount fallback is a jail feature")

    def cross_device(*_a: object, **_k: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    code = """
        print(sorted(__import__("os").listdir("input")), open("input/train.csv").read()[:2])
        try:
            open("input/train.csv", "a")
        except OSError as err:
            print("DENIED", err.errno)
    """
    res = run(sandbox, task, scratch, code)
    assert "['images', 'test.csv', 'train.csv'] id" in res.stdout_tail, res.stderr_tail
    assert "DENIED" in res.stdout_tail
    assert any("bind mount" in n for n in res.notes)


def test_ro_binds_may_not_expose_the_task(sandbox: LocalSandbox, task: Path,
                                          scratch: Path) -> None:
    if sandbox.mode_for(sys.executable).name != "jail":
        pytest.skip("ro_binds are a jail feature")
    with pytest.raises(UsageError, match="would expose"):
        run(sandbox, task, scratch, "pass\n", ro_binds=(task.parent,))


# ---- containment ----


def test_no_network(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    if sandbox.mode_for(sys.executable).name == "plain":
        pytest.skip("no network namespace here; not sending real traffic")
    code = """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
            print("CONNECTED")
        except OSError as err:
            print("CONNECT_FAILED", err)
        try:
            socket.getaddrinfo("example.com", 443)
            print("RESOLVED")
        except OSError as err:
            print("DNS_FAILED", err)
        print("IFACES", sorted(n for _, n in socket.if_nameindex()))
    """
    res = run(sandbox, task, scratch, code)
    assert res.isolation in ("unshare-net", "unshare-net+prefork") and "netns" in res.mechanisms
    assert "CONNECT_FAILED" in res.stdout_tail and "CONNECTED" not in res.stdout_tail
    assert "DNS_FAILED" in res.stdout_tail and "RESOLVED" not in res.stdout_tail
    assert "IFACES ['lo']" in res.stdout_tail


def test_private_path_not_derivable(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    code = """
        import os
        print("ENV", dict(os.environ))
        print("CWD", os.getcwd(), os.listdir("."), os.listdir(".."))
        here = os.getcwd()
        for _ in range(6):
            here = os.path.dirname(here)
            print("UP", here, sorted(os.listdir(here))[:50])
        for path in ("/proc/self/cmdline", "/proc/1/cmdline", "/proc/self/mountinfo",
                     "/proc/1/environ"):
            try:
                print(path, open(path, "rb").read().replace(b"\\0", b" ").decode())
            except OSError as err:
                print(path, "unreadable", err.errno)
    """
    res = run(sandbox, task, scratch, code)
    out = (scratch / "keep" / "stdout.txt").read_text()
    assert res.exit_code == 0, res.stderr_tail
    assert "ENV" in out
    for secret in (str(task / "private"), str(task), "SECRET-ANSWER-7f3a"):
        assert secret not in out


def test_private_answers_unreachable_by_absolute_path(sandbox: LocalSandbox, task: Path,
                                                      scratch: Path) -> None:
    if sandbox.mode_for(sys.executable).name != "jail":
        pytest.skip("only the jail makes host paths unreachable; use the docker backend")
    answers = task / "private" / "answers.csv"
    code = f"""
        import os
        for path in ({str(answers)!r}, "/proc/1/root" + {str(answers)!r}, {str(task)!r}):
            try:
                print("READ", open(path).read() if os.path.isfile(path) else os.listdir(path))
            except OSError as err:
                print("BLOCKED", err.errno)
        os.symlink({str(answers)!r}, "submission/submission.csv")
    """
    res = run(sandbox, task, scratch, code)
    assert res.stdout_tail.count("BLOCKED") == 3, res.stdout_tail
    assert "SECRET-ANSWER-7f3a" not in res.stdout_tail
    # the symlink would point at the real answers in the harness's view: never followed
    assert res.submission_path is None
    assert any("submission.csv ignored" in n for n in res.notes)
    assert not (scratch / "keep" / "submission.csv").exists()


def test_infinite_loop_killed_at_timeout(sandbox: LocalSandbox, task: Path,
                                         scratch: Path) -> None:
    start = time.monotonic()
    res = run(sandbox, task, scratch, "print('spinning')\nwhile True:\n    pass\n", timeout_s=2)
    assert res.timed_out and res.exit_code is None and not res.oom
    assert res.killed_reason and "time limit" in res.killed_reason
    assert 2.0 <= res.wall_time < 4.0
    assert time.monotonic() - start < 6.0
    assert "spinning" in res.stdout_tail


@pytest.mark.parametrize(
    "code",
    [
        "buf = bytearray(20 * 1024**3)\n",  # one 20 GB allocation
        "chunks = []\nwhile True:\n    chunks.append(b'x' * (50 * 1024**2))\n",  # creeping
    ],
    ids=["20GB-at-once", "creeping"],
)
def test_memory_limit(sandbox: LocalSandbox, task: Path, scratch: Path, code: str) -> None:
    res = run(sandbox, task, scratch, code, memory_mb=1024, timeout_s=30)
    assert res.oom and not res.timed_out
    assert res.killed_reason and "memory" in res.killed_reason
    assert res.exit_code != 0
    assert res.wall_time < 20


def test_memory_limit_across_processes(sandbox: LocalSandbox, task: Path,
                                       scratch: Path) -> None:
    """Four children of 400 MB each stay under the per-process limit but not the total."""
    code = """
        import os, time
        for _ in range(4):
            if os.fork() == 0:
                block = b"x" * (400 * 1024**2)
                time.sleep(60)
                os._exit(0)
        time.sleep(60)
    """
    res = run(sandbox, task, scratch, code, memory_mb=1024, timeout_s=30)
    assert res.oom and not res.timed_out, res
    assert res.killed_reason and "process tree" in res.killed_reason
    assert res.wall_time < 20


# Fork bombs: the time limit is far away (a bounded wait, never the expected end) and every
# process sleeps until killed, so however slowly a loaded machine forks, only the process
# limit can end the run: the reason must be that limit, never the clock.
FORK_BOMB_TIMEOUT_S = 600.0
FORK_BOMB = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""


def test_fork_bomb_contained(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    token = uuid.uuid4().hex
    code = """
        import os, time
        made = 0
        for _ in range(5000):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(3600)
                os._exit(0)
            made += 1
        print("made", made, flush=True)
        time.sleep(3600)
    """
    res = run(sandbox, task, scratch, code, timeout_s=FORK_BOMB_TIMEOUT_S, max_procs=200,
              env={"MARK": token})
    assert res.killed_reason == "killed: 200 processes at once (fork bomb?)", res
    assert not res.timed_out and not res.oom and res.exit_code is None
    assert none_survive(token)


def test_exponential_fork_bomb_contained(sandbox: LocalSandbox, task: Path,
                                         scratch: Path) -> None:
    """``while True: fork()`` -- only where the kernel caps the processes (unprivileged uid)."""
    probe = run(sandbox, task, scratch, "pass\n")
    if "rlimit-nproc" not in probe.mechanisms:
        pytest.skip("RLIMIT_NPROC is not enforced here (the script would run as root)")
    token = uuid.uuid4().hex
    code = FORK_BOMB
    shutil.rmtree(scratch / "keep")
    res = run(sandbox, task, scratch, code, timeout_s=FORK_BOMB_TIMEOUT_S, env={"MARK": token})
    assert res.killed_reason == "killed: 512 processes at once (fork bomb?)", res
    assert not res.timed_out and not res.oom
    assert none_survive(token)


def test_daemonized_grandchild_killed(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    token = uuid.uuid4().hex
    code = """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 3)  # a proper daemon: no pipes held
                time.sleep(300)
            os._exit(0)
        os.wait()
        print("parent done")
    """
    res = run(sandbox, task, scratch, code, env={"MARK": token})
    assert res.exit_code == 0 and "parent done" in res.stdout_tail
    assert res.wall_time < 5
    time.sleep(0.1)
    assert survivors(token) == []


def test_stray_child_holding_the_pipes_killed_at_timeout(sandbox: LocalSandbox, task: Path,
                                                         scratch: Path) -> None:
    token = uuid.uuid4().hex
    code = """
        import subprocess, time
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        time.sleep(300)
    """
    res = run(sandbox, task, scratch, code, timeout_s=1.5, env={"MARK": token})
    assert res.timed_out
    assert res.wall_time < 5
    assert survivors(token) == []


def test_killed_harness_leaves_no_runaway_script(task: Path, scratch: Path) -> None:
    """If the harness dies (SIGKILL), the script dies with it (PR_SET_PDEATHSIG on the
    launcher; the stage's own deadline, time limit + backstop, stays as a second line)."""
    token = uuid.uuid4().hex
    harness = f"""
import sys, tempfile
from pathlib import Path
from aira_eval.search.sandbox import local
tempfile.tempdir = {str(scratch / "tmp")!r}  # the dead harness's jail mount point goes here
from aira_eval.search.sandbox.base import ExecSpec
local.BACKSTOP_S = 1
spec = ExecSpec(code="while True:\\n    pass\\n",
                public_dir=Path({str(task / "public")!r}), timeout_s=3, env={{"MARK": {token!r}}})
print("go", flush=True)
local.LocalSandbox().run(spec, Path({str(scratch / "w")!r}), Path({str(scratch / "k")!r}))
"""
    (scratch / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "go"
    deadline = time.monotonic() + 10
    while not survivors(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(token), "the script never started"
    proc.kill()  # the harness dies without cleaning up
    proc.wait()
    deadline = time.monotonic() + 8
    while survivors(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors(token) == []


def test_stale_jail_mount_points_swept() -> None:
    old = Path(tempfile.mkdtemp(prefix=JAIL_PREFIX))
    new = Path(tempfile.mkdtemp(prefix=JAIL_PREFIX))
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    try:
        LocalSandbox()
        assert not old.exists() and new.exists()
    finally:
        for path in (old, new):
            if path.exists():
                path.rmdir()


def test_one_gigabyte_of_output_is_capped(sandbox: LocalSandbox, task: Path,
                                          scratch: Path) -> None:
    code = """
        import sys
        line = "y" * 1023 + "\\n"
        block = line * 1024  # 1 MiB
        for i in range(1024):
            sys.stdout.write(block)
            if i == 500:
                print("VALIDATION_SCORE: 0.4242")
        print("last line")
    """
    res = run(sandbox, task, scratch, code, timeout_s=60, max_output_bytes=200_000)
    assert res.exit_code == 0, res.stderr_tail
    assert res.stdout_truncated
    stdout = scratch / "keep" / "stdout.txt"
    assert stdout.stat().st_size < 210_000
    text = stdout.read_text()
    assert "bytes of output omitted here" in text
    assert text.rstrip().endswith("last line")
    assert res.stdout_tail.rstrip().endswith("last line") and len(res.stdout_tail) <= 8192
    assert res.report.score == 0.4242
    assert parse_report(text).score == 0.4242  # the dropped middle's report is kept


def test_parallel_runs(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    results: dict[int, float | None] = {}

    def one(i: int) -> None:
        spec = ExecSpec(code=f"import time\ntime.sleep(0.3)\nprint('VALIDATION_SCORE: {i}')\n",
                        public_dir=task / "public", timeout_s=20)
        res = sandbox.run(spec, scratch / f"w{i}", scratch / f"k{i}")
        results[i] = res.report.score

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: float(i) for i in range(4)}


# ---- the weaker modes ----


@pytest.mark.parametrize("mode", ["pidns", "plain"])
def test_fallback_modes_run_and_kill_daemons(mode: str, task: Path, scratch: Path) -> None:
    sb = LocalSandbox(force_mode=mode)
    token = uuid.uuid4().hex
    code = """
        import os, time
        print("CWD", os.getcwd(), sorted(os.environ))
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(300)  # a daemon that keeps stdout/stderr open
            os._exit(0)
        os.wait()
        open("submission/submission.csv", "w").write("id\\n1\\n")
        print("VALIDATION_SCORE: 1.25")
    """
    res = run(sb, task, scratch, code, env={"MARK": token})
    assert res.exit_code == 0, res.stderr_tail
    assert res.wall_time < 1.5, "the daemon holding the pipes was killed, not waited for"
    assert res.report.score == 1.25 and res.submission_path is not None
    assert res.isolation_note  # the weaker mode says what it lacks
    assert str(task) not in res.stdout_tail
    time.sleep(0.1)
    assert survivors(token) == []
    if mode == "plain":
        assert res.isolation == "none" and "env-token-sweep" in res.mechanisms


# ---- interface and helpers ----


def test_make_sandbox() -> None:
    assert isinstance(make_sandbox("local", image="ignored"), Sandbox)
    with pytest.raises(UsageError, match="unknown sandbox"):
        make_sandbox("vm")


def test_bad_specs_rejected(sandbox: LocalSandbox, task: Path, scratch: Path) -> None:
    (scratch / "work").mkdir()
    (scratch / "work" / "leftover").write_text("x")
    with pytest.raises(UsageError, match="not an empty directory"):
        run(sandbox, task, scratch, "pass\n")
    with pytest.raises(UsageError, match="inside the task directory"):
        sandbox.run(ExecSpec(code="pass", public_dir=task / "public", timeout_s=5),
                    task / "work", scratch / "keep")
    with pytest.raises(UsageError, match="timeout_s"):
        sandbox.run(ExecSpec(code="pass", public_dir=task / "public", timeout_s=0),
                    scratch / "w2", scratch / "keep")


def test_output_capture_head_tail_and_marker(tmp_path: Path) -> None:
    cap = OutputCapture(tmp_path / "out.txt", 40_000, scan_report=True)
    cap.feed(b"h" * 30_000 + b"\n")
    cap.feed(b"VALIDATION_SCORE: 9.5\n")
    cap.feed(b"m" * 100_000 + b"\n")
    cap.feed(b"t" * 10_000 + b"\nMemoryErr")
    cap.feed(b"or\n")
    cap.close()
    text = (tmp_path / "out.txt").read_text()
    assert text.startswith("h" * 20_000) and text.endswith("MemoryError\n")
    assert cap.truncated and cap.memory_error
    assert parse_report(text).score == 9.5
    assert len(text) < 40_200


def test_copy_submission_refuses_special_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "submission").mkdir(parents=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("answers")
    (work / "submission" / "submission.csv").symlink_to(secret)
    path, note = copy_submission(work, tmp_path / "out.csv")
    assert path is None and note and "ignored" in note
    (work / "submission" / "submission.csv").unlink()
    os.mkfifo(work / "submission" / "submission.csv")
    path, note = copy_submission(work, tmp_path / "out.csv")
    assert path is None and note and "not a regular file" in note
    shutil.rmtree(work / "submission")
    (work / "submission").symlink_to(tmp_path)
    path, note = copy_submission(work, tmp_path / "out.csv")
    assert path is None and note
