"""Task sources and the registry: mlebench data dirs, ids, suggestions, listings, Task views."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from aira_eval.datasets.mlebench_source import default_data_dir, load_mlebench
from aira_eval.datasets.prepare import read_checksums
from aira_eval.datasets.registry import list_tasks, resolve_task, suggest
from aira_eval.errors import DataError, TaskNotFoundError, UsageError
from aira_eval.search.operators.base import TaskBrief
from aira_eval.study.manifest import task_info

COMPETITIONS = {
    "spaceship-titanic": ("accuracy", False),
    "leaf-classification": ("multiclass_log_loss", True),
    "detecting-insults-in-social-commentary": ("roc_auc", False),
    "nomad2018-predict-transparent-conductors": ("mean_columnwise_rmsle", True),
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_mlebench_tasks_resolve(cid: str, mlebench_data: Path, cache: Path) -> None:
    task = resolve_task(f"mlebench:{cid}", data_dir=mlebench_data, cache_dir=cache)
    metric, lower = COMPETITIONS[cid]
    assert (task.source, task.name, task.metric, task.lower_is_better) == (
        "mlebench", cid, metric, lower)
    assert task.public_dir == mlebench_data / cid / "prepared" / "public"
    assert task.answers_path.parent == mlebench_data / cid / "prepared" / "private"
    assert task.leaderboard_path == mlebench_data / cid / "leaderboard.csv"
    assert task.heldout_names == ["test"]
    thresholds = task.thresholds()
    assert thresholds is not None and thresholds.lower_is_better == lower
    report = task.grade(task.sample_submission_path)
    assert report.valid_submission, report.reason
    assert report.gold_threshold == thresholds.gold


def test_task_info_for_a_study(mlebench_data: Path, cache: Path) -> None:
    task = resolve_task("mlebench:spaceship-titanic", data_dir=mlebench_data, cache_dir=cache)
    info = task_info(task)
    assert info.task == "mlebench:spaceship-titanic" and info.metric == "accuracy"
    assert set(info.thresholds) == {"gold", "silver", "bronze", "median"}
    board = pd.read_csv(mlebench_data / "spaceship-titanic" / "leaderboard.csv")
    assert info.leaderboard_scores == pytest.approx(board["score"].tolist())
    assert info.sample_score == pytest.approx(task.grade(task.sample_submission_path).raw_score)
    assert info.heldout_sizes == {"test": 870, "val": 7823}
    stored = read_checksums(mlebench_data / "spaceship-titanic" / "checksums.yaml")
    assert info.checksums == stored
    assert info.checksums["public/train.csv"] == "564a1614ecef9d9611cec4efdce4c412"


def test_brief_is_agent_facing(mlebench_data: Path, cache: Path) -> None:
    task = resolve_task("mlebench:spaceship-titanic", data_dir=mlebench_data, cache_dir=cache)
    brief = TaskBrief.from_task(task, 60)
    assert brief.task_id == task.task_id and brief.time_limit_s == 60.0
    assert brief.problem.id_columns == ("PassengerId",)
    assert "private" not in str(brief.public_dir) and brief.description


def test_builtin_task_info(cache: Path) -> None:
    info = task_info(resolve_task("builtin:digits", cache_dir=cache))
    assert info.thresholds == {} and info.leaderboard_scores == []
    assert set(info.heldout_sizes) == {"search", "select", "test", "val"}
    assert info.sample_score is not None and info.checksums


def _fake_data_dir(tmp_path: Path, mlebench_data: Path, drop: str | None) -> Path:
    """A data dir whose spaceship-titanic lacks one prepared file (symlinks, no copies)."""
    src = mlebench_data / "spaceship-titanic" / "prepared"
    root = tmp_path / "data" / "spaceship-titanic" / "prepared"
    for side in ("public", "private"):
        (root / side).mkdir(parents=True)
        for f in (src / side).iterdir():
            if f"{side}/{f.name}" != drop:
                os.symlink(f, root / side / f.name)
    return tmp_path / "data"


def test_missing_answers_names_file_and_prepare_hint(
    tmp_path: Path, mlebench_data: Path
) -> None:
    data = _fake_data_dir(tmp_path, mlebench_data, drop="private/test.csv")
    with pytest.raises(DataError) as err:
        load_mlebench("spaceship-titanic", data)
    assert "private/test.csv" in err.value.message
    assert "mlebench prepare -c spaceship-titanic" in (err.value.hint or "")


def test_no_leaderboard_means_no_thresholds(tmp_path: Path, mlebench_data: Path) -> None:
    data = _fake_data_dir(tmp_path, mlebench_data, drop=None)
    task = load_mlebench("spaceship-titanic", data)
    assert task.leaderboard_path is None and task.thresholds() is None
    report = task.grade(task.sample_submission_path)
    assert report.valid_submission and report.gold_threshold is None


def test_competition_absent_from_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        resolve_task("mlebench:spooky-author-identification", data_dir=tmp_path)
    assert "spooky-author-identification" in err.value.message
    assert "mlebench prepare -c spooky-author-identification" in (err.value.hint or "")


def test_unprepared_folder(tmp_path: Path) -> None:
    (tmp_path / "spaceship-titanic").mkdir()
    with pytest.raises(DataError, match="not prepared"):
        resolve_task("mlebench:spaceship-titanic", data_dir=tmp_path)


def test_unknown_folder_without_grader(tmp_path: Path) -> None:
    (tmp_path / "my-comp" / "prepared" / "public").mkdir(parents=True)
    with pytest.raises(DataError, match="no built-in grader"):
        resolve_task("mlebench:my-comp", data_dir=tmp_path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("builtin:digit", "builtin:digits"), ("digits", "builtin:digits"),
     ("mlebench:spaceship-titanc", "mlebench:spaceship-titanic"),
     ("synthetic:regresion", "synthetic:regression"), ("bultin:wine", "builtin:wine")],
)
def test_unknown_ids_suggest_close_names(given: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(TaskNotFoundError) as err:
        resolve_task(given, data_dir=tmp_path, cache_dir=tmp_path)
    assert expected in (err.value.hint or "")
    assert expected in suggest(given, tmp_path)


def test_missing_yaml_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve_task(str(tmp_path / "nope.yaml"))


def test_list_tasks_says_where_and_status(tmp_path: Path, mlebench_data: Path) -> None:
    cache = tmp_path / "cache"
    resolve_task("builtin:iris", cache_dir=cache, heldouts=False)
    rows = {r.task_id: r for r in list_tasks(mlebench_data, cache_dir=cache)}
    assert rows["builtin:iris"].status == "prepared"
    assert rows["builtin:iris"].location.startswith(str(cache))
    assert rows["builtin:wine"].status == "prepared on first use"
    assert rows["synthetic:binary"].source == "synthetic"
    spaceship = rows["mlebench:spaceship-titanic"]
    assert spaceship.status == "prepared"
    assert spaceship.location == str(mlebench_data / "spaceship-titanic")
    assert rows["mlebench:spooky-author-identification"].status == "absent"


def test_list_tasks_flags_unprepared_and_ungraded(tmp_path: Path) -> None:
    (tmp_path / "spaceship-titanic").mkdir()
    (tmp_path / "my-comp" / "prepared" / "public").mkdir(parents=True)
    (tmp_path / "my-comp" / "prepared" / "private").mkdir(parents=True)
    rows = {r.task_id: r.status for r in list_tasks(tmp_path, cache_dir=tmp_path / "c")}
    assert rows["mlebench:spaceship-titanic"] == "not prepared"
    assert rows["mlebench:my-comp"] == "no grader"


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRA_EVAL_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("AIRA_EVAL_DATA_DIR")
    assert default_data_dir() == Path("~/.cache/mle-bench/data").expanduser()
