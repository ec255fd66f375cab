"""A validation score printed in free form, for peers' scripts that do not follow the contract.

aira-eval's own scripts print ``VALIDATION_SCORE: <x>`` (:mod:`aira_eval.search.report`). Peers'
scripts print what their agent asked for: AIDE's "print the value of the evaluation metric
computed on a hold-out validation set" gives lines such as ``Validation accuracy: 0.7834`` or
``Mean CV RMSE: 0.1234``, which AIDE then read with an LLM. Re-grading their code without an LLM,
:func:`printed_score` takes the **last** line that names a validation-like metric and holds a
decimal number, and returns the first decimal number after the line's last metric word (after
its first one when none follows the last). It is a heuristic: the value is
recorded with its source line, never silently trusted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_METRIC_WORDS = re.compile(
    r"\b(val(id(ation)?)?|cv|cross[- ]?val\w*|oof|hold[- ]?out|eval(uation)?|score|metric|"
    r"acc(uracy)?|auc|roc[-_ ]?auc|f1|rmse|rmsle|mse|mae|log[-_ ]?loss|logloss|r2|kappa|qwk|"
    r"map(@\d+)?|ndcg)\b", re.IGNORECASE)
_NOISE = re.compile(r"warning|traceback|error|file \"|epoch \d+/\d+ .*loss|^\s*\[", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class PrintedScore:
    """A score found in free-form output and the line it came from."""

    value: float
    line: str


def printed_score(stdout: str) -> PrintedScore | None:
    """The validation score a free-form script printed last, or None."""
    for line in reversed(stdout.splitlines()):
        words = list(_METRIC_WORDS.finditer(line))
        if not words or _NOISE.search(line):
            continue
        for word in (words[-1], words[0]):
            number = _NUMBER.search(line, word.end())
            if number is not None and math.isfinite(float(number.group())):
                return PrintedScore(float(number.group()), line.strip()[:300])
    return None


def scores_agree(a: float, b: float) -> bool:
    """Two validation scores the same up to print rounding (relative 1e-3, absolute 1e-4)."""
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)
