"""The local backend: one subprocess per script, contained by Linux namespaces when possible.

The strongest mode the machine allows is found once per interpreter by a probe run (the
result's ``isolation_note`` says why a stronger one failed):

``jail`` (root, or unprivileged user namespaces)
    ``unshare --mount --net --pid --fork --kill-child``, then :mod:`.limits` builds a fresh
    tmpfs root with read-only system dirs and interpreter prefixes and pivots into it. The
    working dir is at ``/sandbox``; ``input/`` holds hard links to the public files (a
    read-only bind of the public dir when it is on another filesystem), mounted read-only.
    No other host path — the private answers, the study dir, the project — exists in the
    script's view. The script runs as a random unprivileged uid (when started as root) or
    without any capability (user namespace), with ``no_new_privs``: it can neither remount
    nor write the linked inputs.
``pidns``
    network and PID namespaces only: the filesystem is the host's (inputs are copies), so
    private files are unreachable only as long as their path is unknown.
``plain``
    no namespaces at all: network reachable; stray processes found by an environment token.

In every mode: a new session (process group), a clean minimal environment, ``RLIMIT_AS`` (the
memory limit, per process), ``RLIMIT_NPROC`` (enforced for non-root uids), ``RLIMIT_FSIZE``,
no core dumps, and a watchdog that kills the whole tree at the time limit, when it holds
``max_procs`` processes, when its total memory (PSS) exceeds the limit, or when the working
dir holds more than ``disk_mb`` (``RLIMIT_FSIZE`` caps each file at that size too). A
submission larger than ``max_submission_mb`` (or sparse) is never copied out. When the PID
namespace's init exits, the kernel kills every process left in it (daemons included). The
stage also arms its own deadline (time limit + :data:`BACKSTOP_S`), so a script orphaned by a
killed harness cannot run forever.
"""

from __future__ import annotations

import errno
import functools
import marshal
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_eval.errors import AiraEvalError, UsageError
from aira_eval.search.report import ValidationReport
from aira_eval.search.sandbox import leftovers, limits, watchdog
from aira_eval.search.sandbox.base import (
    ExecResult,
    ExecSpec,
    OutputCapture,
    SandboxError,
    base_env,
    check_spec,
    clear_kept,
    collect_submission,
    fresh_workdir,
    populate_input,
    prepare_layout,
    read_only_entry,
    remove_tree,
)

FILE_SIZE_LIMIT = 16 * 1024**3
NPROC_SLACK = 64
BACKSTOP_S = 60  # the stage kills everything this long after the time limit on its own
UID_RANGE = (200_000, 260_000)
_TOKEN_VAR = "AIRA_EVAL_SANDBOX_RUN"
JAIL_PREFIX = "aira-jail-"


@dataclass(frozen=True)
class Mode:
    """One containment mode (see the module docstring)."""

    name: str
    unshare: tuple[str, ...]
    pidns: bool
    jail: bool
    drop_uid: bool

    def argv_prefix(self, network: bool) -> list[str]:
        """The ``unshare`` command line (empty for ``plain``)."""
        if not self.unshare:
            return []
        tool = shutil.which("unshare") or "unshare"
        return [tool, *self.unshare, *([] if network else ["--net"]), "--"]

    def mechanisms(self, network: bool, memory: bool) -> tuple[str, ...]:
        """Names of the mechanisms this mode puts in force."""
        names = ["session", "clean-env", "watchdog", "rlimit-fsize"]
        names += ["netns"] if self.unshare and not network else []
        names += ["pidns"] if self.pidns else ["env-token-sweep"]
        names += ["jail", "mountns"] if self.jail else []
        names += ["uid-drop"] if self.drop_uid else []
        names += ["userns", "no-capabilities"] if "--user" in self.unshare else []
        names += ["no-new-privs"]
        names += ["rlimit-nproc"] if self.drop_uid or os.geteuid() != 0 else []
        names += ["rlimit-as"] if memory else []
        return tuple(names)


