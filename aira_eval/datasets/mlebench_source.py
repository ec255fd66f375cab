"""``mlebench:<competition-id>`` tasks: competitions prepared in MLE-bench's layout.

A data dir (``--data-dir``, ``$AIRA_EVAL_DATA_DIR``, default ``~/.cache/mle-bench/data``)
holds one folder per competition::

    <data_dir>/<id>/prepared/public/    what the agent sees
    <data_dir>/<id>/prepared/private/   the answers
    <data_dir>/<id>/leaderboard.csv     the final Kaggle leaderboard (optional)
    <data_dir>/<id>/checksums.yaml      md5 of the prepared files (optional)

Graders come from the built-in competition specs (no ``mlebench`` needed), else from
MLE-bench's registry when the ``mlebench`` package is importable; the leaderboard from
``leaderboard.csv``, else MLE-bench's own copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.datasets.mlebench_splits import SPLIT_PREFIX, is_split_task, split_ids
from aira_eval.datasets.prepare import CHECKSUMS_FILE
from aira_eval.datasets.task import Task
from aira_eval.errors import DataError, TaskNotFoundError, UsageError

SOURCE = "mlebench"
DEFAULT_DATA_DIR = Path("~/.cache/mle-bench/data")


def default_data_dir() -> Path:
    """``$AIRA_EVAL_DATA_DIR``, else MLE-bench's ``~/.cache/mle-bench/data``."""
    env = os.environ.get("AIRA_EVAL_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR.expanduser()


def prepare_hint(competition_id: str, data_dir: Path) -> str:
    return (
        f"Prepare it with `mlebench prepare -c {competition_id} --data-dir {data_dir}` "
        "(or point --data-dir / $AIRA_EVAL_DATA_DIR at a data dir that holds it)."
    )


def known_competition_ids(data_dir: Path) -> list[str]:
    """Built-in competition ids, MLE-bench registry ids (when installed) and data dir folders."""
    from aira_eval.datasets.competitions import builtin_competition_ids

    ids = set(builtin_competition_ids()) | set(registry_ids())
    if data_dir.is_dir():
        ids |= {p.name for p in data_dir.iterdir() if (p / "prepared").is_dir()}
    return sorted(ids)


def registry_ids() -> list[str]:
    """MLE-bench's registry ids, or [] when mlebench is not importable."""
    from aira_eval.datasets.mlebench_adapter import mlebench_available, registry_competition_ids

    return registry_competition_ids() if mlebench_available() else []


def prepared_status(competition_id: str, data_dir: Path) -> str:
    """``prepared``, ``not prepared``, ``absent`` or ``no grader`` (for ``datasets list``)."""
    from aira_eval.datasets.competitions import get_competition

    root = data_dir / competition_id
    if not root.is_dir():
        return "absent"
    if not (root / "prepared" / "public").is_dir() or not (root / "prepared" / "private").is_dir():
        return "not prepared"
    if get_competition(competition_id) is None and competition_id not in registry_ids():
        return "no grader"
    return "prepared"


def graders_of(competition_id: str) -> str:
    """``built-in (exact)``, ``mlebench``, both (comma-separated) or ``none``: who can grade
    the competition here (with mlebench installed, its grader is the one used)."""
    from aira_eval.datasets.competitions import get_competition

    found = [name for name, ok in (("built-in (exact)", get_competition(competition_id)),
                                   ("mlebench", competition_id in registry_ids())) if ok]
    return ", ".join(found) or "none"


def load_mlebench(competition_id: str, data_dir: Path, task_id: str | None = None) -> Task:
    """The task ``mlebench:<competition_id>`` read from ``data_dir``.

    Raises:
        TaskNotFoundError: no built-in spec, no MLE-bench registry entry and no folder.
        DataError: the competition is known but not (fully) prepared under ``data_dir``, or
            has no grader available here.
    """
    from aira_eval.datasets.competitions import get_competition

    spec = get_competition(competition_id)
    root = data_dir / competition_id
    task_id = task_id or f"{SOURCE}:{competition_id}"
    if spec is None:
        if competition_id in registry_ids():
            return _from_registry(competition_id, data_dir, task_id)
        if not root.is_dir():
            raise TaskNotFoundError(f"unknown task {task_id}")
        raise DataError(
            f"{root} exists but aira-eval has no built-in grader for {competition_id!r} and "
            "the mlebench package is not installed",
            hint="Install MLE-bench (github.com/openai/mle-bench) to grade any of its "
            "competitions, or describe the task in a task YAML.",
        )
    public, private = _prepared_dirs(competition_id, data_dir)
    answers = _require(private / spec.answers_file, "answers file", competition_id, data_dir)
    sample = _require(public / spec.sample_submission_file, "sample submission",
                      competition_id, data_dir)
    grader = spec.grader
    if competition_id in registry_ids():  # MLE-bench installed: its own grader decides
        from aira_eval.datasets.mlebench_adapter import mlebench_grader

        grader = mlebench_grader(competition_id, data_dir)
    return _task(competition_id, data_dir, task_id, grader, answers, sample,
                 metric=spec.grader.metric, problem=spec.problem,
                 answers_from_train=spec.answers_from_train)


def _prepared_dirs(competition_id: str, data_dir: Path) -> tuple[Path, Path]:
    root = data_dir / competition_id
    if not root.is_dir():
        raise DataError(
            f"competition {competition_id!r} is not in the data dir {data_dir} "
            f"(no folder {root})",
            hint=prepare_hint(competition_id, data_dir),
        )
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    for path in (public, private):
        if not path.is_dir():
            raise DataError(
                f"competition {competition_id!r} is not prepared: {path} is missing",
                hint=prepare_hint(competition_id, data_dir),
            )
    return public, private


def _require(path: Path, what: str, competition_id: str, data_dir: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"competition {competition_id!r}: its {what} {path} is missing",
            hint=prepare_hint(competition_id, data_dir),
        )
    return path


def _optional(path: Path) -> Path | None:
    return path if path.is_file() else None


def leaderboard_path(competition_id: str, data_dir: Path) -> Path | None:
    """``<data_dir>/<id>/leaderboard.csv``, else MLE-bench's own copy, else None."""
    local = data_dir / competition_id / "leaderboard.csv"
    if local.is_file():
        return local
    competition = _registry_competition(competition_id, data_dir)
    if competition is None:
        return None
    from aira_eval.datasets.mlebench_adapter import leaderboard_file

    return leaderboard_file(competition)  # None when the package's copy is a git-LFS pointer


def _registry_competition(competition_id: str, data_dir: Path) -> Any:
    """MLE-bench's Competition object, or None when mlebench is absent or does not know it."""
    if competition_id not in registry_ids():
        return None
    from aira_eval.datasets.mlebench_adapter import registry_competition

    return registry_competition(competition_id, data_dir)


def _from_registry(competition_id: str, data_dir: Path, task_id: str) -> Task:
    """A task served entirely by MLE-bench's registry (no built-in spec)."""
    from aira_eval.datasets.mlebench_adapter import mlebench_answers, mlebench_grader

    competition = _registry_competition(competition_id, data_dir)
    _prepared_dirs(competition_id, data_dir)  # raises when not prepared
    answers = _require(Path(competition.answers), "answers file", competition_id, data_dir)
    grader = mlebench_grader(competition_id, data_dir)
    sample = Path(competition.sample_submission)
    return _task(competition_id, data_dir, task_id, grader, answers,
                 sample if sample.is_file() else None, metric=grader.metric,
                 answers_reader=lambda _path: mlebench_answers(competition_id, data_dir))


def _task(competition_id: str, data_dir: Path, task_id: str, grader: Any, answers: Path,
          sample: Path | None, **extra: Any) -> Task:
    """The fields every ``mlebench:`` task shares, whoever grades it."""
    root = data_dir / competition_id
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    return Task(
        task_id=task_id,
        source=SOURCE,
        name=competition_id,
        public_dir=public,
        private_dir=private,
        answers_path=answers,
        grader=grader,
        lower_is_better=grader.lower_is_better,
        description_path=_optional(public / "description.md"),
        sample_submission_path=sample,
        leaderboard_path=leaderboard_path(competition_id, data_dir),
        checksums_path=_optional(root / CHECKSUMS_FILE),
        location=root,
        **extra,
    )


@dataclass
class Expansion:
    """Task ids after expanding splits, and one line per competition left out."""

    tasks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_tasks(tasks: list[str], data_dir: Path) -> Expansion:
    """Replace every ``mlebench:split=...`` by the split's competitions prepared under
    ``data_dir``; the others are skipped, one line each. Other task ids pass through.

    Raises:
        UsageError: an unknown split, or a split none of whose competitions is prepared.
    """
    out = Expansion()
    for task in tasks:
        if not is_split_task(task):
            out.tasks.append(task)
            continue
        split = task.strip()[len(SPLIT_PREFIX):]
        kept = 0
        for cid in split_ids(split):
            status = prepared_status(cid, data_dir)
            if status == "prepared":
                out.tasks.append(f"mlebench:{cid}")
                kept += 1
            else:
                out.skipped.append(f"skipped mlebench:{cid} (split {split}): {status} "
                                   f"under {data_dir}")
        if not kept:
            raise UsageError(
                f"no competition of MLE-bench split {split!r} is prepared under {data_dir}",
                hint="Prepare some with `mlebench prepare -c ID --data-dir DIR`, or pass "
                "--data-dir.",
            )
    out.tasks = list(dict.fromkeys(out.tasks))
    return out
