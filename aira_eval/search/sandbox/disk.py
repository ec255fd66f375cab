"""A hard disk bound for a working dir: a size-limited tmpfs mounted at it.

The docker backend bind-mounts the run's working dir into the container. Mounting a tmpfs of
``disk_mb`` at that dir first makes the bound hard — a write beyond it fails with ``ENOSPC``
inside the script — while everything the script wrote stays visible on the host, so the
harness still copies the submission and the outputs out before unmounting. The tmpfs's pages
are charged to the memory cgroup of the process that writes them, i.e. to the container's
memory limit, as docker's own ``/tmp`` is. Mounting needs ``CAP_SYS_ADMIN`` (a root harness);
elsewhere :func:`mount_bounded` says no and the caller watches the dir's size instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from aira_eval.search.sandbox import limits
from aira_eval.search.sandbox.base import ExecResult, ExecSpec

MOUNT_FLAGS = limits.MS_NOSUID | limits.MS_NODEV
FULL_MARGIN_BYTES = 1 << 20
"""A bounded dir with less than this free is full (tmpfs allocates whole pages)."""


def mount_bounded(path: Path, size_mb: int) -> bool:
    """Mount a tmpfs of ``size_mb`` MB at ``path`` (an existing empty dir); False when this
    process may not mount (not root, or no mount permission in its namespace)."""
    if os.geteuid() != 0:
        return False
    try:
        limits.mount("tmpfs", str(path), "tmpfs", MOUNT_FLAGS, f"size={size_mb}m,mode=0755")
    except OSError as err:
        if err.errno in (errno.EPERM, errno.EACCES):
            return False
        raise
    return True


def unmount(path: Path) -> None:
    """Detach the mount at ``path`` (lazily: a leftover user cannot keep it busy)."""
    with contextlib.suppress(OSError):
        limits.umount(str(path), limits.MNT_DETACH)


def is_full(path: Path) -> bool:
    """Whether the filesystem at ``path`` has (almost) no space left."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < FULL_MARGIN_BYTES


def used_mb(path: Path) -> float:
    """MB in use on the filesystem at ``path`` (0 when it cannot be read)."""
    try:
        info = os.statvfs(path)
    except OSError:
        return 0.0
    return (info.f_blocks - info.f_bfree) * info.f_frsize / 2**20


def unmount_leftovers(root: Path) -> int:
    """Detach every mount directly under ``root`` (bounded dirs a killed harness left);
    returns how many."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            if entry.is_dir() and not entry.is_symlink() and os.path.ismount(entry):
                unmount(entry)
                count += 1
    return count


def explain_disk(result: ExecResult, spec: ExecSpec, workdir: Path) -> None:
    """Say so when a run that failed had filled its bounded working dir, or when its working
    files (counted in the container's memory) took much of the memory it ran out of."""
    if result.killed_reason is None and result.exit_code not in (0, None) \
            and is_full(workdir):
        result.killed_reason = (f"the working dir ran out of its {spec.disk_mb} MB of disk "
                                "(no space left on device)")
    elif result.oom and result.killed_reason and spec.memory_mb:
        held = used_mb(workdir)
        if held >= spec.memory_mb / 4:
            result.killed_reason += (f"; its working dir, whose files count in that limit, "
                                     f"held {held:.0f} MB")
