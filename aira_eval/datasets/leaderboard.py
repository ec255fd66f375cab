"""Kaggle leaderboards and medal thresholds, by the rule MLE-bench applies.

A leaderboard CSV (as MLE-bench ships it) has the columns ``scoreNullable, teamId,
hasTeamName, submissionDate, score, hasScore``, one row per team, best first. With ``N`` teams
and ``score@k`` the score of the k-th row (1-indexed), MLE-bench's ``Grader.rank_score``
derives (following kaggle.com/progression):

=============  =============================  ====================  ====================
N teams        gold                           silver                bronze
=============  =============================  ====================  ====================
1-99           score@max(1, int(0.1N))        score@max(1, int(0.2N)) score@max(1, int(0.4N))
100-249        score@10                       score@max(1, int(0.2N)) score@max(1, int(0.4N))
250-999        score@(10 + int(0.002N))       score@50              score@100
>= 1000        score@(10 + int(0.002N))       score@max(1, int(0.05N)) score@max(1, int(0.1N))
=============  =============================  ====================  ====================

The median threshold is the pandas median of all scores (NaN skipped); lower is better when
``score@1 < score@N`` (MLE-bench's ``Grader.is_lower_better``). Medal tests are inclusive,
"above median" is strict, medals are exclusive (gold beats silver beats bronze).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.errors import DataError

LEADERBOARD_COLUMNS = (
    "scoreNullable",
    "teamId",
    "hasTeamName",
    "submissionDate",
    "score",
    "hasScore",
)


@dataclass(frozen=True)
class MedalFlags:
    """Which medal a score earns; at most one of gold/silver/bronze is true."""

    gold: bool
    silver: bool
    bronze: bool
    any_medal: bool
    above_median: bool

    def to_dict(self) -> dict[str, bool]:
        return {
            "gold_medal": self.gold,
            "silver_medal": self.silver,
            "bronze_medal": self.bronze,
            "any_medal": self.any_medal,
            "above_median": self.above_median,
        }


NO_MEDAL = MedalFlags(False, False, False, False, False)


@dataclass(frozen=True)
class Thresholds:
    """Medal thresholds of one competition, and its direction."""

    gold: float
    silver: float
    bronze: float
    median: float
    lower_is_better: bool

    def _reaches(self, score: float, threshold: float) -> bool:
        return score <= threshold if self.lower_is_better else score >= threshold

    def medals(self, score: float | None) -> MedalFlags:
        """Medal flags of ``score`` (``None``, an invalid submission, earns nothing).

        Medal tests are inclusive (a score equal to the gold threshold is gold); above
        median is strict; only the best medal reached is set.
        """
        if score is None or np.isnan(score):
            return NO_MEDAL
        gold = self._reaches(score, self.gold)
        silver = not gold and self._reaches(score, self.silver)
        bronze = not gold and not silver and self._reaches(score, self.bronze)
        above = score < self.median if self.lower_is_better else score > self.median
        return MedalFlags(gold, silver, bronze, gold or silver or bronze, bool(above))

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "gold_threshold": self.gold,
            "silver_threshold": self.silver,
            "bronze_threshold": self.bronze,
            "median_threshold": self.median,
            "lower_is_better": self.lower_is_better,
        }


def medal_positions(n_teams: int) -> tuple[int, int, int]:
    """1-indexed leaderboard rows whose scores are the (gold, silver, bronze) thresholds.

    Raises:
        DataError: ``n_teams`` < 1.
    """
    if n_teams < 1:
        raise DataError("a leaderboard needs at least one team")
    if n_teams < 100:
        return (max(1, int(n_teams * 0.1)), max(1, int(n_teams * 0.2)), max(1, int(n_teams * 0.4)))
    if n_teams < 250:
        return (10, max(1, int(n_teams * 0.2)), max(1, int(n_teams * 0.4)))
    if n_teams < 1000:
        return (10 + int(n_teams * 0.002), 50, 100)
    return (
        10 + int(n_teams * 0.002),
        max(1, int(n_teams * 0.05)),
        max(1, int(n_teams * 0.1)),
    )


@dataclass(frozen=True)
class Leaderboard:
    """A final leaderboard, best team first.

    Attributes:
        frame: the rows as read (at least a float ``score`` column).
        source: where it was read from, if anywhere.
    """

    frame: pd.DataFrame
    source: str | None = None

    @classmethod
    def from_csv(cls, path: str | Path) -> Leaderboard:
        """Read a leaderboard CSV in MLE-bench's format.

        Raises:
            DataError: missing/unreadable file, missing columns, non-numeric or no scores.
        """
        path = Path(path)
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError as err:
            raise DataError(f"no leaderboard at {path}") from err
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read leaderboard {path}: {err}") from err
        missing = [c for c in LEADERBOARD_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"leaderboard {path} is missing column(s) {missing}")
        return cls.from_frame(frame, source=str(path))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str | None = None) -> Leaderboard:
        """Wrap a frame with a ``score`` column (best first), checking the scores."""
        where = source or "leaderboard"
        if "score" not in frame.columns:
            raise DataError(f"{where} has no 'score' column")
        try:
            scores = pd.to_numeric(frame["score"]).astype(float)
        except (ValueError, TypeError) as err:
            raise DataError(f"{where}: the 'score' column is not numeric ({err})") from err
        if len(frame) == 0 or scores.isna().all():
            raise DataError(f"{where} has no scores")
        frame = frame.reset_index(drop=True).assign(score=scores)
        return cls(frame=frame, source=source)

    @classmethod
    def from_scores(cls, scores: np.ndarray | list[float]) -> Leaderboard:
        """A leaderboard from scores listed best first."""
        return cls.from_frame(pd.DataFrame({"score": np.asarray(scores, dtype=float)}))

    @property
    def scores(self) -> np.ndarray:
        """Scores, best first, as float64 (one per team)."""
        return self.frame["score"].to_numpy(dtype=float)

    @property
    def n_teams(self) -> int:
        return len(self.frame)

    @property
    def lower_is_better(self) -> bool:
        """MLE-bench's rule: the first row's score is below the last row's."""
        scores = self.scores
        return bool(scores[0] < scores[-1])

    def score_at(self, position: int) -> float:
        """Score of the ``position``-th team (1-indexed)."""
        if not 1 <= position <= self.n_teams:
            raise DataError(f"position {position} is outside the leaderboard (1..{self.n_teams})")
        return float(self.scores[position - 1])

    def thresholds(self) -> Thresholds:
        """Gold/silver/bronze/median thresholds by the table in the module docstring."""
        gold, silver, bronze = (self.score_at(p) for p in medal_positions(self.n_teams))
        median = float(self.frame["score"].median())
        return Thresholds(gold, silver, bronze, median, self.lower_is_better)

    def percentile(self, score: float) -> float:
        """% of teams that ``score`` beats, a tie counting half, in [0, 100].

        The same convention as the ``percentile`` metric of ``aira-eval select``. Teams
        without a score are ignored; a NaN score (a failed submission) gets 0.
        """
        scores = self.scores
        scores = scores[~np.isnan(scores)]
        if np.isnan(score) or scores.size == 0:
            return 0.0
        better = scores > score if self.lower_is_better else scores < score
        ties = scores == score
        return float(100.0 * (better.sum() + 0.5 * ties.sum()) / scores.size)
