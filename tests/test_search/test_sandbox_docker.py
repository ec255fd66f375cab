"""The docker sandbox: the local sandbox's containment suite on both backends, plus what is
docker's own (labels, removal on every exit path, reaping by ``aira-eval clean``).

Docker cases skip without a daemon and the image, unless ``AIRA_EVAL_REQUIRE_DOCKER=1``
(CI) turns that into a failure. ``AIRA_EVAL_DOCKER_IMAGE`` picks another image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aira_eval.errors import UsageError
from aira_eval.search.sandbox import ExecResult, ExecSpec, Sandbox, make_sandbox
from aira_eval.search.sandbox.docker import LABEL_STUDY_DIR, DockerSandbox
from aira_eval.search.sandbox.local import LocalSandbox
from aira_eval.search.sandbox.watchdog import CANCELLED_REASON
from tests.test_search.test_sandbox_local import FORK_BOMB_TIMEOUT_S, none_survive

IMAGE = os.environ.get("AIRA_EVAL_DOCKER_IMAGE", "aira-eval-sandbox")
ANSWERS = "id,target\n1,SECRET-ANSWER-d0c4\n"


def _docker() -> DockerSandbox:
    try:
        return DockerSandbox(image=IMAGE, labels={"aira-eval.test": "1"})
    except UsageError as err:
        if os.environ.get("AIRA_EVAL_REQUIRE_DOCKER") == "1":
            pytest.fail(f"docker sandbox required but unavailable: {err.message}")
        pytest.skip(f"docker sandbox unavailable: {err.message}")


@pytest.fixture(scope="module")
def docker_sb() -> Iterator[DockerSandbox]:
    sb = _docker()
    yield sb
    sb.close()


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    sb = LocalSandbox() if request.param == "local" else _docker()
    yield sb
    if isinstance(sb, DockerSandbox):
        sb.close()


@pytest.fixture
def task(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    (root / "public").mkdir(parents=True)
    (root / "public" / "train.csv").write_text("id,x,target\n1,0.5,0\n2,0.7,1\n")
    (root / "private").mkdir()
    (root / "private" / "answers.csv").write_text(ANSWERS)
    return root


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aira-test-docker-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(sb: Sandbox, task: Path, scratch: Path, code: str, **kw: object) -> ExecResult:
    """Run ``code``; on docker in a container started ahead, as a study's nodes are."""
    spec = ExecSpec(code=textwrap.dedent(code), public_dir=task / "public",
                    **{"timeout_s": 30.0, "memory_mb": 512, **kw})  # type: ignore[arg-type]
    if isinstance(sb, DockerSandbox):
        sb.pool.refill(spec, scratch)
    return sb.run(spec, scratch / "work", scratch / "keep")


def closed(sb: DockerSandbox, scratch: Path) -> bool:
    """After :meth:`DockerSandbox.close`: no container of the tests and no working dir left."""
    sb.close()
    return containers() == [] and sorted(p.name for p in scratch.iterdir()) in ([], ["keep"])


def containers(label: str = "aira-eval.test=1") -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                         capture_output=True, text=True, check=False)
    return out.stdout.split()


def full_containment(sb: Sandbox) -> bool:
    """Host paths unreachable and /tmp bounded: docker always, local only in its jail."""
    return isinstance(sb, DockerSandbox) or (
        isinstance(sb, LocalSandbox) and sb.mode_for(sys.executable).name == "jail")


@dataclass
class Case:
    """One hostile script and what containment must make of it."""

    code: str
    check: Callable[[ExecResult, str], None]  # (result, full stdout)
    options: dict[str, Any] = field(default_factory=dict)
    needs_full: bool = False


def _network(res: ExecResult, out: str) -> None:
    assert "CONNECT_FAILED" in out and "CONNECTED\n" not in out
    assert "DNS_FAILED" in out and "RESOLVED" not in out


def _answers(res: ExecResult, out: str) -> None:
    assert out.count("BLOCKED") == 2 and "SECRET-ANSWER-d0c4" not in out, out
    assert res.submission_path is None  # a symlink to the answers is never followed


def _time(res: ExecResult, out: str) -> None:
    assert res.timed_out and res.exit_code is None and not res.oom
    assert res.killed_reason and "time limit" in res.killed_reason
    assert 2.0 <= res.wall_time < 8.0 and "spinning" in out


