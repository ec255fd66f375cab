"""One way to read studies: :func:`load_study` for selection, checks, importers and reports.

A source is a study directory (``study.json`` + ``nodes.parquet`` + ``searches/``) or a
``nodes.parquet`` file (its directory's ``study.json`` is used when present). Where a study has
journals but no ``nodes.parquet``, the table is rebuilt from the journals (the source of truth).
Several sources are concatenated; search ids that collide between sources are prefixed with
``<study_id>/`` so they stay unique.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.study.manifest import StudyManifest, TaskInfo, fix_reference_scores
from aira_eval.study.searches import search_table
from aira_eval.study.table import read_nodes, validate_nodes


@dataclass
class Source:
    """One loaded input: where it was, its study id, its directory and manifest (if any)."""

    path: Path
    study_id: str
    study_dir: Path
    manifest: StudyManifest | None = None
    #: its searches' ids in the loaded table (prefixed where they collided with another's)
    search_ids: frozenset[str] = frozenset()

    @property
    def has_manifest(self) -> bool:
        return self.manifest is not None


@dataclass
class Study:
    """One or more studies, as every reader sees them.

    Attributes:
        nodes: the node table of every source (columns of
            :data:`~aira_eval.study.table.NODE_SCHEMA`) plus ``n_val``, the rows of the task's
            validation data (0 when unknown).
        searches: one row per search (:func:`~aira_eval.study.searches.search_table`): its
            fixed columns (task, policy, operators, model, seed, fitness, ...), its parameters
            as ``param.<name>`` columns, and ``agent``, the agent configuration as one label.
        tasks: task id -> what the manifests record about it (a task no manifest describes
            gets its direction from the node table and no leaderboard).
        sources: the inputs in the order given.
    """

    nodes: pd.DataFrame
    searches: pd.DataFrame
    tasks: dict[str, TaskInfo]
    sources: list[Source] = field(default_factory=list)
    #: what a reader should be told (e.g. a torn last journal line dropped); never fatal
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_nodes(cls, nodes: pd.DataFrame, tasks: dict[str, TaskInfo] | None = None
                   ) -> Study:
        """An in-memory study from a node table (e.g. a synthetic one): task infos default to
        the node table's directions; searches carry only the node-table columns."""
        given = tasks or {}
        infos = {str(t): given.get(str(t)) or _task_info(str(t), nodes)
                 for t in pd.unique(nodes["task"])}
        if "n_val" not in nodes.columns:
            sizes = {t: int(i.heldout_sizes.get("val", 0)) for t, i in infos.items()}
            nodes = nodes.assign(n_val=nodes["task"].map(sizes).fillna(0).astype(np.int64))
        return cls(nodes=nodes, searches=search_table(nodes, []),
                   tasks=fix_reference_scores(infos, nodes))

    @property
    def frame(self) -> pd.DataFrame:
        """The node table (an alias of :attr:`nodes`)."""
        return self.nodes

    @property
    def study_ids(self) -> list[str]:
        return [s.study_id for s in self.sources]

    @property
    def path(self) -> Path | None:
        """The first source's study directory (where outputs go by default); None in memory."""
        return self.sources[0].study_dir if self.sources else None

    @property
    def manifest(self) -> StudyManifest | None:
        """The first source's manifest (None for a bare node table or an in-memory study)."""
        return self.sources[0].manifest if self.sources else None

    @property
    def task_ids(self) -> list[str]:
        """Tasks of the node table and of the manifests (a task may have no node yet)."""
        listed = {t for s in self.sources if s.manifest for t in s.manifest.tasks}
        return sorted(listed | set(self.tasks) | {str(t) for t in pd.unique(self.nodes["task"])})

    @property
    def val_rows(self) -> dict[str, int]:
        """Task id -> rows the scripts' own validation scored (the public train), where known."""
        return {t: int(i.heldout_sizes["val"]) for t, i in self.tasks.items()
                if "val" in i.heldout_sizes}

    @property
    def metrics(self) -> dict[str, str]:
        """Task id -> metric name, for the tasks a manifest describes."""
        return {t: info.metric for t, info in self.tasks.items() if info.metric != "unknown"}

    @cached_property
    def codes(self) -> dict[str, str]:
        """``node id -> code`` for every node with code (its code file, else its journal)."""
        from aira_eval.study.code import read_codes

        out: dict[str, str] = {}
        for source in self.sources:
            part = self.nodes if len(self.sources) < 2 else self.nodes[self.rows_of(source)]
            out.update(read_codes(source.study_dir, part))
        return out

    def rows_of(self, source: Source) -> np.ndarray:
        """Boolean mask ``(nodes,)`` of ``source``'s rows, by its searches (two pooled
        studies may share a study id: output folders of the same name)."""
        return self.nodes["search_id"].isin(source.search_ids).to_numpy(dtype=bool)


