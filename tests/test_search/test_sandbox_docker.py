"""The docker sandbox backend; skipped unless a daemon answers and the image exists.

Build the image offline with the recipe in ``aira_eval.search.sandbox.docker.IMAGE_RECIPE``
(``AIRA_EVAL_DOCKER_IMAGE`` picks another image name).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.sandbox import ExecResult, ExecSpec, Sandbox, make_sandbox
from aira_eval.search.sandbox.docker import DockerSandbox

IMAGE = os.environ.get("AIRA_EVAL_DOCKER_IMAGE", "aira-eval-sandbox")
ANSWERS = "id,target\n1,SECRET-ANSWER-d0c4\n"


@pytest.fixture(scope="module")
def docker_sb() -> DockerSandbox:
    try:
        return DockerSandbox(image=IMAGE)
    except UsageError as err:
        pytest.skip(f"docker sandbox unavailable: {err.message}")


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


def run(sb: DockerSandbox, task: Path, scratch: Path, code: str, **kw: object) -> ExecResult:
    spec = ExecSpec(code=textwrap.dedent(code), public_dir=task / "public",
                    **{"timeout_s": 30.0, "memory_mb": 512, **kw})  # type: ignore[arg-type]
    return sb.run(spec, scratch / "work", scratch / "keep")


def no_containers_left() -> bool:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "name=aira-eval-"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() == ""


def test_unknown_image_is_a_usage_error_with_the_recipe() -> None:
    with pytest.raises(UsageError) as info:
        make_sandbox("docker", image=f"no-such-image-{uuid.uuid4().hex[:8]}")
    assert info.value.hint  # how to start docker or build the image


@pytest.mark.docker
def test_normal_run(docker_sb: DockerSandbox, task: Path, scratch: Path) -> None:
    code = """
        import os, pandas as pd
        df = pd.read_csv("input/train.csv")
        df[["id"]].to_csv("submission/submission.csv", index=False)
        print(sorted(os.environ))
        print("VALIDATION_SCORE: 0.625")
        print("FOLD_SCORES: 0.5, 0.75")
    """
    res = run(docker_sb, task, scratch, code)
    assert isinstance(docker_sb, Sandbox)
    assert res.exit_code == 0, res.stderr_tail
    assert res.isolation == "docker"
    assert res.report.score == 0.625 and res.report.folds == [0.5, 0.75]
    assert res.submission_path is not None
    assert res.submission_path.read_text() == "id\n1\n2\n"
    assert (scratch / "keep" / "stdout.txt").exists()
    assert not (scratch / "work").exists()
    assert no_containers_left()


@pytest.mark.docker
def test_failure_traceback(docker_sb: DockerSandbox, task: Path, scratch: Path) -> None:
    res = run(docker_sb, task, scratch, "raise ValueError('boom')\n")
    assert res.exit_code == 1 and "ValueError: boom" in res.stderr_tail
    assert res.submission_path is None


@pytest.mark.docker
def test_no_network_and_no_host_paths(docker_sb: DockerSandbox, task: Path,
                                      scratch: Path) -> None:
    answers = task / "private" / "answers.csv"
    code = f"""
        import os, socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
            print("CONNECTED")
        except OSError:
            print("CONNECT_FAILED")
        try:
            print(open({str(answers)!r}).read())
        except OSError:
            print("BLOCKED")
        try:
            open("input/train.csv", "a").write("x")
            print("WROTE_INPUT")
        except OSError:
            print("INPUT_READ_ONLY")
        print(dict(os.environ), os.getcwd())
    """
    before = (task / "public" / "train.csv").read_text()
    res = run(docker_sb, task, scratch, code)
    out = res.stdout_tail
    assert "CONNECT_FAILED" in out and "BLOCKED" in out and "INPUT_READ_ONLY" in out
    assert "SECRET-ANSWER-d0c4" not in out
    assert (task / "public" / "train.csv").read_text() == before


@pytest.mark.docker
def test_timeout_kills_the_container(docker_sb: DockerSandbox, task: Path,
                                     scratch: Path) -> None:
    code = """
        import subprocess, time
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        while True:
            pass
    """
    res = run(docker_sb, task, scratch, code, timeout_s=3)
    assert res.timed_out and res.exit_code is None
    assert res.wall_time < 15
    assert no_containers_left()


@pytest.mark.docker
def test_memory_limit(docker_sb: DockerSandbox, task: Path, scratch: Path) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(b'x' * (50 * 1024**2))\n"
    res = run(docker_sb, task, scratch, code, memory_mb=256)
    assert res.oom and not res.timed_out
    assert res.killed_reason and "memory" in res.killed_reason


@pytest.mark.docker
def test_fork_bomb_and_output_flood(docker_sb: DockerSandbox, task: Path,
                                    scratch: Path) -> None:
    code = """
        import os, sys, time
        made = 0
        for _ in range(2000):
            try:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                made += 1
            except OSError:
                break
        print("made", made)
        block = "z" * (1 << 20)
        for _ in range(200):
            sys.stdout.write(block)
        print("\\nVALIDATION_SCORE: 0.5")
    """
    res = run(docker_sb, task, scratch, code, max_procs=64, max_output_bytes=100_000)
    assert res.exit_code == 0, res.stderr_tail
    made = int((scratch / "keep" / "stdout.txt").read_text().split("made ")[1].split()[0])
    assert made < 64
    assert res.stdout_truncated and (scratch / "keep" / "stdout.txt").stat().st_size < 110_000
    assert res.report.score == 0.5
    assert no_containers_left()
