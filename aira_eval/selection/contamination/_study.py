"""What the contamination checks read from a study: its manifest, node table, node code, and
the files of its tasks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.search.study import StudyManifest
from aira_eval.search.table import read_nodes

if TYPE_CHECKING:
    from aira_eval.datasets.problem import ProblemSpec
    from aira_eval.search.node import Node
    from aira_eval.selection.contamination.code_leakage import LeakageContext

DEFAULT_DATA_DIR = Path("~/.cache/mle-bench/data")


@dataclass
class StudyData:
    """A study as the checks see it."""

    path: Path
    manifest: StudyManifest
    nodes: pd.DataFrame
    codes: dict[str, str] = field(default_factory=dict)

    @property
    def task_ids(self) -> list[str]:
        ids = set(self.manifest.tasks)
        if "task" in self.nodes.columns:
            ids |= {str(t) for t in self.nodes["task"].unique()}
        return sorted(ids)

    @property
    def val_rows(self) -> dict[str, int]:
        """Task id -> rows the scripts' own cross-validation scored (the public train)."""
        return {t: int(info.heldout_sizes["val"]) for t, info in self.manifest.tasks.items()
                if "val" in info.heldout_sizes}

    @property
    def metrics(self) -> dict[str, str]:
        return {t: info.metric for t, info in self.manifest.tasks.items()}


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


def load_study(path: Path) -> StudyData:
    """Manifest, node table (or the journals when it is missing) and every node's code."""
    if not path.is_dir():
        raise UsageError(f"study directory {path} does not exist",
                         hint="Pass a directory written by `aira-eval search` or `import`.")
    if not (path / "study.json").is_file():
        raise UsageError(f"{path} is not a study directory (no study.json)",
                         hint="Pass a directory written by `aira-eval search` or `import`.")
    manifest = StudyManifest.read(path)
    journals: dict[Path, list[Node]] = {}
    if (path / "nodes.parquet").exists():
        nodes = read_nodes(path / "nodes.parquet")
    else:
        journals = _read_journals(path)
        nodes = _nodes_from_journals(journals)
    return StudyData(path=path, manifest=manifest, nodes=nodes,
                     codes=_codes(path, nodes, journals))


def _read_journals(path: Path) -> dict[Path, list[Node]]:
    """Search dir -> its journal's nodes, for every search of the study."""
    from aira_eval.search.journal import JournalFile

    return {journal.parent: JournalFile(journal).read()
            for journal in sorted((path / "searches").glob("*/journal.jsonl"))}


def _nodes_from_journals(journals: dict[Path, list[Node]]) -> pd.DataFrame:
    """The node table ``rebuild_node_table`` would write, without writing it."""
    from aira_eval.search.recorders import node_record, read_search_meta, search_meta_path
    from aira_eval.search.table import records_to_frame

    records: list[dict[str, Any]] = []
    for search_dir, search_nodes in journals.items():
        if search_meta_path(search_dir).exists():
            meta = read_search_meta(search_dir)
            records.extend(node_record(node, meta) for node in search_nodes)
    return records_to_frame(records)


def _codes(path: Path, nodes: pd.DataFrame,
           journals: dict[Path, list[Node]] | None = None) -> dict[str, str]:
    """``node id -> code`` from each node's code file, else from its search's journal
    (``journals`` when already read)."""
    codes: dict[str, str] = {}
    missing: set[str] = set()
    for node_id, rel in zip(nodes["node_id"], nodes["code_path"], strict=True):
        file = path / str(rel) if isinstance(rel, str) and rel else None
        if file is not None and file.is_file():
            codes[str(node_id)] = file.read_text(encoding="utf-8", errors="replace")
        else:
            missing.add(str(node_id))
    if missing:
        for search_nodes in (journals or _read_journals(path)).values():
            for node in search_nodes:
                if node.node_id in missing and node.code:
                    codes[node.node_id] = node.code
    return {k: v for k, v in codes.items() if v.strip()}


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
    from aira_eval.selection.contamination.code_leakage import LeakageContext, canonical_literal

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
