"""Which task description agents get: the original, or MLE-bench's obfuscated one.

MLE-bench ships a ``description_obfuscated.md`` per competition for its contamination ablation
(the same task, rewritten so it cannot be recognised from memory). With ``obfuscated`` a task is
given a derived public dir in the cache: every public file hard-linked (copied where linking is
impossible) except ``description.md``, which holds the obfuscated text. So both the operators'
brief and the script's ``./input/description.md`` show the obfuscated version.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from aira_eval.datasets.prepare import atomic_build, link_or_copy
from aira_eval.datasets.task import Task
from aira_eval.errors import DataError, UsageError

DESCRIPTIONS = ("original", "obfuscated")
OBFUSCATED_FILE = "description_obfuscated.md"


def check_description(variant: str) -> str:
    if variant not in DESCRIPTIONS:
        raise UsageError(f"unknown description {variant!r}",
                         hint=f"Use one of {', '.join(DESCRIPTIONS)}.")
    return variant


def obfuscated_description(task: Task) -> Path | None:
    """The task's ``description_obfuscated.md``: next to its public files or task root, else
    in MLE-bench's package (``mlebench:`` tasks); None when there is none."""
    places = [task.public_dir / OBFUSCATED_FILE]
    if task.location is not None:
        places.append(task.location / OBFUSCATED_FILE)
    for path in places:
        if path.is_file():
            return path
    if task.source == "mlebench":
        from aira_eval.datasets.mlebench_adapter import package_file

        return package_file(task.name, OBFUSCATED_FILE)
    return None


def with_description(task: Task, variant: str, cache_dir: Path) -> Task:
    """``task`` as agents see it under description ``variant`` (``original``: unchanged).

    Raises:
        UsageError: unknown variant. DataError: the task has no obfuscated description.
    """
    if check_description(variant) == "original":
        return task
    source = obfuscated_description(task)
    if source is None:
        raise DataError(
            f"task {task.task_id} has no obfuscated description ({OBFUSCATED_FILE})",
            hint="MLE-bench ships one per competition (install mlebench, or put the file in "
            "the competition's folder); other tasks only run with --description original.",
        )
    text = source.read_text(encoding="utf-8")
    key = hashlib.sha256(f"{task.public_dir.resolve()}\n{text}".encode()).hexdigest()[:12]
    root = cache_dir / "obfuscated" / task.source / _safe(task.name) / key
    atomic_build(root, lambda tmp: _build(task.public_dir, text, tmp / "public"))
    public = root / "public"
    return dataclasses.replace(task, public_dir=public,
                               description_path=public / "description.md")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _build(public_dir: Path, text: str, dest: Path) -> None:
    dest.mkdir(parents=True)
    for entry in sorted(public_dir.iterdir()):
        if entry.name not in ("description.md", OBFUSCATED_FILE):
            link_or_copy(entry, dest / entry.name)
    (dest / "description.md").write_text(text, encoding="utf-8")
