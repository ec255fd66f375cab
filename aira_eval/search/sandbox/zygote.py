"""The pre-forked interpreter of the local sandbox (``prefork``): a program, not a library.

Like :mod:`.limits` this file is **stdlib-only** and runs standalone (``python /dev/fd/N``,
started by :mod:`.prefork` with the script's own clean environment, so its ``sys.path``,
flags, hash seed and thread settings are those of ``python code.py``). It imports the heavy
libraries once (numpy, pandas, scikit-learn) and then serves runs over a ``SOCK_SEQPACKET``
socket on fd 0: a run is the stage configuration of :mod:`.local` (``marshal``) plus three
descriptors (stdout, stderr, status). For each run it forks

1. the *launcher* (what ``unshare`` is for an exec'd run): a new session, ``PR_SET_PDEATHSIG``
   tied to the zygote, the run's pipes on fds 1/2 and every other descriptor closed, then
   ``unshare(2)`` of the same namespaces (network, PID, mount; user when not root);
2. the *stage*, PID 1 of the new PID namespace (``--kill-child``: it dies with the
   launcher): the jail of :func:`limits.build_jail`, the backstop deadline, reaping, the
   status;
3. the *script*: the same rlimits, ``no_new_privs``, capability drop, uid drop, death signal,
   umask and clean environment as :func:`limits._start_script` — but instead of ``execve`` it
   runs ``code.py`` as ``__main__`` in the already-initialised interpreter and exits as
   Python does (non-daemon threads joined, ``atexit`` run, streams flushed).

The zygote reports the launcher's pid, then its exit status, on the socket; it exits at EOF.
"""

from __future__ import annotations

import marshal
import os
import socket
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, \
    0x40000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
MAX_MESSAGE = 1 << 22

limits: Any = None  # the stage module, sent by the harness at start-up


def _send(sock: socket.socket, obj: Any) -> None:
    sock.send(marshal.dumps(obj))


def _namespaces(cfg: dict[str, Any]) -> int:
    flags = CLONE_NEWPID | (0 if cfg["network"] else CLONE_NEWNET)
    flags |= CLONE_NEWNS if cfg.get("jail") else 0
    return flags | (CLONE_NEWUSER if cfg.get("userns") else 0)


def _map_root(uid: int, gid: int) -> None:
    """``unshare --map-root-user``: root in the new user namespace is the harness's uid."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                       ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def _launcher(cfg: dict[str, Any], fds: list[int], zygote: int) -> None:
    """Child 1: session, death signal, descriptors, namespaces; then the stage. Returns only
    in the script's process; a failure before the stage is reported as the stage's would be."""
    os.setsid()
    limits._c().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if os.getppid() != zygote:
        os._exit(1)
    status_fd = os.dup2(fds[2], 3, inheritable=False)
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        max_fd = os.sysconf("SC_OPEN_MAX")
        os.closerange(4, max_fd if max_fd > 0 else 65536)
        cfg["status_fd"] = status_fd
        uid, gid = os.getuid(), os.getgid()
        limits._check(limits._c().unshare(_namespaces(cfg)), "unshare")
        if cfg.get("userns"):
            _map_root(uid, gid)
    except Exception as err:
        os.write(status_fd, marshal.dumps({"error": f"sandbox setup failed: {err}"}))
        os._exit(1)
    launcher = os.getpid()
    stage = os.fork()
    if stage == 0:
        limits._c().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # unshare --kill-child
        if os.getppid() not in (0, launcher):  # 0: the parent is outside our PID namespace
            os._exit(1)
        _stage(cfg)
        return
    while True:
        try:
            _, status = os.waitpid(stage, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _stage(cfg: dict[str, Any]) -> None:
    """Child 2, PID 1 of the namespace: :func:`limits.main` minus the ``execve``. Returns only
    in the script's process."""
    if cfg.get("deadline_s"):
        limits._arm_deadline(cfg["deadline_s"])
    try:
        if cfg.get("jail"):
            limits.build_jail(cfg["jail"])
        cfg["stage_pid"] = os.getpid()
        child = os.fork()
        if child == 0:
            _prepare_script(cfg)
            return
        status = limits._supervise(child)
    except Exception as err:
        status = {"error": f"sandbox setup failed: {err}"}
    os.write(cfg["status_fd"], marshal.dumps(status))
    os._exit(0)