def candidate_modes(euid: int) -> list[Mode]:
    """Modes to try, strongest first, for a harness running as ``euid``."""
    ns = ("--pid", "--fork", "--kill-child")
    user = () if euid == 0 else ("--user", "--map-root-user")
    root = euid == 0
    modes = [
        Mode("jail", (*user, "--mount", *ns), True, True, root),
        Mode("pidns", (*user, *ns), True, False, root),
    ]
    if root:
        modes.append(Mode("pidns", ns, True, False, False))
    modes.append(Mode("plain", (), False, False, root))
    if root:
        modes.append(Mode("plain", (), False, False, False))
    return modes


def isolation_note(mode: Mode, network: bool) -> str | None:
    """What is weaker than the full jail, in one sentence per gap."""
    gaps = []
    if network:
        gaps.append("network access allowed by the spec.")
    elif not mode.unshare:
        gaps.append("no network namespace available: the network is reachable.")
    if not mode.jail:
        gaps.append("no mount namespace: the script sees the host filesystem (inputs are "
                    "copies), so host files are protected only by not being named.")
    if not mode.pidns:
        gaps.append("no PID namespace: escaped daemons are found by an environment token.")
    if os.geteuid() == 0 and not mode.drop_uid:
        gaps.append("the script runs as root: RLIMIT_NPROC is not enforced by the kernel.")
    return " ".join(gaps) or None


class LocalSandbox:
    """Runs scripts as local subprocesses in the strongest mode available (module docstring)."""

    name = "local"

    def __init__(self, keep_workdir: bool = False, force_mode: str | None = None,
                 prefork: bool = False, preload: tuple[str, ...] | None = None) -> None:
        """``keep_workdir`` keeps the working dir for debugging; ``force_mode`` picks a mode
        by name (``jail``/``pidns``/``plain``) instead of the strongest working one;
        ``prefork`` forks scripts from a pre-imported interpreter (:mod:`.prefork`, jail mode
        only) that imported ``preload`` (default :data:`.prefork.PRELOAD`)."""
        self.keep_workdir = keep_workdir
        self.force_mode = force_mode
        self.prefork = prefork
        self.preload = preload
        sweep_stale_jail_dirs()
        self._modes: dict[str, Mode] = {}
        self._weaker_why: dict[str, str] = {}
        self._lock = threading.Lock()
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Kill every run in progress (they end with ``killed_reason == CANCELLED_REASON``)."""
        self.cancel_event.set()

    def mode_for(self, python: str) -> Mode:
        """The mode used for ``python`` (probed once, then cached)."""
        with self._lock:
            if python not in self._modes:
                self._modes[python], failures = self._probe(python)
                if failures:
                    self._weaker_why[python] = "Stronger modes failed: " + " | ".join(failures)
            return self._modes[python]

    def _probe(self, python: str) -> tuple[Mode, list[str]]:
        """The first candidate mode whose trial run works, and why the stronger ones did not."""
        code = "import socket\nprint('PROBE', sorted(n for _, n in socket.if_nameindex()))\n"
        failures = []
        for mode in candidate_modes(os.geteuid()):
            if self.force_mode and mode.name != self.force_mode:
                continue
            with tempfile.TemporaryDirectory(prefix="aira-probe-") as tmp:
                public, keep = Path(tmp, "public"), Path(tmp, "keep")
                public.mkdir()
                spec = ExecSpec(code=code, public_dir=public, timeout_s=30, python=python)
                try:
                    res = self._run_in_mode(spec, Path(tmp, "work"), keep, mode)
                except (OSError, AiraEvalError) as err:
                    failures.append(f"{mode.name}: {err}")
                    continue
                if res.exit_code == 0 and "PROBE" in res.stdout_tail:
                    return mode, failures
                failures.append(f"{mode.name}: {res.stderr_tail.strip()[-300:]}")
        raise SandboxError(f"no local sandbox mode works for {python}",
                           hint="Tried: " + " | ".join(failures))

    def run(self, spec: ExecSpec, workdir: Path, keep_dir: Path) -> ExecResult:
        """Run ``spec`` (see :class:`~aira_eval.search.sandbox.base.Sandbox`)."""
        check_spec(spec)
        if not Path(spec.python).exists():
            raise UsageError(f"python interpreter {spec.python} does not exist")
        if workdir.resolve().is_relative_to(spec.public_dir.resolve().parent):
            raise UsageError(f"sandbox working dir {workdir} is inside the task directory",
                             hint="Use a scratch dir such as tempfile.mkdtemp().")
        mode = self.mode_for(spec.python)
        if spec.path_maps and not mode.jail:
            raise SandboxError(
                f"mapping {', '.join(t for t, _ in spec.path_maps)} needs a mount namespace, "
                f"but the local sandbox runs in {mode.name} mode here",
                hint="Run as root or allow unprivileged user namespaces (the jail mode), or "
                     "use --sandbox docker.")
        result = self._run_in_mode(spec, workdir, keep_dir, mode, self.prefork)
        why = self._weaker_why.get(spec.python)
        if why:
            result.isolation_note = f"{result.isolation_note or ''} {why}".strip()
        return result

    def _run_in_mode(self, spec: ExecSpec, workdir: Path, keep_dir: Path,
                     mode: Mode, prefork: bool = False) -> ExecResult:
        clear_kept(keep_dir)
        (keep_dir / "code.py").write_text(spec.code)
        fresh_workdir(workdir)
        # beside the working dir: whatever reaps a killed run's scratch dir reaps it too
        jail_root = Path(tempfile.mkdtemp(prefix=JAIL_PREFIX, dir=workdir.parent)) \
            if mode.jail else None
        try:
            uid = random.randint(*UID_RANGE) if mode.drop_uid else None
            cfg, notes = _prepare(spec, workdir, mode, uid, jail_root)
            if prefork and mode.jail:
                from aira_eval.search.sandbox import prefork as pf

                result = pf.execute(spec, mode, cfg, workdir, keep_dir, self.cancel_event,
                                    self.preload)
            else:
                notes += ["prefork needs the jail mode: the script was exec'd"] if prefork else []
                result = _execute(spec, mode, cfg, workdir, keep_dir, self.cancel_event)
            result.notes[:0] = notes
            collect_submission(result, spec, workdir, keep_dir)
            return result
        finally:
            if not self.keep_workdir:
                remove_tree(workdir)
            if jail_root is not None:
                remove_tree(jail_root)
            leftovers.forget_run(workdir)


def sweep_stale_jail_dirs(max_age_s: float = 3600.0) -> None:
    """Remove jail mount points left by a harness that was killed (empty, older than an hour).

    They are always empty in the host's view (the mounts live in the run's namespace), and a
    live run leaves its mount point within milliseconds of starting, so old ones are free.
    """
    cutoff = time.time() - max_age_s
    for path in Path(tempfile.gettempdir()).glob(f"{JAIL_PREFIX}*"):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                path.rmdir()
        except OSError:
            continue


def _script_env(spec: ExecSpec, home: str, token: str | None, jail: bool) -> dict[str, str]:
    """The clean environment (:func:`base_env`) with PATH, TMPDIR and the run's token."""
    env = {"PATH": f"{os.path.dirname(spec.python)}:/usr/local/bin:/usr/bin:/bin"}
    if jail:
        env["TMPDIR"] = "/tmp"
    if token:
        env[_TOKEN_VAR] = token
    env.update(base_env(spec, home))
    return env


