"""The ``analyze`` review: one function call, ``submit_review(is_bug, summary, metric)``.

Used only when a script finished cleanly but did not report its validation score by the
contract; the model reads the output and says whether the run is buggy and what the score
was. A reply without the call, with arguments that are not JSON, or with wrong types is a
malformed review: :func:`parse_review` says what was wrong, in words meant as the follow-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

TOOL_NAME = "submit_review"

REVIEW_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Submit your review of the script's run.",
        "parameters": {
            "type": "object",
            "properties": {
                "is_bug": {
                    "type": "boolean",
                    "description": "True if the run failed or its output shows a bug that "
                                   "makes the validation estimate unusable.",
                },
                "summary": {
                    "type": "string",
                    "description": "Two to four sentences: what the script did and what the "
                                   "output shows.",
                },
                "metric": {
                    "type": ["number", "null"],
                    "description": "The validation score the script printed, on the "
                                   "competition's metric; null if it printed none.",
                },
            },
            "required": ["is_bug", "summary", "metric"],
        },
    },
}
TOOL_CHOICE: dict[str, Any] = {"type": "function", "function": {"name": TOOL_NAME}}


@dataclass(frozen=True)
class Review:
    is_bug: bool
    summary: str
    metric: float | None


def _typed(args: dict[str, Any]) -> tuple[Review | None, str | None]:
    is_bug, summary, metric = args.get("is_bug"), args.get("summary"), args.get("metric")
    if not isinstance(is_bug, bool):
        return None, f"`is_bug` must be true or false, got {json.dumps(is_bug)}"
    if not isinstance(summary, str) or not summary.strip():
        return None, "`summary` must be a non-empty string"
    if metric is not None and (isinstance(metric, bool) or not isinstance(metric, int | float)):
        return None, f"`metric` must be a number or null, got {json.dumps(metric)}"
    if metric is not None and not math.isfinite(float(metric)):
        return None, "`metric` must be a finite number or null"
    return Review(is_bug, summary.strip(), None if metric is None else float(metric)), None


def parse_review(tool_calls: list[dict[str, str]]) -> tuple[Review | None, str | None]:
    """The review in ``tool_calls``, or None and what was wrong with the reply."""
    calls = [c for c in tool_calls if c.get("name") == TOOL_NAME]
    if not calls:
        return None, (f"You did not call the `{TOOL_NAME}` function. Call it exactly once with "
                      "`is_bug`, `summary` and `metric`.")
    raw = calls[0].get("arguments", "")
    try:
        args = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as err:
        return None, (f"The arguments of `{TOOL_NAME}` are not valid JSON ({err.msg}). "
                      "Call it again.")
    if not isinstance(args, dict):
        return None, f"The arguments of `{TOOL_NAME}` must be a JSON object. Call it again."
    missing = [k for k in ("is_bug", "summary") if k not in args]
    if missing:
        return None, f"`{TOOL_NAME}` lacks {', '.join(missing)}. Call it again with every field."
    review, problem = _typed(args)
    if problem:
        return None, f"{problem}. Call `{TOOL_NAME}` again."
    return review, None
