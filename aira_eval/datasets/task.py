"""The :class:`Task` every task source resolves to.

Whatever its source (``mlebench:``, ``builtin:``, ``synthetic:``, a task YAML), a task is a
public dir (what agent code sees as ``./input/``), private answers per held-out set, a grader,
a direction and optionally a leaderboard. Grading happens here, outside any sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.datasets.grader import Grader, InvalidSubmission
from aira_eval.datasets.grading import (
    GradeReport,
    SubmissionLimits,
    grade_csv,
    grade_frame,
    invalid_report,
    read_answers,
    read_submission,
)
from aira_eval.datasets.leaderboard import Leaderboard, Thresholds
from aira_eval.datasets.prepare import compute_checksums, read_checksums
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.errors import DataError, UsageError

TEST = "test"
"""The held-out set holding the private answers."""
HELDOUT_ORDER = ("search", "select", TEST)


@dataclass
class Task:
    """One resolved task.

    Attributes:
        task_id: as given (``builtin:digits``, ``mlebench:spaceship-titanic``, a YAML path).
        source: ``mlebench``, ``builtin``, ``synthetic`` or ``yaml``.
        name: the task's short name (competition id, dataset name).
        public_dir: the agent-facing files (with held-out rows mixed into its test file when
            held-out sets are built).
        private_dir: the directory holding the test answers.
        answers_path: the private test answers.
        grader: scores a submission against one held-out set's answers.
        lower_is_better: metric direction.
        metric: metric name.
        problem: what a solution script needs to know, when the source can say.
        description_path: ``description.md`` in the public dir, if any.
        sample_submission_path: the sample submission in the public dir, if any.
        leaderboard_path: a Kaggle leaderboard CSV (medal thresholds), if any.
        heldouts: held-out set name -> answers file; always holds ``test``, plus ``search``
            and ``select`` when built.
        checksums_path: ``checksums.yaml`` (MLE-bench format) of the prepared files, if any.
        location: where the task was found or prepared (data dir entry, cache dir).
        heldout_seed: seed of the ``search``/``select`` split, when built.
        heldout_fractions: fraction of the public train per held-out set, when built.
        answers_from_train: turns labelled public train rows into answers in the task's
            answer format (what held-out sets need); None when the source cannot.
        answers_reader: reads the test answers file (default: MLE-bench's ``read_csv``).
    """

    task_id: str
    source: str
    name: str
    public_dir: Path
    private_dir: Path
    answers_path: Path
    grader: Grader
    lower_is_better: bool
    metric: str
    problem: ProblemSpec | None = None
    description_path: Path | None = None
    sample_submission_path: Path | None = None
    leaderboard_path: Path | None = None
    heldouts: dict[str, Path] = field(default_factory=dict)
    checksums_path: Path | None = None
    location: Path | None = None
    heldout_seed: int | None = None
    heldout_fractions: dict[str, float] = field(default_factory=dict)
    answers_from_train: Callable[[pd.DataFrame], pd.DataFrame | None] | None = field(
        default=None, repr=False, compare=False
    )
    answers_reader: Callable[[Path], Any] | None = field(default=None, repr=False, compare=False)
    _answers: dict[str, pd.DataFrame] = field(init=False, repr=False, compare=False)
    _checksums: dict[str, str] | None = field(init=False, repr=False, compare=False)
    _owner: dict[str, str] | None = field(init=False, repr=False, compare=False)
    _board: tuple[Leaderboard | None, Thresholds | None] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.heldouts = dict(self.heldouts)
        self.heldouts.setdefault(TEST, self.answers_path)
        self._answers, self._checksums, self._owner, self._board = {}, None, None, None

    # -- data -------------------------------------------------------------------------------

    def answers(self, name: str = TEST) -> pd.DataFrame:
        """The answers of held-out set ``name`` (cached; callers must not mutate them)."""
        if name not in self.heldouts:
            raise UsageError(
                f"task {self.task_id} has no held-out set {name!r}",
                hint=f"its held-out sets: {', '.join(self.heldout_names)}",
            )
        if name not in self._answers:
            path = self.heldouts[name]
            if not path.is_file():
                raise DataError(f"the {name} answers of {self.task_id} are missing: {path}")
            reader = (self.answers_reader if name == TEST else None) or read_answers
            self._answers[name] = reader(path)
        return self._answers[name]

    @property
    def heldout_names(self) -> list[str]:
        """Held-out set names, ``search``/``select`` first, ``test`` last."""
        return sorted(self.heldouts, key=lambda n: (*HELDOUT_ORDER, n).index(n))

    def heldout_sizes(self) -> dict[str, int]:
        """Rows per graded held-out set (``search``, ``select``, ``test``)."""
        return {name: len(self.answers(name)) for name in self.heldout_names}

    def heldout_sizes_with_val(self) -> dict[str, int]:
        """Rows per held-out set, with ``val`` (the public train's rows) where known."""
        sizes = self.heldout_sizes()
        val = self.validation_rows()
        if val is not None:
            sizes["val"] = val
        return sizes

    def validation_rows(self) -> int | None:
        """Rows of the public train file: what a script's own cross-validation scores
        (None when the train file is not a CSV)."""
        train = self.public_dir / self.problem.train_file if self.problem else None
        if train is None or train.suffix != ".csv" or not train.exists():
            return None
        return len(pd.read_csv(train, usecols=[0]))

    def leaderboard(self) -> Leaderboard | None:
        """The leaderboard, or None when the task has none (read once, then cached)."""
        return self._leaderboard_and_thresholds()[0]

    def thresholds(self) -> Thresholds | None:
        """Medal thresholds from the leaderboard, or None when the task has none."""
        return self._leaderboard_and_thresholds()[1]

    def _leaderboard_and_thresholds(self) -> tuple[Leaderboard | None, Thresholds | None]:
        # grade_heldouts runs once per search node: read the leaderboard CSV only once
        if self._board is None:
            path = self.leaderboard_path
            board = Leaderboard.from_csv(path) if path is not None else None
            self._board = (board, board.thresholds() if board is not None else None)
        return self._board

    def checksums(self) -> dict[str, str]:
        """``{"public/train.csv": md5, ...}`` of the prepared files (computed when not stored)."""
        if self._checksums is None:
            stored = read_checksums(self.checksums_path) if self.checksums_path else {}
            if not stored:
                computed = compute_checksums(self.public_dir.parent)
                stored = {f"{s}/{n}": h for s, files in computed.items() for n, h in files.items()}
            self._checksums = dict(sorted(stored.items()))
        return dict(self._checksums)

    def description(self) -> str:
        """The description.md text ('' when the task has none)."""
        if self.description_path is None or not self.description_path.is_file():
            return ""
        return self.description_path.read_text(encoding="utf-8", errors="replace")

    # -- views for search and studies -------------------------------------------------------

    def sample_score(self) -> float | None:
        """The sample submission's test score, or None when it is absent or not gradable."""
        path = self.sample_submission_path
        if path is None or not path.is_file():
            return None
        report = self.grade_heldouts(path).get(TEST)
        if report is None or not report.valid_submission or report.raw_score is None:
            return None
        return float(report.raw_score)

    # -- grading ----------------------------------------------------------------------------

    def grade(self, submission_path: Path, heldouts: bool = True) -> GradeReport:
        """The test report of a submission covering the agent-facing test file.

        With ``heldouts=False`` (or a task without held-out sets) the submission is graded
        as a whole against the test answers.
        """
        if heldouts:
            return self.grade_heldouts(submission_path)[TEST]
        return grade_csv(
            submission_path, self.answers(TEST), self.grader, self.thresholds(),
            competition_id=self.name,
        )

    def grade_heldouts(self, submission_path: Path) -> dict[str, GradeReport]:
        """Grade a submission on every held-out set with the task's own grader.

        Without ``search``/``select`` sets this is the plain MLE-bench grading of the test
        answers. With them, the submission must cover every row of the agent-facing test
        file (test + search + select ids); it is split by the grader's id column and each
        part graded against its set's answers (medal thresholds apply to ``test`` only).
        Missing, duplicate or unknown ids make every report invalid with a reason.
        """
        if set(self.heldouts) == {TEST}:
            return {TEST: self.grade(submission_path, heldouts=False)}
        thresholds = self.thresholds()
        path = Path(submission_path)
        try:
            limits = SubmissionLimits.for_answers([self.answers(n) for n in self.heldout_names])
            submission = read_submission(path, limits)
            parts = self._split_submission(submission)
        except InvalidSubmission as err:
            exists = path.is_file() and path.suffix.lower() == ".csv"
            return {
                name: invalid_report(self.name, self.grader,
                                     thresholds if name == TEST else None,
                                     reason=err.reason, path=path, exists=exists)
                for name in self.heldout_names
            }
        reports = {
            name: grade_frame(
                parts[name], self.answers(name), self.grader,
                thresholds if name == TEST else None,
                competition_id=self.name, submission_path=str(path),
            )
            for name in self.heldout_names
        }
        return self._whole_file_validity(reports, path, thresholds)

    def _whole_file_validity(self, reports: dict[str, GradeReport], path: Path,
                             thresholds: Thresholds | None) -> dict[str, GradeReport]:
        """A submission is one file, valid or not as a whole (as MLE-bench grades it): a value
        that makes one set's rows invalid (a NaN, a label out of range) makes every report
        invalid. The reason never names the set, which would tell which rows are held out."""
        bad = next((r for r in reports.values() if not r.valid_submission), None)
        if bad is None:
            return reports
        return {
            name: invalid_report(self.name, self.grader, thresholds if name == TEST else None,
                                 reason=bad.reason or "invalid submission", path=path,
                                 exists=True)
            for name in self.heldout_names
        }

    def _split_submission(self, submission: pd.DataFrame) -> dict[str, pd.DataFrame]:
        id_column = self.grader.id_column
        if id_column is None:
            raise DataError(f"task {self.task_id} has held-out sets but no id column")
        if id_column not in submission.columns:
            raise InvalidSubmission(f"submission is missing id column {id_column!r}")
        keys = id_keys(submission[id_column])
        if submission[id_column].isna().any():
            raise InvalidSubmission(f"id column {id_column!r} has missing (NaN) ids")
        dup = keys[keys.duplicated()]
        if len(dup):
            raise InvalidSubmission(
                f"id column {id_column!r} has {len(dup)} duplicate id(s) such as "
                f"{list(dup.head(3))}"
            )
        owner = self._id_owner()
        given = set(keys)
        unknown = sorted(given - owner.keys())
        missing = sorted(owner.keys() - given)
        if unknown or missing:
            parts = [f"{len(ids)} {what} id(s) such as {ids[:3]}"
                     for what, ids in (("unknown", unknown), ("missing", missing)) if ids]
            raise InvalidSubmission(
                f"the submission must have one row per id of the test file "
                f"(column {id_column!r}): {'; '.join(parts)}"
            )
        which = keys.map(owner)
        return {
            name: submission[which.eq(name).to_numpy()].reset_index(drop=True)
            for name in self.heldout_names
        }

    def _id_owner(self) -> dict[str, str]:
        if self._owner is not None:
            return self._owner
        id_column = self.grader.id_column
        owner: dict[str, str] = {}
        for name in self.heldout_names:
            answers = self.answers(name)
            if id_column not in answers.columns:
                raise DataError(f"the {name} answers of {self.task_id} lack id {id_column!r}")
            for key in id_keys(answers[id_column]):
                owner[key] = name
        self._owner = owner
        return owner


def _id_key(value: Any) -> str:
    """A comparable key for an id cell: integral floats as ints, everything else as text."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def id_keys(ids: pd.Series) -> pd.Series:
    """:func:`_id_key` of every id (vectorized for integer columns)."""
    if pd.api.types.is_integer_dtype(ids) and not pd.api.types.is_bool_dtype(ids):
        return ids.astype("int64").astype(str)
    return ids.map(_id_key).astype(str)


def threshold_dict(thresholds: Thresholds | None) -> dict[str, float]:
    if thresholds is None:
        return {}
    return {
        "gold": float(thresholds.gold),
        "silver": float(thresholds.silver),
        "bronze": float(thresholds.bronze),
        "median": float(thresholds.median),
    }

