"""Strategies on hand-built node tables with known answers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from aira_eval.errors import UsageError
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import (
    STRATEGIES,
    Strategy,
    StrategyParams,
    get_strategy,
    node_estimates,
    not_applicable_reason,
    pick_one,
    run_strategy,
    strategy_names,
)
from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.selection.views import TEST_COLUMNS, selection_view
from tests.test_selection.conftest import make_nodes

SIMPLE = [
    {"val": 0.70, "test": 0.72},
    {"val": 0.90, "test": 0.60},  # best validation, poor test
    {"val": 0.80, "test": 0.85},  # best test
    {"val": 0.95, "test": 0.99, "valid": False},  # failed node: never picked
    {"val": 0.60, "test": 0.70},
]


def test_registry_names_match_the_cli() -> None:
    assert strategy_names() == ["best-val", "oracle", "topk", "shrinkage", "lcb",
                                "best-search", "best-select", "last", "random"]
    assert get_strategy("oracle").uses_test
    assert not any(s.uses_test for n, s in STRATEGIES.items() if n != "oracle")
    assert get_strategy("random").combine == "mean"


def test_unknown_strategy_suggests_close_names() -> None:
    with pytest.raises(UsageError) as err:
        get_strategy("best_val")
    assert "best-val" in str(err.value)


@pytest.mark.parametrize(("name", "expected"), [
    ("best-val", ["n1"]), ("oracle", ["n2"]), ("topk", ["n1", "n2", "n0"]), ("last", ["n4"]),
    ("random", ["n0", "n1", "n2", "n4"]),
])
def test_simple_search(name: str, expected: list[str]) -> None:
    assert pick_one(name, make_nodes(SIMPLE)) == expected


def test_lower_is_better_mirrors_the_picks() -> None:
    mirrored = [{**n, "val": 1 - n["val"], "test": 1 - n["test"]} for n in SIMPLE]
    frame = make_nodes(mirrored, lower_is_better=True)
    assert pick_one("best-val", frame) == ["n1"]
    assert pick_one("oracle", frame) == ["n2"]
    assert pick_one("topk", frame, StrategyParams(k=2)) == ["n1", "n2"]


def test_ties_go_to_the_earliest_step() -> None:
    frame = make_nodes([{"val": 0.8, "test": 0.1, "step": 5, "id": "late"},
                        {"val": 0.8, "test": 0.2, "step": 2, "id": "early"},
                        {"val": 0.7, "test": 0.9, "step": 0, "id": "first"}])
    assert pick_one("best-val", frame) == ["early"]
    assert pick_one("last", frame) == ["late"]


def test_no_valid_node_means_no_pick() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.9, "valid": False},
                        {"val": 0.8, "valid": False}])
    for name in ("best-val", "oracle", "topk", "shrinkage", "lcb", "last", "random"):
        assert pick_one(name, frame) == []


def test_valid_node_without_validation_score_is_not_ranked_by_it() -> None:
    frame = make_nodes([{"test": 0.9}, {"val": 0.5, "test": 0.4}])
    assert pick_one("best-val", frame) == ["n1"]
    assert pick_one("last", frame) == ["n1"]
    assert pick_one("random", frame) == ["n0", "n1"]


def test_topk_with_fewer_valid_nodes_than_k() -> None:
    frame = make_nodes(SIMPLE[:2])
    assert pick_one("topk", frame, StrategyParams(k=5)) == ["n1", "n0"]


def test_holdout_strategies_and_their_applicability() -> None:
    with_holdouts = make_nodes([{"val": 0.9, "test": 0.5, "search": 0.6, "select": 0.7},
                                {"val": 0.8, "test": 0.6, "search": 0.7, "select": 0.6}])
    assert pick_one("best-search", with_holdouts) == ["n1"]
    assert pick_one("best-select", with_holdouts) == ["n0"]
    without = make_nodes(SIMPLE)
    reason = not_applicable_reason(get_strategy("best-search"), without)
    assert reason is not None and "search" in reason
    assert not_applicable_reason(get_strategy("best-val"), without) is None


FOLDED = [
    {"val": 0.84, "folds": [0.70, 0.98], "test": 0.70},  # best mean, noisy (se 0.14)
    {"val": 0.81, "folds": [0.80, 0.82], "test": 0.80},  # slightly worse, precise (se 0.01)
    {"val": 0.61, "folds": [0.60, 0.62], "test": 0.60},
]


def _expected_posterior(means: np.ndarray, ses: np.ndarray) -> np.ndarray:
    mu = means.mean()
    tau2 = max(0.0, means.var(ddof=1) - np.mean(ses**2))
    return mu + tau2 / (tau2 + ses**2) * (means - mu)


def test_shrinkage_and_lcb_prefer_the_precise_node() -> None:
    frame = make_nodes(FOLDED)
    means = np.array([0.84, 0.81, 0.61])
    ses = np.array([np.std(f["folds"], ddof=1) / math.sqrt(2) for f in FOLDED])
    est = node_estimates(selection_view(frame), z=1.0)
    np.testing.assert_allclose(est["est_se"], ses)
    np.testing.assert_allclose(est["shrunk"], _expected_posterior(means, ses))
    np.testing.assert_allclose(est["lcb"], means - ses)
    assert pick_one("best-val", frame) == ["n0"]
    assert pick_one("shrinkage", frame) == ["n1"]
    assert pick_one("lcb", frame) == ["n1"]
    assert pick_one("lcb", frame, StrategyParams(z=0.0)) == ["n0"]


def test_shrinkage_and_lcb_lower_is_better() -> None:
    mirrored = [{**n, "val": 1 - n["val"], "folds": [1 - f for f in n["folds"]],
                 "test": 1 - n["test"]} for n in FOLDED]
    frame = make_nodes(mirrored, lower_is_better=True)
    est = node_estimates(selection_view(frame), z=1.0)
    ses = est["est_se"].to_numpy()
    np.testing.assert_allclose(est["lcb"], np.array([0.16, 0.19, 0.39]) + ses)  # upper bound
    np.testing.assert_allclose(est["shrunk"], 1 - _expected_posterior(
        np.array([0.84, 0.81, 0.61]), ses))
    assert pick_one("best-val", frame) == ["n0"]
    assert pick_one("shrinkage", frame) == ["n1"]
    assert pick_one("lcb", frame) == ["n1"]


def test_standard_error_without_folds() -> None:
    frame = make_nodes([{"val": 0.8, "test": 0.8}, {"val": 0.6, "folds": [0.5, 0.7],
                                                    "test": 0.6},
                        {"val": 3.5, "test": 3.0}])  # outside [0, 1]: no binomial proxy
    frame["n_val"] = 96
    est = node_estimates(selection_view(frame))
    p = (0.8 * 96 + 2) / 100
    fold_se = np.std([0.5, 0.7], ddof=1) / math.sqrt(2)
    np.testing.assert_allclose(est["est_se"], [math.sqrt(p * (1 - p) / 100), fold_se, fold_se])
    frame["n_val"] = 0  # unknown size: the search's median fold-based SE
    est = node_estimates(selection_view(frame))
    np.testing.assert_allclose(est["est_se"], [fold_se, fold_se, fold_se])


def test_single_candidate_is_not_shrunk() -> None:
    frame = make_nodes([{"val": 0.7, "folds": [0.6, 0.8], "test": 0.7}, {"valid": False}])
    est = node_estimates(selection_view(frame))
    assert est["shrunk"].iloc[0] == pytest.approx(0.7)
    assert math.isnan(est["shrunk"].iloc[1])


def _spy(seen: dict[str, list[str]], strategy: Strategy) -> Strategy:
    def func(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        seen[strategy.name] = list(view.columns)
        return strategy.func(view, params)

    return dataclasses.replace(strategy, func=func)


def test_strategies_never_see_test_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    study = generate_study(SyntheticSpec(n_tasks=2, n_seeds=2, n_nodes=10))
    seen: dict[str, list[str]] = {}
    for name, strategy in list(STRATEGIES.items()):
        monkeypatch.setitem(STRATEGIES, name, _spy(seen, strategy))
    evaluate_strategies(study.frame, study.tasks, list(STRATEGIES.values()))
    assert set(seen) == set(STRATEGIES)
    for name, columns in seen.items():
        leaked = [c for c in TEST_COLUMNS if c in columns]
        if name == "oracle":
            assert leaked == list(TEST_COLUMNS)
        else:
            assert leaked == [], f"{name} saw {leaked}"


def test_vectorized_picks_equal_per_search_picks() -> None:
    study = generate_study(SyntheticSpec(n_tasks=3, n_seeds=3, n_nodes=15, p_valid=0.6), seed=3)
    frame = study.frame
    frame["n_val"] = 800
    params = StrategyParams(k=2, z=1.5)
    for name in strategy_names():
        batch = run_strategy(get_strategy(name), frame, params)
        for search_id, search in frame.groupby("search_id"):
            expected = pick_one(name, search.reset_index(drop=True), params)
            got = batch.loc[batch["search_id"] == search_id, "node_id"].tolist()
            assert got == expected, (name, search_id)


def test_a_strategy_may_not_pick_an_invalid_node() -> None:
    def cheat(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        return view.loc[~view["valid"], ["search_id", "node_id"]]

    frame = make_nodes(SIMPLE)
    with pytest.raises(ValueError, match="not valid"):
        run_strategy(Strategy("cheat", cheat, "picks failed nodes"), frame)


def test_strategy_params_are_checked() -> None:
    with pytest.raises(UsageError):
        StrategyParams(k=0)
    with pytest.raises(UsageError):
        StrategyParams(z=float("nan"))
