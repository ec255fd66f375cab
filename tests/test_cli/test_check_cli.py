"""``aira-eval check`` through the real typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aira_eval.cli.main import app
from tests.test_checks.test_report import make_data, make_study

runner = CliRunner()


def _flat(result: Result) -> str:
    return " ".join(result.output.split())


def _statuses(report: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


@pytest.fixture()
def studies(tmp_path: Path) -> tuple[Path, Path]:
    data = make_data(tmp_path / "data", duplicate_rows=10)
    return (make_study(tmp_path / "leaky", data, leaky=True),
            make_study(tmp_path / "honest", data, leaky=False))


def test_check_writes_reports_and_strict_fails(studies: tuple[Path, Path]) -> None:
    leaky, honest = studies
    result = runner.invoke(app, ["check", str(leaky), str(honest), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "fail" and len(payload["reports"]) == 2
    first, second = payload["reports"]
    assert _statuses(first) == {"overlap": "fail", "code-leakage": "fail",
                                "test-vs-val": "fail", "similarity": "skip",
                                "familiarity": "skip"}
    assert _statuses(second)["code-leakage"] == "pass"
    assert _statuses(second)["test-vs-val"] == "pass"
    written = json.loads((leaky / "checks" / "contamination.json").read_text())
    assert _statuses(written) == _statuses(first)
    assert "| Test beats validation beyond noise | fail |" in (
        leaky / "checks" / "contamination.md").read_text()
    strict = runner.invoke(app, ["check", str(leaky), "--strict"])
    assert strict.exit_code == 1
    assert "Leakage in node code" in strict.stdout and "fail" in strict.stdout


def test_options_reach_the_checks(studies: tuple[Path, Path], tmp_path: Path) -> None:
    _, honest = studies
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "unrelated.py").write_text("print('hello')\n" * 50)
    result = runner.invoke(app, [
        "check", str(honest), "--json", "--z-threshold", "0.5", "--near-digits", "2",
        "--references", str(refs), "--model", "gpt-4o-mini",
        "--mock-response", "something else entirely"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reports"][0]
    assert report["params"]["z_threshold"] == 0.5 and report["params"]["near_digits"] == 2
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["test-vs-val"]["details"]["threshold"] == 0.5
    assert checks["similarity"]["status"] == "pass"
    assert checks["familiarity"]["status"] == "pass"
    assert checks["familiarity"]["details"]["model"] == "gpt-4o-mini"
    # at 2 significant digits random normals collide: near duplicates appear
    assert checks["overlap"]["details"]["tasks"]["mlebench:toy-comp"]["near"] > 0


def test_bad_input_exits_2(studies: tuple[Path, Path], tmp_path: Path) -> None:
    _, honest = studies
    cases = [
        (["check", str(tmp_path / "missing")], "does not exist"),
        (["check", str(tmp_path)], "not a study directory"),
        (["check", str(honest), "--near-digits", "0"], "--near-digits"),
        (["check", str(honest), "--z-threshold", "-1"], "--z-threshold"),
        (["check", str(honest), "--references", str(tmp_path / "nope")], "does not exist"),
        (["check", str(honest), "--data-dir", str(tmp_path / "nope")], "does not exist"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in _flat(result), (args, result.output)


def test_check_imported_dojo_study(shared_data: Path, tmp_path: Path) -> None:
    runs = shared_data / "agent-logs" / "aira-dojo"
    if not runs.is_dir():
        pytest.skip(f"no aira-dojo logs at {runs}")
    run_dir = next(p for p in sorted(runs.iterdir()) if p.is_dir())
    study = tmp_path / "study"
    assert runner.invoke(app, ["import", "dojo", str(run_dir), "--out", str(study)]).exit_code \
        == 0
    (study / "nodes.parquet").unlink()  # the checks fall back to the journals
    result = runner.invoke(app, ["check", str(study), "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["reports"][0]
    statuses = _statuses(report)
    assert statuses["overlap"] == "skip"  # random-acts-of-pizza is not in the data dir
    assert statuses["test-vs-val"] == "skip"  # every node failed
    leakage = next(c for c in report["checks"] if c["name"] == "code-leakage")
    assert leakage["details"]["n_nodes"] == 9
    assert leakage["status"] in ("pass", "warn")  # no fail-level finding in these scripts


def test_real_competition_overlap(mlebench_data: Path, tmp_path: Path) -> None:
    from aira_eval.study.manifest import StudyManifest
    from aira_eval.study.table import records_to_frame, write_nodes

    task = "mlebench:detecting-insults-in-social-commentary"
    study = tmp_path / "study"
    study.mkdir()
    write_nodes(records_to_frame([]), study / "nodes.parquet")
    StudyManifest(study_id="s", seed=0, tasks={}).write(study)
    manifest = json.loads((study / "study.json").read_text())
    manifest["tasks"] = {task: {"task": task, "lower_is_better": False, "metric": "auc"}}
    (study / "study.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["check", str(study), "--json", "--data-dir",
                                 str(mlebench_data)])
    assert result.exit_code == 0, result.output
    overlap = json.loads(result.stdout)["reports"][0]["checks"][0]
    found = overlap["details"]["tasks"][task]
    assert overlap["status"] == "warn"
    assert (found["exact"], found["near"], found["n_test"]) == (0, 23, 2647)
    assert found["label_agreement"] == 1.0


def test_check_warns_about_a_torn_last_journal_line(tmp_path: Path) -> None:
    from tests.test_search.fake_study import write_fake_study

    out = tmp_path / "study"
    write_fake_study(out, policies=("greedy",))
    journal = out / "searches" / "builtin-wine__greedy__s0" / "journal.jsonl"
    with journal.open("a", encoding="utf-8") as fh:
        fh.write('{"node_id": "cut sh')
    result = runner.invoke(app, ["check", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "torn last line" in result.stderr


@pytest.mark.parametrize("command", ["check", "select", "report"])
def test_an_unreadable_node_table_is_a_usage_error_everywhere(tmp_path: Path,
                                                              command: str) -> None:
    """A corrupt nodes.parquet exits 2 with the rebuild hint in check, as in select and
    report (it is bad input, not a failed check)."""
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

    study = generate_study(SyntheticSpec(n_tasks=1, n_seeds=2, n_nodes=3), seed=0).write(
        tmp_path / "study")
    (study / "nodes.parquet").write_text("garbage")
    args = [command, str(study)] + (["--out", str(tmp_path / "rep")] if command == "report"
                                    else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "not a readable Parquet file" in _flat(result)
    assert "delete nodes.parquet" in _flat(result)
