"""Per-search evaluation of picks, and loading studies."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aira_eval.errors import DataError, UsageError
from aira_eval.selection.evaluate import METRICS, evaluate_strategies
from aira_eval.selection.strategies import StrategyParams, get_strategy
from aira_eval.study import load_study
from aira_eval.study.manifest import TaskInfo
from tests.test_selection.conftest import make_nodes, write_study

THRESHOLDS = {"gold": 0.9, "silver": 0.8, "bronze": 0.7, "median": 0.6}
BOARD = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5]


def _info(lower: bool = False, **kw: object) -> TaskInfo:
    base = {"task": "t1", "lower_is_better": lower, "metric": "m", "thresholds": THRESHOLDS,
            "leaderboard_scores": BOARD, "sample_score": 0.5}
    return TaskInfo(**{**base, **kw})  # type: ignore[arg-type]


def _evaluate(frame: pd.DataFrame, names: list[str], info: TaskInfo | None = None,
              **params: float) -> pd.DataFrame:
    tasks = {"t1": info or _info()}
    strategies = [get_strategy(n) for n in names]
    table = evaluate_strategies(frame, tasks, strategies, StrategyParams(**params))  # type: ignore[arg-type]
    return table.set_index(["strategy", "search_id"])


def test_metrics_of_a_single_pick() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.8}, {"val": 0.7, "test": 0.9},
                        {"val": 0.5, "test": 0.6}])
    row = _evaluate(frame, ["best-val"]).loc[("best-val", "s1")]
    assert row["node_id"] == "n0" and row["picked_nodes"] == ["n0"] and row["n_picked"] == 1
    assert row["test_score"] == 0.8 and row["oracle_score"] == 0.9
    assert row["regret"] == pytest.approx(0.1)
    assert row["val_score"] == 0.9 and row["optimism"] == pytest.approx(0.1)
    # silver is inclusive (0.8 >= 0.8) and exclusive of gold and bronze
    assert (row["gold"], row["silver"], row["bronze"], row["any_medal"]) == (0, 1, 0, 1)
    assert row["above_median"] == 1
    assert row["percentile"] == pytest.approx(100 * (3 + 0.5) / 6)  # 0.7, 0.6, 0.5 + tie
    # normalized: (0.8 - 0.5) / (best test of the task 0.9 - 0.5)
    assert row["normalized_score"] == pytest.approx(0.75)
    assert row["valid_submission"] == 1


def test_above_median_is_strict_and_medals_inclusive() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.6}, {"val": 0.1, "test": 0.9}])
    row = _evaluate(frame, ["best-val", "oracle"]).loc[("best-val", "s1")]
    assert row["above_median"] == 0 and row["any_medal"] == 0
    gold = _evaluate(frame, ["oracle"]).loc[("oracle", "s1")]
    assert (gold["gold"], gold["silver"], gold["bronze"]) == (1, 0, 0)


def test_lower_is_better_orientation() -> None:
    th = {"gold": 0.1, "silver": 0.2, "bronze": 0.3, "median": 0.4}
    info = _info(lower=True, thresholds=th, leaderboard_scores=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
                 sample_score=0.5)
    frame = make_nodes([{"val": 0.1, "test": 0.2}, {"val": 0.3, "test": 0.1},
                        {"val": 0.5, "test": 0.4}], lower_is_better=True)
    row = _evaluate(frame, ["best-val"], info).loc[("best-val", "s1")]
    assert row["test_score"] == 0.2 and row["oracle_score"] == 0.1
    assert row["regret"] == pytest.approx(0.1)  # oriented: >= 0
    assert row["optimism"] == pytest.approx(0.1)  # validation 0.1 promised better than 0.2
    assert (row["gold"], row["silver"], row["bronze"]) == (0, 1, 0)
    assert row["normalized_score"] == pytest.approx((0.2 - 0.5) / (0.1 - 0.5))
    assert row["percentile"] == pytest.approx(100 * 3.5 / 6)


def test_topk_counts_the_best_test_among_its_picks() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.5}, {"val": 0.8, "test": 0.95},
                        {"val": 0.7, "test": 0.99}])
    table = _evaluate(frame, ["topk"], k=2)
    row = table.loc[("topk", "s1")]
    assert row["picked_nodes"] == ["n0", "n1"] and row["node_id"] == "n1"
    assert row["test_score"] == 0.95 and row["val_score"] == 0.8


def test_random_is_the_exact_expectation() -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.95}, {"val": 0.8, "test": 0.85},
                        {"val": 0.7, "test": 0.55}, {"val": 0.1, "valid": False}])
    row = _evaluate(frame, ["random"]).loc[("random", "s1")]
    assert row["n_picked"] == 3 and pd.isna(row["node_id"])
    assert row["test_score"] == pytest.approx((0.95 + 0.85 + 0.55) / 3)
    assert row["gold"] == pytest.approx(1 / 3) and row["silver"] == pytest.approx(1 / 3)
    assert row["any_medal"] == pytest.approx(2 / 3)
    assert row["regret"] == pytest.approx(0.95 - row["test_score"])


def test_failed_submission_follows_mle_bench() -> None:
    ok = make_nodes([{"val": 0.9, "test": 0.8}], search_id="good")
    failed = make_nodes([{"val": 0.9, "valid": False}], search_id="failed")
    table = _evaluate(pd.concat([ok, failed], ignore_index=True), ["best-val", "random"])
    for name in ("best-val", "random"):
        row = table.loc[(name, "failed")]
        assert row["valid_submission"] == 0 and row["n_picked"] == 0
        assert math.isnan(row["test_score"]) and math.isnan(row["regret"])
        assert row["any_medal"] == 0 and row["gold"] == 0 and row["above_median"] == 0
        assert row["normalized_score"] == 0 and row["percentile"] == 0
        assert pd.isna(row["node_id"]) and row["picked_nodes"] == []


def test_metrics_without_thresholds_or_sample_are_missing() -> None:
    info = TaskInfo(task="t1", lower_is_better=False, metric="m")
    frame = make_nodes([{"val": 0.9, "test": 0.8}])
    failed = make_nodes([{"val": 0.9, "valid": False}], search_id="s2")
    table = _evaluate(pd.concat([frame, failed], ignore_index=True), ["best-val"], info)
    for search in ("s1", "s2"):
        row = table.loc[("best-val", search)]
        for metric in ("gold", "any_medal", "above_median", "percentile", "normalized_score"):
            assert math.isnan(row[metric]), (search, metric)


def test_every_metric_is_a_column_and_rows_cover_every_search() -> None:
    frames = [make_nodes([{"val": 0.5, "test": 0.5}], search_id=f"s{i}", seed=i)
              for i in range(3)]
    table = evaluate_strategies(pd.concat(frames, ignore_index=True), {"t1": _info()},
                                [get_strategy("best-val"), get_strategy("last")])
    assert set(METRICS) <= set(table.columns)
    assert len(table) == 6
    assert table.groupby("strategy").size().tolist() == [3, 3]


# ------------------------------------------------------------------------ loading studies


def test_load_a_study_dir_and_a_nodes_file(tmp_path: Path) -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.8}])
    study = write_study(tmp_path / "a", frame, {"t1": _info(heldout_sizes={"val": 120})})
    loaded = load_study([study])
    assert loaded.study_ids == ["study"] and loaded.tasks["t1"].thresholds == THRESHOLDS
    assert loaded.frame["n_val"].tolist() == [120]
    assert loaded.sources[0].study_dir == study
    by_file = load_study([study / "nodes.parquet"])
    assert by_file.tasks["t1"].sample_score == 0.5


def test_load_without_manifest_uses_the_node_table(tmp_path: Path) -> None:
    from aira_eval.study.table import write_nodes

    frame = make_nodes([{"val": 0.1, "test": 0.2}], lower_is_better=True)
    write_nodes(frame, tmp_path / "bare" / "nodes.parquet")
    loaded = load_study([tmp_path / "bare" / "nodes.parquet"])
    assert loaded.tasks["t1"].lower_is_better is True
    assert loaded.tasks["t1"].thresholds == {}


def test_colliding_search_ids_are_prefixed(tmp_path: Path) -> None:
    frame = make_nodes([{"val": 0.9, "test": 0.8}])
    a = write_study(tmp_path / "a", frame, {"t1": _info()}, study_id="A")
    b = write_study(tmp_path / "b", frame, {"t1": _info()}, study_id="B")
    loaded = load_study([a, b])
    assert sorted(loaded.frame["search_id"]) == ["A/s1", "B/s1"]
    with pytest.raises(UsageError, match="twice"):
        load_study([a, a])


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_study([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no nodes\.parquet"):
        load_study([tmp_path / "empty"])
    failed = write_study(tmp_path / "failed", make_nodes([{"val": 0.9, "valid": False}]),
                         {"t1": _info()})
    with pytest.raises(UsageError, match="no valid node"):
        load_study([failed], require_valid=True)


def test_newer_schema_is_rejected(tmp_path: Path) -> None:
    study = write_study(tmp_path / "new", make_nodes([{"val": 0.9, "test": 0.8}]),
                        {"t1": _info()})
    path = study / "nodes.parquet"
    table = pq.read_table(path)
    meta = dict(table.schema.metadata or {})
    meta[b"aira_eval.schema_version"] = b"99"
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(DataError, match="newer"):
        load_study([study])


def test_synthetic_truth_matches_random_strategy_on_a_large_study() -> None:
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

    study = generate_study(SyntheticSpec(n_tasks=2, n_seeds=200, n_nodes=40, search_sd=0.01))
    table = evaluate_strategies(study.frame, study.tasks, [get_strategy("random")])
    means = table.groupby("task")["test_score"].mean()
    np.testing.assert_allclose(means.to_numpy(), study.truth["random_mean"].to_numpy(),
                               atol=0.004)


def test_synthetic_tasks_carry_the_kaggle_medal_thresholds_of_their_leaderboard() -> None:
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

    study = generate_study(SyntheticSpec(n_tasks=3, n_seeds=1, n_nodes=4, leaderboard_teams=200))
    for info in study.tasks.values():
        board = info.leaderboard_scores  # best first; 200 teams: gold @10, silver @40, bronze @80
        assert info.thresholds == {"gold": board[9], "silver": board[39], "bronze": board[79],
                                   "median": pytest.approx(float(np.median(board)))}


def test_picked_node_id_is_a_text_column_with_missing_as_nan(tmp_path: Path) -> None:
    """As in picks.parquet (audit-d F10): pandas' ``str`` dtype, NaN (never None) where a
    strategy has no single pick (``random``) or a search has no valid node."""
    ok = make_nodes([{"val": 0.9, "test": 0.8}, {"val": 0.5, "test": 0.6}], search_id="good")
    failed = make_nodes([{"val": 0.9, "valid": False}], search_id="failed")
    frame = pd.concat([ok, failed], ignore_index=True)
    table = evaluate_strategies(frame, {"t1": _info()},
                                [get_strategy(n) for n in ("best-val", "random")])
    column = table["node_id"]
    assert pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column)
    assert column.tolist().count(None) == 0
    assert column.isna().sum() == 3 and column.dropna().tolist() == ["n0"]
    path = tmp_path / "picks.parquet"
    table.drop(columns=["picked_nodes"]).to_parquet(path)
    assert pd.read_parquet(path)["node_id"].dtype == column.dtype
