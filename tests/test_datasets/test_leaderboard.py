"""Leaderboards, medal thresholds (the README's rule table) and medal flags."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.datasets.leaderboard import Leaderboard, Thresholds, medal_positions
from aira_eval.errors import DataError

REAL_LEADERBOARDS = [
    "mlebench/spaceship-titanic/leaderboard.csv",
    "mlebench/leaf-classification/leaderboard.csv",
    "mlebench/detecting-insults-in-social-commentary/leaderboard.csv",
    "mlebench/nomad2018-predict-transparent-conductors/leaderboard.csv",
    "leaderboards/tabular-playground-series-may-2022.leaderboard.csv",
    "leaderboards/tabular-playground-series-dec-2021.leaderboard.csv",
]


def _scores_with_csv_module(path: Path) -> list[float]:
    with path.open(newline="") as handle:
        return [float(row["score"]) for row in csv.DictReader(handle)]


def _reference_thresholds(scores: list[float]) -> tuple[float, float, float, float, bool]:
    """The README's table, written independently of the library."""
    n = len(scores)

    def at(k: int) -> float:  # 1-indexed
        return scores[k - 1]

    if n < 100:
        rows = [max(1, int(n * f)) for f in (0.1, 0.2, 0.4)]
    elif n < 250:
        rows = [10, max(1, int(n * 0.2)), max(1, int(n * 0.4))]
    elif n < 1000:
        rows = [10 + int(n * 0.002), 50, 100]
    else:
        rows = [10 + int(n * 0.002), max(1, int(n * 0.05)), max(1, int(n * 0.1))]
    gold, silver, bronze = (at(k) for k in rows)
    return gold, silver, bronze, statistics.median(scores), scores[0] < scores[-1]


@pytest.mark.parametrize("relative", REAL_LEADERBOARDS)
def test_real_thresholds_match_the_readme_rule(shared_data: Path, relative: str) -> None:
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{path} not found")
    board = Leaderboard.from_csv(path)
    scores = _scores_with_csv_module(path)
    gold, silver, bronze, median, lower = _reference_thresholds(scores)
    th = board.thresholds()
    assert board.n_teams == len(scores)
    assert np.array_equal(board.scores, np.asarray(scores))
    assert (th.gold, th.silver, th.bronze) == (gold, silver, bronze)
    assert th.median == pytest.approx(median, abs=1e-12)
    assert th.lower_is_better is lower


def _board(shared_data: Path, relative: str) -> Leaderboard:
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return Leaderboard.from_csv(path)


def test_spaceship_hand_checked(shared_data: Path) -> None:
    board = _board(shared_data, REAL_LEADERBOARDS[0])
    th = board.thresholds()
    # 2288 teams (>= 1000): gold row 10 + int(4.576) = 14, silver int(114.4) = 114,
    # bronze int(228.8) = 228; higher is better (0.82815 at the top, 0.0 at the bottom).
    assert board.n_teams == 2288
    assert medal_positions(2288) == (14, 114, 228)
    assert board.scores[0] == 0.82815 and board.scores[-1] == 0.0
    assert th.gold == board.scores[13] and th.lower_is_better is False
    assert th.gold >= th.silver >= th.bronze >= th.median


def test_insults_hand_checked(shared_data: Path) -> None:
    board = _board(shared_data, REAL_LEADERBOARDS[2])
    # 50 teams (< 100): rows 5, 10, 20.
    assert board.n_teams == 50
    assert medal_positions(50) == (5, 10, 20)
    th = board.thresholds()
    assert (th.gold, th.silver, th.bronze) == tuple(board.scores[[4, 9, 19]])
    assert th.median == float(np.median(board.scores))


def test_nomad_and_leaf_are_lower_is_better(shared_data: Path) -> None:
    nomad = _board(shared_data, REAL_LEADERBOARDS[3])
    # 879 teams (250-999): rows 10 + int(1.758) = 11, 50, 100.
    assert nomad.n_teams == 879 and medal_positions(879) == (11, 50, 100)
    th = nomad.thresholds()
    assert th.lower_is_better and th.gold == nomad.scores[10]
    assert th.gold <= th.silver <= th.bronze <= th.median
    leaf = _board(shared_data, REAL_LEADERBOARDS[1]).thresholds()
    assert leaf.lower_is_better and leaf.gold == 0.0


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, (1, 1, 1)),
        (9, (1, 1, 3)),
        (99, (9, 19, 39)),
        (100, (10, 20, 40)),
        (249, (10, 49, 99)),
        (250, (10, 50, 100)),
        (999, (11, 50, 100)),
        (1000, (12, 50, 100)),
        (5000, (20, 250, 500)),
    ],
)
def test_medal_positions_at_tier_boundaries(n: int, expected: tuple[int, int, int]) -> None:
    assert medal_positions(n) == expected


def test_medal_positions_rejects_empty() -> None:
    with pytest.raises(DataError):
        medal_positions(0)


HIGHER = Thresholds(gold=0.9, silver=0.8, bronze=0.7, median=0.6, lower_is_better=False)
LOWER = Thresholds(gold=0.1, silver=0.2, bronze=0.3, median=0.4, lower_is_better=True)


