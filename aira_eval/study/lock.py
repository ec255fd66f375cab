"""One writer per study directory: an OS file lock on ``STUDY/.lock``.

Every command that writes a study (``search`` and ``--resume``, ``import``, ``regrade``) holds
:func:`study_lock` for its whole run. The lock is ``flock(2)`` on an open file, so it dies with
its holder (``kill -9`` included): there is no stale pid file to clean up. After locking, the
holder writes its pid, host and start time into the file, so a second writer's error names it.

Readers (``select``, ``check``, :func:`~aira_eval.study.load.load_study`) never lock: every
table a writer produces is written to a temporary file and renamed into place, so a reader
sees either the old or the new table, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError

LOCK_NAME = ".lock"


def lock_path(study_dir: Path) -> Path:
    """Where the lock of ``study_dir`` lives."""
    return Path(study_dir) / LOCK_NAME


def lock_holder(study_dir: Path) -> dict[str, Any] | None:
    """What the holder wrote into the lock file (pid, host, command, since), if readable."""
    try:
        data = json.loads(lock_path(study_dir).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (it has not written its pid yet)"
    since = holder.get("since")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if since else ""
    what = f" ({holder['command']})" if holder.get("command") else ""
    return f"pid {holder.get('pid')} on host {holder.get('host')}{what}{when}"


def require_study_dir(study_dir: Path, name: str = "out (--out)") -> Path:
    """``study_dir``, which may be missing or a directory but never an existing file (or
    FIFO), nor below one: else a usage error naming it as ``name``."""
    for path in (study_dir, *study_dir.parents):
        if not path.exists():
            continue
        if not path.is_dir():
            where = "is a file" if path == study_dir else f"is below {path}, a file"
            raise UsageError(f"{name} {study_dir} {where}; give a directory",
                             hint="Choose a new directory path for the study (or move the "
                             "file away).")
        break
    return study_dir


@contextlib.contextmanager
def study_lock(study_dir: Path, command: str = "") -> Iterator[Path]:
    """Hold the study's write lock for the ``with`` block (creating ``study_dir``).

    Raises:
        UsageError: another process holds it (the message names its pid and host), or
            ``study_dir`` is a file (:func:`require_study_dir`).
    """
    study_dir = require_study_dir(Path(study_dir))
    created = not study_dir.exists()
    study_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(study_dir)
    fd = _acquire(path, study_dir)
    try:
        _write_holder(fd, command)
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            if created:  # a run that failed before writing anything leaves no empty study
                _remove_if_only_lock(study_dir)
    finally:
        os.close(fd)  # releases the lock


def _acquire(path: Path, study_dir: Path) -> int:
    """An fd of ``path`` holding its exclusive lock; retried when the file was replaced
    between open and lock (the lock must be on the file the path names)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(
                f"study {study_dir} is in use by {_describe(lock_holder(study_dir))}",
                hint="Wait for it to finish (or stop it), then run again; a study dir takes "
                "one writer at a time. Reading commands (select, check) need no lock.",
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _remove_if_only_lock(study_dir: Path) -> None:
    try:
        if [p.name for p in study_dir.iterdir()] == [LOCK_NAME]:
            lock_path(study_dir).unlink()
            study_dir.rmdir()
    except OSError:
        return


def _write_holder(fd: int, command: str) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