def _memory(res: ExecResult, out: str) -> None:
    assert res.oom and not res.timed_out and res.exit_code != 0
    assert res.killed_reason and "memory" in res.killed_reason


def _fork_bomb(res: ExecResult, out: str) -> None:
    # only the process limit can end it (see FORK_BOMB_TIMEOUT_S): no clock is involved
    assert res.killed_reason == "killed: 64 processes at once (fork bomb?)", res.killed_reason
    assert not res.timed_out and not res.oom and res.exit_code is None


def _flood(res: ExecResult, out: str) -> None:
    assert res.exit_code == 0 and res.stdout_truncated
    assert len(out.encode()) < 110_000 and out.rstrip().endswith("last line")
    assert res.report.score == 0.4242  # reported in the dropped middle, still found


def _disk(res: ExecResult, out: str) -> None:
    assert "TMP_FULL" in out and "ROOT_READ_ONLY" in out and "INPUT_READ_ONLY" in out, out


def _working_disk(res: ExecResult, out: str) -> None:
    # docker: the tmpfs refuses the write (ENOSPC); local: the watchdog kills the run
    assert res.killed_reason and "24 MB of disk" in res.killed_reason, res.killed_reason
    assert not res.ok and not res.timed_out and not res.oom
    assert "SUBMITTED" in out and "NEVER" not in out
    assert res.submission_path is not None  # what was written before still comes out
    assert res.submission_path.read_text() == "id,target\n1,0\n"


def _daemon(res: ExecResult, out: str) -> None:
    assert res.exit_code == 0 and "parent done" in out and res.wall_time < 8


