"""The docker backend's containers started ahead (:mod:`.docker_warm`), without docker: the
pool's bookkeeping with containers that only record their removal, and the gate's fifo."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aira_eval.search.sandbox.base import ExecSpec, SandboxError
from aira_eval.search.sandbox.docker_warm import (
    GATE,
    GATE_NAME,
    Warm,
    WarmPool,
    gated,
    make_gate,
    open_gate,
    warm_key,
)


class Container:
    """Stands in for the SDK's container: records its removal."""

    def __init__(self) -> None:
        self.removed = threading.Event()
        self.status = "running"

    def remove(self, force: bool = False) -> None:
        assert force
        self.removed.set()
        self.status = "removed"

    def reload(self) -> None:
        return None


class Launcher:
    """A ``launch(spec, parent)`` that makes a working dir and a recorded container."""

    def __init__(self, delay_s: float = 0.0, alive: bool = True) -> None:
        self.made: list[Warm] = []
        self.delay_s = delay_s
        self.alive = alive

    def __call__(self, spec: ExecSpec, parent: Path) -> Warm:
        time.sleep(self.delay_s)
        workdir = parent / f"docker-{len(self.made)}"
        workdir.mkdir()
        container = Container()
        warm = Warm(workdir, False, warm_key(spec), container=container,
                    counter=lambda: 2 if self.alive and not container.removed.is_set() else 0)
        self.made.append(warm)
        return warm


def spec(tmp_path: Path, code: str = "print(1)", **kw: Any) -> ExecSpec:
    return ExecSpec(code=code, public_dir=tmp_path, timeout_s=10, **kw)


def removed(warm: Warm) -> bool:
    """Whether ``warm``'s container and working dir are removed (waiting for it, bounded)."""
    deadline = time.monotonic() + 30
    while warm.workdir.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return warm.container.removed.is_set() and not warm.workdir.exists()


def test_the_container_started_ahead_serves_the_next_run_of_the_same_spec(
        tmp_path: Path) -> None:
    launch = Launcher(delay_s=0.05)
    pool = WarmPool(launch)
    assert pool.take(spec(tmp_path)) is None  # nothing started yet
    pool.refill(spec(tmp_path), tmp_path)
    pool.refill(spec(tmp_path, code="other code"), tmp_path)  # same spec but code: one only
    warm = pool.take(spec(tmp_path, code="the next node"))  # waits while it starts
    assert warm is launch.made[0] and len(launch.made) == 1
    assert not warm.container.removed.is_set()
    pool.discard(warm)
    pool.close()
    assert removed(warm)


def test_as_many_are_started_ahead_as_run_at_once(tmp_path: Path) -> None:
    launch = Launcher()
    pool = WarmPool(launch)
    pool.refill(spec(tmp_path), tmp_path, count=2)
    pool.refill(spec(tmp_path), tmp_path, count=2)  # topped up already
    first, second = pool.take(spec(tmp_path)), pool.take(spec(tmp_path))
    assert first is not None and second is not None and first is not second
    assert pool.take(spec(tmp_path)) is None and len(launch.made) == 2
    pool.close()


def test_a_container_for_another_spec_is_removed_not_used(tmp_path: Path) -> None:
    launch = Launcher()
    pool = WarmPool(launch)
    pool.refill(spec(tmp_path, memory_mb=512), tmp_path)
    assert pool.take(spec(tmp_path, memory_mb=1024)) is None
    pool.close()
    assert len(launch.made) == 1 and removed(launch.made[0])


def test_a_dead_container_is_not_handed_out(tmp_path: Path) -> None:
    launch = Launcher(alive=False)  # e.g. its gate's alarm ended it
    pool = WarmPool(launch)
    pool.refill(spec(tmp_path), tmp_path)
    assert pool.take(spec(tmp_path)) is None
    pool.close()
    assert removed(launch.made[0])


def test_an_idle_container_is_removed_after_the_idle_time(tmp_path: Path) -> None:
    launch = Launcher()
    pool = WarmPool(launch, idle_s=0.2)
    pool.refill(spec(tmp_path), tmp_path)
    deadline = time.monotonic() + 10
    while not launch.made and time.monotonic() < deadline:
        time.sleep(0.01)
    assert removed(launch.made[0])  # nobody took it
    assert pool.take(spec(tmp_path)) is None
    pool.close()


def test_close_removes_what_is_starting_and_stops_starting(tmp_path: Path) -> None:
    launch = Launcher(delay_s=0.2)
    pool = WarmPool(launch)
    pool.refill(spec(tmp_path), tmp_path)
    pool.close()  # while the container is still starting
    assert len(launch.made) == 1 and removed(launch.made[0])
    pool.refill(spec(tmp_path), tmp_path)
    assert len(launch.made) == 1  # a closed pool starts nothing
    (tmp_path / "late").mkdir()
    late = Launcher()(spec(tmp_path), tmp_path / "late")
    pool.discard(late)  # after close: removed at once, here
    assert removed(late)


def test_the_gate_opens_once_its_reader_waits(tmp_path: Path) -> None:
    make_gate(tmp_path, os.getuid())
    gate = tmp_path / GATE_NAME
    assert gate.is_fifo() and gate.stat().st_mode & 0o777 == 0o600
    opened = threading.Event()

    def reader() -> None:  # what GATE does in the container
        time.sleep(0.1)
        os.close(os.open(gate, os.O_RDONLY))
        opened.set()

    thread = threading.Thread(target=reader)
    thread.start()
    warm = Warm(tmp_path, False, warm_key(spec(tmp_path)), counter=lambda: 2)
    before = time.time()
    assert open_gate(warm) >= before
    thread.join(5)
    assert opened.is_set()


def test_a_gate_nobody_waits_at_is_an_error(tmp_path: Path) -> None:
    make_gate(tmp_path, os.getuid())
    warm = Warm(tmp_path, False, warm_key(spec(tmp_path)), counter=lambda: 0)
    with pytest.raises(SandboxError, match="ended before its script could start"):
        open_gate(warm)


def test_the_gate_execs_the_command_in_the_same_process(tmp_path: Path) -> None:
    """GATE as the container runs it: blocks, removes the fifo, execs the node's command."""
    import subprocess
    import sys

    make_gate(tmp_path, os.getuid())
    cmd = gated(sys.executable, [sys.executable, "-c", "import os; print(os.getpid())"])
    assert cmd[:3] == [sys.executable, "-c", GATE]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    warm = Warm(tmp_path, False, warm_key(spec(tmp_path)),
                counter=lambda: 2 if proc.poll() is None else 0)
    open_gate(warm)
    out, _ = proc.communicate(timeout=30)
    assert int(out) == proc.pid and not (tmp_path / GATE_NAME).exists()
