"""MLE-bench's splits (shipped as data), their expansion, and obfuscated descriptions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from aira_eval.datasets.mlebench_source import expand_tasks
from aira_eval.datasets.mlebench_splits import split_ids
from aira_eval.datasets.registry import resolve_task
from aira_eval.errors import DataError, UsageError
from aira_eval.search.operators.base import TaskBrief

SHARED_LITE = ["detecting-insults-in-social-commentary", "leaf-classification",
               "nomad2018-predict-transparent-conductors"]


def test_split_lists_are_mle_benchs() -> None:
    low, medium, high, every = (split_ids(n) for n in ("low", "medium", "high", "all"))
    assert (len(low), len(medium), len(high), len(every)) == (22, 38, 15, 75)
    assert split_ids("lite") == low and split_ids("LITE") == low
    assert sorted(low + medium + high) == sorted(every)  # the three levels partition the 75
    assert "spaceship-titanic" not in every and "leaf-classification" in low
    assert "AI4Code" in medium and "vesuvius-challenge-ink-detection" in high


def test_split_expands_to_prepared_competitions(mlebench_data: Path) -> None:
    out = expand_tasks(["builtin:iris", "mlebench:split=lite"], mlebench_data)
    assert out.tasks == ["builtin:iris", *(f"mlebench:{c}" for c in SHARED_LITE)]
    assert len(out.skipped) == 22 - 3
    assert all(line.startswith("skipped mlebench:") and "absent" in line
               for line in out.skipped)


def test_split_from_a_file_of_ids(mlebench_data: Path, tmp_path: Path) -> None:
    ids = tmp_path / "mine.txt"
    ids.write_text("# my split\nspaceship-titanic\n\nleaf-classification  # tabular\nnope\n")
    out = expand_tasks([f"mlebench:split={ids}"], mlebench_data)
    assert out.tasks == ["mlebench:spaceship-titanic", "mlebench:leaf-classification"]
    assert out.skipped == [f"skipped mlebench:nope (split {ids}): absent under {mlebench_data}"]


def test_bad_splits_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown MLE-bench split"):
        expand_tasks(["mlebench:split=huge"], tmp_path)
    with pytest.raises(UsageError, match="no competition of MLE-bench split"):
        expand_tasks(["mlebench:split=high"], tmp_path)
    with pytest.raises(UsageError, match="names a split"):
        resolve_task("mlebench:split=lite", data_dir=tmp_path)


def test_obfuscated_description_reaches_input_and_brief(mlebench_data: Path,
                                                        tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(mlebench_data / "spaceship-titanic", data / "spaceship-titanic")
    (data / "spaceship-titanic" / "description_obfuscated.md").write_text("# Task\n\nHidden.\n")
    task = resolve_task("mlebench:spaceship-titanic", data_dir=data, description="obfuscated",
                        cache_dir=tmp_path / "cache")
    assert task.description() == "# Task\n\nHidden.\n" == TaskBrief.from_task(task, 60).description
    assert (task.public_dir / "description.md").read_text() == "# Task\n\nHidden.\n"
    original = data / "spaceship-titanic" / "prepared" / "public"
    assert sorted(p.name for p in task.public_dir.iterdir()) == \
        sorted(p.name for p in original.iterdir())
    assert "Hidden" not in (original / "description.md").read_text()  # source untouched
    assert not (task.public_dir.parent / "private").exists()  # no answers next to ./input
    plain = resolve_task("mlebench:spaceship-titanic", data_dir=data)
    assert plain.description() == (original / "description.md").read_text()


def test_obfuscated_description_needs_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no obfuscated description"):
        resolve_task("builtin:iris", description="obfuscated", cache_dir=tmp_path)
    with pytest.raises(UsageError, match="unknown description"):
        resolve_task("builtin:iris", description="scrambled", cache_dir=tmp_path)


def test_description_is_recorded_in_manifest_and_node_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aira_eval.search.config import StudyConfig
    from aira_eval.search.study_runner import run_study
    from aira_eval.study.manifest import StudyManifest

    monkeypatch.setenv("AIRA_EVAL_CACHE_DIR", str(tmp_path / "cache"))
    root = resolve_task("builtin:iris", heldouts=False).location
    assert root is not None
    (root / "description_obfuscated.md").write_text("# Task\n\nHidden.\n")
    config = StudyConfig(tasks=["builtin:iris"], steps=1, mlflow=False, heldouts=False,
                         description="obfuscated", node_timeout_s=120)
    run_study(config, tmp_path / "study")
    assert StudyManifest.read(tmp_path / "study").config["description"] == "obfuscated"
    nodes = pd.read_parquet(tmp_path / "study" / "nodes.parquet")
    assert list(nodes["description"]) == ["obfuscated"]
    code = next((tmp_path / "study" / "searches").glob("*/nodes/*/code.py"))
    assert code.is_file()
    with pytest.raises(UsageError, match="description"):
        StudyConfig(description="scrambled").validate()
