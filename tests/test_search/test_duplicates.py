"""No byte-identical scripts inside a search unless ``duplicate_of`` says so.

Procedural operators draw another move when a proposal repeats a script of the search (a
journaled node, or an earlier proposal of the same batch, which the runner re-derives); a
repeat left over is recorded as ``duplicate_of``. LLM operators record ``duplicate_of`` for a
byte-identical reply, and the engine for a repeat the operator could not see.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from aira_eval.datasets.registry import resolve_task
from aira_eval.datasets.task import Task
from aira_eval.search.journal import BATCH_ACTIONS, JournalView
from aira_eval.search.node import Node, NodeView, blind
from aira_eval.search.operators.base import OperatorContext, PendingNode, TaskBrief, code_hash
from aira_eval.search.operators.procedural.operators import ProceduralOperators
from aira_eval.search.policies.registry import make_policy
from aira_eval.search.runner import SearchContext, _propose, new_node
from aira_eval.study.table import read_nodes, write_nodes
from tests.test_search.conftest import run_small, small_config
from tests.test_search.llm_scripted import IRIS_CODE, MODEL, Call, Tool, fenced, scripted_llm


@pytest.fixture(scope="module")
def iris() -> Task:
    return resolve_task("builtin:iris", heldouts=False)


def _ctx(task: Task, seed: int, nodes: Sequence[NodeView] = (),
         pending: Sequence[PendingNode] = ()) -> OperatorContext:
    return OperatorContext(brief=TaskBrief.from_task(task, 60), rng=np.random.default_rng(seed),
                           step=seed, journal=JournalView(list(nodes)), pending=tuple(pending))


def _view(node_id: str, code: str, config: dict[str, Any], status: str = "ok",
          operator: str = "draft") -> NodeView:
    return NodeView(node_id=node_id, step=0, operator=operator, parent_ids=(), depth=0,
                    debug_depth=0, status=status, reason="boom", plan="", code=code,
                    config=config, stdout_tail="", score_val=None, val_folds=(),
                    fitness=0.5 if status == "ok" else None, analysis="", exec_time=1.0)


def test_a_repeated_script_is_drawn_again(iris: Task) -> None:
    ops = ProceduralOperators(bug_rate=0)
    base = ops.draft(_ctx(iris, 0))
    parent = _view("s-n0000", base.code, base.config)
    first = ops.improve(_ctx(iris, 5, [parent]), parent)
    assert first.duplicate_of is None
    sibling = PendingNode("s-n0001", first.code, first.config)  # same batch, not yet run
    again = ops.improve(_ctx(iris, 5, [parent], [sibling]), parent)
    journaled = _view("s-n0001", first.code, first.config, operator="improve")
    after = ops.improve(_ctx(iris, 5, [parent, journaled]), parent)
    for proposal in (again, after):
        assert proposal.code != first.code and proposal.duplicate_of is None
    draft_again = ops.draft(_ctx(iris, 0, pending=[PendingNode("s-n0000", base.code)]))
    assert draft_again.code != base.code


def test_a_repeat_left_over_is_reported(iris: Task) -> None:
    """A debug's repair is what it is: the repeat is kept and named."""
    buggy = ProceduralOperators(bug_rate=1).draft(_ctx(iris, 1))
    parent = _view("s-n0000", buggy.code, buggy.config, status="buggy")
    ops = ProceduralOperators(debug_fail_rate=0)
    fixed = ops.debug(_ctx(iris, 2, [parent]), parent)
    assert fixed.duplicate_of is None and "bug" not in fixed.config
    twin = _view("s-n0003", fixed.code, fixed.config)
    again = ops.debug(_ctx(iris, 2, [parent, twin]), parent)
    assert again.code == fixed.code and again.duplicate_of == "s-n0003"


def _simulate(task: Task, policy: str, params: dict[str, Any], steps: int, workers: int,
              seed: int = 0) -> list[Node]:
    """An engine-like search whose scripts are not run: an ok node gets a seeded fitness, a
    node with an injected bug fails (proposals exactly as in a real search)."""
    ops = ProceduralOperators(bug_rate=0.3, seed=seed)
    ctx = SearchContext(search_id="s", search_dir=Path("."), study_dir=Path("."), task=task,
                        brief=TaskBrief.from_task(task, 60), operators=ops,
                        sandbox=None, seed=seed, signal="val",  # type: ignore[arg-type]
                        memory_scope="simple", node_timeout_s=60, memory_mb=None)
    pol, rng, nodes = make_policy(policy, params), np.random.default_rng(seed), list[Node]()
    for batch in range(steps):
        if len(nodes) >= steps:
            break
        view = JournalView([blind(n, "val", False) for n in nodes])
        actions = pol.propose(view, np.random.default_rng([seed, batch]), workers)
        actions = actions[: steps - len(nodes)]
        view.meta[BATCH_ACTIONS] = tuple(actions)
        for offset, action in enumerate(actions):
            node = new_node(ctx, action, view, len(view.nodes) + offset, batch)
            proposal = _propose(ctx, action, view, node.step)
            node.code, node.config = proposal.code, proposal.config
            node.duplicate_of = proposal.duplicate_of
            node.status = "buggy" if "bug" in proposal.config else "ok"
            if node.status == "ok":
                node.scores["val"] = float(rng.random())
            nodes.append(node)
    return nodes


