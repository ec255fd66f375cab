"""Improve moves change something the current script uses on the task at hand.

No imputation choice where nothing is missing, no ``log1p`` where no column is skewed, no leaf
cap the rows cannot reach, no ``max_features`` value that tries as many columns as the current
one: every improvement changes the effective key, and on every builtin task the improvements'
validation scores move.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aira_eval.datasets.builtin import builtin_names
from aira_eval.datasets.registry import resolve_task
from aira_eval.datasets.task import Task
from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.operators.base import OperatorContext, TaskBrief
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.moves import apply_change, candidate_changes
from aira_eval.search.operators.procedural.operators import ProceduralOperators
from aira_eval.search.operators.procedural.render import render
from aira_eval.search.operators.procedural.space import Space

OPS = ProceduralOperators(bug_rate=0)
BUILTINS = builtin_names()


def _task(name: str) -> Task:
    return resolve_task(f"builtin:{name}", heldouts=False)


def _ctx(task: Task, seed: int) -> OperatorContext:
    return OperatorContext(brief=TaskBrief.from_task(task, 60), rng=np.random.default_rng(seed),
                           step=seed, journal=JournalView([]))


def _space(task: Task) -> Space:
    return OPS.space(_ctx(task, 0))


def _body(code: str) -> str:
    """The script without its docstring (plan and title): what actually runs."""
    return code.split('"""', 2)[2]


def _node(config: dict) -> NodeView:
    return NodeView(node_id="p", step=0, operator="draft", parent_ids=(), depth=0,
                    debug_depth=0, status="ok", reason=None, plan="", code="", config=config,
                    stdout_tail="", score_val=None, val_folds=(), fitness=0.5, analysis="",
                    exec_time=1.0)


def test_the_builtin_tasks_are_the_ones_covered() -> None:
    assert set(BUILTINS) == {"breast-cancer", "digits", "wine", "diabetes", "iris"}


@pytest.mark.parametrize("name", BUILTINS)
def test_every_improve_changes_an_effective_parameter(name: str) -> None:
    task = _task(name)
    space = _space(task)
    paths: set[str] = set()
    for seed in range(6):
        drafted = PipelineConfig.from_dict(OPS.draft(_ctx(task, seed)).config)
        assert drafted is not None
        parent = space.normalize(drafted)
        before = _body(render(parent, space))
        for change in candidate_changes(space, parent):
            child = apply_change(space, parent, change)
            assert space.effective_key(child) != space.effective_key(parent), change
            assert _body(render(child, space)) != before, change
            paths.add(change.path)
    # nothing is missing in scikit-learn's datasets: imputation choices do nothing there
    assert not paths & {"preprocessing.impute", "preprocessing.missing_indicators"}
    assert not space.schema.numeric_missing
    assert "model.family" in paths and any(p.startswith("model.params.") for p in paths)


def test_log1p_is_offered_only_where_a_column_is_skewed() -> None:
    diabetes = _space(_task("diabetes"))  # mean-centred features: none is non-negative
    assert diabetes.schema.skewed == () and not diabetes.schema.row_stats_skewed
    assert "log1p_skewed" not in {k.name for k in diabetes.knobs()}
    cancer = _space(_task("breast-cancer"))
    assert cancer.schema.skewed  # areas, concavities: long right tails
    linear = cancer.default_config("linear")
    assert "features.log1p_skewed" in {c.path for c in candidate_changes(cancer, linear)}


def test_a_leaf_cap_the_rows_cannot_reach_is_not_a_move() -> None:
    wine = _space(_task("wine"))
    assert wine.schema.n_rows < 15 * 20  # fewer than 15 leaves of 20 rows each
    boosting = wine.default_config("hist_gb")  # max_leaf_nodes 31, min_samples_leaf 20
    paths = {c.path for c in candidate_changes(wine, boosting)}
    assert "model.params.max_leaf_nodes" not in paths
    assert "model.params.min_samples_leaf" in paths
    digits = _space(_task("digits"))
    assert digits.schema.n_rows > 63 * 20
    offered = {c.new for c in candidate_changes(digits, digits.default_config("hist_gb"))
               if c.path == "model.params.max_leaf_nodes"}
    assert offered == {15, 63}


def test_forest_max_features_moves_only_when_the_count_changes() -> None:
    iris = _space(_task("iris"))  # four columns: sqrt and half both try two
    forest = iris.default_config("random_forest")
    assert forest.params["max_features"] == "sqrt"
    offered = {c.new for c in candidate_changes(iris, forest)
               if c.path == "model.params.max_features"}
    assert offered == {1.0}
    wider = forest.with_value("features.row_stats", True)  # seven columns: 2, 3 and 7
    offered = {c.new for c in candidate_changes(iris, wider)
               if c.path == "model.params.max_features"}
    assert offered == {0.5, 1.0}


def test_scaling_is_no_move_for_forests_but_one_for_neighbours() -> None:
    cancer = _space(_task("breast-cancer"))
    forest = {c.path for c in candidate_changes(cancer, cancer.default_config("random_forest"))}
    knn = {c.path for c in candidate_changes(cancer, cancer.default_config("knn"))}
    assert "preprocessing.scaling" not in forest and "preprocessing.scaling" in knn


def _score(code: str, task: Task, work: Path) -> float | None:
    (work / "submission").mkdir(parents=True)
    (work / "input").symlink_to(task.public_dir)
    (work / "code.py").write_text(code)
    run = subprocess.run([sys.executable, "code.py"], cwd=work, capture_output=True, text=True,
                         timeout=300)
    found = re.findall(r"^VALIDATION_SCORE: (\S+)$", run.stdout, flags=re.M)
    return float(found[-1]) if found else None


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_improvements_move_the_validation_score(name: str, tmp_path: Path) -> None:
    """Three improvements of one draft, run for real: not all score like their parent."""
    task = _task(name)
    parent = OPS.draft(_ctx(task, 0))
    base = _score(parent.code, task, tmp_path / "parent")
    assert base is not None
    scores = []
    for seed in (1, 2, 3):
        child = OPS.improve(_ctx(task, seed), _node(parent.config))
        scores.append(_score(child.code, task, tmp_path / f"child{seed}"))
    assert all(s is not None for s in scores)
    assert any(s != base for s in scores), (base, scores)
