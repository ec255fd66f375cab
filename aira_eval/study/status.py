"""Node statuses: the closed set of names, and the one rule that decides a node's final status.

The runner (a fresh node) and re-grading (an imported or re-run node) both end with
:func:`final_status`, so a node means the same thing whichever path produced it.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["pending", "ok", "buggy", "timeout", "invalid_submission", "error"]
#: Statuses of a finished node (``pending`` only exists while it runs).
STATUSES: tuple[str, ...] = tuple(s for s in get_args(Status) if s != "pending")
#: Statuses that count as a failed node for policies (AIDE's "buggy").
FAILED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s != "ok")

NO_SCORE = "the script printed no VALIDATION_SCORE line"


def final_status(run_status: Status, run_reason: str | None, *, test_valid: bool | None,
                 test_reason: str | None, has_val: bool) -> tuple[Status, str | None]:
    """A node's final status and reason.

    Args:
        run_status: the status from the run alone (``ok`` means it exited cleanly and wrote a
            submission; ``buggy``/``timeout``/``error`` say why it did not).
        run_reason: the reason of a failed run.
        test_valid: whether the submission graded as valid on ``test``; None when it was not
            graded on ``test`` (no run, or a study without test answers).
        test_reason: the grader's reason for an invalid submission.
        has_val: the node has a validation score (the script's report, the log's, or the
            analysis').

    Returns:
        ``(status, reason)``: a failed run keeps its own; an invalid test grade makes
        ``invalid_submission``; a valid run without a validation score is ``buggy`` (AIDE
        counts a missing metric as a bug); otherwise ``ok``.
    """
    if run_status != "ok":
        return run_status, run_reason
    if test_valid is False:
        return "invalid_submission", f"invalid submission: {test_reason}"
    if not has_val:
        return "buggy", NO_SCORE
    return "ok", None
