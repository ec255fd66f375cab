"""Resolving task ids to :class:`~aira_eval.datasets.task.Task` objects, and listing tasks.

A task id is ``<source>:<name>`` (``mlebench:spaceship-titanic``, ``builtin:digits``,
``synthetic:binary``) or a path to a task YAML file. Unknown ids raise
:class:`~aira_eval.errors.TaskNotFoundError` with the closest known ids as a hint.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from aira_eval.datasets.descriptions import check_description, with_description
from aira_eval.datasets.heldouts import HeldoutConfig, build_heldouts, default_heldouts
from aira_eval.datasets.mlebench_splits import is_split_task
from aira_eval.datasets.prepare import CHECKSUMS_FILE, default_cache_dir
from aira_eval.datasets.task import Task
from aira_eval.errors import TaskNotFoundError, UsageError

SOURCES = ("mlebench", "builtin", "synthetic")
YAML_SUFFIXES = (".yaml", ".yml")

Heldouts = bool | HeldoutConfig | None
"""``None``: the source's default (off for mlebench, on otherwise, 10 % + 10 %, seed 0);
``True``/``False``: on (defaults) or off; a :class:`HeldoutConfig`: on with those settings."""


@dataclass(frozen=True)
class TaskListing:
    """One row of ``aira-eval datasets list``.

    Attributes:
        task_id: the id to pass to ``--task``.
        source: ``mlebench``, ``builtin`` or ``synthetic``.
        location: where its files are (or will be prepared).
        status: ``prepared``, ``prepared on first use``, ``not prepared``, ``absent`` or
            ``no grader``.
        graders: who can grade it: ``built-in (exact)`` (aira-eval's own grader, checked
            against MLE-bench's), ``mlebench`` (the installed package's), both, or ``none``.
    """

    task_id: str
    source: str
    location: str
    status: str
    graders: str = "built-in (exact)"

    def to_dict(self) -> dict[str, str]:
        return {"task_id": self.task_id, "source": self.source, "location": self.location,
                "status": self.status, "graders": self.graders}


def is_yaml_path(task: str) -> bool:
    return task.lower().endswith(YAML_SUFFIXES)


def resolve_task(
    task: str,
    data_dir: Path | None = None,
    heldouts: Heldouts = None,
    cache_dir: Path | None = None,
    description: str = "original",
) -> Task:
    """The :class:`Task` for ``task`` (an id or a task YAML path).

    Args:
        task: ``<source>:<name>`` or a path to a task YAML.
        data_dir: MLE-bench data dir (default ``$AIRA_EVAL_DATA_DIR`` or
            ``~/.cache/mle-bench/data``).
        heldouts: see :data:`Heldouts`.
        cache_dir: where builtin/synthetic/YAML tasks and held-out sets are prepared
            (default ``$AIRA_EVAL_CACHE_DIR`` or ``~/.cache/aira-eval/tasks``).
        description: ``original``, or ``obfuscated`` for MLE-bench's obfuscated description
            (see :mod:`aira_eval.datasets.descriptions`).

    Raises:
        TaskNotFoundError: unknown id (with suggestions). UsageError: a missing or invalid
        task YAML, a bad name. DataError: the task's data is missing, or held-out sets were
        asked for and cannot be built.
    """
    from aira_eval.datasets.mlebench_source import default_data_dir

    check_description(description)
    data_dir = (data_dir or default_data_dir()).expanduser()
    cache_dir = (cache_dir or default_cache_dir()).expanduser()
    base = _load(task.strip(), data_dir, cache_dir)
    config = _heldout_config(heldouts, base.source)
    if config is not None:
        base = build_heldouts(base, config, cache_dir)
    return with_description(base, description, cache_dir)


def _heldout_config(heldouts: Heldouts, source: str) -> HeldoutConfig | None:
    if isinstance(heldouts, HeldoutConfig):
        return heldouts
    if heldouts is None:
        heldouts = default_heldouts(source)
    return HeldoutConfig() if heldouts else None


def _load(task: str, data_dir: Path, cache_dir: Path) -> Task:
    if is_yaml_path(task):
        from aira_eval.datasets.yaml_prepare import load_yaml_task

        path = Path(task).expanduser()
        if not path.is_file():
            raise UsageError(f"task file {path} does not exist",
                             hint="Check the path of the task YAML.")
        return load_yaml_task(path, cache_dir)
    if is_split_task(task):
        raise UsageError(
            f"{task} names a split of competitions, not one task",
            hint="`aira-eval search --task` expands it; in Python use "
            "aira_eval.datasets.mlebench_source.expand_tasks first.",
        )
    source, sep, name = task.partition(":")
    if not sep or source not in SOURCES or not name:
        raise _not_found(task, data_dir)
    if source == "builtin":
        from aira_eval.datasets.builtin import BUILTINS, load_builtin

        if name not in BUILTINS:
            raise _not_found(task, data_dir)
        return load_builtin(name, cache_dir, task_id=task)
    if source == "synthetic":
        from aira_eval.datasets.synthetic import load_synthetic, parse_name

        try:
            parse_name(name)
        except KeyError:
            raise _not_found(task, data_dir) from None
        return load_synthetic(name, cache_dir, task_id=task)
    from aira_eval.datasets.mlebench_source import load_mlebench

    try:
        return load_mlebench(name, data_dir, task_id=task)
    except TaskNotFoundError:
        raise _not_found(task, data_dir) from None


def known_task_ids(data_dir: Path | None = None) -> list[str]:
    """Every task id the sources know (builtin, synthetic, mlebench)."""
    from aira_eval.datasets.builtin import builtin_names
    from aira_eval.datasets.mlebench_source import default_data_dir, known_competition_ids
    from aira_eval.datasets.synthetic import synthetic_names

    data_dir = data_dir or default_data_dir()
    return [
        *(f"builtin:{n}" for n in builtin_names()),
        *(f"synthetic:{n}" for n in synthetic_names()),
        *(f"mlebench:{n}" for n in known_competition_ids(data_dir)),
    ]


def suggest(task: str, data_dir: Path | None = None, n: int = 3) -> list[str]:
    """The known task ids closest to ``task`` (also matching on the bare name)."""
    ids = known_task_ids(data_dir)
    by_name = {i.partition(":")[2]: i for i in ids}
    bare = task.partition(":")[2] or task
    close = difflib.get_close_matches(task, ids, n=n, cutoff=0.5)
    close += [by_name[m] for m in difflib.get_close_matches(bare, list(by_name), n=n, cutoff=0.5)]
    return list(dict.fromkeys(close))[:n]


def _not_found(task: str, data_dir: Path) -> TaskNotFoundError:
    close = suggest(task, data_dir)
    if close:
        hint = f"Did you mean {' or '.join(close)}? (`aira-eval datasets list` shows all tasks)"
    else:
        hint = ("Task ids look like builtin:digits, synthetic:binary or "
                "mlebench:spaceship-titanic, or a path to a task YAML; "
                "`aira-eval datasets list` shows all tasks.")
    return TaskNotFoundError(f"unknown task {task!r}", hint=hint)


def list_tasks(data_dir: Path | None = None, cache_dir: Path | None = None) -> list[TaskListing]:
    """Every known task with where it was found and whether it is ready to use."""
    from aira_eval.datasets.builtin import builtin_names, builtin_root
    from aira_eval.datasets.mlebench_source import (
        default_data_dir,
        graders_of,
        known_competition_ids,
        prepared_status,
    )
    from aira_eval.datasets.synthetic import synthetic_names, synthetic_root

    data_dir = (data_dir or default_data_dir()).expanduser()
    cache = (cache_dir or default_cache_dir()).expanduser()
    rows = []
    for name in builtin_names():
        root = builtin_root(name, cache)
        rows.append(TaskListing(f"builtin:{name}", "builtin", str(root), _cache_status(root)))
    for name in synthetic_names():
        root = synthetic_root(name, 0, cache)
        rows.append(TaskListing(f"synthetic:{name}", "synthetic", str(root), _cache_status(root)))
    for cid in known_competition_ids(data_dir):
        status = prepared_status(cid, data_dir)
        rows.append(TaskListing(f"mlebench:{cid}", "mlebench", str(data_dir / cid), status,
                                graders_of(cid)))
    return rows


def _cache_status(root: Path) -> str:
    return "prepared" if (root / CHECKSUMS_FILE).is_file() else "prepared on first use"
