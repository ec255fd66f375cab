"""Optional bridge to the ``mlebench`` package (serves any of its 75 competitions).

``mlebench`` is imported lazily inside each function; without it,
:func:`mlebench_available` is false and the other functions raise ``UsageError``. The API
used is MLE-bench's own: ``mlebench.registry.registry`` (``set_data_dir``,
``get_competition``, ``list_competition_ids``), a competition's ``grader`` (``grade_fn``,
``is_lower_better``, ``rank_score``), ``answers`` and ``leaderboard`` paths,
``mlebench.utils.load_answers`` and ``mlebench.grade_helpers.InvalidSubmissionError``.

Two facts about the installed package shape this module: the ``leaderboard.csv`` files inside
the package are git-LFS pointers unless MLE-bench was installed from a checkout with LFS
objects, so the leaderboard is read from the data dir first (``<data_dir>/<id>/
leaderboard.csv``) and an LFS pointer is reported as missing data; and ``mlebench.data``
opens a disk cache in the current directory when imported, so it is never imported here.
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


INSTALL_HINT = (
    'install MLE-bench: pip install "aira-eval[mlebench]" && pip install --no-deps '
    '"mlebench @ git+https://github.com/openai/mle-bench" (offline: pip install --no-deps '
    "mlebench-1.0.0-py3-none-any.whl), or use the built-in competitions"
)


def _require_mlebench() -> None:
    if not mlebench_available():
        raise UsageError("the mlebench package is not installed", hint=INSTALL_HINT)


def _registry(data_dir: str | Path | None) -> Any:
    _require_mlebench()
    from mlebench.registry import registry

    return registry if data_dir is None else registry.set_data_dir(Path(data_dir))


def registry_competition_ids(data_dir: str | Path | None = None) -> list[str]:
    """Every competition id MLE-bench's registry knows, sorted."""
    return sorted(_registry(data_dir).list_competition_ids())


def registry_competition(competition_id: str, data_dir: str | Path | None = None) -> Any:
    """MLE-bench's ``Competition`` object (its paths under ``data_dir``)."""
    registry = _registry(data_dir)
    if competition_id not in registry.list_competition_ids():
        raise TaskNotFoundError(f"MLE-bench has no competition {competition_id!r}")
    try:
        return registry.get_competition(competition_id)
    except ImportError as err:  # its preparer needs a package of MLE-bench's full install
        raise DataError(
            f"MLE-bench's competition {competition_id!r} cannot be loaded here: {err}",
            hint=f"Install the missing package ({err.name or 'see the message'}) or MLE-bench "
            "with its dependencies.",
        ) from err


LFS_POINTER = b"version https://git-lfs"


def is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` is a git-LFS pointer file rather than the data it stands for."""
    with path.open("rb") as fh:
        return fh.read(len(LFS_POINTER)) == LFS_POINTER


def leaderboard_file(competition: Any, data_dir: str | Path | None = None) -> Path | None:
    """``<data_dir>/<id>/leaderboard.csv``, else the package's own copy unless it is a git-LFS
    pointer; None when neither holds a leaderboard."""
    candidates = [Path(data_dir) / competition.id / "leaderboard.csv"] if data_dir else []
    if getattr(competition, "leaderboard", None) is not None:
        candidates.append(Path(competition.leaderboard))
    for path in candidates:
        if path.is_file() and not is_lfs_pointer(path):
            return path
    return None


def _leaderboard(competition: Any, data_dir: str | Path | None) -> pd.DataFrame:
    path = leaderboard_file(competition, data_dir)
    if path is None:
        raise DataError(
            f"no leaderboard for {competition.id}: neither the data dir nor the mlebench "
            "package holds one (an installed package's leaderboard.csv is a git-LFS pointer)",
            hint=f"Put the competition's leaderboard.csv in <data dir>/{competition.id}/.",
        )
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the leaderboard {path}: {err}") from err


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
    the built-in spec, then to the metric MLE-bench's grader is named after, when there is no
    leaderboard; ``id_column`` comes from the built-in spec where there is one (else ``None``).

    Raises:
        UsageError: ``mlebench`` is not installed; ``TaskNotFoundError`` for an unknown id;
        ``DataError`` when no leaderboard and no known metric tell the direction.
    """
    from mlebench.grade_helpers import InvalidSubmissionError

    competition = registry_competition(competition_id, data_dir)
    builtin = get_competition(competition_id)
    metric = builtin.grader.metric if builtin else _metric_name(competition.grader.name)
    try:
        lower = bool(competition.grader.is_lower_better(_leaderboard(competition, data_dir)))
    except DataError:
        if builtin is not None:
            lower = builtin.grader.lower_is_better
        elif metric in METRICS:
            lower = METRICS[metric].lower_is_better
        else:
            raise
    return MlebenchGrader(
        name=competition_id,
        metric=metric,
        lower_is_better=lower,
        id_column=builtin.grader.id_column if builtin else None,
        grade_fn=competition.grader.grade_fn,
        invalid_error=InvalidSubmissionError,
    )


def mlebench_answers(competition_id: str, data_dir: str | Path | None = None) -> Any:
    """The competition's private answers, loaded by MLE-bench's ``load_answers``."""
    from mlebench.utils import load_answers

    competition = registry_competition(competition_id, data_dir)
    return load_answers(competition.answers)


def mlebench_thresholds(competition_id: str, data_dir: str | Path | None = None) -> Thresholds:
    """Medal thresholds and direction exactly as MLE-bench's ``Grader.rank_score`` computes."""
    competition = registry_competition(competition_id, data_dir)
    leaderboard = _leaderboard(competition, data_dir)
    info = competition.grader.rank_score(None, leaderboard)
    return Thresholds(
        gold=float(info["gold_threshold"]),
        silver=float(info["silver_threshold"]),
        bronze=float(info["bronze_threshold"]),
        median=float(info["median_threshold"]),
        lower_is_better=bool(competition.grader.is_lower_better(leaderboard)),
    )


def package_file(competition_id: str, name: str) -> Path | None:
    """A file MLE-bench's package ships for a competition (``description_obfuscated.md``...),
    or None when mlebench is absent, does not know the competition or lacks the file."""
    if not mlebench_available():
        return None
    from mlebench.registry import registry

    path = Path(registry.get_competitions_dir()) / competition_id / name
    return path if path.is_file() else None
