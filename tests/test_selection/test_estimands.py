"""Estimands that mean one thing (issue 15): paired differences on common searches, a fixed
normalization reference, decomposed optimism, distinct top-k picks, per-task intervals,
rliable's probability of improvement and small-sample warnings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aira_eval.selection.bootstrap import draw_resamples
from aira_eval.selection.duplicates import code_hashes
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.improvement import probability_of_improvement
from aira_eval.selection.strategies import StrategyParams, get_strategy
from aira_eval.selection.summary import SelectionOptions, run_selection
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.study import Study
from aira_eval.study.manifest import StudyManifest, TaskInfo, fix_reference_scores
from tests.test_selection.conftest import make_nodes

FAST = {"n_resamples": 300}


def _info(**kw: object) -> TaskInfo:
    base: dict[str, object] = {"task": "t1", "lower_is_better": False, "metric": "acc",
                               "sample_score": 0.5}
    return TaskInfo(**{**base, **kw})  # type: ignore[arg-type]


def test_difference_is_over_the_searches_where_both_picked() -> None:
    """best-val fails on s1 (its only valid node has no validation score); the oracle picks
    a poor node there. Old rule: 0.79 − 0.90 = −0.110 with P(imp) 0; paired: Δ = 0 on s2."""
    frame = pd.concat([
        make_nodes([{"test": 0.68}], search_id="s1"),
        make_nodes([{"val": 0.9, "test": 0.9}], search_id="s2", seed=1),
    ], ignore_index=True)
    study = Study.from_nodes(frame, {"t1": _info()})
    result = run_selection(study, SelectionOptions(strategies=["best-val", "oracle"], **FAST))
    test = result.summary["strategies"]["oracle"]["metrics"]["test_score"]
    best_val = result.summary["strategies"]["best-val"]["metrics"]["test_score"]
    assert test["estimate"] - best_val["estimate"] == pytest.approx(-0.11)
    assert test["delta"]["estimate"] == 0.0
    assert test["delta"]["n_pairs"] == 1
    assert test["delta"]["share_resamples_favouring"] is None  # no spurious P for a twin
    # metrics with MLE-bench's failure rule are complete: the failed search scores 0
    norm = result.summary["strategies"]["oracle"]["metrics"]["normalized_score"]["delta"]
    assert norm["n_pairs"] == 2 and norm["estimate"] > 0
    assert any("differs from best-val's (normalized_score): oracle on 1 of 2" in w
               for w in result.summary["warnings"])


def test_normalized_score_does_not_change_when_searches_are_filtered() -> None:
    spec = SyntheticSpec(n_tasks=2, n_seeds=4, n_nodes=8, leaderboard_teams=0, holdouts=False)
    synthetic = generate_study(spec, seed=3)
    study = Study.from_nodes(synthetic.frame, synthetic.tasks)
    assert all(i.reference_score is not None for i in study.tasks.values())
    strategies = [get_strategy("best-val")]
    full = evaluate_strategies(study.frame, study.tasks, strategies).set_index("search_id")
    half = study.frame[study.frame["seed"] < 2]
    part = evaluate_strategies(half, study.tasks, strategies).set_index("search_id")
    np.testing.assert_allclose(part["normalized_score"],
                               full.loc[part.index, "normalized_score"])
    # the fallback (best valid test score) is the whole study's: its best search scores 1
    assert full["normalized_score"].max() <= 1.0


def test_reference_prefers_the_recorded_value_then_the_leaderboard() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.8}])
    tasks = {"t1": _info(leaderboard_scores=[0.7, 0.95, 0.6])}
    assert fix_reference_scores(tasks, frame)["t1"].reference_score == 0.95
    lower = {"t1": _info(lower_is_better=True, leaderboard_scores=[0.3, 0.1])}
    assert fix_reference_scores(lower, frame)["t1"].reference_score == 0.1
    kept = {"t1": _info(reference_score=2.0, leaderboard_scores=[0.95])}
    assert fix_reference_scores(kept, frame)["t1"].reference_score == 2.0
    assert fix_reference_scores({"t1": _info()}, frame)["t1"].reference_score == 0.8


def test_old_manifest_without_reference_score_reads(tmp_path: Path) -> None:
    raw = {"study_id": "old", "seed": 0, "tasks": {"t1": {
        "task": "t1", "lower_is_better": False, "metric": "acc"}}}
    (tmp_path / "study.json").write_text(json.dumps(raw))
    assert StudyManifest.read(tmp_path).tasks["t1"].reference_score is None


def test_selection_optimism_subtracts_a_random_nodes_optimism() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.8}, {"val": 0.7, "test": 0.65},
                        {"val": 0.6, "test": 0.6}])
    table = evaluate_strategies(frame, {"t1": _info()},
                                [get_strategy("best-val"), get_strategy("random")])
    rows = table.set_index("strategy")
    mean_optimism = np.mean([0.1, 0.05, 0.0])
    assert rows.loc["best-val", "optimism"] == pytest.approx(0.1)
    assert rows.loc["best-val", "selection_optimism"] == pytest.approx(0.1 - mean_optimism)
    assert rows.loc["random", "selection_optimism"] == pytest.approx(0.0, abs=1e-12)


def test_topk_counts_identical_code_once_and_says_so() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.7}, {"val": 0.85, "test": 0.7},
                        {"val": 0.8, "test": 0.75}, {"val": 0.5, "test": 0.95}])
    codes = {"n0": "print(1)\n", "n1": "print(1)\n", "n2": "print(2)\n", "n3": "print(3)\n"}
    frame["code_sha"] = code_hashes(frame, codes)
    assert frame["code_sha"].iloc[0] == frame["code_sha"].iloc[1] != frame["code_sha"].iloc[2]
    table = evaluate_strategies(frame, {"t1": _info()}, [get_strategy("topk")],
                                StrategyParams(k=2))
    row = table.iloc[0]
    assert sorted(row["picked_nodes"]) == ["n0", "n2"]
    assert row["duplicates_skipped"] == 1
    assert row["test_score"] == pytest.approx(0.75)
    plain = evaluate_strategies(frame.drop(columns="code_sha"), {"t1": _info()},
                                [get_strategy("topk")], StrategyParams(k=2)).iloc[0]
    assert sorted(plain["picked_nodes"]) == ["n0", "n1"] and plain["duplicates_skipped"] == 0


def test_probability_of_improvement_is_mann_whitney_per_task() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 7))
    values = np.stack([y, x], axis=1)[:, :, None]  # (U=7, S=2, M=1), reference first
    strata = np.zeros(7, dtype=np.int64)
    res, other = draw_resamples(strata, 400, 0), draw_resamples(strata, 400, 1)
    point, interval = probability_of_improvement(values, res, other, 0, np.ones(1))
    u = stats.mannwhitneyu(x, y).statistic / 49
    assert point[1, 0] == pytest.approx(u)
    assert point[0, 0] == pytest.approx(0.5)  # the reference against itself
    assert interval[1, 0, 0] < u < interval[1, 0, 1]
    flipped, _ = probability_of_improvement(values, res, other, 0, -np.ones(1))
    assert flipped[1, 0] == pytest.approx(1 - u)


def test_per_task_intervals_and_small_sample_warnings() -> None:
    spec = SyntheticSpec(n_tasks=2, n_seeds=3, n_nodes=6, holdouts=False)
    synthetic = generate_study(spec, seed=4)
    frame = synthetic.frame.assign(n_test=np.where(synthetic.frame["valid"], 60, 0))
    study = Study.from_nodes(frame, synthetic.tasks)
    result = run_selection(study, SelectionOptions(strategies=["best-val", "oracle"], **FAST))
    summary = result.summary
    warnings = summary["warnings"]
    assert "fewer than 5 searches" in warnings[0] and "under 100 rows" in warnings[1]
    for task in synthetic.tasks:
        block = summary["per_task_intervals"][task]["oracle"]["test_score"]
        mean = result.picks.query("strategy == 'oracle' and task == @task")["test_score"].mean()
        assert block["estimate"] == pytest.approx(mean)
        assert block["ci_low"] < mean < block["ci_high"] and block["n"] == 3
    assert "seeds (searches) resampled within each task" in summary["resampling"]


def test_a_strategy_that_agrees_on_every_search_has_no_delta_interval() -> None:
    """Δ of a strategy whose value equals the reference's on every search is 0 with no
    interval, study-wide and per task, in every method, and one line says why: ``[0, 0]``
    would claim the picks never differ, which 6 agreeing searches cannot show."""
    frames = [make_nodes([{"val": 0.6, "test": 0.7 + 0.01 * seed},
                          {"val": 0.8 + 0.01 * seed, "test": 0.75 + 0.02 * seed}],
                         search_id=f"{task}-s{seed}", task=task, seed=seed)
              for task in ("t1", "t2") for seed in range(3)]
    tasks = {t: _info(task=t) for t in ("t1", "t2")}
    study = Study.from_nodes(pd.concat(frames, ignore_index=True), tasks)
    for ci in ("hall", "t", "percentile"):
        result = run_selection(study, SelectionOptions(strategies=["best-val", "oracle", "last"],
                                                       ci=ci, **FAST))
        summary = result.summary
        for name in ("oracle", "last"):  # both pick best-val's node on every search
            delta = summary["strategies"][name]["metrics"]["test_score"]["delta"]
            assert delta["estimate"] == 0.0 and delta["n_differing"] == 0
            assert delta["ci_low"] is None and delta["ci_high"] is None
            assert all(v == [None, None] for k, v in delta.items() if k.endswith("_ci"))
            for task in tasks:
                per_task = summary["per_task_intervals"][task][name]["test_score"]
                assert per_task["delta"] == 0.0 and per_task["delta_ci_low"] is None
        line = [w for w in summary["warnings"] if "on every search" in w]
        assert line == ["the same normalized_score as best-val on every search: oracle (6 of "
                        "6), last (6 of 6); Δ = 0 there, with no interval (—): searches that "
                        "agree say nothing of how large Δ is where the picks would differ."]