def _prepare(spec: ExecSpec, workdir: Path, mode: Mode, uid: int | None,
             jail_root: Path | None) -> tuple[dict[str, Any], list[str]]:
    """Populate ``workdir`` and build the stage configuration."""
    notes: list[str] = []
    for sub in ("submission", "working"):
        (workdir / sub).mkdir()
    (workdir / "code.py").write_text(spec.code)
    input_bind = None
    try:
        populate_input(spec.public_dir, workdir / "input", hardlink=mode.jail)
    except OSError as err:
        if not (mode.jail and err.errno == errno.EXDEV):  # other fs: bind-mount instead
            raise
        remove_tree(workdir / "input")
        (workdir / "input").mkdir()
        input_bind = str(spec.public_dir.resolve())
        notes.append("input is a read-only bind mount of the public dir (other filesystem)")
    created = prepare_layout(spec, workdir)
    if uid is not None:
        for path in (workdir, workdir / "submission", workdir / "working", *created):
            os.chown(path, uid, uid)
    cwd = limits.JAIL_WORKDIR if mode.jail else str(workdir)
    token = None if mode.pidns else uuid.uuid4().hex
    cfg: dict[str, Any] = {
        "argv": [spec.python, "code.py"],
        "env": _script_env(spec, cwd, token, mode.jail),
        "cwd": cwd,
        "rlimits": _rlimits(spec, uid),
        "uid": uid,
        "gid": uid,
        "token": token,
        "drop_caps": "--user" in mode.unshare,
        "deadline_s": spec.timeout_s + BACKSTOP_S,
    }
    if jail_root is not None:
        cfg["jail"] = _jail(spec, workdir, jail_root, uid, input_bind)
    return cfg, notes