def _read_table(path: Path) -> tuple[pd.DataFrame, Path, Path, list[str]]:
    """(node frame, nodes.parquet path, study dir, warnings) for a study dir or a nodes file.

    A study dir whose ``nodes.parquet`` is missing is read from its journals (the source of
    truth), in memory: readers never write into a study.
    """
    if not path.exists():
        raise UsageError(f"study {path} does not exist",
                         hint="Pass a study directory or a nodes.parquet file.")
    if not path.is_dir():
        return read_nodes(path), path, path.parent, []
    nodes = path / "nodes.parquet"
    if nodes.exists():
        return read_nodes(nodes), nodes, path, []
    if any((path / "searches").glob("*/journal.jsonl")):
        from aira_eval.study.records import NodeTableBuilder

        builder = NodeTableBuilder(path)
        frame = builder.table().to_pandas()
        validate_nodes(frame, f"the journals of {path}")
        torn = [f"{j}: dropped its torn last line ({n}), a node cut short mid-write (it "
                "re-runs on `search --resume`)" for j, n in sorted(builder.torn.items())]
        return frame, nodes, path, torn
    raise UsageError(f"{path} has no nodes.parquet and no journals",
                     hint="Run `aira-eval search` (or `aira-eval import`) into it first.")


def _load_one(path: Path) -> tuple[pd.DataFrame, Source, list[str]]:
    frame, nodes_path, study_dir, warnings = _read_table(path)
    manifest = StudyManifest.read(study_dir) if (study_dir / "study.json").exists() else None
    if manifest is not None:
        study_id = manifest.study_id
    elif len(frame) and frame["study_id"].iloc[0]:
        study_id = str(frame["study_id"].iloc[0])
    else:
        study_id = study_dir.name
    return frame, Source(nodes_path, study_id, study_dir, manifest), warnings


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


def load_study(paths: str | Path | Sequence[str | Path], *,
               require_valid: bool = False) -> Study:
    """Read one or more studies into one :class:`Study`.

    Args:
        paths: a study directory or ``nodes.parquet`` file, or several (pooled).
        require_valid: raise when no node of any source has a graded submission (selection
            has nothing to choose from then).

    Raises:
        UsageError: a missing path, a path given twice, mixed metric directions, or (with
            ``require_valid``) no valid node.
        DataError: an unreadable table, manifest or journal, or one of a newer schema.
    """
    items = [paths] if isinstance(paths, str | Path) or not isinstance(paths, Iterable) \
        else list(paths)
    bad = [item for item in items if not isinstance(item, str | os.PathLike)]
    if bad:
        raise UsageError(f"load_study() takes a study path or a list of them, got {bad[0]!r}",
                         hint='e.g. load_study("study") or load_study(["study-a", "study-b"]).')
    if not items:
        raise UsageError("no study given", hint="Pass one or more study directories.")
    frames: list[pd.DataFrame] = []
    sources: list[Source] = []
    seen: set[Path] = set()
    warnings: list[str] = []
    for item in items:
        frame, source, found = _load_one(Path(item))
        warnings += found
        if source.path.resolve() in seen:
            raise UsageError(f"{item} was given twice", hint="Pass each study once.")
        seen.add(source.path.resolve())
        frames.append(frame)
        sources.append(source)
    renames = _unique_search_ids(frames, sources)
    sources = [replace(s, search_ids=frozenset(map(str, pd.unique(f["search_id"]))))
               for s, f in zip(sources, frames, strict=True)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if require_valid and not frame["valid"].to_numpy(dtype=bool).any():
        where = ", ".join(str(s.path) for s in sources)
        raise UsageError(f"no valid node (graded submission) in {where}",
                         hint="Every node failed: there is nothing to select from.")
    tasks = _tasks(sources, frame)
    _check_directions(frame)
    sizes = {t: int(info.heldout_sizes.get("val", 0)) for t, info in tasks.items()}
    frame["n_val"] = frame["task"].map(sizes).fillna(0).astype(np.int64)
    searches = search_table(frame, [s.study_dir for s in sources], renames)
    return Study(nodes=frame, searches=searches, tasks=tasks, sources=sources,
                 warnings=warnings)


def _tasks(sources: list[Source], frame: pd.DataFrame) -> dict[str, TaskInfo]:
    """Task infos of the tasks in ``frame`` (the first source that has one wins; its
    ``reference_score`` is the first one a manifest records, so that pooled studies share it
    whatever their order)."""
    tasks: dict[str, TaskInfo] = {}
    for source in sources:
        for task, info in (source.manifest.tasks if source.manifest else {}).items():
            first = tasks.setdefault(task, info)
            if first.reference_score is None and info.reference_score is not None:
                tasks[task] = replace(first, reference_score=info.reference_score)
    used = [str(t) for t in pd.unique(frame["task"])]
    return fix_reference_scores({t: tasks.get(t) or _task_info(t, frame) for t in used}, frame)


def _unique_search_ids(frames: list[pd.DataFrame], sources: list[Source]
                       ) -> list[dict[str, str]]:
    """Prefix the search ids of sources whose ids collide with another source's (in place);
    per source, the renames made (old id -> new id)."""
    renames: list[dict[str, str]] = [{} for _ in frames]
    if len(frames) < 2:
        return renames
    id_sets = [set(pd.unique(f["search_id"])) for f in frames]
    distinct = len({s.study_id for s in sources}) == len(sources)
    for i, source in enumerate(sources):
        others = set().union(*(s for j, s in enumerate(id_sets) if j != i))
        if id_sets[i] & others:
            prefix = f"{source.study_id}/" if distinct else f"{source.study_id}#{i}/"
            renames[i] = {str(s): prefix + str(s) for s in id_sets[i]}
            frames[i] = frames[i].assign(search_id=frames[i]["search_id"].map(renames[i]))
    return renames
