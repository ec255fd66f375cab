"""The pre-forked interpreter (``LocalSandbox(prefork=True)``): the whole local containment
suite again on the forked path, plus what only it can get wrong — a killed harness, the
zygote's own life, the script's ``__main__``, results equal to an exec'd run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_eval.search.sandbox import ExecSpec, prefork
from aira_eval.search.sandbox.local import LocalSandbox
from tests.test_search.test_sandbox_local import *  # noqa: F403 (the suite, re-collected)
from tests.test_search.test_sandbox_local import FORK_BOMB, run, survivors

if LocalSandbox().mode_for(sys.executable).name != "jail":
    pytest.skip("prefork runs only in the jail mode", allow_module_level=True)

# the suite's own tests that build their own (exec'd) sandboxes add nothing here
del test_killed_harness_leaves_no_runaway_script  # noqa: F821 (star-imported) -- own version below
del test_fallback_modes_run_and_kill_daemons, test_stale_jail_mount_points_swept  # noqa: F821
del test_make_sandbox, test_output_capture_head_tail_and_marker  # noqa: F821
del test_copy_submission_refuses_special_files  # noqa: F821
# forking the scientific stack is slow: this bomb may hit the time limit first (own version)
del test_exponential_fork_bomb_contained  # noqa: F821

PRELOAD = ("numpy", "pandas")  # the heavy part of the default list, cheap enough for tests


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalSandbox]:
    yield LocalSandbox(prefork=True, preload=PRELOAD)
    prefork.shutdown()


def test_runs_are_forked_and_recorded(sandbox: LocalSandbox, task: Path,
                                      scratch: Path) -> None:
    code = """
        import sys, os, numpy
        print("MAIN", __name__, __file__, sys.argv, sys.path[0], os.getppid())
        print("PRELOADED", "pandas" in sys.modules)
        def f():
            raise ValueError("boom")
        f()
    """
    res = run(sandbox, task, scratch, code)
    assert res.isolation == "unshare-net+prefork" and "prefork" in res.mechanisms
    assert "MAIN __main__ /sandbox/code.py ['code.py'] /sandbox 1" in res.stdout_tail
    assert "PRELOADED True" in res.stdout_tail  # imported by the zygote, not the script
    assert res.exit_code == 1
    # the script's own traceback, no frame of the zygote's
    assert res.stderr_tail.startswith("Traceback (most recent call last):\n"
                                      '  File "/sandbox/code.py", line 7, in <module>')
    assert "/dev/fd" not in res.stderr_tail and "ValueError: boom" in res.stderr_tail


def test_exit_status_threads_atexit_and_unclosed_files(sandbox: LocalSandbox, task: Path,
                                                       scratch: Path) -> None:
    code = """
        import atexit, sys, threading, time
        fh = open("submission/submission.csv", "w")
        fh.write("id,target\\n3,1\\n")  # never closed: flushed at exit as by python
        def late():
            time.sleep(0.3)
            print("THREAD DONE")
        threading.Thread(target=late).start()
        atexit.register(lambda: print("ATEXIT"))
        sys.exit(3)
    """
    res = run(sandbox, task, scratch, code)
    assert res.exit_code == 3
    assert res.stdout_tail.split() == ["THREAD", "DONE", "ATEXIT"]
    assert res.submission_path is not None
    assert res.submission_path.read_text() == "id,target\n3,1\n"


def test_each_run_gets_its_own_random_state(sandbox: LocalSandbox, task: Path,
                                            scratch: Path) -> None:
    code = "import random, numpy\nprint('R', random.random(), numpy.random.rand())\n"
    outs = []
    for i in range(2):
        res = sandbox.run(ExecSpec(code=code, public_dir=task / "public", timeout_s=30),
                          scratch / f"w{i}", scratch / f"k{i}")
        outs.append(res.stdout_tail)
    assert outs[0].startswith("R ") and outs[0] != outs[1]


def test_zygote_is_reused_and_script_cannot_touch_it(sandbox: LocalSandbox, task: Path,
                                                     scratch: Path) -> None:
    """A run's changes (module state, environment) die with its fork: the next run starts
    from the zygote's clean state, in the same zygote."""
    code = """
        import os, numpy
        print("SEEN", getattr(numpy, "poisoned", None), os.environ.get("POISON"))
        numpy.poisoned = True
        os.environ["POISON"] = "1"
    """
    outs = []
    for i in range(2):
        spec = ExecSpec(code=textwrap.dedent(code), public_dir=task / "public", timeout_s=30)
        outs.append(sandbox.run(spec, scratch / f"w{i}", scratch / f"k{i}").stdout_tail)
        pids = prefork.zygote_pids()
        if i == 0:
            first = pids
    assert outs == ["SEEN None None\n", "SEEN None None\n"]
    assert pids == first and len(pids) >= 1


