"""What the contamination checks read besides the study: the files of its tasks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.study import Study, StudyManifest, load_study

if TYPE_CHECKING:
    from aira_eval.checks.code_leakage import LeakageContext
    from aira_eval.datasets.problem import ProblemSpec

DEFAULT_DATA_DIR = Path("~/.cache/mle-bench/data")


@dataclass
class TaskFiles:
    """Where a task's files are, or why they could not be found (``note``)."""

    task: str
    public_dir: Path | None = None
    answers_path: Path | None = None
    private_dir: Path | None = None
    spec: ProblemSpec | None = None
    note: str | None = None

    @property
    def found(self) -> bool:
        return self.public_dir is not None and self.public_dir.is_dir()

    def description(self) -> str | None:
        if self.public_dir is None or not (self.public_dir / "description.md").is_file():
            return None
        return (self.public_dir / "description.md").read_text(encoding="utf-8",
                                                              errors="replace")

    def train_head(self, n_lines: int = 12) -> str | None:
        if self.public_dir is None:
            return None
        path = self.public_dir / (self.spec.train_file if self.spec else "train.csv")
        if not path.is_file():
            return None
        with path.open(encoding="utf-8", errors="replace") as fh:
            return "".join(line for _, line in zip(range(n_lines), fh, strict=False))


def load_checked_study(path: Path) -> Study:
    """The study at ``path`` (manifest, node table — rebuilt from the journals when missing —
    and every node's code), which must be a study directory."""
    if not path.is_dir():
        raise UsageError(f"study directory {path} does not exist",
                         hint="Pass a directory written by `aira-eval search` or `import`.")
    if not (path / "study.json").is_file():
        raise UsageError(f"{path} is not a study directory (no study.json)",
                         hint="Pass a directory written by `aira-eval search` or `import`.")
    return load_study(path)


def default_data_dir(manifest: StudyManifest | None = None) -> Path:
    """The study config's data dir, else ``$AIRA_EVAL_DATA_DIR``, else MLE-bench's cache."""
    configured = (manifest.config.get("data_dir") if manifest else None) or os.environ.get(
        "AIRA_EVAL_DATA_DIR")
    return Path(str(configured)).expanduser() if configured else DEFAULT_DATA_DIR.expanduser()


def locate_task(task_id: str, data_dir: Path, heldouts: bool | None = None) -> TaskFiles:
    """The task's files through ``aira_eval.datasets`` (with the study's ``heldouts``
    setting, so the public dir is the one the agents saw), else the MLE-bench layout
    ``<data_dir>/<id>/prepared/{public,private}`` for ``mlebench:<id>``."""
    from aira_eval.datasets.registry import resolve_task

    why = ""
    try:
        task = resolve_task(task_id, data_dir=data_dir, heldouts=heldouts)
        return TaskFiles(task_id, task.public_dir, task.answers_path, task.private_dir,
                         task.problem)
    except Exception as err:  # unknown or unpreparable task: fall back, and say why
        why = str(getattr(err, "message", err))
    if task_id.startswith("mlebench:"):
        prepared = data_dir / task_id.split(":", 1)[1] / "prepared"
        if (prepared / "public").is_dir():
            return TaskFiles(task_id, prepared / "public", prepared / "private" / "test.csv",
                             prepared / "private")
        return TaskFiles(task_id, note=f"task data not found: {why or prepared}")
    return TaskFiles(task_id, note=f"task data not found: {why or 'unknown task'}")


def leakage_context(files: TaskFiles, data_dir: Path | None) -> LeakageContext:
    """What the code scanner should know about a task (labels, sizes, private paths)."""
    from aira_eval.checks.code_leakage import LeakageContext, canonical_literal

    dirs = [str(p.resolve()) for p in (files.private_dir, data_dir) if p is not None]
    public = {p.name for p in files.public_dir.iterdir()} if files.found and files.public_dir \
        else set()
    answer_names: tuple[str, ...] = ()
    if files.private_dir is not None and files.private_dir.is_dir():
        answer_names = tuple(sorted(p.name for p in files.private_dir.iterdir()
                                    if p.name not in public))
    answers = _read_answers(files.answers_path)
    if answers is None:
        return LeakageContext(answer_names=answer_names, data_dirs=tuple(dirs))
    labels = _label_columns(files, answers)
    vocab: set[str] = set()
    for col in labels:
        values = answers[col].dropna().unique()
        if len(values) <= 1000:
            vocab |= {canonical_literal(v.item() if hasattr(v, "item") else v) for v in values}
    return LeakageContext(label_columns=tuple(labels), label_vocabulary=frozenset(vocab),
                          n_test=len(answers), answer_names=answer_names,
                          data_dirs=tuple(dirs))


def _read_answers(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.is_file():
        return None
    try:
        return pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError):
        return None


def _label_columns(files: TaskFiles, answers: pd.DataFrame) -> list[str]:
    if files.spec is not None:
        cols = [*files.spec.label_columns, *files.spec.submission_columns]
        return [c for c in dict.fromkeys(cols) if c in answers.columns]
    test = files.public_dir / "test.csv" if files.public_dir else None
    if test is None or not test.is_file():
        return []
    public_cols = set(pd.read_csv(test, nrows=0).columns)
    return [c for c in answers.columns if c not in public_cols]
