"""Harness side of the local sandbox: the jail description handed to the stage, and the
:class:`Watchdog` that pumps a run's output, enforces the time limit, the process count and
the process tree's total memory, and kills everything at the end. Stdlib-only.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from aira_eval.search.sandbox.limits import JAIL_WORKDIR

if TYPE_CHECKING:
    import selectors
    import subprocess
    from collections.abc import Callable

SCAN_INTERVAL_S = 0.2
DISK_SCAN_INTERVAL_S = 1.0
DRAIN_GRACE_S = 2.0


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
OPTIONAL_DIRS = ("/sys",)


def python_prefixes(python: str) -> list[str]:
    """The directories ``python`` needs: its prefixes and the real location of its binary."""
    import json
    import subprocess

    code = "import sys,json;print(json.dumps([sys.prefix,sys.base_prefix,sys.exec_prefix," \
        "sys.base_exec_prefix]))"
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env={"PATH": "/usr/bin:/bin"})
    paths = [*json.loads(out.stdout), os.path.dirname(os.path.dirname(os.path.realpath(python)))]
    return paths


def _minimal_cover(paths: list[str]) -> list[str]:
    """``paths`` and their real paths, without any path already inside another one."""
    expanded: set[str] = set()
    for path in paths:
        real = os.path.realpath(path)
        expanded.add(real)
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.realpath(parent) == parent:  # reachable at its literal path too
            expanded.add(os.path.abspath(path))
    ordered = sorted(p for p in expanded if p != "/")
    cover: list[str] = []
    for path in ordered:
        if not any(path == c or path.startswith(c.rstrip("/") + "/") for c in cover):
            cover.append(path)
    return cover


def jail_description(root: str, workdir: str, extra_ro: list[str], input_bind: str | None,
                     uid: int | None, tmp_mb: int) -> dict[str, Any]:
    """The ``jail`` section of the stage config (consumed by :func:`build_jail`)."""
    symlinks = {d: os.readlink(d) for d in SYSTEM_DIRS if os.path.islink(d)}
    system = [d for d in SYSTEM_DIRS if d not in symlinks and os.path.isdir(d)]
    jail: dict[str, Any] = {
        "root": root, "workdir": workdir, "input_bind": input_bind, "tmp_mb": tmp_mb,
        "ro_paths": _minimal_cover(system + extra_ro), "symlinks": symlinks,
        "optional_ro": [d for d in OPTIONAL_DIRS if os.path.isdir(d)],
    }
    if uid is not None:
        for name, line in (("passwd", f"sandbox:x:{uid}:{uid}:sandbox:{JAIL_WORKDIR}:/bin/sh"),
                           ("group", f"sandbox:x:{uid}:")):
            try:
                with open(f"/etc/{name}") as fh:
                    jail[name] = fh.read().rstrip("\n") + "\n" + line + "\n"
            except OSError:
                jail[name] = line + "\n"
    return jail


def process_table() -> dict[int, int]:
    """pid -> ppid for every process visible in ``/proc``."""
    table: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(root: int, table: dict[int, int]) -> set[int]:
    """``root`` and every process below it in ``table`` (pid -> ppid)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def pids_with_env_token(token: bytes) -> list[int]:
    """Processes whose environment contains ``token`` (escapees of a run without a PID ns)."""
    hits = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                if token in fh.read():
                    hits.append(int(entry.name))
        except OSError:
            continue
    return hits


