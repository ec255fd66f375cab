"""The docker backend: one container per script, through the ``docker`` Python SDK.

Each run creates a container of ``image`` with no network (``network_disabled``), cgroup
memory (no swap), CPU and process-count limits, a read-only root filesystem with a bounded
``/tmp``, every capability dropped, ``no-new-privileges``, an unprivileged uid, and exactly
two mounts: the fresh working dir at ``/work`` and the task's public files read-only at
``/work/input`` (the private answers are never mounted). The working dir holds at most
``spec.disk_mb``: it is a tmpfs of that size (:mod:`.disk`; a write beyond it fails with
``ENOSPC`` and the run gets a disk reason) when the harness may mount one, else the harness
kills the container when the dir holds more, as the local backend does. Containers carry
the labels :data:`LABEL_STUDY_DIR`, :data:`LABEL_SEARCH` ... so :func:`reap` can remove what
a killed harness left behind (``aira-eval clean STUDY``, ``--resume``).

The harness streams the output through the same bounded capture as the local backend,
kills the container at the time limit, on cancel, or when its process count reaches the
limit (a fork bomb, recognised as by the local backend), and removes it on every exit path;
coreutils ``timeout`` in the image (when present) ends the script even if the harness dies.
Each container serves one node, but is started ahead, while the previous node runs, and
removed in the background afterwards (:mod:`.docker_warm`; ``prestart=False`` turns it off).
No image is pulled: build one (``docker/Dockerfile``, or offline with :data:`IMAGE_RECIPE`).
``spec.python`` and ``spec.ro_binds`` are local-only; the image's python runs the script.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError
from aira_eval.search.report import ValidationReport
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
    prepare_layout,
    read_only_entry,
    remove_tree,
)
from aira_eval.search.sandbox.disk import explain_disk, mount_bounded
from aira_eval.search.sandbox.docker_warm import (
    Warm,
    WarmPool,
    gated,
    make_gate,
    open_gate,
    pids_counter,
    pump_output,
    script_runtime,
    warm_key,
)
from aira_eval.search.sandbox.watchdog import (
    CANCELLED_REASON,
    DISK_SCAN_INTERVAL_S,
    SCAN_INTERVAL_S,
    disk_usage,
)

IMAGE_RECIPE = (
    "Build it with internet: docker build -t {image} docker/ ; or offline (as root): "
    "apt-get install -y debootstrap docker.io && debootstrap --variant=minbase "
    "--include=python3,python3-numpy,python3-pandas,python3-sklearn bookworm /tmp/aira-rootfs "
    "&& tar -C /tmp/aira-rootfs -c . | docker import - {image}"
)
UID_RANGE = (200_000, 260_000)
BACKSTOP_S = 60  # the container kills the script this long after the limit on its own
FILE_SIZE_LIMIT = 16 * 1024**3
LABEL_PREFIX = "aira-eval"
LABEL_STUDY_DIR = "aira-eval.study-dir"
LABEL_STUDY = "aira-eval.study"
LABEL_SEARCH = "aira-eval.search"
MECHANISMS = ("docker", "netns", "pidns", "mountns", "memory-cgroup", "pids-limit",
              "cpu-limit", "read-only-rootfs", "cap-drop-all", "no-new-privs", "uid-drop")
_CHECKED: dict[str, tuple[str, str | None]] = {}  # image -> (python, timeout)


def client() -> Any:
    """A docker SDK client; :class:`UsageError` when the package or the daemon is missing."""
    try:
        docker = _sdk()
    except ImportError as err:
        raise UsageError("--sandbox docker needs the `docker` package",
                         hint="pip install docker") from err
    try:
        cli = docker.from_env(timeout=120)
        cli.ping()
    except Exception as err:
        raise UsageError(
            f"the docker daemon is not reachable: {str(err)[:300]}",
            hint="Start it (dockerd --iptables=false --bridge=none &) or use --sandbox local.",
        ) from err
    return cli


def _sdk() -> Any:
    """The docker SDK package (imported lazily; this module's own name shadows it for mypy)."""
    import importlib

    return importlib.import_module("docker")


def reap(study_dir: Path) -> int:
    """Remove every container labelled with ``study_dir`` (left by a killed harness)."""
    cli = client()
    found = cli.containers.list(all=True, filters={
        "label": f"{LABEL_STUDY_DIR}={Path(study_dir).resolve()}"})
    for container in found:
        with contextlib.suppress(Exception):  # already gone
            container.remove(force=True)
    return len(found)


class DockerSandbox:
    """Runs each script in a fresh container of ``image`` (see the module docstring)."""

    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, check: bool = True,
                 labels: dict[str, str] | None = None, cpus: float | None = None,
                 prestart: bool = True) -> None:
        """``check`` verifies at once that the daemon answers and the image has a python;
        ``labels`` go on every container; ``cpus`` caps each container's CPU time;
        ``prestart`` starts the next node's container while a node runs."""
        self.image = image
        self.labels = {f"{LABEL_PREFIX}.sandbox": "1", **(labels or {})}
        self.cpus = cpus
        self.prestart = prestart
        self.python: str = "python"
        self.timeout_bin: str | None = None
        self.cancel_event = threading.Event()
        self._client: Any = None
        self._pool: WarmPool | None = None
        self._pool_lock = threading.Lock()
        self._running = 0  # runs in progress: as many containers are started ahead
        if check:
            self.check()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client()
        return self._client

    def cancel(self) -> None:
        """Kill every container in progress (``killed_reason == CANCELLED_REASON``) and
        remove those started ahead."""
        self.cancel_event.set()
        self.close()

    def check(self) -> None:
        """Raise :class:`UsageError` unless the daemon is reachable and the image exists
        (and has a python); a success is remembered for the process."""
        docker = _sdk()
        if self.image in _CHECKED:
            self.python, self.timeout_bin = _CHECKED[self.image]
            return
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound as err:
            raise UsageError(f"docker image {self.image!r} not found",
                             hint=IMAGE_RECIPE.format(image=self.image)) from err
        probe = "(command -v python || command -v python3) && (command -v timeout || echo)"
        try:
            raw = self.client.containers.run(self.image, ["sh", "-c", probe], remove=True,
                                             network_disabled=True, labels=self.labels)
        except docker.errors.DockerException as err:
            raise UsageError(f"docker image {self.image!r} cannot run: {str(err)[:300]}",
                             hint=IMAGE_RECIPE.format(image=self.image)) from err
        found = raw.decode().strip().splitlines()
        if not found or not found[0].startswith("/"):
            raise UsageError(f"docker image {self.image!r} has no python",
                             hint=IMAGE_RECIPE.format(image=self.image))
        self.python = found[0]
        self.timeout_bin = found[1] if len(found) > 1 and found[1].startswith("/") else None
        _CHECKED[self.image] = (self.python, self.timeout_bin)

    def run(self, spec: ExecSpec, workdir: Path, keep_dir: Path) -> ExecResult:
        """Run ``spec`` in a container (see :class:`~aira_eval.search.sandbox.base.Sandbox`).

        The container, and the working dir it mounts, were started ahead for this spec
        (:mod:`.docker_warm`) or are started now, beside ``workdir`` (which stays unused)."""
        check_spec(spec)
        clear_kept(keep_dir)
        (keep_dir / "code.py").write_text(spec.code)
        fresh_workdir(workdir)
        pool, warm = self.pool, None
        with self._pool_lock:
            self._running += 1
        try:
            warm = pool.take(spec) if self.prestart else None
            if warm is None:
                warm = self._launch(spec, workdir.parent)
            if self.prestart and not self.cancel_event.is_set():  # the next nodes' containers
                pool.refill(spec, workdir.parent, self._running)
            result = self._execute(spec, warm, keep_dir)
            result.notes[:0] = warm.notes
            collect_submission(result, spec, warm.workdir, keep_dir)
            return result
        finally:
            with self._pool_lock:
                self._running -= 1
            if warm is not None:  # killed if still running, then removed, off the clock
                pool.discard(warm)
            remove_tree(workdir)

    @property
    def pool(self) -> WarmPool:
        """The containers started ahead (and removed afterwards) for this sandbox."""
        with self._pool_lock:
            if self._pool is None or self._pool.closed:
                self._pool = WarmPool(self._launch)
            return self._pool

    def close(self) -> None:
        """Remove the containers started ahead and wait for every removal under way."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _launch(self, spec: ExecSpec, parent: Path) -> Warm:
        """A started container for ``spec`` (its own working dir in ``parent``), its script
        waiting at the gate."""
        workdir = Path(tempfile.mkdtemp(prefix="docker-", dir=parent))
        bounded = spec.disk_mb is not None and mount_bounded(workdir, spec.disk_mb)
        warm = Warm(workdir, bounded, warm_key(spec))
        try:
            options, warm.notes = self._prepare(spec, workdir)
            warm.container = self.client.containers.create(self.image, **options)
            warm.stream = warm.container.attach(stdout=True, stderr=True, stream=True,
                                                logs=True, demux=True)
            warm.container.start()
            warm.counter = pids_counter(warm.container)
        except BaseException:
            warm.destroy()
            raise
        return warm

    def _prepare(self, spec: ExecSpec, workdir: Path) -> tuple[dict[str, Any], list[str]]:
        """Populate ``workdir`` (all but ``code.py``); the ``containers.create`` options."""
        docker = _sdk()

        notes: list[str] = []
        for sub in ("submission", "working"):
            (workdir / sub).mkdir()
        input_src = workdir / "input"
        try:  # hard links, made read-only by the ro mount and the unprivileged uid
            populate_input(spec.public_dir, input_src, hardlink=True)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            input_src = spec.public_dir.resolve()
            notes.append("input is a read-only mount of the public dir (other filesystem)")
        created = prepare_layout(spec, workdir)
        uid = random.randint(*UID_RANGE)
        for path in (workdir, workdir / "submission", workdir / "working", *created):
            os.chown(path, uid, uid)
        make_gate(workdir, uid)
        backstop: list[str] = []  # if the harness dies, the container still ends
        if self.timeout_bin:
            backstop = [self.timeout_bin, "-s", "KILL", str(int(spec.timeout_s) + BACKSTOP_S)]
        options: dict[str, Any] = {
            "command": gated(self.python, [*backstop, self.python, "code.py"]),
            "name": f"aira-eval-{uuid.uuid4().hex[:16]}", "labels": self.labels,
            "init": True, "network_disabled": not spec.network,
            "network_mode": "bridge" if spec.network else "none",
            "pids_limit": spec.max_procs + self._overhead(), "read_only": True,
            "tmpfs": {"/tmp": f"size={_tmp_mb(spec)}m"},
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "user": f"{uid}:{uid}", "working_dir": "/work",
            "environment": {"TMPDIR": "/tmp", **base_env(spec, "/work")},
            # mounts, not volumes: a dict keyed by the host path cannot bind one source twice
            "mounts": [_bind(workdir.resolve(), "/work", False),
                       _bind(input_src, "/work/input", True)],
            "ulimits": [docker.types.Ulimit(name="fsize", soft=_fsize(spec), hard=_fsize(spec)),
                        docker.types.Ulimit(name="core", soft=0, hard=0)],
        }
        for target, entry in spec.path_maps:  # e.g. /home/data -> the input, read-only
            ro = read_only_entry(spec, entry)
            src = input_src if ro else workdir.resolve() / entry
            options["mounts"].append(_bind(src, target, ro))
        if spec.memory_mb is not None:
            options["mem_limit"] = options["memswap_limit"] = f"{spec.memory_mb}m"
        if self.cpus:
            options["nano_cpus"] = int(self.cpus * 1e9)
        return options, notes

    def _overhead(self) -> int:
        """Processes of the container that are not the script's: docker-init, timeout."""
        return 1 + (1 if self.timeout_bin else 0)

    def _execute(self, spec: ExecSpec, warm: Warm, keep_dir: Path) -> ExecResult:
        """Write the script, open the gate, stream the output, kill the container at a
        limit; the result."""
        (warm.workdir / "code.py").write_text(spec.code)
        out = OutputCapture(keep_dir / "stdout.txt", spec.max_output_bytes, scan_report=True)
        err = OutputCapture(keep_dir / "stderr.txt", spec.max_output_bytes)
        pump = threading.Thread(target=pump_output, args=(warm.stream, out, err), daemon=True)
        pump.start()
        try:
            released = open_gate(warm)
            start = time.monotonic()
            killed = self._supervise(spec, warm, pump, start)
        finally:
            if pump.is_alive():  # interrupted or limit hit: do not leave it running
                with contextlib.suppress(Exception):
                    warm.container.kill()
            pump.join(5)
            with contextlib.suppress(Exception):
                warm.stream.close()
            out.close()
            err.close()
        wall = time.monotonic() - start
        result = self._result(spec, warm, killed, (released, wall), out, err)
        if warm.bounded:
            explain_disk(result, spec, warm.workdir)
        result.mechanisms += ("disk-tmpfs",) if warm.bounded else (
            ("disk-watchdog",) if spec.disk_mb is not None else ())
        return result

    def _supervise(self, spec: ExecSpec, warm: Warm, pump: threading.Thread,
                   start: float) -> tuple[str, str] | None:
        """Wait for the output stream to end; ``(kind, reason)`` if a limit came first
        (a working dir not bounded by a mount has its size watched)."""
        counter, container = warm.counter, warm.container
        watch_dir = None if warm.bounded else warm.workdir
        deadline = start + spec.timeout_s
        next_disk = start + DISK_SCAN_INTERVAL_S
        while pump.is_alive():
            pump.join(min(SCAN_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            if not pump.is_alive():
                return None
            kill = None
            now = time.monotonic()
            if self.cancel_event.is_set():
                kill = ("cancelled", CANCELLED_REASON)
            elif now >= deadline:
                kill = ("timeout", f"killed at the time limit of {spec.timeout_s:g} s")
            elif counter is not None and counter() - self._overhead() >= spec.max_procs:
                kill = ("processes", f"killed: {spec.max_procs} processes at once (fork bomb?)")
            elif watch_dir is not None and spec.disk_mb is not None and now >= next_disk:
                next_disk = now + DISK_SCAN_INTERVAL_S
                if disk_usage(str(watch_dir)) > spec.disk_mb * 2**20:
                    kill = ("disk", f"killed: the working dir used more than {spec.disk_mb} "
                            "MB of disk")
            if kill:
                with contextlib.suppress(Exception):
                    container.kill()
                return kill
        return None

    def _result(self, spec: ExecSpec, warm: Warm, kill: tuple[str, str] | None,
                times: tuple[float, float], out: OutputCapture,
                err: OutputCapture) -> ExecResult:
        """``times``: when the gate opened (epoch seconds) and the wall time since."""
        container, (released, wall) = warm.container, times
        try:
            status = container.wait(timeout=60)
            container.reload()
        except Exception as exc:
            raise SandboxError(f"docker could not run the container: {exc}") from exc
        state = container.attrs.get("State", {})
        code = int(status.get("StatusCode", -1))
        kind, killed = kill if kill else (None, None)
        oom = bool(state.get("OOMKilled")) or (code != 0 and err.memory_error)
        if oom and killed is None:
            killed = f"the script ran out of memory (memory limit {spec.memory_mb} MB)"
        exit_code = None if killed and not oom else _signed(code)
        return ExecResult(
            exit_code=exit_code, timed_out=kind == "timeout" and not oom,
            oom=oom, killed_reason=killed, wall_time=wall, stdout_tail=out.tail_text(),
            stderr_tail=err.tail_text(), stdout_truncated=out.truncated,
            stderr_truncated=err.truncated, submission_path=None, isolation="docker",
            isolation_note="network access allowed by the spec." if spec.network else None,
            workdir=warm.workdir, script_time=script_runtime(state, released),
            report=out.scanner.report() if out.scanner else ValidationReport(score=None),
            mechanisms=tuple(m for m in MECHANISMS if (m != "netns" or not spec.network)
                             and (m != "cpu-limit" or self.cpus)),
        )


def _bind(source: Path, target: str, read_only: bool) -> Any:
    """A bind mount of the host path ``source`` at ``target`` in the container."""
    return _sdk().types.Mount(target, str(source), type="bind", read_only=read_only)


def _tmp_mb(spec: ExecSpec) -> int:
    """``/tmp`` size: its pages count against the container's memory limit, so half of it
    (a full /tmp is then a clear ENOSPC, not a memory kill), and no more than the disk bound."""
    return max(16, min((spec.memory_mb or 4096) // 2, 4096, spec.disk_mb or 4096))


def _fsize(spec: ExecSpec) -> int:
    """The per-file size limit: the disk bound (plus a little), as in the local backend."""
    return FILE_SIZE_LIMIT if spec.disk_mb is None else min(
        FILE_SIZE_LIMIT, (spec.disk_mb + 1) * 1024**2)


def _signed(code: int) -> int:
    """Docker's ``128 + N`` for a death by signal N as the local backend's ``-N``."""
    return -(code - 128) if 128 < code <= 128 + 64 else code