@functools.lru_cache(maxsize=16)
def _prefixes(python: str) -> tuple[str, ...]:
    try:
        return tuple(watchdog.python_prefixes(python))
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        raise SandboxError(f"cannot inspect the interpreter {python}: {err}") from err


def _jail(spec: ExecSpec, workdir: Path, jail_root: Path, uid: int | None,
          input_bind: str | None) -> dict[str, Any]:
    """The jail description; refuses to expose the task's directory through a bind."""
    extra = [*_prefixes(spec.python), *(str(p) for p in spec.ro_binds)]
    tmp_mb = min(spec.memory_mb or 2048, 4096)
    jail = watchdog.jail_description(str(jail_root), str(workdir), extra, input_bind, uid, tmp_mb)
    jail["maps"] = [(target, "input" if read_only_entry(spec, entry) else entry,
                     read_only_entry(spec, entry)) for target, entry in spec.path_maps]
    task_root = spec.public_dir.resolve().parent
    for path in jail["ro_paths"]:
        if task_root.is_relative_to(path):
            raise UsageError(
                f"the sandbox would expose {path}, which contains the task directory {task_root}",
                hint="Keep task data outside the interpreter's prefix and the system dirs, "
                "and do not pass it in ro_binds.",
            )
    return jail


def _rlimits(spec: ExecSpec, uid: int | None) -> dict[str, int]:
    fsize = FILE_SIZE_LIMIT if spec.disk_mb is None else (spec.disk_mb + 1) * 1024**2
    out = {"RLIMIT_FSIZE": min(FILE_SIZE_LIMIT, fsize), "RLIMIT_CORE": 0}
    if spec.memory_mb is not None:
        out["RLIMIT_AS"] = spec.memory_mb * 1024 * 1024
    if uid is not None or os.geteuid() != 0:
        # the kernel's cap sits above the watchdog's, so a fork bomb is stopped by the kernel
        # and then reliably seen (and killed) by the watchdog; it counts threads too
        own = 0 if uid is not None else _own_processes()
        out["RLIMIT_NPROC"] = spec.max_procs + NPROC_SLACK + own
    return out


