"""`aira-eval search` through typer's test runner: a tiny study and every usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.study.table import read_nodes

runner = CliRunner()

BASE = ["search", "--task", "builtin:iris", "--policy", "random", "--seeds", "0",
        "--steps", "2", "--no-mlflow"]


def test_tiny_study_then_resume_with_more_steps(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = runner.invoke(app, [*BASE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 nodes" in result.output
    assert len(read_nodes(out / "nodes.parquet")) == 2
    again = runner.invoke(app, [*BASE, "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    more = runner.invoke(app, ["search", "--out", str(out), "--resume", "--steps", "3"])
    assert more.exit_code == 0, more.output
    assert len(read_nodes(out / "nodes.parquet")) == 3
    changed = runner.invoke(app, ["search", "--out", str(out), "--resume", "--seeds", "1"])
    assert changed.exit_code == 2 and "seeds" in changed.output


def test_yaml_config(tmp_path: Path) -> None:
    cfg = tmp_path / "study.yaml"
    cfg.write_text("tasks: [builtin:iris]\npolicies: [random]\nseeds: 0\nsteps: 1\n"
                   "mlflow: false\n")
    result = runner.invoke(app, ["search", "--config", str(cfg), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert len(read_nodes(tmp_path / "s" / "nodes.parquet")) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--policy", "greedyy"], "greedy"),
        (["--task", "builtin:iriss"], "builtin:iris"),
        (["--seeds", "4-1"], "backwards"),
        (["--fitness", "oracle"], "fitness"),
        (["--steps", "0"], "steps"),
        (["--sandbox", "vm"], "sandbox"),
    ],
)
def test_usage_errors_exit_2_with_a_hint(tmp_path: Path, args: list[str], needle: str) -> None:
    base = dict(zip(BASE[1::2], BASE[2::2], strict=False))
    merged = [a for k, v in base.items() if k not in args for a in (k, v)]
    result = runner.invoke(app, ["search", *merged, *args, "--no-mlflow",
                                 "--out", str(tmp_path / "s")])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_resume_without_study(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "--out", str(tmp_path / "none"), "--resume"])
    assert result.exit_code == 2 and "nothing to resume" in result.output


def test_resume_in_an_empty_dir_is_refused(tmp_path: Path) -> None:
    """An existing empty --out (a typo, a deleted study) is no study: no default study starts."""
    out = tmp_path / "empty"
    out.mkdir()
    result = runner.invoke(app, ["search", "--out", str(out), "--resume", "--no-mlflow"])
    assert result.exit_code == 2, result.output
    assert "nothing to resume" in result.output and "holds no study.json" in result.output
    assert "hint:" in result.output
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bug-rate", "2"], "bug_rate must lie in [0, 1]"),
        (["--memory-mb", "0"], "memory_mb (--memory-mb) must be at least 64"),
    ],
)
@pytest.mark.parametrize("pre_made", [False, True])
def test_a_rejected_config_writes_nothing(tmp_path: Path, args: list[str], needle: str,
                                          pre_made: bool) -> None:
    """Operator params and limits are checked before study.json, nodes.parquet or the lock
    exist, so the same --out takes a corrected command."""
    out = tmp_path / "s"
    if pre_made:
        out.mkdir()
    result = runner.invoke(app, [*BASE, *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not out.exists() or list(out.iterdir()) == []


def test_wrongly_typed_yaml_value_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("tasks: [builtin:iris]\nsteps: two\n")
    result = runner.invoke(app, ["search", "--config", str(cfg), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2, result.output
    assert "steps (--steps) must be an integer, got 'two'" in result.output
    assert "internal error" not in result.output and not (tmp_path / "s").exists()


def test_out_naming_a_file_is_a_usage_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x\n")
    result = runner.invoke(app, [*BASE, "--out", str(afile)])
    assert result.exit_code == 2, result.output
    assert "is a file; give a directory" in result.output and "internal error" not in result.output
    assert afile.read_text() == "x\n"


def test_bad_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("steps: [\n")
    result = runner.invoke(app, ["search", "--config", str(cfg), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "YAML" in result.output


def test_unexpected_error_is_reported_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aira_eval.search.study_runner as study_runner

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(study_runner, "run_study", boom)
    result = runner.invoke(app, [*BASE, "--out", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: simulated bug" in result.output
    assert "Traceback" not in result.output