def test_prefork_needs_the_jail(task: Path, scratch: Path) -> None:
    sb = LocalSandbox(force_mode="pidns", prefork=True, preload=())
    res = run(sb, task, scratch, "print('VALIDATION_SCORE: 0.5')\n")
    assert res.report.score == 0.5 and res.isolation == "unshare-net"
    assert "prefork" not in res.mechanisms
    assert any("prefork needs the jail mode" in n for n in res.notes)


def test_killed_harness_kills_zygote_and_script(task: Path, scratch: Path) -> None:
    """``kill -9`` of the harness: its zygote dies (death signal tied to the harness), the
    run's launcher with it, the namespace's init with that, and so the script."""
    token = uuid.uuid4().hex
    harness = f"""
import sys, tempfile
from pathlib import Path
from aira_eval.search.sandbox import local
tempfile.tempdir = {str(scratch / "tmp")!r}
from aira_eval.search.sandbox.base import ExecSpec
local.BACKSTOP_S = 600  # only the death signals may end it within the test
spec = ExecSpec(code="while True:\\n    pass\\n",
                public_dir=Path({str(task / "public")!r}), timeout_s=300, env={{"MARK": {token!r}}})
print("go", flush=True)
local.LocalSandbox(prefork=True, preload=()).run(spec, Path({str(scratch / "w")!r}),
                                                 Path({str(scratch / "k")!r}))
"""
    (scratch / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "go"
    deadline = time.monotonic() + 30
    while len(survivors(token)) < 2 and time.monotonic() < deadline:  # zygote + script
        time.sleep(0.05)
    assert len(survivors(token)) >= 2, "the script never started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 8
    while survivors(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors(token) == []


@pytest.mark.slow
def test_study_with_prefork_equals_the_exec_run_and_records_it(tmp_path: Path) -> None:
    """The same seeded study, procedural operators, with and without ``sandbox_prefork``:
    the same node table (ids, parents, operators, statuses, every score), and the manifest
    and each node say how the scripts ran."""
    import json

    from aira_eval.study.table import read_nodes
    from tests.test_search.conftest import comparable, run_small

    study = {"steps": 5, "workers": 1, "seeds": [0, 1]}
    forked = run_small(tmp_path / "prefork", sandbox_prefork=True, **study).study_dir
    plain = run_small(tmp_path / "plain", **study).study_dir
    got, want = read_nodes(forked / "nodes.parquet"), read_nodes(plain / "nodes.parquet")
    assert comparable(got).equals(comparable(want)), comparable(got).compare(comparable(want))
    assert (got["status"] == "ok").sum() >= 5  # real fits, not a table of failures
    assert set(got["isolation"]) == {"unshare-net+prefork"}
    assert set(want["isolation"]) == {"unshare-net"}
    manifest = json.loads((forked / "study.json").read_text())
    assert manifest["config"]["sandbox_prefork"] is True


@pytest.mark.slow
def test_exponential_fork_bomb_contained_on_the_prefork_path(sandbox: LocalSandbox, task: Path,
                                                             scratch: Path) -> None:
    """``while True: fork()`` from a fork of the zygote: killed and nothing left — but it may
    be recorded as a timeout, not as a fork bomb (each fork copies a process that holds
    numpy and pandas, so on a loaded machine the bomb can reach the time limit before the
    process limit). The run ends only when its whole namespace is gone."""
    token = uuid.uuid4().hex
    code = FORK_BOMB
    res = run(sandbox, task, scratch, code, timeout_s=15, env={"MARK": token})
    assert res.killed_reason is not None
    assert res.timed_out or "processes" in res.killed_reason
    assert survivors(token) == []  # no sleep: the run returned after the namespace died
