"""What a killed harness leaves behind, and how the next run of the study reaps it.

Every sandboxed process is tied to the harness's life (``PR_SET_PDEATHSIG`` on the launcher,
and a PID namespace whose init dies with it), and every working dir is removed in a
``finally``. A ``kill -9`` skips the ``finally``, so each run also leaves a record: the node
working dirs of a study live under one scratch dir (:func:`scratch_root`), and next to each
working dir a ``<workdir>.run`` file holds the launched process's pid and start time and the
jail dir. A later run of the same study (it holds the study lock, so no other run of it is
alive) kills whatever a record still names (the pid *and* its start time must match: a
recycled pid is left alone) and removes every leftover dir (:func:`reap`), first detaching
any that is still a mount (the docker backend's bounded working dirs, :mod:`.disk`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aira_eval.search.sandbox.base import remove_tree
from aira_eval.search.sandbox.disk import unmount_leftovers
from aira_eval.search.sandbox.watchdog import descendants, process_table

RUN_SUFFIX = ".run"


def scratch_root(study_dir: Path) -> Path:
    """The scratch dir holding the node working dirs of ``study_dir`` (one per study)."""
    key = hashlib.sha1(str(Path(study_dir).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"aira-eval-scratch-{key}"


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def record_path(workdir: Path) -> Path:
    return workdir.with_name(workdir.name + RUN_SUFFIX)


def record_run(workdir: Path, pid: int, jail_root: Path | None) -> None:
    """Note that ``pid`` runs in ``workdir`` (and ``jail_root``) until :func:`forget_run`."""
    info = {"pid": pid, "start": process_start(pid), "workdir": str(workdir),
            "jail_root": str(jail_root) if jail_root else None}
    with contextlib.suppress(OSError):
        record_path(workdir).write_text(json.dumps(info))


def forget_run(workdir: Path) -> None:
    record_path(workdir).unlink(missing_ok=True)


@dataclass
class Reaped:
    """What :func:`reap` cleaned: processes killed, dirs removed."""

    processes: int = 0
    dirs: int = 0


def reap(scratch: Path) -> Reaped:
    """Kill the runs recorded under ``scratch`` that are still alive and remove every dir
    left there (and their jail dirs). Call it only while holding the study's lock."""
    out = Reaped()
    if not scratch.is_dir():
        return out
    for record in sorted(scratch.glob(f"*{RUN_SUFFIX}")):
        out.processes += _kill_recorded(record)
        with contextlib.suppress(OSError, ValueError):
            jail = json.loads(record.read_text()).get("jail_root")
            if jail and Path(jail).exists():
                remove_tree(Path(jail))
                out.dirs += 1
        record.unlink(missing_ok=True)
    unmount_leftovers(scratch)  # bounded working dirs (docker) are mounts: detach them first
    for path in scratch.iterdir():
        remove_tree(path)
        out.dirs += 1
    return out


def _kill_recorded(record: Path) -> int:
    try:
        info = json.loads(record.read_text())
        pid, start = int(info["pid"]), info.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    if start is None or process_start(pid) != start:
        return 0  # gone, or the pid now belongs to someone else
    victims = descendants(pid, process_table())
    with contextlib.suppress(OSError):
        os.killpg(pid, 9)
    for victim in victims:
        with contextlib.suppress(OSError):
            os.kill(victim, 9)
    return len(victims)