@pytest.mark.parametrize(
    ("thresholds", "score", "expected"),
    [
        (HIGHER, 0.95, (True, False, False, True)),
        (HIGHER, 0.9, (True, False, False, True)),  # inclusive gold
        (HIGHER, 0.8999, (False, True, False, True)),
        (HIGHER, 0.8, (False, True, False, True)),
        (HIGHER, 0.7, (False, False, True, True)),
        (HIGHER, 0.6999, (False, False, False, True)),
        (HIGHER, 0.6, (False, False, False, False)),  # strict above-median
        (HIGHER, 0.6001, (False, False, False, True)),
        (LOWER, 0.05, (True, False, False, True)),
        (LOWER, 0.1, (True, False, False, True)),
        (LOWER, 0.1001, (False, True, False, True)),
        (LOWER, 0.3, (False, False, True, True)),
        (LOWER, 0.4, (False, False, False, False)),
        (LOWER, 0.3999, (False, False, False, True)),
        (LOWER, 0.5, (False, False, False, False)),
    ],
)
def test_medal_flags_at_boundaries(
    thresholds: Thresholds, score: float, expected: tuple[bool, bool, bool, bool]
) -> None:
    flags = thresholds.medals(score)
    assert (flags.gold, flags.silver, flags.bronze, flags.above_median) == expected
    assert flags.any_medal == any(expected[:3])
    assert sum([flags.gold, flags.silver, flags.bronze]) <= 1


@pytest.mark.parametrize("score", [None, float("nan")])
def test_no_score_no_medal(score: float | None) -> None:
    flags = HIGHER.medals(score)
    assert not (flags.any_medal or flags.above_median)


def test_percentile_counts_ties_half() -> None:
    higher = Leaderboard.from_scores([0.9, 0.8, 0.8, 0.5])
    assert higher.percentile(0.95) == 100.0
    assert higher.percentile(0.9) == 87.5  # beats 3, ties the top team
    assert higher.percentile(0.8) == 50.0  # beats 1, ties 2
    assert higher.percentile(0.7) == 25.0
    assert higher.percentile(0.1) == 0.0
    assert higher.percentile(float("nan")) == 0.0
    lower = Leaderboard.from_scores([0.1, 0.2, 0.3, 0.4])
    assert lower.lower_is_better
    assert lower.percentile(0.2) == 62.5 and lower.percentile(1.0) == 0.0


def test_percentile_agrees_with_selection_metric() -> None:
    """Leaderboard.percentile and the `percentile` metric of `aira-eval select` agree."""
    import pandas as pd

    from aira_eval.selection.evaluate import node_metrics
    from aira_eval.selection.strategies import prepare_nodes
    from aira_eval.study.manifest import TaskInfo
    from aira_eval.study.table import records_to_frame

    board = Leaderboard.from_scores([0.9, 0.8, 0.8, 0.5, 0.3])
    tests = [0.95, 0.9, 0.8, 0.6, 0.1]
    rows = [{"search_id": "s", "task": "t", "policy": "p", "seed": 0, "node_id": f"n{i}",
             "step": i, "operator": "draft", "status": "ok", "valid": True,
             "lower_is_better": False, "score_val": v, "score_test": v}
            for i, v in enumerate(tests)]
    info = TaskInfo(task="t", lower_is_better=False, metric="accuracy",
                    leaderboard_scores=list(board.scores))
    metrics = node_metrics(prepare_nodes(records_to_frame(rows)), {"t": info})
    got = pd.Series(metrics["percentile"]).to_numpy()
    assert list(got) == [board.percentile(v) for v in tests]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = "scoreNullable,teamId,hasTeamName,submissionDate,score,hasScore\n"


@pytest.mark.parametrize(
    "text",
    [
        "",
        HEADER,
        "teamId,score\n1,0.5\n",
        HEADER + "0.5,1,True,2020-01-01,abc,True\n",
        HEADER + ",1,True,2020-01-01,,False\n",
    ],
)
def test_malformed_leaderboards_are_data_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError):
        Leaderboard.from_csv(_write(tmp_path / "lb.csv", text))


def test_missing_leaderboard_is_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no leaderboard"):
        Leaderboard.from_csv(tmp_path / "missing.csv")


def test_small_leaderboard_from_csv(tmp_path: Path) -> None:
    rows = "".join(f"{s},{i},True,2020-01-01,{s},True\n" for i, s in enumerate([5, 4, 3, 2, 1]))
    board = Leaderboard.from_csv(_write(tmp_path / "lb.csv", HEADER + rows))
    th = board.thresholds()
    assert (th.gold, th.silver, th.bronze, th.median) == (5.0, 5.0, 4.0, 3.0)
    assert not th.lower_is_better and board.score_at(5) == 1.0
    with pytest.raises(DataError):
        board.score_at(6)
    frame = pd.DataFrame({"score": [1.0, 2.0]})
    assert Leaderboard.from_frame(frame).lower_is_better
