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
    (["--by", "colour"], "unknown --by 'colour'"),
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