def _unreported(nodes: Sequence[Node]) -> list[list[str]]:
    """Groups of nodes with the same script that ``duplicate_of`` does not account for: in
    each group one node is the original and every other names a node of the group (with
    parallel workers the original is the one journaled first, not always the lowest step)."""
    by_code: dict[str, list[Node]] = defaultdict(list)
    for node in sorted(nodes, key=lambda n: n.step):
        by_code[code_hash(node.code)].append(node)
    bad = []
    for group in by_code.values():
        ids = {n.node_id for n in group}
        originals = [n for n in group if n.duplicate_of is None]
        named = all(n.duplicate_of in ids - {n.node_id} for n in group if n.duplicate_of)
        if len(originals) != 1 or not named:
            bad.append(sorted(ids))
    return bad


@pytest.mark.parametrize(("policy", "params"), [
    ("random", {}),
    ("mcts", {"num_children": 5}),  # five improvements of one parent in one batch
    ("evolutionary", {"individuals_per_generation": 4, "num_generations_till_crossover": 1}),
])
def test_a_procedural_search_has_no_unreported_duplicates(
    iris: Task, policy: str, params: dict[str, Any],
) -> None:
    nodes = _simulate(iris, policy, params, steps=40, workers=5)
    assert len(nodes) == 40
    assert _unreported(nodes) == []
    duplicates = [n for n in nodes if n.duplicate_of]
    assert len(duplicates) <= 2, [(n.node_id, n.operator, n.duplicate_of) for n in duplicates]
    if policy == "mcts":  # deterministic (each batch's proposals depend on nothing else)
        again = _simulate(iris, policy, params, steps=40, workers=5)
        assert [n.code for n in again] == [n.code for n in nodes]


def test_duplicate_of_reaches_the_journal_and_the_node_table(tmp_path: Path) -> None:
    result = run_small(tmp_path / "study", policies=["random"], steps=4, workers=2,
                       operator_params={})
    frame = read_nodes(result.study_dir / "nodes.parquet")
    assert "duplicate_of" in frame.columns and len(frame) == 4
    nodes = [n for o in result.outcomes for n in o.nodes]
    assert _unreported(nodes) == []
    assert frame["duplicate_of"].isna().sum() == sum(n.duplicate_of is None for n in nodes)


def test_an_older_node_table_without_the_column_still_loads(tmp_path: Path) -> None:
    from aira_eval.study.table import records_to_frame

    frame = records_to_frame([{"node_id": "a", "search_id": "s", "task": "t", "policy": "p",
                               "seed": 0, "step": 0, "operator": "draft", "status": "ok",
                               "valid": False, "lower_is_better": False,
                               "duplicate_of": "x"}])
    path = tmp_path / "nodes.parquet"
    write_nodes(frame, path)
    table = pq.read_table(path)
    old = table.drop(["duplicate_of", "injected_bug"])
    pq.write_table(old.replace_schema_metadata(table.schema.metadata), path)
    back = read_nodes(path)
    assert back["duplicate_of"].isna().all() and back["injected_bug"].isna().all()
    assert list(back.columns) == list(frame.columns)


def test_llm_operators_report_a_repeated_answer(tmp_path: Path) -> None:
    """Every reply is the same script: two drafts of one parallel batch (the engine marks the
    one journaled second), then an improvement (the operator marks it)."""

    def respond(call: Call) -> Any:
        if call.op == "analyze":
            return Tool("submit_review", '{"is_bug": false, "summary": "ok", "metric": 0.5}')
        return fenced("Logistic regression on the measurements.", IRIS_CODE)

    out = tmp_path / "llm"
    from aira_eval.search.study_runner import run_study

    with scripted_llm(respond):
        result = run_study(small_config(operators="aide", model=MODEL, steps=3, workers=2,
                                        policy_params={"greedy": {"num_drafts": 2}}), out)
    nodes = sorted((n for o in result.outcomes for n in o.nodes), key=lambda n: n.step)
    assert len(nodes) == 3 and len({n.code for n in nodes}) == 1
    assert [n.status for n in nodes] == ["ok"] * 3
    assert sum(n.duplicate_of is None for n in nodes) == 1
    assert _unreported(nodes) == []
    assert nodes[2].operator == "improve"
    assert nodes[2].duplicate_of in (nodes[0].node_id, nodes[1].node_id)
    frame = read_nodes(out / "nodes.parquet").sort_values("step")
    assert frame["duplicate_of"].notna().sum() == 2
    assert not math.isnan(float(frame["score_val"].iloc[2]))
