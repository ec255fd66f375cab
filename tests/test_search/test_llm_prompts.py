"""Prompt snapshots: every operator of both sets rendered for one fixed brief.

Snapshots live in ``tests/test_search/snapshots/``; regenerate them after a deliberate prompt
change with ``UPDATE_SNAPSHOTS=1 pytest tests/test_search/test_llm_prompts.py`` and review the
diff. A missing snapshot fails unless ``UPDATE_SNAPSHOTS=1`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aira_eval.datasets.problem import ProblemSpec
from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.operators.base import OperatorContext, RunOutcome, TaskBrief
from aira_eval.search.operators.llm import prompts
from aira_eval.search.operators.llm.operators import LLMOperators
from aira_eval.search.operators.llm.settings import LLMSettings

SNAPSHOTS = Path(__file__).parent / "snapshots"
PACKAGES = "numpy 2.0.0, pandas 2.2.0, scikit-learn 1.5.0, scipy 1.13.0"
OUTPUT = "fold 1: 0.81\nFOLD_SCORES: 0.81, 0.79\nVALIDATION_SCORE: 0.80\ntook 3.2s"


@pytest.fixture(scope="module")
def brief(tmp_path_factory: pytest.TempPathFactory) -> TaskBrief:
    public = tmp_path_factory.mktemp("public")
    (public / "train.csv").write_text("id,age,city,label\n1,34,Oslo,yes\n2,51,Rome,no\n"
                                      "3,29,Oslo,no\n4,45,Lima,yes\n5,38,Rome,yes\n6,62,Lima,no\n")
    (public / "test.csv").write_text("id,age,city\n7,41,Oslo\n8,23,Rome\n")
    (public / "sample_submission.csv").write_text("id,label\n7,yes\n8,yes\n")
    problem = ProblemSpec(train_file="train.csv", test_file="test.csv",
                          sample_submission_file="sample_submission.csv", id_columns=("id",),
                          label_columns=("label",), submission_columns=("label",),
                          prediction="label", metric="accuracy", lower_is_better=False)
    return TaskBrief(task_id="synthetic:customers", problem=problem,
                     description="# Customers\n\nPredict whether a customer renews (`label`).",
                     public_dir=public, time_limit_s=3600.0)


def view(step: int, operator: str, status: str = "ok", parents: tuple[str, ...] = (),
         score: float | None = 0.8, reason: str | None = None) -> NodeView:
    good = status == "ok"
    return NodeView(
        node_id=f"s-n{step:04d}", step=step, operator=operator, parent_ids=parents, depth=0,
        debug_depth=0, status=status, reason=reason, plan=f"Plan of step {step}: a forest.",
        code=f"import pandas as pd\n\n\ndef main():\n    print({step})\n\n\nmain()\n",
        config={}, stdout_tail=OUTPUT if good else "reading data\n", score_val=score if good
        else None, val_folds=(0.81, 0.79) if good else (), fitness=score if good else None,
        analysis="" if good else "bug: the script exited with code 1\nKeyError: 'town'",
        exec_time=3.2)


NODES = [view(0, "draft"), view(1, "draft", score=0.75),
         view(2, "draft", "buggy", reason="the script failed: ValueError: bad"),
         view(3, "debug", "buggy", ("s-n0002",), reason="the script failed: KeyError: 'town'"),
         view(4, "improve", parents=("s-n0000",), score=0.82)]
PARENTS: dict[str, tuple[NodeView, ...]] = {
    "draft": (), "improve": (NODES[0],), "debug": (NODES[3],), "crossover": (NODES[0], NODES[1]),
}


def context(brief: TaskBrief) -> OperatorContext:
    return OperatorContext(brief=brief, rng=np.random.default_rng(0), step=5,
                           journal=JournalView(NODES), complexity="moderate")


def rendered(operator_set: str, kind: str, brief: TaskBrief) -> prompts.Prompt:
    ops = LLMOperators(operator_set, LLMSettings(model="m"), packages=PACKAGES)
    ctx = context(brief)
    if kind == "analyze":
        outcome = RunOutcome(0, False, False, "cv accuracy 0.80\n", "", None, True, 3.2)
        return prompts.render(operator_set, "analyze", brief, parents=(NODES[0],),
                              outcome=outcome, packages=PACKAGES)
    parents = PARENTS[kind]
    memory = ops.memory(ctx, kind, parents)
    cue = "moderate" if operator_set == "aira" and kind in ("draft", "improve") else None
    return prompts.render(operator_set, kind, brief, parents=parents, memory=memory,
                          complexity=cue, packages=PACKAGES)


def as_text(prompt: prompts.Prompt) -> str:
    return "".join(f"### {m['role']}\n\n{m['content']}\n\n" for m in prompt.messages)


CASES = [(s, k) for s in ("aide", "aira") for k in ("draft", "improve", "debug", "crossover")]


@pytest.mark.parametrize(("operator_set", "kind"), [*CASES, ("aira", "analyze")])
def test_prompt_snapshot(brief: TaskBrief, operator_set: str, kind: str) -> None:
    text = as_text(rendered(operator_set, kind, brief))
    path = SNAPSHOTS / f"{operator_set}_{kind}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(), f"{path.name} changed (UPDATE_SNAPSHOTS=1 to accept)"


@pytest.mark.parametrize(("operator_set", "kind"), CASES)
def test_every_prompt_states_the_essentials(brief: TaskBrief, operator_set: str,
                                            kind: str) -> None:
    user = rendered(operator_set, kind, brief).messages[1]["content"]
    for must in ("Predict whether a customer renews", "train.csv (", "First lines of `train.csv`",
                 "1,34,Oslo,yes", "VALIDATION_SCORE", "FOLD_SCORES", "./submission/submission.csv",
                 "60 minutes", PACKAGES, "```python ... ```"):
        assert must in user, (must, operator_set, kind)
    if operator_set == "aira":
        assert "5-fold cross-validation" in user
        assert ("moderately complex" in user) == (kind in ("draft", "improve"))


def test_memory_by_operator_set(brief: TaskBrief) -> None:
    ctx = context(brief)
    aide = LLMOperators("aide", LLMSettings(model="m"))
    aira = LLMOperators("aira", LLMSettings(model="m"))
    good = ["s-n0000", "s-n0001", "s-n0004"]
    assert [n.node_id for n in aide.memory(ctx, "draft", ())] == good
    assert [n.node_id for n in aide.memory(ctx, "improve", (NODES[0],))] == good
    assert aide.memory(ctx, "debug", (NODES[3],)) == []
    assert [n.node_id for n in aira.memory(ctx, "draft", ())] == ["s-n0000", "s-n0001",
                                                                  "s-n0002"]
    assert [n.node_id for n in aira.memory(ctx, "improve", (NODES[0],))] == ["s-n0004"]
    assert [n.node_id for n in aira.memory(ctx, "debug", (NODES[3],))] == ["s-n0002"]
    assert aira.memory(ctx, "crossover", (NODES[0], NODES[1])) == []
    custom = LLMOperators("aira", LLMSettings(model="m"), memory_scopes={"debug": "none"})
    assert custom.memory(ctx, "debug", (NODES[3],)) == []


def test_cache_key_masks_run_logs(brief: TaskBrief) -> None:
    prompt = rendered("aide", "improve", brief)
    sent, keyed = prompt.messages[1]["content"], prompt.key_messages[1]["content"]
    assert "took 3.2s" in sent and "took 3.2s" not in keyed
    assert PACKAGES in sent and PACKAGES not in keyed
    assert prompts.VOLATILE_MASK in keyed
    assert NODES[0].code.strip() in keyed  # code, plans and scores stay in the key
    assert "accuracy = 0.82" in keyed


def test_code_blocks_keep_their_blank_lines(brief: TaskBrief) -> None:
    user = rendered("aide", "improve", brief).messages[1]["content"]
    assert "import pandas as pd\n\n\ndef main():" in user
    assert "\n\n\n## " not in user
