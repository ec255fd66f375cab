"""Pooling studies never changes one study's own picks or references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import aira_eval as ae
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.table import records_to_frame, write_nodes


def _study(directory: Path, study_id: str, codes: list[str]) -> Path:
    """Two searches with the same ids in every study; node ``i`` has code ``codes[i]``,
    validation 0.9, 0.8, ... and test scores rising so that a skipped duplicate shows."""
    vals, tests = [0.9, 0.8, 0.7, 0.6], [0.5, 0.6, 0.7, 0.95]
    records = []
    for seed in range(2):
        sid = f"t__greedy__s{seed}"
        for i, (code, val, test) in enumerate(zip(codes, vals, tests, strict=True)):
            node_id = f"{sid}-n{i}"
            rel = f"searches/{sid}/nodes/{node_id}/code.py"
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_text(code)
            records.append({
                "study_id": study_id, "search_id": sid, "task": "t", "policy": "greedy",
                "seed": seed, "node_id": node_id, "step": i, "operator": "draft",
                "status": "ok", "valid": True, "lower_is_better": False, "score_val": val,
                "score_test": test, "score_search": float("nan"),
                "score_select": float("nan"), "val_folds": [], "n_test": 100,
                "code_path": rel})
    write_nodes(records_to_frame(records), directory / "nodes.parquet")
    StudyManifest(study_id=study_id, seed=0, tasks={"t": TaskInfo(
        task="t", lower_is_better=False, metric="acc")}).write(directory)
    return directory


def _topk(paths: list[Path]) -> pd.DataFrame:
    res = ae.select(paths, strategies=["topk"], k=3, resamples=100, pool=True)
    return res.picks[res.picks["strategy"] == "topk"].set_index("search_id")


def test_topk_duplicates_are_detected_within_each_pooled_study(tmp_path: Path) -> None:
    a = _study(tmp_path / "A", "A", ["a0", "a1", "a2", "a3"])
    b = _study(tmp_path / "B", "B", ["same", "same", "b2", "b3"])
    alone_a, alone_b = _topk([a]), _topk([b])
    pooled = _topk([a, b])
    for sid in alone_a.index:
        for prefix, alone in (("A/", alone_a), ("B/", alone_b)):
            got, want = pooled.loc[prefix + sid], alone.loc[sid]
            assert got["picked_nodes"] == want["picked_nodes"]
            assert got["duplicates_skipped"] == want["duplicates_skipped"]
            assert got["test_score"] == want["test_score"]
    assert (alone_a["duplicates_skipped"] == 0).all()
    assert (alone_b["duplicates_skipped"] == 1).all()



def test_topk_duplicates_per_study_even_when_two_studies_share_an_id(tmp_path: Path) -> None:
    """Output folders of the same name (``greedy/out``, ``mcts/out``) share a study id."""
    a = _study(tmp_path / "greedy" / "out", "out", ["a0", "a1", "a2", "a3"])
    b = _study(tmp_path / "mcts" / "out", "out", ["same", "same", "b2", "b3"])
    alone_a, alone_b = _topk([a]), _topk([b])
    pooled = _topk([a, b])
    for i, alone in enumerate((alone_a, alone_b)):
        for sid in alone.index:
            got, want = pooled.loc[f"out#{i}/{sid}"], alone.loc[sid]
            assert got["picked_nodes"] == want["picked_nodes"], (i, sid)
            assert got["duplicates_skipped"] == want["duplicates_skipped"], (i, sid)

def test_pooled_studies_share_the_first_recorded_reference(tmp_path: Path) -> None:
    a = _study(tmp_path / "A", "A", ["a0", "a1", "a2", "a3"])
    b = _study(tmp_path / "B", "B", ["b0", "b1", "b2", "b3"])
    for directory, reference in ((a, None), (b, 1.5)):
        manifest = StudyManifest.read(directory)
        info = dataclasses.replace(manifest.tasks["t"], sample_score=0.4,
                                   reference_score=reference)
        dataclasses.replace(manifest, tasks={"t": info}).write(directory)
    assert ae.load_study([a, b]).tasks["t"].reference_score == 1.5
    assert ae.load_study([b, a]).tasks["t"].reference_score == 1.5
    norm = [ae.select(paths, strategies=["best-val"], resamples=100, pool=True)
            .table.set_index(["strategy", "metric"]).loc[("best-val", "normalized_score"),
                                                         "estimate"]
            for paths in ([a, b], [b, a])]
    assert norm[0] == pytest.approx(norm[1]) == pytest.approx((0.5 - 0.4) / (1.5 - 0.4))
