"""Full searches with the LLM operators (aide, aira) through litellm's real code path.

The model is scripted (``tests/test_search/llm_scripted.py``): a litellm ``CustomLLM`` that
answers from the prompt alone. No network, no keys.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aira_eval.search.node import Node
from aira_eval.search.operators.llm import client as client_module
from aira_eval.search.study_runner import StudyResult, run_study
from aira_eval.study.journal import JournalFile
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import small_config
from tests.test_search.llm_scripted import (
    IRIS_CODE,
    MODEL,
    PRICED_AS,
    Call,
    Scenario,
    Tool,
    fenced,
    procedural_code,
    scripted_llm,
)

POLICY_PARAMS: dict[str, dict[str, Any]] = {
    "greedy": {"num_drafts": 2, "debug_prob": 1.0},
    "mcts": {"num_children": 2},
    "evolutionary": {"individuals_per_generation": 2, "num_generations_till_crossover": 1,
                     "crossover_prob": 1.0},
    "random": {"crossover_weight": 2.0},
}


def journal(out: Path, search_id: str) -> list[Node]:
    return JournalFile(out / "searches" / search_id / "journal.jsonl").read()


def all_nodes(result: StudyResult) -> list[Node]:
    return [n for o in result.outcomes for n in o.nodes]


def llm_study(out: Path, operators: str, **overrides: Any) -> StudyResult:
    return run_study(small_config(operators=operators, model=MODEL, **overrides), out)


@pytest.mark.parametrize("operator_set", ["aide", "aira"])
def test_every_policy_searches_with_llm_operators(tmp_path: Path, operator_set: str) -> None:
    out = tmp_path / operator_set
    with scripted_llm(Scenario(IRIS_CODE)) as handler:
        result = llm_study(out, operator_set, steps=5, workers=2,
                           policies=list(POLICY_PARAMS), policy_params=POLICY_PARAMS)
    assert [o.stopped for o in result.outcomes] == ["budget"] * 4
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 20 and set(frame["operators"]) == {operator_set}
    assert not (frame["status"] == "error").any(), frame[["status", "reason"]]
    used: Counter[str] = Counter()
    for outcome in result.outcomes:
        nodes = {n.node_id: n for n in outcome.nodes}
        assert any(n.status == "ok" for n in nodes.values()), outcome.search_id
        used.update(n.operator for n in nodes.values())
        for node in nodes.values():
            assert node.config["llm"]["operator_set"] == operator_set
            assert node.usage.calls == len(node.config["llm"]["calls"]) >= 1
            if node.operator == "debug" and node.status == "ok":
                parent = nodes[node.parent_ids[0]]  # a crashed script, now fixed
                assert parent.status == "buggy" and "scripted crash" in (parent.reason or "")
                assert "scripted crash" in node.config["llm"]["messages"][1]["content"]
    assert set(used) == {"draft", "improve", "debug", "crossover"}, used
    # usage: the node table carries each node's tokens and cost, and they add up to the calls
    sent = sum(sum(len(m["content"]) for m in c.messages) // 4 for c in handler.calls)
    assert int(frame["prompt_tokens"].sum()) == sent
    assert frame["cost_usd"].sum() > 0 and (frame["cost_usd"] > 0).all()
    # summed per search (search.json's outcome) and per study (the searches' sums)
    import json

    study_cost = 0.0
    for search_id, group in frame.groupby("search_id"):
        meta = json.loads((out / "searches" / str(search_id) / "search.json").read_text())
        assert meta["outcome"]["llm.cost_usd"] == pytest.approx(group["cost_usd"].sum())
        assert meta["outcome"]["llm.prompt_tokens"] == group["prompt_tokens"].sum()
        study_cost += meta["outcome"]["llm.cost_usd"]
    assert study_cost == pytest.approx(frame["cost_usd"].sum())


def test_aira_memory_scopes_and_complexity(tmp_path: Path) -> None:
    out = tmp_path / "aira"
    with scripted_llm(Scenario(IRIS_CODE)):
        result = llm_study(out, "aira", steps=6, workers=1, policies=["greedy"],
                           policy_params={"greedy": POLICY_PARAMS["greedy"]})
    nodes = {n.node_id: n for n in all_nodes(result)}
    for node in nodes.values():
        llm = node.config["llm"]
        if node.operator == "draft":  # sibling scope: the drafts before it
            assert llm["memory"] == [n.node_id for n in nodes.values()
                                     if not n.parent_ids and n.step < node.step]
            assert llm["complexity"] in ("minimal", "moderate", "advanced")
        if node.operator == "improve":
            siblings = [n.node_id for n in nodes.values() if n.parent_ids == node.parent_ids
                        and n.step < node.step]
            assert llm["memory"] == siblings and "complexity" in llm
        if node.operator == "debug":  # ancestral: the failed attempts above the parent
            parent = nodes[node.parent_ids[0]]
            expected = [parent.parent_ids[0]] if parent.parent_ids else []
            assert llm["memory"] == [p for p in expected if nodes[p].status != "ok"]
            assert "complexity" not in llm


def test_prose_without_code_is_retried_then_an_error_node(tmp_path: Path) -> None:
    out = tmp_path / "prose"
    with scripted_llm(lambda call: "I would train a gradient boosting model.") as handler:
        result = llm_study(out, "aide", steps=2, workers=1)
    assert [c.attempt for c in handler.calls] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert "no fenced Python code block" in str(handler.calls[1].messages[-1]["content"])
    frame = read_nodes(out / "nodes.parquet")
    assert (frame["status"] == "error").all() and len(frame) == 2  # the search went on
    assert frame["reason"].str.contains("no usable code in 4 replies").all()
    node = all_nodes(result)[0]
    assert node.usage.calls == 4 and node.code == ""
    assert len(node.config["llm"]["messages"]) == 2 + 2 * 4 - 1  # prompt, 4 replies, 3 asks


def _quiet(code: str) -> str:
    """The script without its contract lines (it prints its score another way)."""
    lines = [ln for ln in code.splitlines() if "FOLD_SCORES" not in ln]
    return "\n".join(ln.replace('print(f"VALIDATION_SCORE: {np.mean(scores):.6f}")',
                                'print(f"cv f1 = {np.mean(scores):.4f}")') for ln in lines) + "\n"


def test_malformed_review_calls_are_retried(tmp_path: Path) -> None:
    """Scripts print no VALIDATION_SCORE, so analyze asks the model; the first node gets a
    valid review after three malformed ones, the second never does."""
    malformed = ["no tool call, just words", Tool("submit_review", "{not json"),
                 Tool("submit_review", '{"is_bug": "no", "summary": "s", "metric": "x"}')]

    def respond(call: Call) -> Any:
        if call.op == "draft":
            variant = "A" if "(no previous solutions)" in call.user else "B"
            return fenced("Logistic regression.", _quiet(IRIS_CODE) + f"# variant {variant}\n")
        if "# variant A" in call.user and call.attempt == 3:
            return Tool("submit_review", '{"is_bug": false, "summary": "cv ran", '
                                         '"metric": 0.77}')
        return malformed[min(call.attempt, 2)]

    out = tmp_path / "review"
    with scripted_llm(respond) as handler:
        result = llm_study(out, "aide", steps=2, workers=1,
                           policy_params={"greedy": {"num_drafts": 2}})
    reviews = [c for c in handler.calls if c.op == "analyze"]
    assert len(reviews) == 8 and reviews[0].tools
    first, second = sorted(all_nodes(result), key=lambda n: n.step)
    assert first.status == "ok" and first.scores["val"] == 0.77
    assert first.meta.get("val_from_analysis") and first.analysis == "cv ran"
    assert second.status == "buggy" and "no VALIDATION_SCORE" in (second.reason or "")
    assert second.analysis.startswith("analysis failed: no valid review in 4 replies")
    assert first.usage.calls == 5  # one draft call and four review calls


def test_reported_score_wins_without_a_review_call(tmp_path: Path) -> None:
    with scripted_llm(Scenario(IRIS_CODE, review_metric=0.1)) as handler:
        result = llm_study(tmp_path / "s", "aira", steps=2, workers=1,
                           policy_params={"greedy": {"num_drafts": 2}})
    assert not [c for c in handler.calls if c.op == "analyze"]
    ok = [n for n in all_nodes(result) if n.status == "ok"]
    assert ok and all(n.scores["val"] > 0.5 and "reports validation" in n.analysis for n in ok)


def test_rate_limit_and_timeout_are_retried_with_backoff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", sleeps.append)
    failures = iter(["litellm.RateLimitError", "mock_timeout"])

    def respond(call: Call) -> Any:
        return next(failures, None) or fenced("Logistic regression.", IRIS_CODE)

    with scripted_llm(respond) as handler:
        result = llm_study(tmp_path / "s", "aide", steps=1, workers=1)
    node = all_nodes(result)[0]
    assert node.status == "ok" and len(handler.calls) == 3
    assert node.usage.calls == 1 and len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2


def test_exhausted_retries_make_an_error_node(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_sleep", lambda s: None)
    with scripted_llm(lambda call: "litellm.RateLimitError"):
        result = llm_study(tmp_path / "s", "aira", steps=2, workers=1, max_retries=1)
    nodes = all_nodes(result)
    assert len(nodes) == 2 and all(n.status == "error" for n in nodes)
    assert "LLM call failed after 2 attempts" in (nodes[0].reason or "")
    assert "RateLimitError" in (nodes[0].reason or "")


def test_max_cost_stops_the_search_and_survives_resume(tmp_path: Path) -> None:
    """litellm's own mock_response (priced as gpt-4o-mini): three calls spend the limit."""
    import litellm

    mock = {"completion_kwargs": {"mock_response": fenced("Logistic regression.", IRIS_CODE)}}
    out = tmp_path / "cost"
    probe = litellm.completion(model=PRICED_AS, messages=[{"role": "user", "content": "x"}],
                               mock_response="y")
    per_call = litellm.completion_cost(probe)
    config = small_config(operators="aide", model=PRICED_AS, operator_params=mock, steps=10,
                          workers=1, max_cost_usd=2.5 * per_call)
    result = run_study(config, out)
    assert [o.stopped for o in result.outcomes] == ["cost"]
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) == 3 and (frame["status"] == "ok").all()
    assert frame["cost_usd"].sum() == pytest.approx(3 * per_call)
    assert (frame["prompt_tokens"] == probe.usage.prompt_tokens).all()
    again = run_study(config, out, resume=True)  # earlier spending still counts
    assert [o.stopped for o in again.outcomes] == ["cost"] and len(again.outcomes[0].nodes) == 3
    more = run_study(config, out, resume=True, overrides={"max_cost_usd": 4.5 * per_call})
    assert [o.stopped for o in more.outcomes] == ["cost"] and len(more.outcomes[0].nodes) == 5


def test_competition_from_shared_data(tmp_path: Path, mlebench_data: Path) -> None:
    task = "mlebench:spaceship-titanic"
    good = procedural_code(task, data_dir=mlebench_data, seed=3)
    with scripted_llm(Scenario(good)):
        result = llm_study(tmp_path / "st", "aide", tasks=[task], data_dir=str(mlebench_data),
                           steps=3, workers=1, node_timeout_s=120.0,
                           policy_params={"greedy": {"num_drafts": 1, "debug_prob": 1.0}})
    nodes = sorted(all_nodes(result), key=lambda n: n.step)
    assert [n.operator for n in nodes] == ["draft", "debug", "improve"]
    assert nodes[0].status == "buggy" and nodes[1].parent_ids == [nodes[0].node_id]
    assert nodes[1].status == "ok" and nodes[2].status == "ok"
    assert all(not math.isnan(n.scores.get("test", math.nan)) for n in nodes[1:])
    prompt = nodes[1].config["llm"]["messages"][1]["content"]
    assert "PassengerId" in prompt and "First lines of `train.csv`" in prompt