CASES = {
    "network": Case("""
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
            print("CONNECTED")
        except OSError:
            print("CONNECT_FAILED")
        try:
            socket.getaddrinfo("example.com", 443)
            print("RESOLVED")
        except OSError:
            print("DNS_FAILED")
    """, _network),
    "private-answers": Case("""
        import os
        for path in ("{answers}", "/proc/1/root{answers}"):
            try:
                print("READ", open(path).read())
            except OSError as err:
                print("BLOCKED", err.errno)
        os.symlink("{answers}", "submission/submission.csv")
    """, _answers, needs_full=True),
    "time": Case("print('spinning', flush=True)\nwhile True:\n    pass\n", _time,
                 {"timeout_s": 2}),
    "memory": Case("chunks = []\nwhile True:\n    chunks.append(b'x' * (50 * 1024**2))\n",
                   _memory, {"memory_mb": 256}),
    "fork-bomb": Case("""
        import os, time
        for _ in range(5000):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(3600)
                os._exit(0)
        time.sleep(3600)
    """, _fork_bomb, {"timeout_s": FORK_BOMB_TIMEOUT_S, "max_procs": 64}),
    "output-flood": Case("""
        import sys
        block = ("y" * 1023 + "\\n") * 1024
        for i in range(200):
            sys.stdout.write(block)
            if i == 100:
                print("VALIDATION_SCORE: 0.4242")
        print("last line")
    """, _flood, {"max_output_bytes": 100_000, "timeout_s": 60}),
    "disk": Case("""
        import os
        try:
            with open("/tmp/big", "wb") as fh:
                for _ in range(400):
                    fh.write(b"x" * 2**20)
            print("TMP_WROTE")
        except OSError:
            print("TMP_FULL")
        for path, tag in (("/evil", "ROOT"), ("input/train.csv", "INPUT")):
            try:
                open(path, "a").write("x")
                print(tag + "_WROTE")
            except OSError:
                print(tag + "_READ_ONLY")
    """, _disk, {"memory_mb": 256}, needs_full=True),
    "working-disk": Case("""
        import os, time
        with open("submission/submission.csv", "w") as fh:
            fh.write("id,target\\n1,0\\n")
        print("SUBMITTED", flush=True)
        for i in range(8):  # 8 files of 8 MB: each under the per-file bound, 64 MB in all
            with open(f"working/blob{i}", "wb") as fh:
                fh.write(os.urandom(8 << 20))
        time.sleep(3600)  # a bounded wait: the dir's size is checked every second
        print("NEVER")
    """, _working_disk, {"disk_mb": 24, "timeout_s": 600}),
    "daemons": Case("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 3)
                time.sleep(300)
            os._exit(0)
        os.wait()
        print("parent done")
    """, _daemon),
}


@pytest.mark.parametrize("name", list(CASES))
def test_containment(backend: Sandbox, task: Path, scratch: Path, name: str) -> None:
    case = CASES[name]
    if case.needs_full and not full_containment(backend):
        pytest.skip("host paths and /tmp are bounded only by the jail or docker")
    token = uuid.uuid4().hex
    code = textwrap.dedent(case.code).replace("{answers}", str(task / "private" / "answers.csv"))
    res = run(backend, task, scratch, code, env={"MARK": token}, **case.options)
    case.check(res, (scratch / "keep" / "stdout.txt").read_text(errors="replace"))
    if isinstance(backend, DockerSandbox):  # also the next node's container, started ahead
        assert closed(backend, scratch)
    assert none_survive(token)  # nothing of the script outlives its run


def test_unknown_image_is_a_usage_error_with_the_recipe() -> None:
    with pytest.raises(UsageError) as info:
        make_sandbox("docker", image=f"no-such-image-{uuid.uuid4().hex[:8]}")
    assert info.value.hint  # how to start docker or build the image


@pytest.mark.docker
def test_normal_run_labels_and_removal(docker_sb: DockerSandbox, task: Path,
                                       scratch: Path) -> None:
    code = """
        import os, pandas as pd
        df = pd.read_csv("input/train.csv")
        df[["id"]].to_csv("submission/submission.csv", index=False)
        print(sorted(os.environ))
        print("VALIDATION_SCORE: 0.625")
        print("FOLD_SCORES: 0.5, 0.75")
    """
    res = run(docker_sb, task, scratch, code)
    assert res.exit_code == 0, res.stderr_tail
    assert res.isolation == "docker" and "pids-limit" in res.mechanisms
    assert res.script_time is not None and 0 < res.script_time <= res.wall_time
    assert res.report.score == 0.625 and res.report.folds == [0.5, 0.75]
    assert res.submission_path is not None and res.submission_path.read_text() == "id\n1\n2\n"
    assert "OPENAI_API_KEY" not in res.stdout_tail
    assert not (scratch / "work").exists() and closed(docker_sb, scratch)


@pytest.mark.docker
def test_cancel_kills_and_removes_the_container(docker_sb: DockerSandbox, task: Path,
                                                scratch: Path) -> None:
    sb = DockerSandbox(image=IMAGE, labels={"aira-eval.test": "1"})
    seen: list[list[str]] = []

    def cancel_when_running() -> None:
        while not seen or not seen[-1]:
            time.sleep(0.2)
            seen.append(containers())
        sb.cancel()

    watcher = threading.Thread(target=cancel_when_running)
    watcher.start()
    res = run(sb, task, scratch, "import time\ntime.sleep(300)\n")
    watcher.join()
    assert res.killed_reason == CANCELLED_REASON and res.wall_time < 30
    assert containers() == []


@pytest.mark.docker
def test_clean_reaps_the_containers_a_killed_harness_left(docker_sb: DockerSandbox,
                                                          tmp_path: Path) -> None:
    from aira_eval.cli.main import app
    from aira_eval.search.config import StudyConfig
    from aira_eval.study.manifest import StudyManifest

    study = tmp_path / "study"
    StudyManifest(study_id="study", seed=0, config=StudyConfig(sandbox="docker").to_dict(),
                  tasks={}, versions={}, created_at="now").write(study)
    label = f"{LABEL_STUDY_DIR}={study.resolve()}"
    subprocess.run(["docker", "run", "-d", "--network", "none", "--label", label, IMAGE,
                    "sleep", "300"], check=True, capture_output=True)
    assert len(containers(label)) == 1  # what `kill -9` of the CLI leaves running
    result = CliRunner().invoke(app, ["clean", str(study)])
    assert result.exit_code == 0, result.output
    assert "removed 1" in result.output and containers(label) == []


@pytest.mark.docker
def test_working_dir_is_a_tmpfs_of_the_disk_bound(docker_sb: DockerSandbox, task: Path,
                                                  scratch: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting the bounded working dir needs root; the watchdog bounds it")
    res = run(docker_sb, task, scratch, """
        import os
        st = os.statvfs(".")
        print("SIZE_MB", st.f_blocks * st.f_frsize // 2**20)
    """, disk_mb=40)
    assert res.exit_code == 0, res.stderr_tail
    assert "SIZE_MB 40" in res.stdout_tail and "disk-tmpfs" in res.mechanisms
    assert not (scratch / "work").exists()  # unmounted and removed


@pytest.mark.docker
def test_disk_bound_without_a_mount_is_watched(docker_sb: DockerSandbox, task: Path,
                                               scratch: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A harness that may not mount (not root) kills the container when the dir is over."""
    from aira_eval.search.sandbox import docker as docker_module

    monkeypatch.setattr(docker_module, "mount_bounded", lambda _path, _mb: False)
    case = CASES["working-disk"]
    res = run(docker_sb, task, scratch, case.code, **case.options)
    assert res.killed_reason == "killed: the working dir used more than 24 MB of disk"
    assert "disk-watchdog" in res.mechanisms
    case.check(res, (scratch / "keep" / "stdout.txt").read_text(errors="replace"))
    assert closed(docker_sb, scratch)


FRESH = """
    import os, socket, sys
    print("HOST", socket.gethostname(), "ARGV", sys.argv, "LISTING", sorted(os.listdir(".")))
"""


@pytest.mark.docker
def test_a_container_started_ahead_serves_exactly_one_node(task: Path, scratch: Path) -> None:
    """Each node gets its own container; the next one is started while a node runs, and
    its script starts as in a container started for it (no gate left, same argv)."""
    sb = _docker()
    launched: list[str] = []
    launch = sb._launch

    def counting(spec: ExecSpec, parent: Path) -> Any:
        warm = launch(spec, parent)
        launched.append(warm.container.id)
        return warm

    sb._launch = counting  # type: ignore[method-assign]
    first = run(sb, task, scratch, FRESH)  # `run` starts the container ahead: taken here
    second = run(sb, task, scratch, FRESH)
    assert first.exit_code == 0 and second.exit_code == 0, second.stderr_tail
    for res in (first, second):
        assert "ARGV ['code.py'] LISTING ['code.py', 'input', 'submission', 'working']" \
            in res.stdout_tail
        assert res.script_time is not None and 0 < res.script_time <= res.wall_time
    hosts = [r.stdout_tail.split()[1] for r in (first, second)]
    assert hosts[0] != hosts[1] and all(launched[i].startswith(hosts[i]) for i in (0, 1))
    assert closed(sb, scratch)  # with the third container, started ahead and never used
    assert len(launched) == 3  # the second node's container was one started ahead


@pytest.mark.docker
def test_a_container_started_ahead_and_never_used_is_removed(task: Path,
                                                             scratch: Path) -> None:
    sb = _docker()
    sb.pool.idle_s = 0.5
    res = run(sb, task, scratch, "print('ok')\n")
    assert res.exit_code == 0, res.stderr_tail
    deadline = time.monotonic() + 20
    while containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert containers() == []  # the node's own container, and the idle one
    assert closed(sb, scratch)


@pytest.mark.docker
def test_a_study_on_docker_leaves_no_container_and_no_working_dir(docker_sb: DockerSandbox,
                                                                  tmp_path: Path) -> None:
    """Containers started ahead are removed when each search ends (and the study's scratch
    dir with them)."""
    from aira_eval.search.config import StudyConfig
    from aira_eval.search.sandbox.leftovers import scratch_root
    from aira_eval.search.study_runner import run_study

    config = StudyConfig.from_dict({
        "tasks": ["builtin:iris"], "policies": ["greedy"], "seeds": [0], "steps": 3,
        "workers": 1, "node_timeout_s": 120.0, "mlflow": False, "sandbox": "docker",
        "docker_image": IMAGE}).validate()
    result = run_study(config, tmp_path / "study")
    nodes = [n for o in result.outcomes for n in o.nodes]
    assert len(nodes) == 3 and all(n.status != "error" for n in nodes), nodes
    assert all(n.meta.get("script_time") is not None for n in nodes)
    label = f"{LABEL_STUDY_DIR}={(tmp_path / 'study').resolve()}"
    assert containers(label) == [] and not scratch_root(tmp_path / "study").exists()
