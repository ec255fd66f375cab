"""Agent conventions, log versions and free-form validation scores (no sandbox runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.importers import parse_aide_journal, parse_dojo_run
from aira_eval.importers.conventions import (
    AIDE,
    DOJO,
    MLEBENCH,
    code_votes,
    detect_aide,
    detect_dojo,
    read_aide_config,
)
from aira_eval.importers.versions import version_warnings, versions_from_dojo, versions_from_text
from aira_eval.search.printed import printed_score, scores_agree

AIDE_CONFIG_MLEBENCH = """\
data_dir: !!python/object/apply:pathlib.PosixPath
- /
- home
- data
desc_file: !!python/object/apply:pathlib.PosixPath
- /
- home
- agent
- full_instructions.txt
exp_name: run-1
exec:
  timeout: 3600
"""


def test_spec_fields_per_convention() -> None:
    assert AIDE.spec_fields() == {"input_aliases": (), "submission_path":
                                  "working/submission.csv", "path_maps": ()}
    assert DOJO.spec_fields()["input_aliases"] == ("data",)
    assert DOJO.spec_fields()["submission_path"] == "submission.csv"
    assert MLEBENCH.spec_fields()["path_maps"] == (("/home/data", "input"),
                                                   ("/home/submission", "submission"))


def test_overrides_relative_and_absolute() -> None:
    custom = AIDE.with_overrides(input_dir="/data/comp/", submission_path="/out/preds.csv")
    assert custom.name == "custom" and custom.detected_from == "override of aide"
    fields = custom.spec_fields()
    assert fields["path_maps"] == (("/data/comp", "input"), ("/out", "submission"))
    assert fields["submission_path"] == "submission/preds.csv"
    rel = AIDE.with_overrides(input_dir="./data", submission_path="./preds/sub.csv")
    assert rel.spec_fields() == {"input_aliases": ("data",), "submission_path": "preds/sub.csv",
                                 "path_maps": ()}
    assert AIDE.with_overrides() is AIDE
    with pytest.raises(UsageError, match="not a usable path"):
        AIDE.with_overrides(submission_path="../escape.csv")


def test_code_votes() -> None:
    votes = code_votes([
        "pd.read_csv('/home/data/train.csv')",
        "df.to_csv('./working/submission.csv')",
        "df.to_csv('./submission/submission.csv')",
        "pd.read_csv('./data/train.csv'); df.to_csv('submission.csv')",
        "print('nothing')",
    ])
    assert votes == {"mlebench": 1, "aide": 1, "aira-eval": 1, "aira-dojo": 1}


def test_detect_aide_from_config_and_code(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(AIDE_CONFIG_MLEBENCH)
    assert read_aide_config(tmp_path / "config.yaml")["data_dir"] == "/home/data"
    conv = detect_aide(tmp_path / "journal.json", ["df.to_csv('./working/submission.csv')"])
    assert conv.name == "mlebench" and "config.yaml" in conv.detected_from
    bare = tmp_path / "bare"
    bare.mkdir()
    conv = detect_aide(bare / "journal.json", ["x.to_csv('./working/submission.csv')"] * 2
                       + ["open('/home/data/a')"])
    assert conv.name == "aide" and conv.detected_from.startswith("code (2/3")
    assert detect_aide(bare / "journal.json", ["print(1)"]).detected_from == (
        "default for AIDE journals")
    (bare / "config.yaml").write_text("{not: yaml: at all")
    assert read_aide_config(bare / "config.yaml") == {}


def test_detect_dojo_from_prompts() -> None:
    config = {"task": {"submission_fname": "submission.csv"}, "solver": {"operators": {
        "draft": {"system_message_prompt_template": {"template":
                  "The data is in the read-only `./data` directory. Save `./submission.csv`."}}}}}
    conv = detect_dojo(config, [])
    assert (conv.input_dir, conv.submission_path) == ("data", "submission.csv")
    assert conv.detected_from == "dojo_config.json operator prompts"
    mle = {"solver": {"x": [{"template": "Data at /home/data. Write "
                                         "./submission/submission.csv"}]}}
    conv = detect_dojo(mle, [])
    assert (conv.input_dir, conv.submission_path) == ("/home/data", "submission/submission.csv")
    assert detect_dojo({}, ["pd.read_csv('./data/train.csv')"]).detected_from.startswith("code")


def test_versions_from_logs_and_warnings() -> None:
    texts = ['File "/opt/conda/lib/python3.10/site-packages/pandas/core/frame.py", line 1',
             'File "/opt/conda/lib/python3.10/site-packages/sklearn/base.py"',
             "pandas==2.2.3\nscikit_learn==1.5.0"]
    logged = versions_from_text(texts)
    assert logged == {"python": "3.10", "pandas": "2.2.3", "scikit-learn": "1.5.0"}
    assert versions_from_dojo({"metadata": {"torch_version": "2.8.0+cu128", "seed": 1}}) == {
        "torch": "2.8.0+cu128"}
    sandbox = {"python": "3.10.14", "packages": {"pandas": "3.0.1", "scikit-learn": "1.5.2",
                                                 "torch": None}}
    warnings = version_warnings({**logged, "torch": "2.8.0+cu128"}, sandbox)
    assert warnings == ["pandas 2.2.3 in the log, 3.0.1 in the sandbox",
                        "torch 2.8.0+cu128 in the log is not installed in the sandbox"]


def test_printed_score() -> None:
    out = "Fold 1 accuracy: 0.78\nFold 2 accuracy: 0.79\nMean CV accuracy: 0.7856\nsaved"
    assert printed_score(out).value == 0.7856  # type: ignore[union-attr]
    assert printed_score("Validation Accuracy: 0.7834 (+/- 0.0123)").value == 0.7834  # type: ignore[union-attr]
    assert printed_score("UserWarning: score 0.5 deprecated\nTraining...") is None
    assert printed_score("epoch 3 done") is None
    assert scores_agree(0.7856, 0.78561) and not scores_agree(0.80, 0.7879)


def test_real_logs_detect_their_conventions(shared_data: Path) -> None:
    logs = shared_data / "agent-logs"
    if not logs.is_dir():
        pytest.skip(f"no agent logs at {logs}")
    for journal in sorted((logs / "aide").glob("*/journal.json")):
        search = parse_aide_journal(journal, task="peer:x")
        assert search.convention.name == "aide"  # a fork whose scripts name no submission
    run = next(p for p in sorted((logs / "aira-dojo").iterdir()) if p.is_dir())
    dojo = parse_dojo_run(run)
    assert (dojo.convention.input_dir, dojo.convention.submission_path) == (
        "data", "submission.csv")
    assert dojo.log_versions["torch"] == json.loads((run / "dojo_config.json").read_text())[
        "metadata"]["torch_version"]
    assert dojo.log_versions["python"] == "3.12"  # from its tracebacks' site-packages paths


def test_regrade_resumes_node_by_node(shared_data: Path, tmp_path: Path) -> None:
    """A node already regraded (``meta.regraded``) is kept as it is; ``redo`` re-runs it."""
    from aira_eval.importers import write_imported_study
    from aira_eval.search.regrade import RegradeOptions, regrade_searches
    from aira_eval.study.journal import JournalFile

    data = shared_data / "mlebench"
    if not (data / "spaceship-titanic" / "prepared" / "public").is_dir():
        pytest.skip("spaceship-titanic is not prepared in the shared data")
    code = ("import pandas as pd\nt = pd.read_csv('./input/test.csv')\n"
            "pd.DataFrame({'PassengerId': t['PassengerId'], 'Transported': True})"
            ".to_csv('./working/submission.csv', index=False)\nprint('val accuracy: 0.5')\n")
    nodes = [{"id": f"n{i}", "step": i, "code": code, "plan": "", "is_buggy": False,
              "metric": {"value": 0.5, "maximize": True}} for i in range(2)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.json").write_text(json.dumps({"nodes": nodes, "node2parent": {}}))
    out = tmp_path / "study"
    write_imported_study(parse_aide_journal(run / "journal.json", task="mlebench:"
                                            "spaceship-titanic"), out, data_dir=data)
    journal = JournalFile(out / "searches" / "aide__run" / "journal.jsonl")
    done = journal.read()
    done[0].meta["regraded"], done[0].scores["test"] = True, 0.123  # as if interrupted after n0
    journal.rewrite(done)
    plans: list[tuple[int, int]] = []
    options = RegradeOptions(data_dir=data, timeout_s=120)
    [result] = regrade_searches(out, ["aide__run"], options,
                                on_plan=lambda todo, kept: plans.append((todo, kept)))
    assert plans == [(1, 1)] and (result.rerun, result.resumed) == (1, 1)
    first, second = journal.read()
    assert first.scores["test"] == 0.123  # not re-run
    assert second.meta["regraded"] and second.status == "ok"
    assert second.meta["val_source"] == "printed" and second.meta["val_agrees"] is True
    options.redo = True
    [again] = regrade_searches(out, ["aide__run"], options)
    assert again.rerun == 2 and journal.read()[0].scores["test"] != 0.123
