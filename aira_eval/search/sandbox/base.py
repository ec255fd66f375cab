"""The sandbox interface: what to run (:class:`ExecSpec`), what happened (:class:`ExecResult`).

Every backend runs one solution script as ``python code.py`` in a fresh working directory that
holds only the public files::

    input/        the task's public files (read-only)
    submission/   empty; the script writes submission.csv here
    working/      scratch
    code.py       the script

and copies ``code.py``, ``stdout.txt``, ``stderr.txt`` and ``submission.csv`` (when produced)
into the caller's ``keep_dir``. The shared helpers here (bounded output capture, the safe copy
of the submission out of the working dir) are used by every backend.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from aira_eval.errors import AiraEvalError, UsageError
from aira_eval.search.report import ReportScanner, ValidationReport

TAIL_BYTES = 8 * 1024
DEFAULT_IMAGE = "aira-eval-sandbox"
MAX_SUBMISSION_MB = 512
"""Default bound on a submission copied out of the sandbox (and graded by the harness)."""
DISK_MB = 8192
"""Default bound on the disk a run's working dir may use."""
MAX_SUBMISSION_BYTES = MAX_SUBMISSION_MB * 1024**2
MEMORY_ERROR_TOKENS = (
    b"MemoryError",
    b"std::bad_alloc",
    b"Cannot allocate memory",
    b"cannot allocate memory",
    b"out of memory",
    b"Unable to allocate",
)
KEPT_FILES = ("code.py", "stdout.txt", "stderr.txt", "submission.csv")
DEFAULT_SUBMISSION = "submission/submission.csv"
WORKDIR_ENTRIES = ("input", "submission", "working")
# absolute paths a mapping may never shadow (the jail's own mounts and the system dirs)
RESERVED_MAP_ROOTS = ("/sandbox", "/tmp", "/proc", "/dev", "/usr", "/bin", "/sbin", "/lib",
                      "/lib32", "/lib64", "/libx32", "/etc", "/work")


@dataclass(frozen=True)
class ExecSpec:
    """One script run.

    Attributes:
        code: the complete script, written to ``code.py``.
        public_dir: the task's public files, made available read-only as ``./input/``.
        timeout_s: wall-clock limit; the whole process tree is killed when it is reached.
        memory_mb: address-space limit (local) or container memory limit (docker); None: none.
        env: extra environment variables for the script (on top of a clean minimal set).
        python: interpreter that runs the script (local backend; docker uses the image's).
        max_output_bytes: per stream, bytes of stdout/stderr kept (head and tail; the middle
            is dropped and replaced by one marker line).
        network: allow network access (off by default).
        max_procs: processes (and threads) the script may have at once.
        ro_binds: extra host paths made visible read-only inside the local jail (model caches).
        input_aliases: more names in the working dir for ``input/`` (symlinks, e.g. ``data``
            for an agent that reads ``./data``).
        submission_path: where the script writes its submission, relative to the working dir
            (``working/submission.csv`` for AIDE's own convention).
        path_maps: ``(absolute path, working-dir entry)`` pairs: the entry (``input``,
            ``submission``, ``working`` or an alias) is also seen at that absolute path, e.g.
            ``("/home/data", "input")`` for MLE-bench's agents. Needs a mount namespace (the
            local jail mode) or docker.
        max_submission_mb: a larger (or sparse) ``submission.csv`` is not copied out; the run's
            ``submission_rejected`` says why.
        disk_mb: disk the working dir may use (the run is killed beyond it); None: no bound.
    """

    code: str
    public_dir: Path
    timeout_s: float
    memory_mb: int | None = None
    env: dict[str, str] | None = None
    python: str = sys.executable
    max_output_bytes: int = 1_000_000
    network: bool = False
    max_procs: int = 512
    ro_binds: tuple[Path, ...] = ()
    input_aliases: tuple[str, ...] = ()
    submission_path: str = DEFAULT_SUBMISSION
    path_maps: tuple[tuple[str, str], ...] = ()
    max_submission_mb: int = MAX_SUBMISSION_MB
    disk_mb: int | None = DISK_MB


