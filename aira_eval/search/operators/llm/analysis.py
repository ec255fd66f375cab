"""``analyze`` of the LLM family: a function-calling review, only where it can matter.

The script's own report always wins. The model is asked (one ``submit_review`` call) only
when a run finished cleanly, wrote its submission, and printed no ``VALIDATION_SCORE`` line:
then a score it printed in another format can still be read. Every other run is summarised
from its output without a call: a reported score, or the failure with the tail of its error
output (which the debug prompts show). A review that stays malformed after the retries, or a
call that fails, gives ``Analysis(is_bug=True, summary="analysis failed: ...")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aira_eval.search.node import NodeView, Usage
from aira_eval.search.operators.base import Analysis, OperatorContext, RunOutcome
from aira_eval.search.operators.llm import prompts
from aira_eval.search.operators.llm.client import ChatRequest
from aira_eval.search.operators.llm.redact import redact
from aira_eval.search.operators.llm.review import REVIEW_TOOL, TOOL_CHOICE, parse_review

if TYPE_CHECKING:
    from aira_eval.search.operators.llm.operators import LLMOperators

ERROR_LINES = 25


def needs_review(outcome: RunOutcome) -> bool:
    """A clean run with a submission but no score reported by the contract."""
    return (outcome.reported_score is None and outcome.exit_code == 0 and not outcome.timed_out
            and not outcome.oom and outcome.has_submission)


def summarize(outcome: RunOutcome, metric: str, folds: tuple[float, ...] = (),
              secret_env: tuple[str | None, ...] = ()) -> Analysis:
    """The analysis of a run read from its output alone (no timings: summaries feed prompts,
    which must be the same when a study is replayed)."""
    if outcome.reported_score is not None and outcome.exit_code == 0:
        spread = f" over {len(folds)} folds" if folds else ""
        summary = f"ok: the script reports validation {metric} {outcome.reported_score:.6g}{spread}"
        return Analysis(is_bug=False, summary=summary, metric=outcome.reported_score)
    if outcome.timed_out:
        why = "the script was stopped at the time limit"
    elif outcome.oom:
        why = "the script ran out of memory"
    elif outcome.exit_code != 0:
        why = f"the script exited with code {outcome.exit_code}"
    elif not outcome.has_submission:
        why = "the script wrote no ./submission/submission.csv"
    else:
        why = "the script printed no VALIDATION_SCORE line"
    lines = [ln for ln in outcome.stderr_tail.rstrip().splitlines() if ln.strip()]
    tail = "\n".join(lines[-ERROR_LINES:])
    summary = f"bug: {why}" + (f"\nError output (last lines):\n{tail}" if tail else "")
    return Analysis(is_bug=True, summary=redact(summary, secret_env),
                    metric=outcome.reported_score)


def analyze(ops: LLMOperators, ctx: OperatorContext, node: NodeView,
            outcome: RunOutcome) -> Analysis:
    """The analysis of ``node``'s run (see the module docstring)."""
    metric, env = ctx.brief.problem.metric, (ops.settings.api_key_env,)
    if not needs_review(outcome):
        return summarize(outcome, metric, node.val_folds, env)
    prompt = prompts.render(ops.name, "analyze", ctx.brief, parents=(node,), outcome=outcome,
                            packages=ops.packages)
    messages, keyed = list(prompt.messages), list(prompt.key_messages)
    usage = Usage()
    problem = "no reply"
    for attempt in range(ops.settings.max_parse_retries + 1):
        request = ChatRequest("analyze", messages, keyed, ctx.step, attempt,
                              tools=[REVIEW_TOOL], tool_choice=TOOL_CHOICE)
        try:
            reply = ops.client.chat(request)
        except Exception as err:  # a failed call, a replay miss, the spend limit
            why = redact(str(err), env)
            return Analysis(is_bug=True, summary=f"analysis failed: {why}", usage=usage)
        usage.add(reply.usage)
        review, problem_now = parse_review(reply.tool_calls)
        if review is not None:
            return Analysis(review.is_bug, redact(review.summary, env), review.metric, usage)
        problem = problem_now or "malformed review"
        said = reply.text or f"(called {', '.join(c['name'] for c in reply.tool_calls) or '-'})"
        turn = {"role": "assistant", "content": said}
        follow = {"role": "user", "content": problem}
        messages, keyed = [*messages, turn, follow], [*keyed, turn, follow]
    tries = ops.settings.max_parse_retries + 1
    return Analysis(is_bug=True, summary=f"analysis failed: no valid review in {tries} "
                    f"replies: {problem}", usage=usage)