def _prepare_script(cfg: dict[str, Any]) -> None:
    """Child 3: :func:`limits._start_script` up to (not including) the ``execve``."""
    import signal

    try:
        os.close(cfg["status_fd"])  # the script must not forge its own status
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the stage's backstop handler
        os.environ.update(cfg["env"])  # the zygote started with it; the imports' additions stay
        os.chdir(cfg["cwd"])
        for name, value in cfg["rlimits"].items():
            limits.resource.setrlimit(getattr(limits.resource, name), (value, value))
        limits._c().prctl(limits.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if cfg.get("drop_caps"):
            for cap in range(64):
                limits._c().prctl(limits.PR_CAPBSET_DROP, cap, 0, 0, 0)
        if cfg.get("uid") is not None:
            os.setgroups([])
            os.setgid(cfg["gid"])
            os.setuid(cfg["uid"])
        limits._c().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as execve would: /proc/self readable
        limits._c().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if os.getppid() != cfg["stage_pid"]:
            os._exit(127)
        os.umask(0o022)
        _fresh_random_state()
    except BaseException as err:
        os.write(2, f"aira-eval sandbox: cannot start the script: {err}\n".encode())
        os._exit(127)


def _fresh_random_state() -> None:
    """A forked child shares the zygote's unseeded RNG state: reseed numpy's global one from
    the OS, as a fresh interpreter would be (``random`` reseeds itself at fork)."""
    nprandom = sys.modules.get("numpy.random")
    if nprandom is not None:
        nprandom.seed()


def run_script(path: str) -> int:
    """Run ``path`` as ``__main__`` (as ``python code.py``: argv, ``sys.path[0]``, a fresh
    ``__main__`` module); the exit status. An uncaught exception prints the script's own
    traceback (no frame of ours), status 1."""
    import builtins
    from importlib.machinery import SourceFileLoader

    with open(path, "rb") as fh:
        source = fh.read()
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None,
                         __annotations__={}, __loader__=SourceFileLoader("__main__", path))
    sys.modules["__main__"] = main
    sys.argv[:] = [os.path.basename(path)]
    sys.path[0] = os.path.dirname(path)
    try:
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as stop:
        return _exit_status(stop.code)
    except BaseException as err:
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        sys.excepthook(type(err), err.with_traceback(tb), tb)
        return 1
    return 0


def _exit_status(code: object) -> int:
    """``SystemExit.code`` as the interpreter turns it into a status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def finish(status: int) -> None:
    """Exit as the interpreter does — non-daemon threads joined, ``atexit`` handlers run, the
    script's objects released (unclosed files flushed), streams flushed — but without
    tearing down the preloaded modules, which costs seconds in a forked copy (every page it
    touches is copied)."""
    import atexit
    import gc
    import threading

    try:
        getattr(threading, "_shutdown", lambda: None)()
        atexit._run_exitfuncs()
        sys.modules["__main__"].__dict__.clear()
        gc.collect()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 (no contextlib import on the way out)
                stream.flush()
            except Exception:  # a closed stream: nothing to flush
                pass
        os._exit(status)


def serve(sock: socket.socket) -> dict[str, Any] | None:
    """Serve runs until EOF (None); returns the run's config in the script's process."""
    zygote = os.getpid()
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 3)
        if not msg:
            return None
        cfg = marshal.loads(msg)
        pid = os.fork()
        if pid == 0:
            sock.close()
            _launcher(cfg, fds, zygote)
            return cfg
        for fd in fds:
            os.close(fd)
        _send(sock, {"pid": pid})
        _send(sock, {"exit": _wait_run(pid)})


def _wait_run(launcher: int) -> int:
    """The launcher's exit status, once every process of the run is gone: the zygote is a
    subreaper, so a namespace init orphaned by a killed launcher comes back to it, and that
    init exits only when the kernel has killed and reaped its whole namespace."""
    status = None
    while True:
        try:
            pid, raw = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return status if status is not None else -9
        if pid == launcher:
            status = os.waitstatus_to_exitcode(raw)


def start() -> dict[str, Any] | None:
    """Receive the stage module and the preload list, import, report ready, serve."""
    global limits
    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    hello = marshal.loads(sock.recv(MAX_MESSAGE))
    limits = types.ModuleType("_aira_eval_stage")
    exec(compile(hello["limits"], "<aira-eval stage>", "exec"), limits.__dict__)
    limits._c().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    failed = []
    for name in hello["preload"]:
        try:
            __import__(name)
        except Exception:
            failed.append(name)
    import gc

    gc.freeze()  # the children's collections never walk (and copy) the preloaded objects
    _send(sock, {"ready": True, "failed": failed})
    return serve(sock)


if __name__ == "__main__":
    _run = start()
    if _run is None:
        sys.exit(0)
    finish(run_script(_run["script"]))