def _own_processes() -> int:
    """Processes (and threads) of our uid: RLIMIT_NPROC counts them all."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


def _execute(spec: ExecSpec, mode: Mode, cfg: dict[str, Any], workdir: Path,
             keep_dir: Path, cancel: threading.Event | None = None) -> ExecResult:
    """Launch the stage, supervise it, and turn what happened into an :class:`ExecResult`."""
    status_r, status_w = os.pipe()
    cfg["status_fd"] = status_w
    stage = os.open(limits.__file__, os.O_RDONLY | os.O_CLOEXEC)  # named by fd, not by path
    argv = [*mode.argv_prefix(spec.network), sys.executable, "-I", "-S", f"/dev/fd/{stage}"]
    out, err = _captures(spec, keep_dir)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(status_w, stage), start_new_session=True, env={"PATH": "/usr/bin:/bin"},
            preexec_fn=_die_with_harness(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        os.close(status_r)
        raise SandboxError(f"cannot launch the sandbox: {exc}") from exc
    finally:
        os.close(status_w)
        os.close(stage)
    return supervise(spec, mode, cfg, proc, workdir, (out, err, start, status_r), cancel)


def _captures(spec: ExecSpec, keep_dir: Path) -> tuple[OutputCapture, OutputCapture]:
    return (OutputCapture(keep_dir / "stdout.txt", spec.max_output_bytes, scan_report=True),
            OutputCapture(keep_dir / "stderr.txt", spec.max_output_bytes))


def supervise(spec: ExecSpec, mode: Mode, cfg: dict[str, Any], proc: Any, workdir: Path,
              run: tuple[OutputCapture, OutputCapture, float, int],
              cancel: threading.Event | None) -> ExecResult:
    """Watch a launched run (``proc``: a ``Popen``, or the prefork launcher) to its end:
    send it its config (exec'd stage), pump its output, enforce the limits, read its
    status. ``run`` is (stdout capture, stderr capture, start time, status read end)."""
    out, err, start, status_r = run
    jail = cfg.get("jail")
    leftovers.record_run(workdir, proc.pid, Path(jail["root"]) if jail else None)
    watch = watchdog.Watchdog(
        proc, timeout_s=spec.timeout_s, max_procs=spec.max_procs, memory_mb=spec.memory_mb,
        overhead=2 if mode.pidns else 1, token=cfg.get("token"), cancel=cancel,
        disk=None if spec.disk_mb is None else (str(workdir), spec.disk_mb),
    )
    try:
        if isinstance(proc, subprocess.Popen):
            _send_config(proc, cfg)
        killed = watch.supervise(out, err, start)
    finally:
        if not watch.cleaned:  # supervise was interrupted
            watch.kill_all()
        proc.wait()
        out.close()
        err.close()
    wall = time.monotonic() - start
    status = _read_status(status_r)
    return _result(spec, mode, status, (watch.kind, killed), wall, out, err, workdir)


PR_SET_PDEATHSIG = 1


@functools.lru_cache(maxsize=1)
def _libc_prctl() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


def _die_with_harness() -> Any:
    """A ``preexec_fn`` tying the launched stage to the harness: ``PR_SET_PDEATHSIG`` makes
    the kernel SIGKILL it when the harness (thread) dies, even by ``kill -9``; ``unshare
    --kill-child`` passes that on to the namespace's init, whose death ends the namespace.
    Only async-signal-safe work happens in the child (the libc function is resolved here)."""
    prctl, parent = _libc_prctl(), os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if os.getppid() != parent:  # the harness died before the signal was armed
            os._exit(1)

    return preexec


def _send_config(proc: subprocess.Popen[bytes], cfg: dict[str, Any]) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(marshal.dumps(cfg))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the stage died at once; its status says why


def _read_status(fd: int) -> dict[str, Any]:
    try:
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
    finally:
        os.close(fd)
    try:
        return dict(marshal.loads(raw)) if raw else {}
    except (ValueError, EOFError, TypeError):
        return {}


def _result(spec: ExecSpec, mode: Mode, status: dict[str, Any],
            kill: tuple[str | None, str | None], wall: float, out: OutputCapture,
            err: OutputCapture, workdir: Path) -> ExecResult:
    """Classify the run: timed out, process limit, out of memory, exit code."""
    if "error" in status:
        raise SandboxError(str(status["error"]), hint=err.tail_text()[-500:] or None)
    kind, killed = kill
    if not status and killed is None:  # only a script running as root in plain mode can
        killed = "the sandbox's supervisor died without a status (killed by the script?)"
    exit_code: int | None = None
    if killed is None:
        exit_code = -int(status["signal"]) if "signal" in status else status.get("exit_code")
    timed_out, oom = kind == "timeout", kind == "memory"
    if killed is None and exit_code not in (0, None):
        if err.memory_error:
            oom, killed = True, _memory_reason(spec, "the script ran out of memory")
        elif exit_code == -signal.SIGKILL:
            oom, killed = True, _memory_reason(spec, "killed by SIGKILL (likely out of memory)")
    return ExecResult(
        exit_code=exit_code, timed_out=timed_out, oom=oom, killed_reason=killed,
        wall_time=wall, stdout_tail=out.tail_text(), stderr_tail=err.tail_text(),
        stdout_truncated=out.truncated, stderr_truncated=err.truncated,
        submission_path=None, isolation="unshare-net" if mode.unshare and not spec.network
        else "none", isolation_note=isolation_note(mode, spec.network), workdir=workdir,
        script_time=status.get("script_time"),
        report=out.scanner.report() if out.scanner else ValidationReport(score=None),
        mechanisms=mode.mechanisms(spec.network, spec.memory_mb is not None), notes=[],
    )


def _memory_reason(spec: ExecSpec, text: str) -> str:
    return f"{text} (memory limit {spec.memory_mb} MB)" if spec.memory_mb else text
