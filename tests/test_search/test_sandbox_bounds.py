"""What crosses the sandbox boundary is bounded: submission size, sparse files, disk use."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_eval.search.sandbox.local import LocalSandbox
from aira_eval.search.sandbox.watchdog import disk_usage
from tests.test_search.test_sandbox_local import run


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    return LocalSandbox()


@pytest.fixture
def task(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    (root / "public").mkdir(parents=True)
    (root / "public" / "test.csv").write_text("id,x\n3,0.1\n")
    return root


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aira-test-work-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_sparse_huge_submission_is_rejected_without_copy(sandbox: LocalSandbox, task: Path,
                                                         scratch: Path) -> None:
    res = run(sandbox, task, scratch, """
        with open("submission/submission.csv", "wb") as fh:
            fh.truncate(1 << 30)  # 1 GiB of holes, written in milliseconds
    """)
    assert res.exit_code == 0
    assert res.submission_path is None
    assert res.submission_rejected and "larger than 512 MB" in res.submission_rejected
    assert not (scratch / "keep" / "submission.csv").exists()


def test_sparse_submission_under_the_size_bound_is_rejected(sandbox: LocalSandbox, task: Path,
                                                            scratch: Path) -> None:
    res = run(sandbox, task, scratch, """
        with open("submission/submission.csv", "wb") as fh:
            fh.write(b"id,target\\n")
            fh.truncate(64 << 20)
    """)
    assert res.submission_rejected and "sparse" in res.submission_rejected
    assert not (scratch / "keep" / "submission.csv").exists()


def test_submission_size_bound_is_configurable(sandbox: LocalSandbox, task: Path,
                                               scratch: Path) -> None:
    res = run(sandbox, task, scratch, """
        with open("submission/submission.csv", "w") as fh:
            fh.write("id,target\\n" + "3,1\\n" * 600_000)  # 2.4 MB, dense
    """, max_submission_mb=1)
    assert res.submission_rejected and "larger than 1 MB" in res.submission_rejected
    ok = run(sandbox, task, scratch, """
        with open("submission/submission.csv", "w") as fh:
            fh.write("id,target\\n3,1\\n")
    """, max_submission_mb=1)
    assert ok.submission_path is not None and ok.submission_rejected is None


def test_working_dir_disk_use_is_bounded(sandbox: LocalSandbox, task: Path,
                                         scratch: Path) -> None:
    res = run(sandbox, task, scratch, """
        import os, time
        for i in range(8):  # 8 files of 8 MB: each under the per-file bound, 64 MB in all
            with open(f"working/blob{i}", "wb") as fh:
                fh.write(os.urandom(8 << 20))
        time.sleep(30)
        print("never reached")
    """, disk_mb=24, timeout_s=60.0)
    assert res.killed_reason == "killed: the working dir used more than 24 MB of disk"
    assert not res.ok and "never reached" not in res.stdout_tail


def test_one_file_cannot_exceed_the_disk_bound(sandbox: LocalSandbox, task: Path,
                                               scratch: Path) -> None:
    res = run(sandbox, task, scratch, """
        with open("working/big", "wb") as fh:
            fh.write(b"x" * (40 << 20))
    """, disk_mb=16)
    assert res.exit_code != 0
    assert "File too large" in res.stderr_tail


def test_disk_usage_counts_written_blocks_not_inputs(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "big").write_bytes(b"x" * (4 << 20))
    (tmp_path / "working").mkdir()
    (tmp_path / "working" / "sparse").write_bytes(b"")
    with open(tmp_path / "working" / "sparse", "wb") as fh:
        fh.truncate(100 << 20)
    (tmp_path / "working" / "dense").write_bytes(b"y" * (2 << 20))
    used = disk_usage(str(tmp_path))
    assert 2 << 20 <= used < 3 << 20


def test_rejected_submission_makes_an_invalid_node_not_a_buggy_one(tmp_path: Path) -> None:
    from aira_eval.search.node import Node
    from aira_eval.search.runner import _settle
    from aira_eval.search.sandbox.base import ExecResult

    result = ExecResult(exit_code=0, timed_out=False, oom=False, killed_reason=None,
                        wall_time=0.1, stdout_tail="", stderr_tail="", stdout_truncated=False,
                        submission_path=None, isolation="none", isolation_note=None,
                        workdir=tmp_path, submission_rejected="larger than 512 MB (1024 MB)")
    node = Node(node_id="n", search_id="s", step=0, batch=0, operator="draft")
    from types import SimpleNamespace

    ctx = SimpleNamespace(spec_fields={})  # nothing is graded: the harness reads no file
    _settle(ctx, node, result)  # type: ignore[arg-type]
    assert node.status == "invalid_submission"
    assert node.reason == "invalid submission: larger than 512 MB (1024 MB)"


def _bounded_dir(tmp_path: Path, size_mb: int) -> Path:
    from aira_eval.search.sandbox.disk import mount_bounded

    path = tmp_path / "bounded"
    path.mkdir()
    if not mount_bounded(path, size_mb):
        pytest.skip("mounting a tmpfs needs root")
    return path


def test_a_bounded_dir_refuses_writes_beyond_its_size(tmp_path: Path) -> None:
    from aira_eval.search.sandbox.disk import is_full, unmount

    path = _bounded_dir(tmp_path, 16)
    try:
        assert not is_full(path)
        with pytest.raises(OSError) as info, open(path / "big", "wb") as fh:
            fh.write(b"x" * (20 << 20))
        assert info.value.errno == errno.ENOSPC and is_full(path)
    finally:
        unmount(path)
    assert not os.path.ismount(path) and not (path / "big").exists()


def test_reap_detaches_a_bounded_dir_a_killed_run_left(tmp_path: Path) -> None:
    from aira_eval.search.sandbox.leftovers import reap

    path = _bounded_dir(tmp_path, 16)
    (path / "working").mkdir()
    (path / "working" / "blob").write_bytes(b"x" * 1000)
    reaped = reap(tmp_path)
    assert reaped.dirs == 1 and not path.exists() and list(tmp_path.iterdir()) == []


def test_a_disk_limit_makes_a_buggy_node_with_the_sandbox_reason(tmp_path: Path) -> None:
    from aira_eval.search.node import Node
    from aira_eval.search.runner import _settle
    from aira_eval.search.sandbox.base import ExecResult

    reason = "the working dir ran out of its 24 MB of disk (no space left on device)"
    result = ExecResult(exit_code=1, timed_out=False, oom=False, killed_reason=reason,
                        wall_time=0.1, stdout_tail="", stderr_tail="OSError: [Errno 28]",
                        stdout_truncated=False, submission_path=None, isolation="docker",
                        isolation_note=None, workdir=tmp_path)
    node = Node(node_id="n", search_id="s", step=0, batch=0, operator="draft")
    from types import SimpleNamespace

    _settle(SimpleNamespace(spec_fields={}), node, result)  # type: ignore[arg-type]
    assert node.status == "buggy" and node.reason == reason