@dataclass
class ExecResult:
    """The outcome of one run.

    Attributes:
        exit_code: the script's exit status; negative for a signal (``-9``); None when the
            harness killed it (timeout, process limit) or it never started.
        timed_out: killed at ``timeout_s``.
        oom: the script ran out of memory (MemoryError or a memory kill).
        killed_reason: a human-readable reason when the run was cut short or ran out of memory.
        wall_time: seconds from launch to the end of the process tree.
        stdout_tail / stderr_tail: the last ~8 KB of each stream (decoded, errors replaced).
        stdout_truncated / stderr_truncated: the stream exceeded ``max_output_bytes``.
        submission_path: ``keep_dir/submission.csv`` when the script wrote a regular file.
        isolation: ``unshare-net`` (no network via a network namespace), ``docker``, or
            ``none`` (network reachable); details in ``mechanisms``.
        isolation_note: what is weaker than the full jail, when anything is.
        workdir: the working directory the script ran in (removed afterwards).
        script_time: seconds the script itself ran (fork to exit), when known.
        report: the validation report found in the full stdout stream.
        mechanisms: every containment mechanism in force (``netns``, ``pidns``, ``jail`` ...).
        notes: anything else the caller should know (ignored symlinked submission ...).
        submission_rejected: why a regular ``submission.csv`` the script wrote was not copied
            out (too large, sparse): an invalid submission rather than a missing one.
    """

    exit_code: int | None
    timed_out: bool
    oom: bool
    killed_reason: str | None
    wall_time: float
    stdout_tail: str
    stderr_tail: str
    stdout_truncated: bool
    submission_path: Path | None
    isolation: str
    isolation_note: str | None
    workdir: Path
    stderr_truncated: bool = False
    script_time: float | None = None
    report: ValidationReport = field(default_factory=lambda: ValidationReport(score=None))
    mechanisms: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    submission_rejected: str | None = None

    @property
    def ok(self) -> bool:
        """Exited 0 within its limits."""
        return self.exit_code == 0 and not self.timed_out and not self.oom


@runtime_checkable
class Sandbox(Protocol):
    """A backend that runs one script in isolation."""

    name: str

    def run(self, spec: ExecSpec, workdir: Path, keep_dir: Path) -> ExecResult:
        """Run ``spec`` in ``workdir`` (created, or an existing empty dir; removed afterwards).

        Copies ``code.py``, ``stdout.txt``, ``stderr.txt`` and ``submission.csv`` (when the
        script produced one) into ``keep_dir``. Never raises for a bad script; raises
        :class:`~aira_eval.errors.UsageError` for a bad spec or an unusable backend.
        """
        ...


class OutputCapture:
    """Bounded capture of one output stream into ``path``.

    Keeps the first half of ``max_bytes`` (written as it arrives) and the last half (in
    memory), drops the middle, and writes one marker line in its place. The marker repeats
    any report line that fell in the dropped middle, so ``parse_report`` on the file still
    sees the script's last report. Optionally scans for memory-error tokens.
    """

    def __init__(self, path: Path, max_bytes: int, scan_report: bool = False) -> None:
        self.path = path
        self.total = 0
        self._head_left = max_bytes // 2
        self._head_written = 0
        self._tail_cap = max_bytes - max_bytes // 2
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._recent = bytearray()
        self._overlap = b""
        self.memory_error = False
        self.scanner = ReportScanner() if scan_report else None
        self._fh: BinaryIO | None = path.open("wb")

    def feed(self, chunk: bytes) -> None:
        """Consume the next chunk."""
        if not chunk:
            return
        self.total += len(chunk)
        if self.scanner is not None:
            self.scanner.feed(chunk)
        self._watch(chunk)
        self._recent += chunk
        if len(self._recent) > TAIL_BYTES:
            del self._recent[: len(self._recent) - TAIL_BYTES]
        if self._head_left > 0 and self._fh is not None:
            part = chunk[: self._head_left]
            self._fh.write(part)
            self._head_left -= len(part)
            self._head_written += len(part)
            chunk = chunk[len(part) :]
        if chunk:
            self._push_tail(chunk)

    def _watch(self, chunk: bytes) -> None:
        if self.memory_error:
            return
        window = self._overlap + chunk
        self.memory_error = any(tok in window for tok in MEMORY_ERROR_TOKENS)
        self._overlap = window[-32:]

    def _push_tail(self, chunk: bytes) -> None:
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size > self._tail_cap:
            extra = self._tail_size - self._tail_cap
            first = self._tail[0]
            if len(first) <= extra:
                self._tail.popleft()
                self._tail_size -= len(first)
            else:
                self._tail[0] = first[extra:]
                self._tail_size -= extra

    @property
    def dropped(self) -> int:
        """Bytes of the middle that were dropped."""
        return self.total - self._head_written - self._tail_size

    @property
    def truncated(self) -> bool:
        """More than ``max_bytes`` arrived."""
        return self.dropped > 0

    def tail_text(self) -> str:
        """The last ~8 KB, decoded."""
        return bytes(self._recent).decode("utf-8", errors="replace")

    def close(self) -> None:
        """Write the marker and the tail, and close the file."""
        if self._fh is None:
            return
        if self.scanner is not None:
            self.scanner.close()
        dropped = self.dropped
        if dropped:
            begin = self._head_written
            lines = self.scanner.lines_between(begin, begin + dropped) if self.scanner else []
            marker = f"\n[aira-eval: {dropped} bytes of output omitted here]\n"
            self._fh.write(marker.encode() + "".join(f"{ln}\n" for ln in lines).encode())
        for part in self._tail:
            self._fh.write(part)
        self._fh.close()
        self._fh = None


