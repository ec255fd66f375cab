"""Does the task a run's own config names agree with the ``--task`` it is imported under?

A folder of runs is imported under one ``--task``; a run of another task among them would be
labelled wrongly without a word. Each run's config names its task — aira-dojo's
``dojo_config.json`` ``task.name``, AIDE's ``config.yaml`` (``competition_id``/``task`` when
present, else the folder its ``data_dir`` sits in: ``…/<task>/env``, ``…/<task>/prepared/public``)
— and a different name is a warning on that search (the import goes on: the names are compared
loosely, and the researcher decides).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

#: Folders a task's data sits in, below the folder named after the task.
_DATA_LEAVES = ("env", "public", "input", "data")
_GENERIC = {"", "/", "home", "data", "workspace", "workspaces", "input", "prepared", "tmp"}


def _norm(name: str) -> str:
    """``mlebench:Spaceship_Titanic`` -> ``spaceship-titanic``; a task YAML path -> its stem."""
    base = name.split(":", 1)[1] if ":" in name and not name.endswith((".yaml", ".yml")) \
        else name
    if base.endswith((".yaml", ".yml")):
        base = PurePosixPath(base).stem
    return re.sub(r"[\s_]+", "-", base.strip().lower())


def aide_task_name(config: dict[str, Any]) -> str | None:
    """The task an AIDE ``config.yaml`` names, or None when it does not say."""
    for key in ("competition_id", "task", "task_id"):
        if isinstance(config.get(key), str) and config[key].strip():
            return str(config[key])
    data_dir = config.get("data_dir")
    if not isinstance(data_dir, str):
        return None
    parts = [p for p in PurePosixPath(data_dir).parts if p != "/"]
    if len(parts) >= 3 and parts[-2:] == ["prepared", "public"]:
        parts = parts[:-2]
    elif len(parts) >= 2 and parts[-1] in _DATA_LEAVES:
        parts = parts[:-1]
    else:
        return None
    return parts[-1] if parts and parts[-1].lower() not in _GENERIC else None


def task_mismatch(task: str, named: str | None, where: str) -> str | None:
    """The warning when the run's ``named`` task is not ``task`` (None when they agree or the
    run does not say)."""
    if not named or _norm(named) == _norm(task):
        return None
    return (f"the run's {where} names task {named!r}, but it is imported as task {task} "
            f"(--task): if that is not the task it solved, import it on its own with its "
            f"--task")
