"""Load one or more studies (study dirs or ``nodes.parquet`` files) into one node frame.

Each source is a study directory (``nodes.parquet`` + ``study.json``) or a ``nodes.parquet``
file (its directory's ``study.json`` is used when present). Sources are concatenated; search ids
that collide between sources are prefixed with ``<study_id>/`` to stay unique. Per task the
manifest's :class:`~aira_eval.search.study.TaskInfo` is kept (the first source that has it
wins); a task without one gets a minimal info (direction from the node table, no leaderboard).

The loaded frame gains a column ``n_val``: rows of the validation holdout
(``heldout_sizes["val"]``, 0 when unknown), used by the ``shrinkage`` and ``lcb`` strategies'
standard-error proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.search.study import StudyManifest, TaskInfo
from aira_eval.search.table import read_nodes


@dataclass
class Source:
    """One loaded input: where it was, its study id, its directory (for outputs)."""

    path: Path
    study_id: str
    study_dir: Path
    has_manifest: bool


@dataclass
class LoadedStudy:
    """Node frame of every source plus task info.

    Attributes:
        frame: node-table frame (all sources), plus ``n_val``.
        tasks: task id -> info.
        sources: the inputs in the order given.
    """

    frame: pd.DataFrame
    tasks: dict[str, TaskInfo]
    sources: list[Source] = field(default_factory=list)

    @property
    def study_ids(self) -> list[str]:
        return [s.study_id for s in self.sources]


def _locate(path: Path) -> tuple[Path, Path]:
    """(nodes.parquet path, study dir) for a study dir or a nodes file."""
    if not path.exists():
        raise UsageError(f"study {path} does not exist",
                         hint="Pass a study directory or a nodes.parquet file.")
    if path.is_dir():
        nodes = path / "nodes.parquet"
        if not nodes.exists() and any((path / "searches").glob("*/journal.jsonl")):
            from aira_eval.search.recorders import rebuild_node_table

            rebuild_node_table(path)  # the journals are the source of truth
        if not nodes.exists():
            raise UsageError(f"{path} has no nodes.parquet",
                             hint="Run `aira-eval search` (or `aira-eval import`) into it first.")
        return nodes, path
    return path, path.parent


def _load_one(path: Path) -> tuple[pd.DataFrame, Source, dict[str, TaskInfo]]:
    nodes_path, study_dir = _locate(path)
    frame = read_nodes(nodes_path)
    manifest = StudyManifest.read(study_dir) if (study_dir / "study.json").exists() else None
    if manifest is not None:
        study_id = manifest.study_id
    elif len(frame) and frame["study_id"].iloc[0]:
        study_id = str(frame["study_id"].iloc[0])
    else:
        study_id = study_dir.name
    source = Source(nodes_path, study_id, study_dir, manifest is not None)
    return frame, source, (manifest.tasks if manifest is not None else {})


def _task_info(task: str, frame: pd.DataFrame) -> TaskInfo:
    lower = frame.loc[frame["task"] == task, "lower_is_better"].to_numpy(dtype=bool)
    return TaskInfo(task=task, lower_is_better=bool(lower[0]) if lower.size else False,
                    metric="unknown")


def _check_directions(frame: pd.DataFrame) -> None:
    per_task = frame.groupby("task")["lower_is_better"].nunique()
    mixed = per_task.index[per_task.to_numpy() > 1].tolist()
    if mixed:
        raise UsageError(f"tasks {mixed} mix lower- and higher-is-better nodes",
                         hint="A task's metric direction must be the same in every study.")


def load_studies(paths: Sequence[Path]) -> LoadedStudy:
    """Read and concatenate the node tables (and manifests) of ``paths``.

    Raises:
        UsageError: a missing path, a path given twice, or no valid node in any source.
        DataError: an unreadable table or one of a newer schema (from ``read_nodes``).
    """
    if not paths:
        raise UsageError("no study given", hint="Pass one or more study directories.")
    frames: list[pd.DataFrame] = []
    sources: list[Source] = []
    tasks: dict[str, TaskInfo] = {}
    seen: set[Path] = set()
    for path in paths:
        frame, source, infos = _load_one(Path(path))
        if source.path.resolve() in seen:
            raise UsageError(f"{path} was given twice")
        seen.add(source.path.resolve())
        frames.append(frame)
        sources.append(source)
        for task, info in infos.items():
            tasks.setdefault(task, info)
    frames = _unique_search_ids(frames, sources)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if not frame["valid"].to_numpy(dtype=bool).any():
        where = ", ".join(str(s.path) for s in sources)
        raise UsageError(f"no valid node (graded submission) in {where}",
                         hint="Every node failed: there is nothing to select from.")
    for task in pd.unique(frame["task"]):
        tasks.setdefault(str(task), _task_info(str(task), frame))
    _check_directions(frame)
    sizes = {t: int(info.heldout_sizes.get("val", 0)) for t, info in tasks.items()}
    frame["n_val"] = frame["task"].map(sizes).fillna(0).astype(np.int64)
    used = {str(t) for t in pd.unique(frame["task"])}
    return LoadedStudy(frame=frame, tasks={t: i for t, i in tasks.items() if t in used},
                       sources=sources)


def _unique_search_ids(frames: list[pd.DataFrame], sources: list[Source]) -> list[pd.DataFrame]:
    """Prefix the search ids of sources whose ids collide with another source's."""
    if len(frames) < 2:
        return frames
    id_sets = [set(pd.unique(f["search_id"])) for f in frames]
    distinct = len({s.study_id for s in sources}) == len(sources)
    out = []
    for i, (frame, source) in enumerate(zip(frames, sources, strict=True)):
        others = set().union(*(s for j, s in enumerate(id_sets) if j != i))
        if id_sets[i] & others:
            frame = frame.copy()
            prefix = f"{source.study_id}/" if distinct else f"{source.study_id}#{i}/"
            frame["search_id"] = prefix + frame["search_id"].astype(str)
        out.append(frame)
    return out