def _open_nofollow(name: str, dir_fd: int, flags: int) -> int:
    return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def copy_submission(workdir: Path, dest: Path, rel: str = DEFAULT_SUBMISSION,
                    max_bytes: int = MAX_SUBMISSION_BYTES) -> tuple[Path | None, str | None]:
    """Copy ``workdir/<rel>`` (``submission/submission.csv`` by default) to ``dest`` without
    following symlinks.

    The script controls the working dir, so a symlink (to the private answers, say), a FIFO,
    a sparse file or a file larger than ``max_bytes`` is refused with a note.
    """
    path, note, _rejected = take_submission(workdir, dest, rel, max_bytes)
    return path, note


def collect_submission(result: ExecResult, spec: ExecSpec, workdir: Path,
                       keep_dir: Path) -> None:
    """Copy the run's submission into ``keep_dir`` and record the outcome on ``result``."""
    path, note, rejected = take_submission(workdir, keep_dir / "submission.csv",
                                           spec.submission_path,
                                           spec.max_submission_mb * 1024**2)
    result.submission_path = path
    result.submission_rejected = rejected
    result.notes += [note] if note else []


def take_submission(workdir: Path, dest: Path, rel: str, max_bytes: int
                    ) -> tuple[Path | None, str | None, str | None]:
    """:func:`copy_submission`, plus the reason a regular file was rejected (too large,
    sparse), which makes the submission invalid rather than missing."""
    *dirs, name = rel.split("/")
    try:
        fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None, None, None
    for part in dirs:
        try:
            sub = _open_nofollow(part, fd, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as err:
            os.close(fd)
            if err.errno == errno.ENOENT:
                return None, None, None
            return None, f"./{part} is not a usable directory ({err.strerror})", None
        os.close(fd)
        fd = sub
    try:
        file_fd = _open_nofollow(name, fd, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, None, None
    except OSError as err:
        return None, f"{name} ignored: cannot open it safely ({err.strerror})", None
    finally:
        os.close(fd)
    return _copy_fd(file_fd, dest, max_bytes)


def oversize(info: os.stat_result, max_bytes: int) -> str | None:
    """Why a file of this ``stat`` is no submission to read: too large, or mostly holes."""
    if info.st_size > max_bytes:
        return f"larger than {max_bytes // 1024**2} MB ({info.st_size / 1024**2:.0f} MB)"
    allocated = info.st_blocks * 512
    if info.st_size > 1024**2 and allocated < info.st_size // 2:
        return (f"a sparse file ({info.st_size / 1024**2:.0f} MB long, "
                f"{allocated / 1024**2:.0f} MB written)")
    return None


def _copy_fd(fd: int, dest: Path, max_bytes: int
             ) -> tuple[Path | None, str | None, str | None]:
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "submission.csv ignored: not a regular file", None
        rejected = oversize(info, max_bytes)
        if rejected:
            return None, f"submission.csv not copied: {rejected}", rejected
        dest.parent.mkdir(parents=True, exist_ok=True)
        left = max_bytes  # a leftover writer cannot grow the copy past the bound
        with os.fdopen(os.dup(fd), "rb") as src, dest.open("wb") as out:
            while left > 0 and (block := src.read(min(1 << 20, left))):
                out.write(block)
                left -= len(block)
        if left <= 0 and os.fstat(fd).st_size > max_bytes:
            dest.unlink(missing_ok=True)
            why = f"larger than {max_bytes // 1024**2} MB (it grew while being copied)"
            return None, f"submission.csv not copied: {why}", why
        return dest, None, None
    finally:
        os.close(fd)


def clear_kept(keep_dir: Path) -> None:
    """Remove stale kept files of an earlier attempt from ``keep_dir`` (creating it)."""
    keep_dir.mkdir(parents=True, exist_ok=True)
    for name in KEPT_FILES:
        (keep_dir / name).unlink(missing_ok=True)


class SandboxError(AiraEvalError):
    """The sandbox itself failed (not the script): setup, launch, or an unusable backend."""


def base_env(spec: ExecSpec, home: str) -> dict[str, str]:
    """The clean script environment shared by the backends (plus ``spec.env``).

    Nothing of the harness's own environment (API keys, paths) is passed on.
    """
    env = {
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        **{f"{lib}_NUM_THREADS": "1" for lib in ("OMP", "OPENBLAS", "MKL", "NUMEXPR")},
    }
    env.update(spec.env or {})
    return env


def check_spec(spec: ExecSpec) -> None:
    """Reject a spec no backend can run, with a usage error naming the field."""
    if not spec.public_dir.is_dir():
        raise UsageError(f"public dir {spec.public_dir} does not exist or is not a directory")
    if not spec.timeout_s > 0:
        raise UsageError(f"timeout_s must be positive, got {spec.timeout_s}")
    if spec.memory_mb is not None and spec.memory_mb < 64:
        raise UsageError(f"memory_mb must be at least 64 (or None), got {spec.memory_mb}")
    if spec.max_output_bytes < 2 * TAIL_BYTES:
        raise UsageError(f"max_output_bytes must be at least {2 * TAIL_BYTES}")
    if spec.max_procs < 8:
        raise UsageError(f"max_procs must be at least 8, got {spec.max_procs}")
    if spec.max_submission_mb < 1:
        raise UsageError(f"max_submission_mb must be at least 1, got {spec.max_submission_mb}")
    if spec.disk_mb is not None and spec.disk_mb < 16:
        raise UsageError(f"disk_mb must be at least 16 (or None), got {spec.disk_mb}")
    check_layout(spec)


def _plain_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def check_layout(spec: ExecSpec) -> None:
    """Reject a working-dir layout (aliases, submission path, path maps) that is unsafe."""
    for alias in spec.input_aliases:
        if not _plain_relative(alias) or "/" in alias or alias in (*WORKDIR_ENTRIES, "code.py"):
            raise UsageError(f"input alias {alias!r} must be a plain name other than "
                             f"{', '.join(WORKDIR_ENTRIES)} and code.py")
    sub = spec.submission_path
    if not _plain_relative(sub) or sub.split("/")[0] in ("input", *spec.input_aliases) \
            or sub == "code.py":
        raise UsageError(f"submission path {sub!r} must be relative to the working dir, "
                         "without '..', and outside the input")
    for target, entry in spec.path_maps:
        norm = os.path.normpath(target)
        if not target.startswith("/") or norm == "/" or any(
                norm == r or norm.startswith(r + "/") for r in RESERVED_MAP_ROOTS):
            raise UsageError(f"path map target {target!r} must be an absolute path outside "
                             "the system and sandbox dirs")
        if entry not in (*WORKDIR_ENTRIES, *spec.input_aliases):
            raise UsageError(f"path map {target} -> {entry!r}: the entry must be one of "
                             f"{', '.join((*WORKDIR_ENTRIES, *spec.input_aliases))}")


def read_only_entry(spec: ExecSpec, entry: str) -> bool:
    """Whether working-dir ``entry`` shows the (read-only) input."""
    return entry == "input" or entry in spec.input_aliases


def prepare_layout(spec: ExecSpec, workdir: Path) -> list[Path]:
    """Input aliases (relative symlinks to ``input``) and the submission's parent dir, in a
    populated ``workdir``; returns the dirs created (the caller chowns them)."""
    for alias in spec.input_aliases:
        os.symlink("input", workdir / alias)
    created = []
    parent = workdir
    for part in spec.submission_path.split("/")[:-1]:
        parent = parent / part
        if not parent.exists():
            parent.mkdir()
            created.append(parent)
    return created


def fresh_workdir(workdir: Path) -> None:
    """Create ``workdir``, or accept an existing empty one; refuse anything else."""
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"sandbox working dir {workdir} exists and is not an empty directory")
    workdir.mkdir(parents=True, exist_ok=True)


def _safe_to_link(path: str) -> bool:
    mode = os.stat(path).st_mode
    return bool(mode & stat.S_IROTH) and not mode & stat.S_IWOTH


def populate_input(public_dir: Path, dest: Path, hardlink: bool) -> None:
    """Fill ``dest`` with the files of ``public_dir`` (symlinks followed, never recreated).

    With ``hardlink``, world-readable, not world-writable files are hard-linked (no copy, same
    inode: the caller must make them read-only for the script, e.g. an unprivileged uid plus a
    read-only bind mount); other files are copied. Raises ``OSError(EXDEV)`` when the first
    link crosses filesystems. Copies are made read-only (mode 0444).
    """
    for dirpath, _dirs, files in os.walk(public_dir, followlinks=True):
        rel = os.path.relpath(dirpath, public_dir)
        target = dest if rel == "." else dest / rel
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = os.path.join(dirpath, name), target / name
            if hardlink and _safe_to_link(src):
                try:
                    os.link(src, dst, follow_symlinks=True)
                    continue
                except PermissionError:
                    pass
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o444)


def remove_tree(path: Path) -> None:
    """Remove ``path`` even when the script left unreadable or unwritable dirs behind."""

    def fix(_func: Any, failed: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
        if os.path.isdir(failed) and not os.path.islink(failed):
            with contextlib.suppress(OSError):
                os.chmod(failed, 0o700)

    if path.exists() or path.is_symlink():
        shutil.rmtree(path, onerror=fix)  # first pass opens up what it cannot enter
        shutil.rmtree(path, ignore_errors=True)
