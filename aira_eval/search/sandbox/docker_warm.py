"""Containers started ahead of their node, for the docker backend (still one per node).

Starting a container costs about 0.1 s of the docker daemon's, containerd's and runc's time
(namespaces, cgroups, mounts, the runtime shim), and removing one a few more round trips:
together most of what a docker node costs beyond a local one. So the docker sandbox starts the
*next* node's container while the current node runs, and removes a finished one in the
background: a :class:`WarmPool` per sandbox.

A container started ahead is the same container the node would have got — created for the
same spec (limits, mounts, environment, labels), with its own fresh working dir and uid — but
its command first runs :data:`GATE`: a few lines of the image's python that block opening
the fifo :data:`GATE_NAME` in the working dir. When the node comes, the harness writes
``code.py`` and opens the fifo (:func:`open_gate`); the gate removes the fifo, and
``exec``\\ s the node's command (``[timeout] python code.py``), so the script starts as a fresh
interpreter exactly as in a container started for it. No two nodes ever share a container:
each is used once and removed. A container nobody takes is removed after
:data:`WARM_IDLE_S` (and, should the harness die, ends itself after :data:`GATE_ALARM_S`:
``aira-eval clean`` or ``--resume`` then removes it, by its labels).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.search.sandbox.base import ExecSpec, OutputCapture, SandboxError, remove_tree
from aira_eval.search.sandbox.disk import unmount

GATE_NAME = ".gate"
WARM_IDLE_S = 60.0
"""A started container that no node takes within this long is removed."""
GATE_ALARM_S = 3600
"""A gate nobody opens ends its container after this long (the harness died)."""
GATE_PATIENCE_S = 60.0
GATE = (
    "import os, signal, sys\n"
    "signal.alarm(int(sys.argv[1]))\n"
    f"os.close(os.open({GATE_NAME!r}, os.O_RDONLY))\n"
    f"os.unlink({GATE_NAME!r})\n"
    "signal.alarm(0)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
"""The gate (``python -c GATE ALARM_S COMMAND...``): waits for the harness, then execs."""


def gated(python: str, command: list[str]) -> list[str]:
    """The container command that runs ``command`` once the gate opens."""
    return [python, "-c", GATE, str(GATE_ALARM_S), *command]


def make_gate(workdir: Path, uid: int) -> None:
    """The gate fifo in ``workdir``, readable by the script's ``uid`` only."""
    gate = workdir / GATE_NAME
    os.mkfifo(gate, 0o600)
    os.chown(gate, uid, uid)


@dataclass
class Warm:
    """A started container whose script waits at the gate, and what it needs."""

    workdir: Path
    bounded: bool
    key: ExecSpec
    container: Any = None
    stream: Any = None
    counter: Callable[[], int] | None = None
    notes: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        """Whether the container still runs (the gate is still waiting)."""
        if self.counter is not None:
            return self.counter() > 0
        try:
            self.container.reload()
        except Exception:
            return False
        return bool(self.container.status == "running")

    def destroy(self) -> None:
        """Remove the container (killing it if it runs) and its working dir."""
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.close()
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
        if self.bounded:
            unmount(self.workdir)
        remove_tree(self.workdir)


def open_gate(warm: Warm, patience_s: float = GATE_PATIENCE_S) -> float:
    """Let ``warm``'s script start; the wall-clock time it did. Raises
    :class:`SandboxError` when the gate is gone (the container died before)."""
    gate = warm.workdir / GATE_NAME
    deadline = time.monotonic() + patience_s
    polls = 0
    while True:
        try:  # succeeds once the gate has the fifo open for reading
            fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError as err:
            if err.errno != errno.ENXIO:
                raise SandboxError(f"the container's gate cannot be opened: {err}") from err
        else:
            os.close(fd)
            return time.time()
        polls += 1
        if time.monotonic() > deadline or (polls % 100 == 0 and not warm.alive()):
            raise SandboxError("the container ended before its script could start"
                               + _logs_tail(warm))
        time.sleep(0.001)


def _logs_tail(warm: Warm) -> str:
    """``: <the container's last output lines>``, or nothing."""
    try:
        text = warm.container.logs(tail=5).decode(errors="replace").strip()
    except Exception:
        return ""
    return f": {text[-500:]}" if text else ""


def script_runtime(state: dict[str, Any], released: float) -> float | None:
    """Seconds the script ran: from the gate's opening (epoch seconds) to docker's
    FinishedAt stamp (None when the stamp is missing or the clocks disagree)."""
    from datetime import UTC, datetime

    try:
        base, _, frac = str(state["FinishedAt"]).rstrip("Z").partition(".")
        finished = datetime.fromisoformat(base).replace(tzinfo=UTC).timestamp() + float(
            f"0.{frac[:9] or 0}")
    except (KeyError, ValueError, TypeError):
        return None
    seconds = finished - released
    return seconds if seconds >= 0 else None


