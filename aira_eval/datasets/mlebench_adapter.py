"""Optional bridge to the ``mlebench`` package (serves any of its 75 competitions).

``mlebench`` is imported lazily inside each function; without it,
:func:`mlebench_available` is false and the other functions raise ``UsageError``. The API
used is MLE-bench's own: ``mlebench.registry.registry`` (``set_data_dir``,
``get_competition``, ``list_competition_ids``), a competition's ``grader`` (``grade_fn``,
``is_lower_better``, ``rank_score``), ``answers`` and ``leaderboard`` paths,
``mlebench.data.get_leaderboard``, ``mlebench.utils.load_answers`` and
``mlebench.grade_helpers.InvalidSubmissionError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.datasets.competitions import get_competition
from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.datasets.leaderboard import Thresholds
from aira_eval.datasets.metrics import ALIASES, METRICS
from aira_eval.errors import DataError, TaskNotFoundError, UsageError


def mlebench_available() -> bool:
    """Whether ``import mlebench`` (with its registry) works here."""
    try:
        import mlebench.registry  # noqa: F401
    except ImportError:
        return False
    return True


def _require_mlebench() -> None:
    if not mlebench_available():
        raise UsageError(
            "the mlebench package is not installed",
            hint="install MLE-bench from its repository (github.com/openai/mle-bench), or use "
            "the built-in competitions (aira_eval.datasets.competitions)",
        )


def _registry(data_dir: str | Path | None) -> Any:
    _require_mlebench()
    from mlebench.registry import registry

    return registry if data_dir is None else registry.set_data_dir(Path(data_dir))


def registry_competition_ids(data_dir: str | Path | None = None) -> list[str]:
    """Every competition id MLE-bench's registry knows, sorted."""
    return sorted(_registry(data_dir).list_competition_ids())


def _competition(competition_id: str, data_dir: str | Path | None) -> Any:
    registry = _registry(data_dir)
    if competition_id not in registry.list_competition_ids():
        raise TaskNotFoundError(f"MLE-bench has no competition {competition_id!r}")
    return registry.get_competition(competition_id)


def _leaderboard(competition: Any) -> pd.DataFrame:
    from mlebench.data import get_leaderboard

    try:
        return get_leaderboard(competition)
    except (AssertionError, FileNotFoundError, OSError) as err:
        raise DataError(f"no leaderboard for {competition.id}: {err}") from err


@dataclass
class MlebenchGrader:
    """A :class:`~aira_eval.datasets.grader.Grader` calling MLE-bench's ``grade_fn``.

    MLE-bench's ``InvalidSubmissionError`` and any other exception raised while grading (which
    MLE-bench also counts as an invalid submission) become ``InvalidSubmission``. The score is
    the unrounded ``grade_fn`` value.
    """

    name: str
    metric: str
    lower_is_better: bool
    id_column: str | None
    grade_fn: Callable[[pd.DataFrame, Any], Any]
    invalid_error: type[Exception]

    def grade(self, submission: pd.DataFrame, answers: Any) -> float:
        try:
            score = self.grade_fn(submission, answers)
        except self.invalid_error as err:
            raise InvalidSubmission(str(err) or "rejected by MLE-bench's grader") from err
        except Exception as err:  # MLE-bench treats every grading error as invalid
            raise InvalidSubmission(
                f"MLE-bench's grader failed: {type(err).__name__}: {err}"
            ) from err
        if score is None:
            raise InvalidSubmission("MLE-bench's grader returned no score")
        return float(score)


def _metric_name(grader_name: str) -> str:
    key = grader_name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in METRICS else grader_name


def mlebench_grader(competition_id: str, data_dir: str | Path | None = None) -> MlebenchGrader:
    """Wrap MLE-bench's registry grader of ``competition_id``.

    The direction comes from the competition's leaderboard (MLE-bench's rule), falling back to
    the built-in spec when there is no leaderboard; ``id_column`` comes from the built-in spec
    where there is one (else ``None``).

    Raises:
        UsageError: ``mlebench`` is not installed; ``TaskNotFoundError`` for an unknown id.
    """
    from mlebench.grade_helpers import InvalidSubmissionError

    competition = _competition(competition_id, data_dir)
    builtin = get_competition(competition_id)
    try:
        lower = bool(competition.grader.is_lower_better(_leaderboard(competition)))
    except DataError:
        if builtin is None:
            raise
        lower = builtin.grader.lower_is_better
    return MlebenchGrader(
        name=competition_id,
        metric=builtin.grader.metric if builtin else _metric_name(competition.grader.name),
        lower_is_better=lower,
        id_column=builtin.grader.id_column if builtin else None,
        grade_fn=competition.grader.grade_fn,
        invalid_error=InvalidSubmissionError,
    )


def mlebench_answers(competition_id: str, data_dir: str | Path | None = None) -> Any:
    """The competition's private answers, loaded by MLE-bench's ``load_answers``."""
    from mlebench.utils import load_answers

    competition = _competition(competition_id, data_dir)
    return load_answers(competition.answers)


def mlebench_thresholds(competition_id: str, data_dir: str | Path | None = None) -> Thresholds:
    """Medal thresholds and direction exactly as MLE-bench's ``Grader.rank_score`` computes."""
    competition = _competition(competition_id, data_dir)
    leaderboard = _leaderboard(competition)
    info = competition.grader.rank_score(None, leaderboard)
    return Thresholds(
        gold=float(info["gold_threshold"]),
        silver=float(info["silver_threshold"]),
        bronze=float(info["bronze_threshold"]),
        median=float(info["median_threshold"]),
        lower_is_better=bool(competition.grader.is_lower_better(leaderboard)),
    )
