"""``aira-eval import … --regrade`` runs peers' code as they wrote it (issue 16).

Format fixtures written here, one per convention, on the shared spaceship-titanic
competition: an AIDE journal whose scripts write ``./working/submission.csv``, an MLE-bench AIDE
run (``config.yaml`` ``data_dir: /home/data``) whose scripts read ``/home/data``, and an
aira-dojo run whose scripts read ``./data`` and write ``./submission.csv``. The scripts are
tiny (a majority-class prediction), so each node runs in about a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aira_eval.cli.main import app
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest
from aira_eval.study.table import read_nodes

runner = CliRunner()
TASK = "mlebench:spaceship-titanic"
MAJORITY_ACC = 0.5044  # share of the majority class (True) in the prepared train.csv


def _script(read: str, write: str, printed: bool = True) -> str:
    lines = [
        "import pandas as pd",
        f"train = pd.read_csv('{read}/train.csv')",
        f"test = pd.read_csv('{read}/test.csv')",
        "majority = train['Transported'].mode()[0]",
        "acc = (train['Transported'] == majority).mean()",
        "print(f'Validation accuracy: {acc:.4f}')" if printed else "pass",
        "pd.DataFrame({'PassengerId': test['PassengerId'], 'Transported': majority})"
        f".to_csv('{write}', index=False)",
    ]
    return "\n".join(lines) + "\n"


def _aide_node(node_id: str, step: int, code: str, val: float | None,
               term_out: str = "") -> dict[str, Any]:
    return {"id": node_id, "step": step, "code": code, "plan": "majority class",
            "parent": None, "children": [], "_term_out": [term_out], "exec_time": 1.0,
            "is_buggy": val is None, "metric": {"value": val, "maximize": True},
            "analysis": ""}


def _aide_run(run_dir: Path, nodes: list[dict[str, Any]], config: str | None = None) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "journal.json").write_text(json.dumps({"nodes": nodes, "node2parent": {},
                                                      "__version": "2"}))
    if config is not None:
        (run_dir / "config.yaml").write_text(config)
    return run_dir / "journal.json"


def _aide_runs(root: Path) -> Path:
    """A folder of two runs: AIDE's own convention, and MLE-bench's AIDE."""
    _aide_run(root / "aide-own", [
        _aide_node("own-ok", 0, _script("./input", "./working/submission.csv"), MAJORITY_ACC,
                   'File "/usr/lib/python3.9/site-packages/pandas/io.py", line 1'),
        _aide_node("own-off", 1, _script("./input", "./working/submission.csv"), 0.91),
    ])
    _aide_run(root / "mlebench-aide", [
        _aide_node("mle-home", 0, _script("/home/data", "./submission/submission.csv"),
                   MAJORITY_ACC),
        _aide_node("mle-abs", 1, _script("/home/data", "/home/submission/submission.csv",
                                         printed=False), MAJORITY_ACC),
    ], config="data_dir: !!python/object/apply:pathlib.PosixPath\n- /\n- home\n- data\n")
    return root


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.fixture()
def data_dir(mlebench_data: Path) -> Path:
    if not (mlebench_data / "spaceship-titanic" / "prepared" / "public").is_dir():
        pytest.skip("spaceship-titanic is not prepared in the shared data")
    return mlebench_data


def test_folder_of_aide_runs_regrades_each_convention_and_resumes(
        data_dir: Path, tmp_path: Path) -> None:
    root = _aide_runs(tmp_path / "runs")
    out = tmp_path / "study"
    args = ["import", "aide", str(root), "--task", TASK, "--data-dir", str(data_dir),
            "--out", str(out), "--regrade", "--workers", "2", "--timeout", "120", "--json"]
    summary = _json(runner.invoke(app, args))
    by_id = {s["search_id"]: s for s in summary["searches"]}
    own, mle = by_id["aide__aide-own"], by_id["aide__mlebench-aide"]
    assert own["convention"]["name"] == "aide" and mle["convention"]["name"] == "mlebench"
    assert "config.yaml" in mle["convention"]["detected_from"]
    assert summary["nodes"] == 4 and summary["statuses"] == {"ok": 4}
    assert summary["with_test"] == 4
    # the log's validation score beside the re-run's: one node's log disagrees (a finding)
    assert own["val_comparison"]["compared"] == 2 and own["val_comparison"]["disagree"] == 1
    finding = own["val_comparison"]["disagreements"][0]
    assert finding["node_id"] == "own-off" and finding["log_val"] == 0.91
    assert finding["rerun_val"] == pytest.approx(MAJORITY_ACC, abs=1e-4)
    # a script printing nothing keeps the log's score, and says so
    assert mle["val_comparison"]["val_sources"] == {"printed": 1, "log": 1}
    assert any("python 3.9 in the log" in w for w in summary["environment_warnings"])
    table = read_nodes(out / "nodes.parquet").set_index("node_id")
    assert table.loc["own-off", "score_val"] == pytest.approx(MAJORITY_ACC, abs=1e-4)
    assert table["score_test"].between(0.3, 0.7).all()  # majority class on test
    nodes = {n.node_id: n for n in JournalFile(
        out / "searches" / "aide__mlebench-aide" / "journal.jsonl").read()}
    assert nodes["mle-abs"].meta["convention"] == "mlebench"
    assert nodes["mle-abs"].meta["log_val"] == MAJORITY_ACC
    manifest = StudyManifest.read(out)
    env = manifest.config["sandbox_environment"]
    assert env["python"].count(".") == 2 and env["packages"]["pandas"]
    search_json = json.loads((out / "searches" / "aide__aide-own" / "search.json").read_text())
    assert search_json["regrade"]["done"] is True
    assert search_json["exec_layout"]["submission_path"] == "working/submission.csv"
    # run again: everything is kept and nothing re-runs
    again = _json(runner.invoke(app, args))
    assert {s["state"] for s in again["searches"]} == {"existing"}
    assert again["statuses"] == {"ok": 4}
    assert JournalFile(out / "searches" / "aide__aide-own" / "journal.jsonl").read()[0].meta[
        "regraded"] is True


def test_dojo_run_reads_data_and_writes_submission_csv(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "dojo-run"
    run.mkdir()
    prompt = ("**DATA**: The data is already prepared and available in the read-only `./data` "
              "directory. SAVES THE TEST PREDICTIONS in a `submission.csv` file in the current "
              "directory (`./submission.csv`).")
    (run / "dojo_config.json").write_text(json.dumps({
        "task": {"name": "spaceship-titanic", "benchmark": "mlebench",
                 "submission_fname": "submission.csv"},
        "metadata": {"seed": 1},
        "solver": {"operators": {"draft": {"system_message_prompt_template": {
            "template": prompt}}}}}))
    node = {"step": 1, "id": "d1", "plan": "p", "code": _script("./data", "./submission.csv"),
            "metric": {"value": MAJORITY_ACC}, "metric_maximize": True, "is_buggy": False,
            "metric_info": {"score": 0.5, "valid_submission": True}, "parents": [],
            "operators_used": ["draft"], "exec_time": 1.0, "exit_code": 0,
            "term_out": "Validation accuracy: 0.5044"}
    (run / "checkpoint_journal.jsonl").write_text(json.dumps(node) + "\n")
    out = tmp_path / "study"
    summary = _json(runner.invoke(app, [
        "import", "dojo", str(run), "--data-dir", str(data_dir), "--out", str(out),
        "--regrade", "--sandbox-python", sys.executable, "--json"]))
    assert summary["convention"]["input_dir"] == "data"
    assert summary["convention"]["submission_path"] == "submission.csv"
    assert summary["statuses"] == {"ok": 1} and summary["with_test"] == 1
    assert summary["val_comparison"]["disagree"] == 0
    journal = JournalFile(out / "searches" / "dojo__dojo-run" / "journal.jsonl").read()
    assert journal[0].meta["log_test"] == 0.5  # dojo's own test score kept beside ours
    assert journal[0].meta["sandbox_python"] == StudyManifest.read(out).config[
        "sandbox_environment"]["executable"]


def test_overrides_and_wrong_convention(data_dir: Path, tmp_path: Path) -> None:
    journal = _aide_run(tmp_path / "run", [
        _aide_node("odd", 0, _script("./input", "./preds.csv"), MAJORITY_ACC)])
    base = ["import", "aide", str(journal), "--task", TASK, "--data-dir", str(data_dir),
            "--regrade", "--json"]
    wrong = _json(runner.invoke(app, [*base, "--out", str(tmp_path / "a")]))
    assert wrong["statuses"] == {"buggy": 1}  # AIDE's ./working: no submission where expected
    reason = read_nodes(tmp_path / "a" / "nodes.parquet")["reason"].iloc[0]
    assert "./working/submission.csv" in reason
    # the same study again with the right path: the node was regraded, so only --redo re-runs
    kept = _json(runner.invoke(app, [*base, "--out", str(tmp_path / "a"),
                                     "--submission-path", "./preds.csv"]))
    assert kept["statuses"] == {"buggy": 1} and "convention changed" in " ".join(kept["notes"])
    redone = _json(runner.invoke(app, [*base, "--out", str(tmp_path / "a"),
                                       "--submission-path", "./preds.csv", "--redo"]))
    assert redone["statuses"] == {"ok": 1} and redone["convention"]["name"] == "custom"
    node = JournalFile(tmp_path / "a" / "searches" / "aide__run" / "journal.jsonl").read()[0]
    assert node.meta["convention"] == "custom"  # the convention this run used


def test_bad_regrade_options_exit_2(tmp_path: Path) -> None:
    journal = _aide_run(tmp_path / "run", [_aide_node("n", 0, "print(1)", 0.5)])
    bad_python = runner.invoke(app, ["import", "aide", str(journal), "--task", "t", "--out",
                                     str(tmp_path / "s"), "--regrade", "--sandbox-python",
                                     str(tmp_path / "nope")])
    assert bad_python.exit_code == 2 and "no interpreter" in " ".join(bad_python.output.split())
    both = runner.invoke(app, ["import", "aide", str(tmp_path), "--task", "t", "--out",
                               str(tmp_path / "s2"), "--search-id", "x"])
    assert both.exit_code == 2 and "one search" in " ".join(both.output.split())
