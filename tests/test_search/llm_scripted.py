"""The scripted LLM of the LLM operator tests (see
:mod:`aira_eval.search.operators.llm.scripted`, which holds the handler) and the tests'
default scenario.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aira_eval.search.operators.llm.scripted import (
    CRASH_CODE,
    HEADINGS,
    IRIS_CODE,
    MODEL,
    PRICED_AS,
    Call,
    Responder,
    Tool,
    Unpriced,
    fenced,
    make_handler,
    op_of,
    scripted_llm,
)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__all__ = ["CRASH_CODE", "HEADINGS", "IRIS_CODE", "MODEL", "PRICED_AS", "Call", "Responder",
           "Scenario", "Tool", "Unpriced", "fenced", "make_handler", "op_of",
           "procedural_code", "scripted_llm"]


@dataclass
class Scenario:
    """The default behaviour: a first draft (empty memory) crashes, debug fixes it, every other
    operator returns working code; analyze returns a valid review."""

    good: str
    crash: str = CRASH_CODE
    review_metric: float = 0.5
    seen: set[str] = field(default_factory=set)

    def __call__(self, call: Call) -> str | Tool | Unpriced | Exception:
        if call.op == "draft":
            first = "(no previous solutions)" in call.user
            code = self.crash if first else self.good
            return fenced("Plan: a gradient boosting model on the raw features.", code)
        if call.op == "debug":
            return fenced("The column name was wrong; read the right one.", self.good)
        if call.op in ("improve", "crossover"):
            return fenced(f"One change ({call.op}).", f"{self.good}\n# {call.op} {call.digest}\n")
        if call.op == "analyze":
            args = ('{"is_bug": false, "summary": "cross-validation ran", '
                    f'"metric": {self.review_metric}}}')
            return Tool("submit_review", args)
        return "I do not know this operator."


def procedural_code(task_id: str, data_dir: Path | None = None, seed: int = 0) -> str:
    """A real solution script for ``task_id`` following the contract (from the procedural
    family), to serve as the scripted model's "good" code."""
    from aira_eval.datasets.registry import resolve_task
    from aira_eval.search.journal import JournalView
    from aira_eval.search.operators.base import OperatorContext, TaskBrief
    from aira_eval.search.operators.procedural.operators import ProceduralOperators

    task = resolve_task(task_id, data_dir=data_dir, heldouts=None)
    ctx = OperatorContext(brief=TaskBrief.from_task(task, 60.0),
                          rng=np.random.default_rng(seed), step=0,
                          journal=JournalView([]))
    return ProceduralOperators(bug_rate=0).draft(ctx).code