def tree_memory(pids: set[int]) -> int:
    """Proportional set size of ``pids`` in bytes (RSS where smaps_rollup is missing)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            try:
                with open(f"/proc/{pid}/statm", "rb") as fh:
                    total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
    return total


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] != b"Z"


def disk_usage(root: str, skip: tuple[str, ...] = ("input",)) -> int:
    """Bytes allocated under ``root`` (symlinks not followed; top-level ``skip`` entries —
    the read-only inputs, hard links to the public files — not counted)."""
    total, stack = 0, [root]
    while stack:
        path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            if path == root and entry.name in skip:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total


CANCELLED_REASON = "cancelled: the search was stopped before the script finished"


class Watchdog:
    """Supervises one launched stage: output, time, process count, memory, final kill.

    ``overhead`` is how many processes of the tree are the harness's own (``unshare`` and the
    stage); ``token`` marks the run's environment when there is no PID namespace; ``on_kill``
    runs first when a limit is hit (``docker kill``). After :meth:`supervise`, ``kind`` says
    which limit was hit: ``timeout``, ``processes``, ``memory`` or ``disk`` (None: none).
    ``disk`` is ``(working dir, MB)``: the run is killed when the dir holds more.
    """

    def __init__(self, proc: subprocess.Popen[bytes], *, timeout_s: float, max_procs: int,
                 memory_mb: int | None, overhead: int, token: str | None,
                 on_kill: Callable[[], object] | None = None,
                 cancel: Any = None, disk: tuple[str, int] | None = None) -> None:
        self.proc, self.token, self.on_kill = proc, token, on_kill
        self.disk = disk
        self._next_disk_scan = 0.0
        self.cancel = cancel  # an Event-like object: set() -> kill the run as cancelled
        self.kind: str | None = None
        self.cleaned = False  # kill_all ran after the stage ended
        self.timeout_s, self.max_procs, self.memory_mb = timeout_s, max_procs, memory_mb
        self.overhead = overhead
        self.tree: set[int] = {proc.pid}
        import selectors

        self.sel = selectors.DefaultSelector()
        self._read_event = selectors.EVENT_READ

    def supervise(self, out: Any, err: Any, start: float) -> str | None:
        """Pump output into ``out``/``err`` (objects with ``feed(bytes)``) until the stage
        exits or a limit is hit, kill whatever is left, drain; the kill reason, if any."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for pipe in (self.proc.stdout, self.proc.stderr):
            _grow_pipe(pipe.fileno())
        self.sel.register(self.proc.stdout, self._read_event, out)
        self.sel.register(self.proc.stderr, self._read_event, err)
        pidfd = self._pidfd()
        try:
            killed = self._loop(start, 0.01 if pidfd is None else 3600.0)
            if killed and self.on_kill is not None:
                self.on_kill()
            self.kill_all()  # leftovers die with the script, so the pipes reach EOF
            self.cleaned = True
            self._drain()
        finally:
            self.sel.close()
            if pidfd is not None:
                os.close(pidfd)
        return killed

    def _pidfd(self) -> int | None:
        """A pidfd that becomes readable when the stage exits (None before Linux 5.3)."""
        try:
            fd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):  # poll the exit every 10 ms instead
            return None
        self.sel.register(fd, self._read_event, None)
        return fd

    def _loop(self, start: float, poll_s: float) -> str | None:
        deadline = start + self.timeout_s
        next_scan = start + SCAN_INTERVAL_S
        while self.proc.poll() is None:
            now = time.monotonic()
            if self.cancel is not None and self.cancel.is_set():
                self.kind = "cancelled"
                return CANCELLED_REASON
            if now >= deadline:
                self.kind = "timeout"
                return f"killed at the time limit of {self.timeout_s:g} s"
            if now >= next_scan:
                reason = self._scan()
                if reason:
                    return reason
                next_scan = now + SCAN_INTERVAL_S
            for key, _ in self.sel.select(min(deadline - now, next_scan - now, poll_s)):
                if key.data is not None:
                    self._read(key)
        return None

    def _read(self, key: selectors.SelectorKey) -> bool:
        chunk = os.read(key.fd, 1 << 20)
        if chunk:
            key.data.feed(chunk)
            return True
        self.sel.unregister(key.fileobj)
        return False

    def _drain(self) -> None:
        """Read what is left; stop at EOF on both pipes or after a short grace."""
        end = time.monotonic() + DRAIN_GRACE_S
        while any(k.data is not None for k in self.sel.get_map().values()):
            left = end - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(left):
                if key.data is not None:
                    self._read(key)
                else:
                    self.sel.unregister(key.fileobj)

    def _scan(self) -> str | None:
        self.tree = descendants(self.proc.pid, process_table())
        if len(self.tree) - self.overhead >= self.max_procs:
            self.kind = "processes"
            return f"killed: {self.max_procs} processes at once (fork bomb?)"
        limit = self.memory_mb
        if limit and len(self.tree) <= 256 and tree_memory(self.tree) > (limit + 64) * 2**20:
            self.kind = "memory"
            return f"killed: the process tree used more than {limit} MB of memory"
        return self._scan_disk()

    def _scan_disk(self) -> str | None:
        now = time.monotonic()
        if self.disk is None or now < self._next_disk_scan:
            return None
        self._next_disk_scan = now + DISK_SCAN_INTERVAL_S
        root, limit_mb = self.disk
        if disk_usage(root) > limit_mb * 2**20:
            self.kind = "disk"
            return f"killed: the working dir used more than {limit_mb} MB of disk"
        return None

    def kill_all(self) -> None:
        """SIGKILL the process group, every known descendant, and (without a PID namespace)
        every process carrying the run's token, until none is left alive."""
        import contextlib

        with contextlib.suppress(OSError):
            self.tree |= descendants(self.proc.pid, process_table())
        _kill(-self.proc.pid)
        for _ in range(5):
            extra = pids_with_env_token(self.token.encode()) if self.token else []
            targets = [p for p in self.tree | set(extra) if p != os.getpid() and alive(p)]
            if not targets:
                return
            for pid in targets:
                _kill(pid)
            time.sleep(0.02)


def _grow_pipe(fd: int, size: int = 1 << 20) -> None:
    """Enlarge a pipe's buffer (fewer wake-ups when a script floods its output)."""
    import contextlib
    import fcntl

    with contextlib.suppress(OSError):  # above pipe-max-size for this user: keep the default
        fcntl.fcntl(fd, 1031, size)  # F_SETPIPE_SZ


def _kill(pid: int) -> None:
    """SIGKILL ``pid`` (a process group when negative), ignoring the already dead."""
    import contextlib

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, 9)
