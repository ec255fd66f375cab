"""The docker backend: one container per script, through the ``docker`` CLI.

``docker run --init --network none --memory M --memory-swap M --pids-limit N --read-only
--tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --user UID:UID -w /work
-v WORKDIR:/work -v WORKDIR/input:/work/input:ro IMAGE [timeout -s KILL T] python code.py``

The container sees only its image and the working dir (no host path is reachable, whatever
the script knows); memory and process count are cgroup limits of the whole container, so a
memory kill is reported by docker (``OOMKilled``). The harness streams the output through the
same bounded capture as the local backend and kills the container at the time limit;
coreutils ``timeout`` in the image (when present) ends it even if the harness dies. No image
is pulled: build one offline (see :data:`IMAGE_RECIPE`). ``spec.python`` and
``spec.ro_binds`` are local-only; the image's ``python`` (or ``python3``) runs the script.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

from aira_eval.errors import UsageError
from aira_eval.search.report import ValidationReport
from aira_eval.search.sandbox import watchdog
from aira_eval.search.sandbox.base import (
    DEFAULT_IMAGE,
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
    remove_tree,
)

IMAGE_RECIPE = (
    "Build the image offline (as root): apt-get install -y debootstrap docker.io && "
    "debootstrap --variant=minbase --include=python3,python3-numpy,python3-pandas,"
    "python3-sklearn bookworm /tmp/aira-rootfs && "
    "tar -C /tmp/aira-rootfs -c . | docker import - {image}"
)
UID_RANGE = (200_000, 260_000)
_CHECKED: dict[tuple[str, str], tuple[str, str | None]] = {}  # -> (python, timeout)
BACKSTOP_S = 60  # the container kills the script this long after the limit on its own
MECHANISMS = ("docker", "netns", "pidns", "mountns", "memory-cgroup", "pids-limit",
              "read-only-rootfs", "cap-drop-all", "no-new-privs", "uid-drop")


class DockerSandbox:
    """Runs each script in a fresh container of ``image`` (see the module docstring)."""

    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, docker: str = "docker",
                 check: bool = True) -> None:
        """``check`` verifies at once that the daemon answers and the image exists."""
        self.image = image
        self.docker = shutil.which(docker) or docker
        self.python: str = "python"
        self.timeout_bin: str | None = None
        self.cancel_event = threading.Event()
        if check:
            self.check()

    def _cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.docker, *args], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise UsageError(f"cannot run the docker CLI ({self.docker}): {err}",
                             hint="Install it: apt-get install -y docker.io") from err

    def cancel(self) -> None:
        """Kill every container in progress (``killed_reason == CANCELLED_REASON``)."""
        self.cancel_event.set()

    def check(self) -> None:
        """Raise :class:`UsageError` unless the daemon is reachable and the image exists
        (and has a python); a success is remembered for the process."""
        if (self.docker, self.image) in _CHECKED:
            self.python, self.timeout_bin = _CHECKED[self.docker, self.image]
            return
        ver = self._cli("version", "--format", "{{.Server.Version}}", timeout=20)
        if ver.returncode != 0:
            raise UsageError(
                f"the docker daemon is not reachable: {ver.stderr.strip()[:300]}",
                hint="Start it (dockerd --iptables=false --bridge=none &) or use --sandbox local.",
            )
        if self._cli("image", "inspect", self.image).returncode != 0:
            raise UsageError(f"docker image {self.image!r} not found",
                             hint=IMAGE_RECIPE.format(image=self.image))
        probe = self._cli("run", "--rm", "--network", "none", self.image, "sh", "-c",
                          "(command -v python || command -v python3) && "
                          "(command -v timeout || echo)")
        found = probe.stdout.strip().splitlines()
        if probe.returncode != 0 or not found or not found[0].startswith("/"):
            raise UsageError(f"docker image {self.image!r} has no python",
                             hint=IMAGE_RECIPE.format(image=self.image))
        self.python = found[0]
        self.timeout_bin = found[1] if len(found) > 1 else None
        _CHECKED[self.docker, self.image] = (self.python, self.timeout_bin)

    def run(self, spec: ExecSpec, workdir: Path, keep_dir: Path) -> ExecResult:
        """Run ``spec`` in a container (see :class:`~aira_eval.search.sandbox.base.Sandbox`)."""
        check_spec(spec)
        clear_kept(keep_dir)
        (keep_dir / "code.py").write_text(spec.code)
        fresh_workdir(workdir)
        container = f"aira-eval-{uuid.uuid4().hex[:16]}"
        try:
            argv, notes = self._prepare(spec, workdir, container)
            result = self._execute(spec, argv, container, workdir, keep_dir)
            result.notes[:0] = notes
            collect_submission(result, spec, workdir, keep_dir)
            return result
        finally:
            self._cli("rm", "-f", container)
            remove_tree(workdir)

    def _prepare(self, spec: ExecSpec, workdir: Path,
                 container: str) -> tuple[list[str], list[str]]:
        """Populate ``workdir`` and build the ``docker run`` command line."""
        notes: list[str] = []
        for sub in ("submission", "working"):
            (workdir / sub).mkdir()
        (workdir / "code.py").write_text(spec.code)
        input_src = workdir / "input"
        try:  # hard links, made read-only by the :ro mount and the unprivileged uid
            populate_input(spec.public_dir, input_src, hardlink=True)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            input_src = spec.public_dir.resolve()
            notes.append("input is a read-only mount of the public dir (other filesystem)")
        uid = random.randint(*UID_RANGE)
        for path in (workdir, workdir / "submission", workdir / "working"):
            os.chown(path, uid, uid)
        argv = [
            self.docker, "run", "--name", container, "--init",
            "--network", "bridge" if spec.network else "none",
            "--pids-limit", str(spec.max_procs), "--read-only",
            "--tmpfs", f"/tmp:size={min(spec.memory_mb or 2048, 4096)}m",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", f"{uid}:{uid}", "-w", "/work",
            "-v", f"{workdir.resolve()}:/work", "-v", f"{input_src}:/work/input:ro",
        ]
        if spec.memory_mb is not None:
            argv += ["--memory", f"{spec.memory_mb}m", "--memory-swap", f"{spec.memory_mb}m"]
        env = {"TMPDIR": "/tmp", **base_env(spec, "/work")}
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        backstop: list[str] = []  # if the harness dies, the container still ends
        if self.timeout_bin:
            backstop = [self.timeout_bin, "-s", "KILL", str(int(spec.timeout_s) + BACKSTOP_S)]
        return [*argv, self.image, *backstop, self.python, "code.py"], notes

    def _execute(self, spec: ExecSpec, argv: list[str], container: str, workdir: Path,
                 keep_dir: Path) -> ExecResult:
        """Run the container, stream its output, ``docker kill`` it at the time limit."""
        out = OutputCapture(keep_dir / "stdout.txt", spec.max_output_bytes, scan_report=True)
        err = OutputCapture(keep_dir / "stderr.txt", spec.max_output_bytes)
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        watch = watchdog.Watchdog(proc, timeout_s=spec.timeout_s, max_procs=1 << 30,
                                memory_mb=None, overhead=0, token=None,
                                on_kill=lambda: self._cli("kill", container, timeout=30),
                                cancel=self.cancel_event)
        killed = None
        try:
            killed = watch.supervise(out, err, start)
        finally:
            if proc.poll() is None:  # interrupted: do not leave the container running
                self._cli("kill", container, timeout=30)
            if not watch.cleaned:
                watch.kill_all()
            proc.wait()
            out.close()
            err.close()
        wall = time.monotonic() - start
        return self._result(spec, container, killed, wall, out, err, workdir)

    def _result(self, spec: ExecSpec, container: str, killed: str | None, wall: float,
                out: OutputCapture, err: OutputCapture, workdir: Path) -> ExecResult:
        state = self._cli("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", container)
        fields = state.stdout.split()
        if state.returncode != 0 or len(fields) != 2:
            raise SandboxError(f"docker could not run the container: {err.tail_text()[-400:]}")
        oom = fields[0] == "true" or (fields[1] != "0" and err.memory_error)
        if oom and killed is None:
            killed = f"the script ran out of memory (memory limit {spec.memory_mb} MB)"
        exit_code = None if killed and not oom else _signed(int(fields[1]))
        return ExecResult(
            exit_code=exit_code, timed_out=killed is not None and not oom,
            oom=oom, killed_reason=killed, wall_time=wall, stdout_tail=out.tail_text(),
            stderr_tail=err.tail_text(), stdout_truncated=out.truncated,
            stderr_truncated=err.truncated, submission_path=None, isolation="docker",
            isolation_note="network access allowed by the spec." if spec.network else None,
            workdir=workdir, report=out.scanner.report() if out.scanner else ValidationReport(
                score=None),
            mechanisms=tuple(m for m in MECHANISMS if not (spec.network and m == "netns")),
        )


def _signed(code: int) -> int:
    """Docker's ``128 + N`` for a death by signal N as the local backend's ``-N``."""
    return -(code - 128) if 128 < code <= 128 + 64 else code
