"""``aira-eval report`` through the CLI: outputs, options, usage errors, MLflow artifact."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

runner = CliRunner()
CHEAP = ["--resamples", "100", "--trees", "1", "--no-mlflow"]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = generate_study(SyntheticSpec(n_tasks=2, n_seeds=3, n_nodes=8, study_id="cli"))
    return synth.write(tmp_path_factory.mktemp("cli") / "study")


def test_report_writes_the_formats_asked(study_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(study_dir), "--out", str(out), "--format", "md",
                                 "--by", "policy", *CHEAP])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists()
    assert not (out / "report.html").exists() and not (out / "report.tex").exists()
    assert "Main results: 2 table(s)" in result.output or "Main results: 1 table(s)" in \
        result.output
    md = (out / "report.md").read_text()
    assert "grouped by policy" in md and "aira-eval report" in md


@pytest.mark.parametrize("args,message", [
    (["--format", "docx"], "unknown report format"),
    (["--trees", "many"], "--trees must be 'all' or a number"),
    (["--by", "colour"], "unknown by (--by) 'colour'"),
])
def test_usage_errors_exit_2(study_dir: Path, tmp_path: Path, args: list[str],
                             message: str) -> None:
    result = runner.invoke(app, ["report", str(study_dir), "--out", str(tmp_path / "r"),
                                 *CHEAP, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_missing_study_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.slow
def test_report_is_an_artifact_of_the_selection_run(study_dir: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sel = runner.invoke(app, ["select", str(study_dir), "--resamples", "100",
                              "--mlflow-uri", uri])
    assert sel.exit_code == 0, sel.output
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(study_dir), "--out", str(out), "--format", "md",
                                 "--resamples", "100", "--trees", "0", "--mlflow-uri", uri])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("aira-eval/cli")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["aira_eval.kind"] == "selection"
    names = {a.path for a in client.list_artifacts(runs[0].info.run_id, "report")}
    assert "report/report.md" in names


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_second_report_replaces_the_first_and_nothing_else(study_dir: Path,
                                                             tmp_path: Path) -> None:
    other = generate_study(SyntheticSpec(n_tasks=1, n_seeds=3, n_nodes=6, study_id="other"))
    other_dir = other.write(tmp_path / "other")
    out = tmp_path / "rep"
    first = runner.invoke(app, ["report", str(study_dir), "--out", str(out), *CHEAP])
    assert first.exit_code == 0, first.output
    (out / "notes.txt").write_text("mine")  # the user's own file
    (out / "data" / "stale.csv").write_text("x")  # a file only the first report had
    fresh = tmp_path / "fresh"
    assert runner.invoke(app, ["report", str(other_dir), "--out", str(fresh),
                               *CHEAP]).exit_code == 0
    second = runner.invoke(app, ["report", str(other_dir), "--out", str(out), *CHEAP])
    assert second.exit_code == 0, second.output
    assert "replaced the previous report" in second.output
    assert _files(out) == _files(fresh) | {"notes.txt"}  # the first study's files are gone
    assert (out / "notes.txt").read_text() == "mine"
    assert not list((out / "reproduce").glob("cli*"))


@pytest.mark.parametrize("content", ["a folder", "a file"])
def test_out_that_is_not_a_report_folder_is_refused(study_dir: Path, tmp_path: Path,
                                                    content: str) -> None:
    out = tmp_path / "taken"
    if content == "a file":
        out.write_text("precious")
    else:
        out.mkdir()
        (out / "paper.tex").write_text("precious")
    result = runner.invoke(app, ["report", str(study_dir), "--out", str(out), *CHEAP])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "hint:" in result.output
    assert "is a file" in result.output if content == "a file" else "not empty" in result.output
    kept = out if content == "a file" else out / "paper.tex"
    assert kept.read_text() == "precious"


@pytest.mark.parametrize("flag", ["--strategy", "--reference"])
def test_unknown_strategy_is_a_usage_error_before_anything_is_written(
        study_dir: Path, tmp_path: Path, flag: str) -> None:
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(study_dir), "--out", str(out), *CHEAP,
                                 flag, "bogus"])
    assert result.exit_code == 2, result.output
    assert "unknown strategy 'bogus'" in result.output
    assert "Known strategies:" in result.output and "best-val" in result.output
    assert not out.exists()
