"""MLE-bench's competition splits and the ``mlebench:split=NAME`` task ids that expand to them.

The splits are MLE-bench's own lists (``splits/*.txt``, shipped as package data: see
``splits/README.md`` for their source): ``low`` (alias ``lite``, 22 competitions), ``medium`` (38),
``high`` (15) and ``all`` (75). ``mlebench:split=PATH`` reads a file of ids instead (one a line,
``#`` comments and blank lines ignored). :func:`aira_eval.datasets.mlebench_source.expand_tasks`
turns split task ids into the prepared competitions' ids.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aira_eval.errors import UsageError

SPLIT_PREFIX = "mlebench:split="
SPLITS = ("low", "medium", "high", "all")
ALIASES = {"lite": "low"}


def split_names() -> list[str]:
    """The split names ``mlebench:split=`` accepts (aliases included)."""
    return [*SPLITS, *ALIASES]


def _parse(text: str) -> list[str]:
    ids = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return list(dict.fromkeys(i for i in ids if i))


def split_ids(split: str) -> list[str]:
    """The competition ids of ``split``: a split name or the path of a file of ids.

    Raises:
        UsageError: neither a known split nor a readable file, or a file without ids.
    """
    name = ALIASES.get(split.strip().lower(), split.strip().lower())
    if name in SPLITS:
        return _parse(resources.files("aira_eval.datasets").joinpath(
            "splits", f"{name}.txt").read_text(encoding="utf-8"))
    path = Path(split).expanduser()
    if not path.is_file():
        raise UsageError(
            f"unknown MLE-bench split {split!r} (and no such file)",
            hint=f"Use one of {', '.join(split_names())}, or a file of competition ids.",
        )
    ids = _parse(path.read_text(encoding="utf-8"))
    if not ids:
        raise UsageError(f"the split file {path} lists no competition ids")
    return ids


def is_split_task(task: str) -> bool:
    return task.strip().startswith(SPLIT_PREFIX)
