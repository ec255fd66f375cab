"""The study manifest (``STUDY/study.json``): config, seeds, tasks, checksums, versions.

Per task the manifest keeps what selection and analysis need without re-resolving the task:
direction, medal thresholds, the leaderboard's scores (for percentile ranks), the sample
submission's test score (for normalized scores) and the held-out set sizes.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aira_eval.errors import DataError

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task

MANIFEST_VERSION = 1


def mlflow_experiment(study_id: str) -> str:
    """The MLflow experiment of a study: its searches and its selection runs live there."""
    return f"aira-eval/{study_id}"


@dataclass
class TaskInfo:
    """What a study records about one task.

    Attributes:
        task: the task id as given (``builtin:breast-cancer``).
        lower_is_better: metric direction.
        metric: metric name.
        thresholds: ``{"gold", "silver", "bronze", "median"}`` -> score, empty when the task
            has no leaderboard.
        leaderboard_scores: every team's final score, best first; empty without a leaderboard.
        sample_score: the sample submission's test score, or None if it is not gradable.
        heldout_sizes: rows per held-out set (``{"test": 870, "search": 782}``).
        checksums: file name -> md5 of the prepared files.
        reference_score: the score normalized scores are relative to, ``(score − sample) /
            (reference − sample)``, fixed once per study so that filtering or grouping never
            changes a node's normalized score: the leaderboard's best where there is one, else
            (filled in by :func:`fix_reference_scores` when a study is loaded) the best test
            score of any valid node of the task in the loaded study. None in old manifests.
    """

    task: str
    lower_is_better: bool
    metric: str
    thresholds: dict[str, float] = field(default_factory=dict)
    leaderboard_scores: list[float] = field(default_factory=list)
    sample_score: float | None = None
    heldout_sizes: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    reference_score: float | None = None


def leaderboard_best(info: TaskInfo) -> float | None:
    """The best score on the task's leaderboard, None without one."""
    if not info.leaderboard_scores:
        return None
    pick = min if info.lower_is_better else max
    return float(pick(info.leaderboard_scores))


def fix_reference_scores(tasks: dict[str, TaskInfo], nodes: pd.DataFrame
                         ) -> dict[str, TaskInfo]:
    """``tasks`` with every ``reference_score`` set (:class:`TaskInfo`): kept when recorded,
    else the leaderboard's best, else the best valid test score of the task in ``nodes`` (the
    whole loaded study; None when it has none). Returns new infos; the inputs are unchanged."""
    valid = nodes[nodes["valid"].to_numpy(dtype=bool)]
    scores = valid.groupby("task")["score_test"]
    lowest, highest = scores.min().to_dict(), scores.max().to_dict()
    out = {}
    for name, info in tasks.items():
        ref = info.reference_score
        if ref is None:
            ref = leaderboard_best(info)
        if ref is None:
            value = float((lowest if info.lower_is_better else highest).get(name, math.nan))
            ref = value if math.isfinite(value) else None
        out[name] = replace(info, reference_score=ref)
    return out


def task_info(task: Task) -> TaskInfo:
    """What a study records about ``task`` (thresholds, sample score, sizes, checksums)."""
    from aira_eval.datasets.task import threshold_dict

    board = task.leaderboard()
    info = TaskInfo(
        task=task.task_id,
        lower_is_better=task.lower_is_better,
        metric=task.metric,
        thresholds=threshold_dict(task.thresholds()),
        leaderboard_scores=[float(s) for s in board.scores] if board is not None else [],
        sample_score=task.sample_score(),
        heldout_sizes=task.heldout_sizes_with_val(),
        checksums=task.checksums(),
    )
    info.reference_score = leaderboard_best(info)
    return info


@dataclass
class StudyManifest:
    """Everything needed to reproduce and interpret a study."""

    study_id: str
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    manifest_version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)

    def write(self, study_dir: Path) -> None:
        study_dir.mkdir(parents=True, exist_ok=True)
        path = study_dir / "study.json"
        tmp = path.with_suffix(".json.tmp")
        with tmp.open("w") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)

    @classmethod
    def read(cls, study_dir: Path) -> StudyManifest:
        path = study_dir / "study.json"
        if not path.exists():
            raise DataError(f"{study_dir} is not a study directory (no study.json)")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{path} is not valid JSON: {err}") from err
        if int(raw.get("manifest_version", 1)) > MANIFEST_VERSION:
            raise DataError(
                f"{path} was written by a newer aira-eval (manifest version "
                f"{raw['manifest_version']})",
                hint="Upgrade aira-eval to read it.",
            )
        tasks = {k: TaskInfo(**v) for k, v in raw.get("tasks", {}).items()}
        return cls(
            study_id=raw["study_id"],
            seed=int(raw["seed"]),
            config=raw.get("config", {}),
            tasks=tasks,
            versions=raw.get("versions", {}),
            created_at=raw.get("created_at", ""),
            manifest_version=int(raw.get("manifest_version", 1)),
        )
