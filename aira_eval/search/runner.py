"""Turn one policy action into one finished, graded node.

The operator proposes a script; the sandbox runs it with only the public files; the harness
parses the script's own validation report, grades the submission on every held-out set
*outside* the sandbox, and classifies the node. Nothing here raises for a bad script: every
failure becomes a node status with a reason.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from aira_eval.errors import disk_full
from aira_eval.search.journal import BATCH_ACTIONS, JournalView
from aira_eval.search.node import FitnessSignal, Node, blind
from aira_eval.search.operators.base import (
    MemoryScope,
    OperatorContext,
    Operators,
    PendingNode,
    Proposal,
    RunOutcome,
    TaskBrief,
    complexity_cue,
    memory_for,
)
from aira_eval.search.policies.base import Action
from aira_eval.search.printed import printed_score, scores_agree
from aira_eval.search.sandbox.base import (
    DEFAULT_SUBMISSION,
    DISK_MB,
    MAX_SUBMISSION_MB,
    ExecResult,
    ExecSpec,
    Sandbox,
)
from aira_eval.search.sandbox.leftovers import scratch_root
from aira_eval.search.sandbox.watchdog import CANCELLED_REASON
from aira_eval.study.status import NO_SCORE, Status, final_status

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task

__all__ = ["NO_SCORE", "NodeCancelled", "SearchContext", "execute_action", "rerun_node"]


class NodeCancelled(Exception):
    """The search was stopped while this node ran: it is not done and must not be journaled
    (a resumed search runs it again)."""


@dataclass
class SearchContext:
    """Everything fixed for one search (one task × policy × seed)."""

    search_id: str
    search_dir: Path
    study_dir: Path
    task: Task
    brief: TaskBrief
    operators: Operators
    sandbox: Sandbox
    seed: int
    signal: FitnessSignal
    memory_scope: MemoryScope
    node_timeout_s: float
    memory_mb: int | None
    heldout_sizes: dict[str, int] = field(default_factory=dict)
    spec_fields: dict[str, Any] = field(default_factory=dict)
    """Extra :class:`ExecSpec` fields for every run (a peer's working-dir layout, python)."""
    disk_mb: int | None = DISK_MB
    max_submission_mb: int = MAX_SUBMISSION_MB

    @property
    def lower_is_better(self) -> bool:
        return bool(self.task.lower_is_better)


def node_rng(seed: int, step: int) -> np.random.Generator:
    """The RNG of the operator call at ``step``: a pure function of (seed, step)."""
    return np.random.default_rng([seed, step, 0x0A1EA])


def _propose(ctx: SearchContext, action: Action, view: JournalView, step: int) -> Proposal:
    if not _replays(ctx, view):
        return _call_operator(ctx, action, view, step, ())
    return _replayed(ctx, action, view, step, _pending(ctx, view, step))


def _replays(ctx: SearchContext, view: JournalView) -> bool:
    return bool(view.meta.get(BATCH_ACTIONS)) and getattr(ctx.operators, "replays_batch", False)


def _replayed(ctx: SearchContext, action: Action, view: JournalView, step: int,
              pending: Sequence[PendingNode]) -> Proposal:
    """The proposal of ``step``, computed once per batch view: the batch's threads share the
    view, and a proposal is a pure function of it (with Ray each task computes its own)."""
    cache = cast("dict[int, Proposal]", view.meta.setdefault(_PROPOSALS, {}))
    if step not in cache:
        cache[step] = _call_operator(ctx, action, view, step, pending)
    return cache[step]


_PROPOSALS = "replayed_proposals"


def _pending(ctx: SearchContext, view: JournalView, step: int) -> list[PendingNode]:
    """The proposals of the earlier steps of ``step``'s batch, re-derived here (each is a
    pure function of seed, step and view) for operator families that replay them cheaply,
    so a batch never proposes the same script twice whatever runs where (local or Ray)."""
    actions = cast("Sequence[Action]", view.meta[BATCH_ACTIONS])
    first, out = len(view.nodes), list[PendingNode]()
    for offset, sibling in enumerate(actions[: max(0, step - first)]):
        try:
            proposal = _replayed(ctx, sibling, view, first + offset, tuple(out))
        except Exception:  # that sibling becomes an error node: nothing to avoid
            continue
        out.append(PendingNode(node_id(ctx.search_id, first + offset), proposal.code,
                               proposal.config))
    return out


def _call_operator(ctx: SearchContext, action: Action, view: JournalView, step: int,
                   pending: Sequence[PendingNode]) -> Proposal:
    parents = [view.by_id[p] for p in action.parent_ids]
    first = parents[0] if parents else None
    op_ctx = OperatorContext(
        brief=ctx.brief,
        rng=node_rng(ctx.seed, step),
        step=step,
        journal=view,
        memory=memory_for(view, ctx.memory_scope, first),
        complexity=complexity_cue(view, first),
        pending=tuple(pending),
    )
    ops = ctx.operators
    if action.operator == "draft":
        return ops.draft(op_ctx)
    if action.operator == "improve":
        return ops.improve(op_ctx, parents[0])
    if action.operator == "debug":
        return ops.debug(op_ctx, parents[0])
    return ops.crossover(op_ctx, parents[0], parents[1])


def node_id(search_id: str, step: int) -> str:
    """The id of node ``step`` of search ``search_id``."""
    return f"{search_id}-n{step:04d}"


def new_node(ctx: SearchContext, action: Action, view: JournalView, step: int, batch: int) -> Node:
    """The node skeleton for ``action`` (ids, lineage, depths), before anything runs."""
    parents = [view.by_id[p] for p in action.parent_ids]
    depth = max((p.depth for p in parents), default=-1) + 1
    debug_depth = parents[0].debug_depth + 1 if action.operator == "debug" else 0
    return Node(
        node_id=node_id(ctx.search_id, step),
        search_id=ctx.search_id,
        step=step,
        batch=batch,
        operator=action.operator,
        parent_ids=list(action.parent_ids),
        depth=depth,
        debug_depth=debug_depth,
        meta=dict(action.meta),
    )


def execute_action(
    ctx: SearchContext, action: Action, view: JournalView, step: int, batch: int
) -> Node:
    """Propose, run, grade and classify one node. Never raises for a bad script."""
    node = new_node(ctx, action, view, step, batch)
    node.started_at = time.time()
    try:
        _run_node(ctx, node, action, view)
    except NodeCancelled:
        raise
    except Exception as err:  # a harness fault must not stop the search or lose the node
        if disk_full(err):  # the harness's disk, not the node: stop; the node re-runs later
            raise
        node.status = "error"
        node.reason = f"harness error: {type(err).__name__}: {err}"
        node.meta["traceback"] = traceback.format_exc(limit=8)
    node.finished_at = time.time()
    return node


def _run_node(ctx: SearchContext, node: Node, action: Action, view: JournalView) -> None:
    try:
        proposal = _propose(ctx, action, view, node.step)
    except Exception as err:
        node.status, node.reason = "error", f"operator {action.operator} failed: {err}"
        return
    node.plan, node.config, node.usage = proposal.plan, proposal.config, proposal.usage
    node.duplicate_of = proposal.duplicate_of
    node_dir = ctx.search_dir / "nodes" / node.node_id
    node_dir.mkdir(parents=True, exist_ok=True)
    node.code = proposal.code
    node.code_path = str((node_dir / "code.py").relative_to(ctx.study_dir))
    (node_dir / "code.py").write_text(proposal.code)
    if proposal.error or not proposal.code.strip():
        node.status = "error"
        node.reason = proposal.error or "the operator produced no code"
        return
    result = _execute(ctx, proposal.code, node_dir)
    _record_run(node, result)
    _classify(ctx, node, result, view)


def rerun_node(ctx: SearchContext, node: Node) -> None:
    """Re-run ``node.code`` in the sandbox and grade it (imported peers' logs).

    The log's validation score is kept in ``node.meta["log_val"]``; ``scores["val"]`` becomes
    the re-run's when the script prints one (by the contract, else a free-form line found by
    :func:`~aira_eval.search.printed.printed_score`), the log's otherwise;
    ``node.meta["val_source"]`` says which (``contract``, ``printed``, ``log``).
    """
    node_dir = ctx.search_dir / "nodes" / node.node_id
    node_dir.mkdir(parents=True, exist_ok=True)
    log_val = node.meta.get("log_val", node.scores.get("val"))
    node.scores = {}
    result = _execute(ctx, node.code, node_dir)
    _record_run(node, result)
    node.meta["log_val"] = log_val
    _rerun_val(node, node_dir / "stdout.txt", log_val)
    _finalize(node, *_settle(ctx, node, result))


def _rerun_val(node: Node, stdout: Path, log_val: float | None) -> None:
    """The re-run's validation score, its source, and its difference from the log's."""
    node.meta.pop("printed_line", None)
    source = "contract" if "val" in node.scores else None
    if source is None and stdout.is_file():
        found = printed_score(stdout.read_text(encoding="utf-8", errors="replace"))
        if found is not None:
            node.scores["val"], source = found.value, "printed"
            node.meta["printed_line"] = found.line
    rerun = node.scores.get("val")
    node.meta["rerun_val"] = rerun
    node.meta["val_diff"] = rerun - log_val if rerun is not None and log_val is not None else None
    node.meta["val_agrees"] = scores_agree(rerun, log_val) if (
        rerun is not None and log_val is not None) else None
    if rerun is None and log_val is not None:
        node.scores["val"], source = log_val, "log"
    node.meta["val_source"] = source


def _record_run(node: Node, result: ExecResult) -> None:
    """What the sandbox measured and the script reported, onto the node."""
    node.exec_time = result.wall_time
    if result.script_time is not None:
        node.meta["script_time"] = result.script_time  # the script's own runtime
    node.isolation, node.isolation_note = result.isolation, result.isolation_note
    node.stdout_tail = result.stdout_tail
    if result.report.score is not None:  # parsed from the whole stdout while it streamed
        node.scores["val"] = result.report.score
        node.val_folds = list(result.report.folds)


def _execute(ctx: SearchContext, code: str, node_dir: Path) -> ExecResult:
    spec = ExecSpec(
        code=code,
        public_dir=ctx.task.public_dir,
        timeout_s=ctx.node_timeout_s,
        memory_mb=ctx.memory_mb,
        disk_mb=ctx.disk_mb,
        max_submission_mb=ctx.max_submission_mb,
        **ctx.spec_fields,
    )
    scratch = scratch_root(ctx.study_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="node-", dir=scratch))
    try:
        result = ctx.sandbox.run(spec, workdir, node_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.killed_reason == CANCELLED_REASON:
        raise NodeCancelled(CANCELLED_REASON)
    return result


def _classify(ctx: SearchContext, node: Node, result: ExecResult, view: JournalView) -> None:
    submission = result.submission_path
    outcome = RunOutcome(
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        oom=result.oom,
        stdout_tail=result.stdout_tail,
        stderr_tail=result.stderr_tail,
        reported_score=result.report.score,
        has_submission=submission is not None,
        exec_time=result.wall_time,
    )
    run, test = _settle(ctx, node, result)
    _analyze(ctx, node, view, outcome)
    _finalize(node, run, test)


_Grade = tuple[bool | None, str | None]


def _settle(ctx: SearchContext, node: Node, result: ExecResult
            ) -> tuple[tuple[Status, str | None], _Grade]:
    """Run status, then grading of a clean run; the node gets a provisional status (a missing
    validation score is decided by :func:`_finalize`, after the operator's analysis).

    Returns the run's ``(status, reason)`` and the test grade's ``(valid, reason)``
    (``(None, None)`` when it was not graded on test).
    """
    run = _run_status(result, result.submission_path,
                      ctx.spec_fields.get("submission_path", DEFAULT_SUBMISSION))
    test: _Grade = (None, None)
    if run[0] == "ok" and result.submission_path is not None:
        test = _grade(ctx, node, result.submission_path)
    elif run[0] == "ok" and result.submission_rejected:  # never read by the harness
        test = (False, result.submission_rejected)
    node.status, node.reason = final_status(*run, test_valid=test[0], test_reason=test[1],
                                            has_val=True)
    return run, test


def _finalize(node: Node, run: tuple[Status, str | None], test: _Grade) -> None:
    node.status, node.reason = final_status(*run, test_valid=test[0], test_reason=test[1],
                                            has_val="val" in node.scores)


def _run_status(result: ExecResult, submission: Path | None,
                expected: str = DEFAULT_SUBMISSION) -> tuple[Status, str | None]:
    """Status from the run alone; ``ok`` here still awaits grading."""
    if result.timed_out:
        return "timeout", result.killed_reason or "the script exceeded the node time limit"
    if result.oom:
        return "buggy", result.killed_reason or "the script exceeded the memory limit"
    if result.killed_reason:
        return "buggy", result.killed_reason
    if result.exit_code != 0:
        last = [ln for ln in result.stderr_tail.strip().splitlines() if ln.strip()]
        why = last[-1] if last else f"exit code {result.exit_code}"
        return "buggy", f"the script failed: {why}"[:500]
    if submission is None and not result.submission_rejected:
        return "buggy", f"the script wrote no ./{expected}"
    return "ok", None  # a missing score is decided in _analyze


def _grade(ctx: SearchContext, node: Node, submission: Path) -> _Grade:
    """Grade on every held-out set outside the sandbox; the test grade's (valid, reason)."""
    reports = ctx.task.grade_heldouts(submission)
    node.heldout_sizes = dict(ctx.heldout_sizes)
    for name, rep in reports.items():
        value = rep.raw_score if rep.raw_score is not None else rep.score  # unrounded
        if rep.valid_submission and value is not None and not math.isnan(value):
            node.scores[name] = float(value)
    test = reports.get("test")
    return (None, None) if test is None else (bool(test.valid_submission), test.reason)


def _analyze(ctx: SearchContext, node: Node, view: JournalView, outcome: RunOutcome) -> None:
    """Let the operator read the run: a summary always; a metric only if none was reported."""
    op_ctx = OperatorContext(
        brief=ctx.brief, rng=node_rng(ctx.seed, node.step + 1_000_000), step=node.step,
        journal=view,
    )
    try:
        analysis = ctx.operators.analyze(op_ctx, blind(node, ctx.signal, ctx.lower_is_better),
                                         outcome)
    except Exception as err:
        node.analysis = f"analysis failed: {err}"
        return
    node.analysis = analysis.summary
    node.usage.add(analysis.usage)
    if node.status != "ok" or "val" in node.scores:
        return
    if analysis.metric is not None and not analysis.is_bug:
        node.scores["val"] = float(analysis.metric)  # the script's own report always wins
        node.meta["val_from_analysis"] = True
