"""All checks on one study: a planted leaky study fails the right checks, an honest one passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aira_eval.checks.report import CheckOptions, run_checks
from aira_eval.errors import UsageError
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.table import records_to_frame, write_nodes

TASK = "mlebench:toy-comp"
HONEST = '''\
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

train = pd.read_csv("./input/train.csv")
test = pd.read_csv("./input/test.csv")
model = LogisticRegression(C={c})
folds = cross_val_score(model, train[["a", "b"]], train["y"], cv=5)
print("VALIDATION_SCORE:", np.mean(folds))
model.fit(train[["a", "b"]], train["y"])
test["y"] = model.predict(test[["a", "b"]])
test[["id", "y"]].to_csv("./submission/submission.csv", index=False)
'''
LEAKY = HONEST + 'answers = pd.read_csv("../private/test.csv")\n'


def make_data(root: Path, duplicate_rows: int = 0) -> Path:
    """A tiny competition in MLE-bench's layout; ``duplicate_rows`` test rows copy train."""
    rng = np.random.default_rng(0)
    public, private = root / "toy-comp" / "prepared" / "public", root / "toy-comp" / "prepared" \
        / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    train = pd.DataFrame({"id": range(200), "a": rng.normal(size=200).round(6),
                          "b": rng.normal(size=200).round(6), "y": rng.integers(0, 2, 200)})
    test = pd.DataFrame({"id": range(200, 300), "a": rng.normal(size=100).round(6),
                         "b": rng.normal(size=100).round(6)})
    test.loc[: duplicate_rows - 1, ["a", "b"]] = train.loc[: duplicate_rows - 1, ["a", "b"]].values
    answers = test[["id"]].assign(y=rng.integers(0, 2, 100))
    train.to_csv(public / "train.csv", index=False)
    test.to_csv(public / "test.csv", index=False)
    answers.to_csv(private / "test.csv", index=False)
    answers.to_csv(private / "gold_submission.csv", index=False)
    (public / "description.md").write_text("# Toy competition\n\nPredict y from a and b. " * 20)
    return root


def make_study(path: Path, data_dir: Path, *, leaky: bool, n: int = 20) -> Path:
    """A study of one search: honest nodes, plus (``leaky``) one node reading the private
    answers and one whose test score beats validation by far."""
    rng = np.random.default_rng(1)
    records: list[dict[str, Any]] = []
    for i in range(n):
        node_id = f"s0-n{i:04d}"
        code = LEAKY if leaky and i == 3 else HONEST.format(c=0.1 * (i + 1))
        rel = f"searches/s0/nodes/{node_id}/code.py"
        (path / rel).parent.mkdir(parents=True)
        (path / rel).write_text(code)
        val = 0.70 + 0.02 * rng.standard_normal()
        test = val + 0.01 * rng.standard_normal() + (0.25 if leaky and i == 7 else 0.0)
        records.append({
            "search_id": "s0", "task": TASK, "policy": "greedy", "seed": 0,
            "node_id": node_id, "step": i, "operator": "draft", "status": "ok", "valid": True,
            "lower_is_better": False, "score_val": val, "score_test": test, "n_test": 100,
            "val_folds": list(val + 0.01 * rng.standard_normal(5)), "code_path": rel,
        })
    write_nodes(records_to_frame(records), path / "nodes.parquet")
    StudyManifest(study_id=path.name, seed=0, config={"data_dir": str(data_dir)},
                  tasks={TASK: TaskInfo(task=TASK, lower_is_better=False, metric="accuracy",
                                        heldout_sizes={"test": 100})}).write(path)
    return path


def _status(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_leaky_study_fails_the_right_checks(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data", duplicate_rows=10)
    study = make_study(tmp_path / "study", data, leaky=True)
    report = run_checks(study)
    assert _status(report) == {"overlap": "fail", "code-leakage": "fail", "test-vs-val": "fail",
                               "similarity": "skip", "familiarity": "skip"}
    assert report.failed and report.status == "fail"
    checks = {c.name: c for c in report.checks}
    assert checks["overlap"].details["tasks"][TASK]["exact"] == 10
    assert checks["code-leakage"].details["flagged_nodes"] == ["s0-n0003"]
    finding = checks["code-leakage"].details["findings"][0]
    assert (finding["rule"], finding["line"]) == ("private-path", 14)
    assert [r["node_id"] for r in checks["test-vs-val"].details["flagged"]] == ["s0-n0007"]
    assert checks["familiarity"].summary == "skipped: no model configured"
    md = report.to_markdown()
    assert "| Leakage in node code | fail |" in md and "s0-n0007" in md
    payload = report.to_dict()
    json.dumps(payload, allow_nan=False)  # strict JSON: NaN became null


def test_honest_study_passes(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    study = make_study(tmp_path / "study", data, leaky=False)
    report = run_checks(study, CheckOptions(data_dir=data))
    assert _status(report) == {"overlap": "pass", "code-leakage": "pass",
                               "test-vs-val": "pass", "similarity": "skip",
                               "familiarity": "skip"}
    assert not report.failed


def test_references_and_familiarity(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    study = make_study(tmp_path / "study", data, leaky=False)
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "public_kernel.py").write_text(HONEST.format(c=3.0))
    options = CheckOptions(references=refs, model="gpt-4o-mini",
                           llm_kwargs={"mock_response": "Nothing like the original."})
    report = run_checks(study, options)
    checks = {c.name: c for c in report.checks}
    assert checks["similarity"].status == "fail"  # every node copies the public kernel
    assert checks["similarity"].details["top"][0]["similarity"] > 0.8
    assert checks["familiarity"].status == "pass"
    assert {p["probe"] for p in checks["familiarity"].details["probes"]} == {"description",
                                                                               "data"}


def test_missing_task_data_and_bad_options(tmp_path: Path) -> None:
    study = make_study(tmp_path / "study", tmp_path / "nowhere", leaky=False)
    report = run_checks(study)
    overlap = report.checks[0]
    assert overlap.status == "skip" and "not found" in overlap.summary
    with pytest.raises(UsageError, match="near-digits"):
        run_checks(study, CheckOptions(near_digits=0))
    with pytest.raises(UsageError, match="z-threshold"):
        run_checks(study, CheckOptions(z_threshold=0))
    with pytest.raises(UsageError, match="not a study"):
        run_checks(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        run_checks(tmp_path / "missing")
