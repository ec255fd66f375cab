"""Fixtures for the selection tests: hand-built node tables and synthetic study dirs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aira_eval.selection.synthetic_study import SyntheticSpec, SyntheticStudy, generate_study
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.table import records_to_frame, write_nodes

NodeSpec = Mapping[str, Any]


def make_nodes(nodes: list[NodeSpec], *, search_id: str = "s1", task: str = "t1",
               lower_is_better: bool = False, seed: int = 0) -> pd.DataFrame:
    """A node frame for one search from short specs.

    Each spec gives ``val`` and ``test`` (and optionally ``valid``, ``folds``, ``search``,
    ``select``, ``id``, ``step``); nodes get ids ``n0, n1, ...`` and steps in list order.
    """
    records = []
    for i, spec in enumerate(nodes):
        valid = bool(spec.get("valid", True))
        records.append({
            "search_id": search_id, "task": task, "policy": "greedy", "seed": seed,
            "node_id": str(spec.get("id", f"n{i}")), "step": int(spec.get("step", i)),
            "operator": "draft", "status": "ok" if valid else "buggy", "valid": valid,
            "lower_is_better": lower_is_better,
            "score_val": float(spec.get("val", float("nan"))),
            "score_test": float(spec.get("test", float("nan"))) if valid else float("nan"),
            "score_search": float(spec.get("search", float("nan"))),
            "score_select": float(spec.get("select", float("nan"))),
            "val_folds": list(spec.get("folds", [])),
            "n_test": 100 if valid else 0,
        })
    return records_to_frame(records)


def write_study(directory: Path, frame: pd.DataFrame, tasks: Mapping[str, TaskInfo],
                study_id: str = "study") -> Path:
    """Write ``frame`` and a manifest with ``tasks`` as a study dir."""
    write_nodes(frame, directory / "nodes.parquet")
    StudyManifest(study_id=study_id, seed=0, tasks=dict(tasks)).write(directory)
    return directory


@pytest.fixture
def nodes() -> Callable[..., pd.DataFrame]:
    """``make_nodes`` as a fixture."""
    return make_nodes


@pytest.fixture
def build_study(tmp_path: Path) -> Callable[..., tuple[Path, SyntheticStudy]]:
    """Write a synthetic study dir: ``build_study(name="s", seed=0, **spec_fields)``."""

    def build(name: str = "study", seed: int = 0, **fields: Any) -> tuple[Path, SyntheticStudy]:
        spec = SyntheticSpec(**{"n_tasks": 3, "n_seeds": 4, "n_nodes": 12, "study_id": name,
                                **fields})
        study = generate_study(spec, seed=seed)
        return study.write(tmp_path / name), study

    return build


def agent_study(directory: Path, *, effect: float = 0.0, policies: tuple[str, str] =
                ("greedy", "mcts"), n_tasks: int = 2, n_seeds: int = 5, n_nodes: int = 15,
                seed: int = 0, drop_task: str | None = None) -> Path:
    """A study dir of ``n_tasks`` tasks × 2 policies × ``n_seeds`` seeds, written as a search
    would write it (``nodes.parquet``, ``study.json``, ``searches/<id>/search.json``).

    Both policies' searches come from the same synthetic model on the same tasks (independent
    draws); the first policy's nodes are better by ``effect`` on every score (validation,
    folds, holdouts, test): one policy is better by construction, or (``effect=0``) the two
    are identical in distribution. ``drop_task`` removes that task's searches of the second
    policy.
    """
    import numpy as np

    frames = []
    tasks: dict[str, TaskInfo] = {}
    for i, policy in enumerate(policies):
        spec = SyntheticSpec(n_tasks=n_tasks, n_seeds=n_seeds, n_nodes=n_nodes,
                             lower_is_better_every=0, study_id=f"{policy}", policy=policy,
                             task_seed=1234)
        synth = generate_study(spec, seed=seed * 10 + i)
        frame = synth.frame
        if i == 0:
            for col in ("score_val", "score_search", "score_select", "score_test"):
                frame[col] = frame[col] + effect
            frame["val_folds"] = [np.asarray(f) + effect for f in frame["val_folds"]]
        elif drop_task is not None:
            frame = frame[frame["task"] != drop_task].reset_index(drop=True)
        frames.append(frame)
        tasks = synth.tasks
    nodes = pd.concat(frames, ignore_index=True)
    nodes["study_id"] = "agents"
    write_study(directory, nodes, tasks, study_id="agents")
    for search_id, policy in nodes.groupby("search_id")["policy"].first().items():
        params = {"policy": policy, "steps": n_nodes, **({"policy.uct_c": 1.0}
                                                         if policy == "mcts" else {})}
        meta = directory / "searches" / str(search_id) / "search.json"
        meta.parent.mkdir(parents=True)
        meta.write_text(json.dumps({"search_id": search_id, "params": params}))
    return directory
