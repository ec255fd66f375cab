"""Limits enforced inside the local sandbox: the stage program and process-tree helpers.

This module is **stdlib-only** and runs as a standalone program (``python -I -S /dev/fd/N``:
the harness passes this file as an open descriptor, so ``/proc/1/cmdline`` in the jail names no
host path of the harness)
launched by :mod:`aira_eval.search.sandbox.local`, usually under ``unshare`` (new mount, network
and PID namespaces). It reads its configuration (``marshal``: no import cost) on stdin, never
on the command line, which the script could read from ``/proc/1/cmdline``; then

1. optionally builds a jail: a fresh tmpfs root holding read-only bind mounts of the system
   directories and the interpreter's prefixes, a private ``/tmp``, ``/dev/shm``, a minimal
   ``/dev``, a new ``/proc``, and the working dir at ``/sandbox`` (``input/`` read-only), then
   ``pivot_root`` into it and detaches the old root: no other host path is reachable;
2. forks the script: rlimits (address space, processes, file size, no core dumps),
   ``no_new_privs``, an unprivileged uid when started as root, then ``execve``;
3. stays as PID 1 of the namespace, reaping orphans, and writes the script's exit status
   (``marshal``) to the status fd. When it exits the kernel kills whatever the script left behind.

The harness side (the jail description and the watchdog) is in
:mod:`aira_eval.search.sandbox.watchdog`.
"""

from __future__ import annotations

import marshal
import os
import resource
import sys
import time

# Imports are kept minimal: this file is also the stage, whose start-up is per-run overhead.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_PDEATHSIG = 38, 24, 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
DEV_NODES = ("null", "zero", "full", "random", "urandom")
JAIL_WORKDIR = "/sandbox"

_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enc(text: str | None) -> bytes | None:
    return text.encode() if text else None


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2)."""
    import ctypes

    ret = _c().mount(_enc(source), target.encode(), _enc(fstype), ctypes.c_ulong(flags), _enc(data))
    _check(ret, f"mount {source} on {target}")


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_c().umount2(target.encode(), flags), f"umount {target}")


def bind(source: str, target: str, readonly: bool, extra: int = MS_NOSUID | MS_NODEV) -> None:
    """Bind ``source`` on ``target`` (created to match), then remount with ``extra`` flags."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    mount(source, target, None, MS_BIND)
    keep = os.statvfs(source).f_flag & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    flags = MS_REMOUNT | MS_BIND | extra | keep | (MS_RDONLY if readonly else 0)
    mount(None, target, None, flags)


def tmpfs(target: str, options: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    """Mount a tmpfs at ``target`` (created)."""
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", flags, options)


def _pivot(root: str) -> None:
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    os.chdir(root)
    if number is None:  # unknown arch: chroot (the uid drop removes CAP_SYS_CHROOT)
        os.chroot(".")
        os.chdir("/")
        return
    os.mkdir(".oldroot")
    _check(_c().syscall(number, b".", b".oldroot"), "pivot_root")
    os.chdir("/")
    _check(_c().umount2(b"/.oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/.oldroot")


def _make_dev(root: str, tmp_opts: str) -> None:
    dev = root + "/dev"
    tmpfs(dev, "mode=0755,size=1m", MS_NOSUID | MS_NOEXEC)
    for name in DEV_NODES:
        bind("/dev/" + name, f"{dev}/{name}", readonly=False, extra=MS_NOSUID | MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    tmpfs(dev + "/shm", tmp_opts)


def build_jail(jail: dict[str, Any]) -> None:
    """Build the jail described by ``jail`` and pivot into it (see the module docstring)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = jail["root"]
    tmpfs(root, "mode=0755,size=16m")
    tmp_opts = f"mode=1777,size={int(jail['tmp_mb'])}m"
    _make_dev(root, tmp_opts)
    tmpfs(root + "/tmp", tmp_opts)
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in jail["ro_paths"]:
        if os.path.exists(path):
            bind(path, root + path, readonly=True)
    for path in jail.get("optional_ro", ()):
        try:  # noqa: SIM105 (no contextlib: stage start-up time) /sys may be locked in a userns
            bind(path, root + path, readonly=True)
        except OSError:
            pass
    for link, target in jail["symlinks"].items():
        if not os.path.lexists(root + link):
            os.symlink(target, root + link)
    inside = root + JAIL_WORKDIR
    bind(jail["workdir"], inside, readonly=False)
    bind(jail.get("input_bind") or inside + "/input", inside + "/input", readonly=True)
    for target, entry, readonly in jail.get("maps", ()):  # e.g. /home/data -> input
        bind(inside + "/" + entry, root + target, readonly=readonly)
    for name in ("passwd", "group"):  # an entry for the sandbox uid (getpass, ~ expansion)
        if jail.get(name) and os.path.isfile(f"{root}/etc/{name}"):
            path = f"{root}/.{name}"
            with open(path, "w") as fh:
                fh.write(jail[name])
            bind(path, f"{root}/etc/{name}", readonly=True)
    _pivot(root)
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _start_script(cfg: dict[str, Any]) -> None:
    """In the forked child: limits, privileges, exec. Never returns."""
    try:
        os.chdir(cfg["cwd"])
        for name, value in cfg["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        _c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if cfg.get("drop_caps"):  # root of a user namespace: no capability survives exec
            for cap in range(64):
                _c().prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        if cfg.get("uid") is not None:
            os.setgroups([])
            os.setgid(cfg["gid"])
            os.setuid(cfg["uid"])
        _c().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # after setuid, which clears it
        if os.getppid() != cfg["stage_pid"]:
            os._exit(127)  # the stage died meanwhile
        os.umask(0o022)
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    except BaseException as err:
        os.write(2, f"aira-eval sandbox: cannot start the script: {err}\n".encode())
    os._exit(127)


def _supervise(child: int) -> dict[str, Any]:
    """Reap every child (we may be PID 1) until ``child`` exits; its status as a dict."""
    start = time.monotonic()
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return {"error": "lost track of the script"}
        except InterruptedError:
            continue
        if pid == child:
            out: dict[str, Any] = {"script_time": time.monotonic() - start}
            if os.WIFSIGNALED(status):
                out["signal"] = os.WTERMSIG(status)
            else:
                out["exit_code"] = os.waitstatus_to_exitcode(status)
            return out


def _arm_deadline(seconds: float) -> None:
    """Kill the whole group and exit after ``seconds``, even if the harness died meanwhile.

    The harness enforces the real time limit; this backstop only keeps a script orphaned by a
    killed harness from running forever. ``_signal`` avoids ``signal``'s enum import cost.
    """
    import _signal

    def expire(_signum: int, _frame: object) -> None:
        os.killpg(0, 9)
        os._exit(137)  # we may be PID 1, which our own SIGKILL does not reach

    _signal.signal(_signal.SIGALRM, expire)
    _signal.alarm(max(1, int(seconds)))


def main() -> int:
    """Stage entry point: config (marshal) on stdin, status (marshal) on ``cfg['status_fd']``."""
    cfg = marshal.loads(sys.stdin.buffer.read())
    if cfg.get("deadline_s"):
        _arm_deadline(cfg["deadline_s"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    status_fd = int(cfg["status_fd"])
    os.set_inheritable(status_fd, False)
    try:
        if cfg.get("jail"):
            build_jail(cfg["jail"])
        cfg["stage_pid"] = os.getpid()
        child = os.fork()
        if child == 0:
            _start_script(cfg)
        status = _supervise(child)
    except Exception as err:
        status = {"error": f"sandbox setup failed: {err}"}
    os.write(status_fd, marshal.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
