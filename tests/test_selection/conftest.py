"""Fixtures for the selection tests: hand-built node tables and synthetic study dirs."""

from __future__ import annotations

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