def pump_output(stream: Any, out: OutputCapture, err: OutputCapture) -> None:
    """Feed the demultiplexed container output into the two captures until it ends."""
    with contextlib.suppress(Exception):  # the stream closes when the container is removed
        for chunk_out, chunk_err in stream:
            if chunk_out:
                out.feed(chunk_out)
            if chunk_err:
                err.feed(chunk_err)


def pids_counter(container: Any) -> Any:
    """A function returning the container's current process count, read from its pids
    cgroup on this host (None when the daemon is remote or the file is not visible)."""
    try:
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except (OSError, KeyError, ValueError, TypeError):
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        for base in (("/sys/fs/cgroup/pids" if "pids" in controllers.split(",") else None),
                     ("/sys/fs/cgroup" if controllers == "" else None)):
            if base and Path(f"{base}{path}/pids.current").is_file():
                target = Path(f"{base}{path}/pids.current")
                return lambda target=target: _read_int(target)
    return None


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def warm_key(spec: ExecSpec) -> ExecSpec:
    """What a container started ahead must match: the spec, whatever its code."""
    return dataclasses.replace(spec, code="")


@dataclass(eq=False)
class _Entry:
    key: ExecSpec
    future: Future[Warm]
    timer: threading.Timer | None = None


class WarmPool:
    """Containers started ahead for one sandbox (``launch(spec, parent_dir)`` starts one),
    and the removal of used ones, both on one background thread (until :meth:`close`)."""

    def __init__(self, launch: Callable[[ExecSpec, Path], Warm],
                 idle_s: float = WARM_IDLE_S) -> None:
        self._launch = launch
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._pending: list[_Entry] = []
        self._bg = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aira-docker-bg")
        self.closed = False
        _POOLS.add(self)

    def take(self, spec: ExecSpec) -> Warm | None:
        """A container started ahead for ``spec`` (waiting for it if it is still starting);
        None when there is none (or it died). Others, for other specs, are removed."""
        key = warm_key(spec)
        with self._lock:
            found = next((e for e in self._pending if e.key == key), None)
            stale = [e for e in self._pending if e.key != key]
            self._pending = [e for e in self._pending if e.key == key and e is not found]
        self._drop(stale)
        if found is None:
            return None
        if found.timer is not None:
            found.timer.cancel()
        try:
            warm = found.future.result()
        except Exception:  # e.g. the daemon refused: the cold path says why
            return None
        if warm.alive():
            return warm
        self.discard(warm)
        return None

    def refill(self, spec: ExecSpec, parent: Path, count: int = 1) -> None:
        """Start containers for the next nodes of ``spec`` in the background, up to
        ``count`` (as many as run at once) started ahead."""
        key = warm_key(spec)
        with self._lock:
            for _ in range(count - sum(e.key == key for e in self._pending)):
                if self.closed:
                    return
                try:
                    entry = _Entry(key, self._bg.submit(self._launch, spec, parent))
                except RuntimeError:  # the interpreter is shutting down
                    return
                entry.timer = threading.Timer(self.idle_s, self._expire, (entry,))
                entry.timer.daemon = True
                self._pending.append(entry)
                entry.future.add_done_callback(functools.partial(_start, entry.timer))

    def discard(self, warm: Warm) -> None:
        """Remove ``warm`` in the background (here and now once the pool is closed)."""
        try:
            self._bg.submit(warm.destroy)
        except RuntimeError:  # interpreter shutdown or closed: no more background work
            warm.destroy()

    def close(self) -> None:
        """Remove the containers not taken and stop starting new ones; wait for every
        removal already under way (the background thread ends)."""
        with self._lock:
            self.closed = True
            pending = list(self._pending)
            self._pending.clear()
        self._drop(pending)
        self._bg.shutdown(wait=True)

    def _drop(self, entries: list[_Entry]) -> None:
        """Remove the containers of ``entries`` once they are started."""
        for entry in entries:
            if entry.timer is not None:
                entry.timer.cancel()
            entry.future.add_done_callback(self._discard_done)

    def _discard_done(self, future: Future[Warm]) -> None:
        with contextlib.suppress(Exception):
            self.discard(future.result())

    def _expire(self, entry: _Entry) -> None:
        with self._lock:
            if entry not in self._pending:
                return
            self._pending.remove(entry)
        self._discard_done(entry.future)


def _start(timer: threading.Timer, _future: Future[Warm]) -> None:
    timer.start()


_POOLS: weakref.WeakSet[WarmPool] = weakref.WeakSet()


@atexit.register
def _remove_all() -> None:
    """At exit, remove what every pool still holds (the background threads have finished
    their work by then: removals left run here)."""
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close()
