"""Render the prompts of the AIDE and AIRA operator sets from ``templates/*.j2``.

Every prompt is a system message and one user message whose first line names the operator
(``# Draft a solution``...). The user message states the task description, the public files
with a short preview, the script contract, the time limit and the installed packages (see
``_task.j2``), then the operator's own material and instructions.

Each prompt is rendered twice: as sent, and with its *volatile* parts (run logs, error
messages, analysis summaries, package versions; the ``volatile`` filter in the templates)
masked, which is what the response cache hashes (see :mod:`.cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from aira_eval.search.node import NodeView
from aira_eval.search.operators.base import RunOutcome, TaskBrief
from aira_eval.search.operators.llm.context import data_preview, installed_packages
from aira_eval.search.report import CONTRACT_TEXT

VOLATILE_MASK = "[run-specific text]"
OUTPUT_CHARS = 3000
PLAN_CHARS = 700
_TEMPLATES = {
    ("aide", "draft"): "aide_draft.j2", ("aide", "improve"): "aide_improve.j2",
    ("aide", "debug"): "aide_debug.j2", ("aide", "crossover"): "crossover.j2",
    ("aira", "draft"): "aira_draft.j2", ("aira", "improve"): "aira_improve.j2",
    ("aira", "debug"): "aira_debug.j2", ("aira", "crossover"): "crossover.j2",
    ("aide", "analyze"): "analyze.j2", ("aira", "analyze"): "analyze.j2",
}
_PREDICTION = {
    "label": "one column holding the predicted class, with the same label values as in the "
             "training data",
    "probability": "one column holding the predicted probability of the positive class",
    "class_probabilities": "one column per class holding predicted probabilities that sum "
                           "to one in each row",
    "regression": "one numeric prediction per target column",
}


@dataclass(frozen=True)
class Prompt:
    """``messages`` are sent to the model; ``key_messages`` (volatile parts masked) are hashed."""

    messages: list[dict[str, str]]
    key_messages: list[dict[str, str]] = field(default_factory=list)


@jinja2.pass_context
def _volatile(ctx: jinja2.runtime.Context, value: Any) -> Any:
    return VOLATILE_MASK if ctx.get("keyed") else value


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aira_eval.search.operators.llm", "templates"),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False,
    )
    env.filters["volatile"] = _volatile
    return env


def _clip(text: str, limit: int, tail: bool = False) -> str:
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    return "... " + text[-limit:] if tail else text[:limit] + " ..."


def format_score(value: float | None) -> str | None:
    return None if value is None else f"{value:.6g}"


def node_vars(node: NodeView) -> dict[str, Any]:
    """What a template may say about a node (never test scores: a NodeView has none)."""
    return {
        "id": node.node_id, "step": node.step, "operator": node.operator,
        "status": node.status, "good": node.is_good, "plan": _clip(node.plan, PLAN_CHARS),
        "code": node.code.rstrip("\n"), "score": format_score(node.score_val),
        "folds": ", ".join(f"{f:.4g}" for f in node.val_folds),
        "reason": node.reason or "", "output": _clip(node.stdout_tail, OUTPUT_CHARS, tail=True),
        "analysis": _clip(node.analysis, OUTPUT_CHARS, tail=True),
    }


def task_vars(brief: TaskBrief, packages: str | None = None) -> dict[str, Any]:
    """The task section's variables: description, data, contract, limits, packages."""
    p = brief.problem
    preview = data_preview(str(brief.public_dir),
                           (p.train_file, p.test_file, p.sample_submission_file))
    return {
        "task_id": brief.task_id, "description": brief.description.strip(),
        "files": preview.files, "more_files": preview.more_files, "previews": preview.previews,
        "problem": p, "id_columns": ", ".join(p.id_columns),
        "label_columns": ", ".join(p.label_columns),
        "submission_columns": ", ".join([*p.id_columns, *p.submission_columns]),
        "prediction": _PREDICTION.get(p.prediction, p.prediction),
        "metric": p.metric, "direction": "lower" if p.lower_is_better else "higher",
        "contract": CONTRACT_TEXT, "time_limit": human_time(brief.time_limit_s),
        "packages": packages if packages is not None else installed_packages(),
    }


def human_time(seconds: float) -> str:
    if seconds <= 0 or seconds != seconds:
        return "no fixed time limit"
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def outcome_vars(outcome: RunOutcome) -> dict[str, Any]:
    return {"exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
            "has_submission": outcome.has_submission,
            "stdout": _clip(outcome.stdout_tail, OUTPUT_CHARS, tail=True),
            "stderr": _clip(outcome.stderr_tail, OUTPUT_CHARS // 2, tail=True)}


def tidy(text: str) -> str:
    """Collapse runs of blank lines left by the templates, never inside fenced blocks."""
    out: list[str] = []
    in_code, blank = False, 0
    for line in text.strip().split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if not in_code and not line.strip():
            blank += 1
            if blank > 1:
                continue
        else:
            blank = 0
        out.append(line.rstrip() if not in_code else line)
    return "\n".join(out)


def render(operator_set: str, kind: str, brief: TaskBrief, *,
           parents: Sequence[NodeView] = (), memory: Sequence[NodeView] = (),
           complexity: str | None = None, outcome: RunOutcome | None = None,
           packages: str | None = None) -> Prompt:
    """The prompt of ``kind`` (draft, improve, debug, crossover, analyze) in ``operator_set``."""
    env = environment()
    variables: dict[str, Any] = {
        **task_vars(brief, packages), "operator_set": operator_set,
        "parents": [node_vars(n) for n in parents], "memory": [node_vars(n) for n in memory],
        "complexity": complexity, "outcome": outcome_vars(outcome) if outcome else None,
    }
    system = env.get_template("system.j2")
    user = env.get_template(_TEMPLATES[(operator_set, kind)])

    def messages(keyed: bool) -> list[dict[str, str]]:
        values = {**variables, "keyed": keyed}
        return [{"role": "system", "content": tidy(system.render(values))},
                {"role": "user", "content": tidy(user.render(values))}]

    return Prompt(messages(False), messages(True))
