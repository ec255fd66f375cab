"""The select table: the normalized score's texts name the fixed per-task reference the code
divides by; the strategy table stays readable at 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes, write_study


def test_caption_and_description_name_the_leaderboard_reference(tmp_path: Path) -> None:
    frames = [make_nodes([{"val": 0.9, "test": 0.7}, {"val": 0.8, "test": 0.8}],
                         search_id=f"t__greedy__s{s}", task="t", seed=s) for s in range(3)]
    info = TaskInfo(task="t", metric="acc", lower_is_better=False, sample_score=0.5,
                    leaderboard_scores=[0.9, 0.7, 0.6], reference_score=0.9)
    study = write_study(tmp_path / "s", pd.concat(frames, ignore_index=True), {"t": info})
    out = CliRunner().invoke(app, ["select", str(study), "--no-mlflow", "--resamples", "100",
                                   "-s", "best-val", "--out", str(tmp_path / "sel"),
                                   "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    # (0.7 − 0.5) / (0.9 − 0.5): the leaderboard's best, not the study's best test score (0.8)
    assert summary["strategies"]["best-val"]["metrics"]["normalized_score"]["estimate"] == \
        pytest.approx(0.5)
    text = summary["metrics"]["normalized_score"]["description"]
    assert "reference" in text and "leaderboard's best" in text and "study best" not in text
    table = CliRunner().invoke(app, ["select", str(study), "--no-mlflow", "--resamples", "100",
                                     "-s", "best-val", "--out", str(tmp_path / "sel2")])
    caption = " ".join(table.output.split())
    assert "the study's best test score on the task" not in caption
    assert "(the task's reference − the sample's)" in caption
    assert "else the leaderboard's best" in caption


def test_strategy_table_fits_80_columns_without_cut_cells(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = []
    for s in range(3):
        specs = [{"val": float(v), "test": float(t), "search": float(v), "select": float(v)}
                 for v, t in zip(rng.uniform(0.7, 0.9, 6), rng.uniform(0.7, 0.9, 6),
                                 strict=True)]
        frames.append(make_nodes(specs, search_id=f"t__greedy__s{s}", task="t", seed=s))
    info = TaskInfo(task="t", metric="acc", lower_is_better=False, sample_score=0.5,
                    leaderboard_scores=[0.9, 0.85, 0.8, 0.75, 0.7], reference_score=0.9,
                    thresholds={"gold": 0.88, "silver": 0.85, "bronze": 0.82, "median": 0.78})
    study = write_study(tmp_path / "s", pd.concat(frames, ignore_index=True), {"t": info})
    out = CliRunner().invoke(app, ["select", str(study), "--no-mlflow", "--resamples", "200",
                                   "--out", str(tmp_path / "sel")], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    table = out.output.split("95% skew-corrected t")[0]
    rows = [line for line in table.splitlines() if line.startswith(" oracle")]
    assert rows and all(len(line.rstrip()) <= 80 for line in table.splitlines())
    assert not re.search(r"\d…(\s|$)", table), table  # no cell cut short ("0.9…")
    assert re.search(r"\d\.\d\d\s*$", rows[0]), rows[0]  # fav. readable: 0.97
