"""Harness side of the pre-forked interpreter (``LocalSandbox(prefork=True)``, opt-in).

A node's time on the builtin tasks is mostly ``import numpy, pandas, sklearn`` (bench/scale).
A *zygote* (:mod:`.zygote`) is a clean interpreter that has done those imports once; each run
forks it and the fork is contained exactly as an exec'd script (same namespaces, jail, uid,
rlimits, death signals, session, watchdog), then runs ``code.py`` as ``__main__``.

Zygotes are pooled per process, keyed by interpreter, preload list and the script's whole
environment (each zygote starts with exactly the environment an exec'd script gets, so
``/proc/<pid>/environ``, the hash seed and the thread settings match): a run takes an idle one
(or starts one) and gives it back. They are started from one long-lived thread, so their
``PR_SET_PDEATHSIG`` ties them to the harness's life (a zygote dies with the harness; its
runs die with it: launcher → namespace init → script). Only the ``jail`` mode is served.

What differs from an exec'd script (docs/scale.md): the preloaded modules are already
imported (their import-time side effects happened in the zygote, with the same environment);
``sys.orig_argv``/``/proc/self/cmdline`` name the zygote; at exit the preloaded modules are
not torn down (threads are joined, ``atexit`` runs, the script's own objects are released);
the watchdog's memory total counts pages shared with the zygote proportionally (PSS), while
``RLIMIT_AS`` counts them fully, as before.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import socket
import subprocess
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aira_eval.search.sandbox import limits, zygote
from aira_eval.search.sandbox.base import ExecResult, ExecSpec, SandboxError

if TYPE_CHECKING:
    from aira_eval.search.sandbox.local import Mode

PRELOAD = ("numpy", "pandas", "sklearn", "sklearn.base", "sklearn.calibration",
           "sklearn.compose", "sklearn.decomposition", "sklearn.ensemble",
           "sklearn.exceptions", "sklearn.feature_extraction", "sklearn.impute",
           "sklearn.linear_model", "sklearn.metrics", "sklearn.model_selection",
           "sklearn.neighbors", "sklearn.neural_network", "sklearn.pipeline",
           "sklearn.preprocessing", "sklearn.svm")
"""What a zygote imports: the procedural operators' libraries."""
START_TIMEOUT_S = 300.0
MAX_IDLE = 8
REAP_TIMEOUT_S = 120.0
class RemoteProc:
    """The launcher of one run, as :class:`~.watchdog.Watchdog` sees a ``Popen``: its pid,
    the read ends of its output pipes, ``poll``/``wait`` (the zygote reports the exit)."""

    def __init__(self, pid: int, stdout: int, stderr: int, owner: Zygote) -> None:
        self.pid = pid
        self.stdout = open(stdout, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self.stderr = open(stderr, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None
        self._owner = owner

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take(self._owner.receive(block=False))
        return self.returncode

    def wait(self) -> int:
        """The launcher's status, once the zygote has reaped every process of the run (a
        zygote that takes longer than :data:`REAP_TIMEOUT_S` is closed)."""
        while self.returncode is None:
            msg = self._owner.receive(block=True)
            if msg is None:
                self._owner.close()
                msg = {"exit": -9}
            self._take(msg)
        return self.returncode

    def _take(self, msg: dict[str, Any] | None) -> None:
        if msg is not None:
            self.returncode = int(msg.get("exit", -9))

    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()


class Zygote:
    """One pre-forked interpreter serving one run at a time."""

    def __init__(self, python: str, env: dict[str, str], preload: tuple[str, ...]) -> None:
        self.key = zygote_key(python, env, preload)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = _STARTER.submit(_spawn, python, env, theirs).result()
        finally:
            theirs.close()
        _ALL.add(self)
        self.broken = False
        try:
            self.sock.settimeout(START_TIMEOUT_S)
            source = open(limits.__file__, encoding="utf-8").read()  # noqa: SIM115
            self.sock.send(marshal.dumps({"limits": source, "preload": list(preload)}))
            reply = self._recv()
        except (OSError, ValueError, EOFError) as err:
            self.close()
            raise SandboxError(f"the prefork interpreter did not start: {err}") from err
        self.failed: list[str] = list(reply.get("failed", []))

    def _recv(self) -> dict[str, Any]:
        raw = self.sock.recv(zygote.MAX_MESSAGE)
        if not raw:
            self.broken = True
            raise EOFError("the prefork interpreter exited")
        return dict(marshal.loads(raw))

    def receive(self, block: bool) -> dict[str, Any] | None:
        """The next message (None: none yet, when not blocking); a dead zygote reads as a
        killed launcher."""
        self.sock.settimeout(REAP_TIMEOUT_S if block else 0.0)
        try:
            return self._recv()
        except (BlockingIOError, TimeoutError):
            return None
        except (OSError, EOFError, ValueError):
            self.broken = True
            return {"exit": -9}

    def launch(self, cfg: dict[str, Any], status_w: int) -> RemoteProc:
        """Start one run (the stage config of :mod:`.local`); its output goes to new pipes."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.sock.settimeout(60.0)
            socket.send_fds(self.sock, [marshal.dumps(cfg)], [out_w, err_w, status_w])
            pid = int(self._recv()["pid"])
        except (OSError, EOFError, ValueError, KeyError) as err:
            self.broken = True
            for fd in (out_r, err_r):
                os.close(fd)
            raise SandboxError(f"the prefork interpreter failed to launch a run: {err}") from err
        finally:
            os.close(out_w)
            os.close(err_w)
        return RemoteProc(pid, out_r, err_r, self)

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def close(self) -> None:
        """EOF tells the zygote to exit; kill it if it does not."""
        self.broken = True
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def zygote_key(python: str, env: dict[str, str], preload: tuple[str, ...]) -> tuple[Any, ...]:
    return python, tuple(sorted(env.items())), preload


def _spawn(python: str, env: dict[str, str], sock: socket.socket) -> subprocess.Popen[bytes]:
    """Start a zygote (on the starter thread, whose life its death signal follows)."""
    from aira_eval.search.sandbox.local import _die_with_harness

    prog = os.open(zygote.__file__, os.O_RDONLY | os.O_CLOEXEC)  # named by fd, not by path
    try:
        return subprocess.Popen([python, f"/dev/fd/{prog}"], stdin=sock.fileno(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                pass_fds=(prog,), start_new_session=True, env=env, cwd="/",
                                preexec_fn=_die_with_harness())
    finally:
        os.close(prog)


# one thread for the whole process: zygotes die with it, i.e. with the harness
_STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aira-zygote-starter")
_LOCK = threading.Lock()
_IDLE: list[Zygote] = []
_ALL: weakref.WeakSet[Zygote] = weakref.WeakSet()


def zygote_pids() -> set[int]:
    """The pids of this process's live zygotes (the harness's own processes: they carry the
    scripts' environment, spec variables included)."""
    return {z.proc.pid for z in list(_ALL) if z.proc.poll() is None}


def acquire(python: str, env: dict[str, str], preload: tuple[str, ...]) -> Zygote:
    """An idle zygote for this interpreter and start-up environment, or a new one (idle
    zygotes of other keys are stopped then: each holds the scientific stack in memory)."""
    key = zygote_key(python, env, preload)
    found, stale = None, []
    with _LOCK:
        for z in list(_IDLE):
            if found is None and z.key == key and z.alive():
                found = z
            elif z.key != key or not z.alive():
                stale.append(z)
            else:
                continue
            _IDLE.remove(z)
    for z in stale:
        z.close()
    return found if found is not None else Zygote(python, env, preload)


def release(z: Zygote) -> None:
    """Give ``z`` back to the pool (closed when broken or the pool is full)."""
    with _LOCK:
        if z.alive() and len(_IDLE) < MAX_IDLE:
            _IDLE.append(z)
            return
    z.close()


def shutdown() -> None:
    """Stop every idle zygote (they also die with the harness)."""
    with _LOCK:
        idle = list(_IDLE)
        _IDLE.clear()
    for z in idle:
        z.close()


def execute(spec: ExecSpec, mode: Mode, cfg: dict[str, Any], workdir: Path, keep_dir: Path,
            cancel: threading.Event | None, preload: tuple[str, ...] | None) -> ExecResult:
    """:func:`.local._execute` with the script forked from a zygote instead of exec'd."""
    from aira_eval.search.sandbox.local import _captures, supervise

    z = acquire(spec.python, cfg["env"], PRELOAD if preload is None else preload)
    cfg.update(script=f"{cfg['cwd']}/code.py", network=spec.network,
               userns="--user" in mode.unshare)
    status_r, status_w = os.pipe()
    out, err = _captures(spec, keep_dir)
    start = time.monotonic()
    try:
        proc = z.launch(cfg, status_w)
    except SandboxError:
        os.close(status_r)
        out.close()
        err.close()
        z.close()
        raise
    finally:
        os.close(status_w)
    try:
        result = supervise(spec, mode, cfg, proc, workdir, (out, err, start, status_r), cancel)
    finally:
        proc.close()
        if proc.returncode is None:  # interrupted: the protocol is out of step
            z.close()
        else:
            release(z)
    result.isolation = f"{result.isolation}+prefork"
    result.mechanisms = (*result.mechanisms, "prefork")
    if z.failed:
        result.notes.append(f"prefork: not preloaded (import failed): {', '.join(z.failed)}")
    return result
