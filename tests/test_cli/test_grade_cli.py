"""``aira-eval grade`` through typer's test runner: reports, invalid submissions, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aira_eval import __version__
from aira_eval.cli.main import app

runner = CliRunner()


def flat(text: str) -> str:
    """Output with rich's line wrapping and panel borders undone."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("AIRA_EVAL_CACHE_DIR", str(cache))


def test_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("grade", "datasets"):
        assert command in result.stdout
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout
    result = runner.invoke(app, ["grade", "--help"])
    assert result.exit_code == 0 and "--task" in result.stdout


def test_mlebench_report_json(mlebench_data: Path) -> None:
    sample = mlebench_data / "spaceship-titanic" / "prepared" / "public" / "sample_submission.csv"
    result = runner.invoke(app, ["grade", str(sample), "--task", "mlebench:spaceship-titanic",
                                 "--data-dir", str(mlebench_data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid_submission"] is True and report["reason"] is None
    assert report["score"] == pytest.approx(0.50345)
    assert report["is_lower_better"] is False
    for key in ("gold_threshold", "silver_threshold", "bronze_threshold", "median_threshold"):
        assert isinstance(report[key], float)
    for key in ("gold_medal", "silver_medal", "bronze_medal", "any_medal", "above_median"):
        assert report[key] is False
    assert "heldouts" not in report


def test_mlebench_report_panel(mlebench_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answers themselves, graded as a submission, win gold (data dir from the env)."""
    monkeypatch.setenv("AIRA_EVAL_DATA_DIR", str(mlebench_data))
    answers = mlebench_data / "leaf-classification" / "prepared" / "private" / "test.csv"
    result = runner.invoke(app, ["grade", str(answers), "--task", "mlebench:leaf-classification"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "valid submission yes" in out and "gold: yes" in out
    assert "lower is better" in out


def test_invalid_submission_is_a_result(tmp_path: Path, mlebench_data: Path) -> None:
    sample = pd.read_csv(mlebench_data / "spaceship-titanic" / "prepared" / "public"
                         / "sample_submission.csv")
    path = tmp_path / "sub.csv"
    sample.drop(columns=["Transported"]).to_csv(path, index=False)
    result = runner.invoke(app, ["grade", str(path), "--task", "mlebench:spaceship-titanic",
                                 "--data-dir", str(mlebench_data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid_submission"] is False and report["score"] is None
    assert "Transported" in report["reason"]
    result = runner.invoke(app, ["grade", str(path), "--task", "mlebench:spaceship-titanic",
                                 "--data-dir", str(mlebench_data)])
    assert result.exit_code == 0 and "valid submission no" in flat(result.stdout)


def test_builtin_with_heldouts(tmp_path: Path) -> None:
    from aira_eval.datasets.registry import resolve_task

    task = resolve_task("builtin:wine")
    result = runner.invoke(app, ["grade", str(task.sample_submission_path), "--task",
                                 "builtin:wine", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid_submission"] and set(report["heldouts"]) == {"search", "select"}
    assert report["gold_threshold"] is None
    plain = resolve_task("builtin:wine", heldouts=False)
    result = runner.invoke(app, ["grade", str(plain.sample_submission_path), "--task",
                                 "builtin:wine"])
    assert result.exit_code == 0
    out = flat(result.stdout)
    assert "valid submission no" in out and "missing id(s)" in out and "--no-heldouts" in out
    result = runner.invoke(app, ["grade", str(plain.sample_submission_path), "--task",
                                 "builtin:wine", "--no-heldouts", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["valid_submission"] is True


def test_unknown_task_suggests(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,target\n1,0.5\n")
    result = runner.invoke(app, ["grade", str(path), "--task", "builtin:wne"])
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "unknown task" in err and "builtin:wine" in err
    assert "Traceback" not in result.output


def test_missing_file_and_bad_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grade", str(tmp_path / "nope.csv"), "--task", "builtin:wine"])
    assert result.exit_code == 2 and "does not exist" in flat(result.stderr)
    result = runner.invoke(app, ["grade", str(tmp_path / "nope.csv"), "--bogus"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["grade", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "--task" in result.output


def test_unreadable_submission_is_invalid_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\x00\xff\xfe garbage \x00")
    result = runner.invoke(app, ["grade", str(path), "--task", "builtin:digits", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid_submission"] is False
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["grade", str(empty), "--task", "builtin:digits", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["reason"]


def test_data_dir_without_competition(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("PassengerId,Transported\n1,True\n")
    result = runner.invoke(app, ["grade", str(path), "--task", "mlebench:spaceship-titanic",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "mlebench prepare -c spaceship-titanic" in flat(
        result.stderr)
    assert "Traceback" not in result.output


def test_wrong_task_gets_no_heldouts_hint_and_builtins_show_no_medal_rows() -> None:
    from aira_eval.datasets.registry import resolve_task

    wine = resolve_task("builtin:wine")
    result = runner.invoke(app, ["grade", str(wine.sample_submission_path), "--task",
                                 "builtin:breast-cancer"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "valid submission no" in out
    assert "--no-heldouts" not in out  # the submission is for another task: no bogus hint
    assert "threshold" not in out and "medals" not in out  # no leaderboard, no medal rows


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: __import__("os").mkfifo(p), "is a FIFO (named pipe)"),
    (None, "is a character device"),
])
def test_special_files_are_named_for_what_they_are(tmp_path: Path, make: object,
                                                   kind: str) -> None:
    path = Path("/dev/zero") if make is None else tmp_path / "s.csv"
    if make is not None:
        make(path)  # type: ignore[operator]
    result = runner.invoke(app, ["grade", str(path), "--task", "builtin:wine"])
    err = flat(result.stderr)
    assert result.exit_code == 2 and kind in err and "does not exist" not in err
