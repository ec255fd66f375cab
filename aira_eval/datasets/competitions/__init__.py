"""Built-in grader specs for MLE-bench competitions, usable without the ``mlebench`` package.

Every competition of MLE-bench's lite (low-complexity) split is here, plus spaceship-titanic
(from MLE-bench's dev split), each with a grader that reproduces its ``grade.py`` (see
:mod:`.graders` and :mod:`.graders_multi` for the few documented deviations).
Tabular and text ones also carry a :class:`~aira_eval.datasets.problem.ProblemSpec` and an
``answers_from_train`` builder.

>>> spec = get_competition("spaceship-titanic")
>>> spec.grader.metric, spec.problem.id_columns
('accuracy', ('PassengerId',))
"""

from __future__ import annotations

from aira_eval.datasets.competitions.base import AnswersFromTrain, CompetitionSpec
from aira_eval.datasets.competitions.classes import (
    DOG_BREEDS,
    JIGSAW_CLASSES,
    LEAF_CLASSES,
    PLANT_PATHOLOGY_CLASSES,
    RANZCR_CLASSES,
    SPOOKY_CLASSES,
)
from aira_eval.datasets.competitions.media import MEDIA
from aira_eval.datasets.competitions.tabular import TABULAR
from aira_eval.datasets.competitions.text import TEXT
from aira_eval.datasets.mlebench_splits import split_ids

__all__ = [
    "DOG_BREEDS",
    "JIGSAW_CLASSES",
    "LEAF_CLASSES",
    "MLEBENCH_LITE_IDS",
    "PLANT_PATHOLOGY_CLASSES",
    "RANZCR_CLASSES",
    "SPOOKY_CLASSES",
    "AnswersFromTrain",
    "CompetitionSpec",
    "builtin_competition_ids",
    "get_competition",
]

_REGISTRY: dict[str, CompetitionSpec] = {spec.id: spec for spec in (*TABULAR, *TEXT, *MEDIA)}

MLEBENCH_LITE_IDS: tuple[str, ...] = tuple(split_ids("lite"))
"""MLE-bench's lite split (``experiments/splits/low.txt``), 22 competitions."""


def builtin_competition_ids(*, with_problem: bool = False) -> list[str]:
    """Ids of the built-in competitions, sorted; ``with_problem`` keeps those with a
    :class:`ProblemSpec` (solvable by a tabular/text pipeline)."""
    return sorted(
        cid for cid, spec in _REGISTRY.items() if spec.problem is not None or not with_problem
    )


def get_competition(competition_id: str) -> CompetitionSpec | None:
    """The built-in spec of ``competition_id``, or ``None`` when there is none."""
    return _REGISTRY.get(competition_id)
