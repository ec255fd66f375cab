"""``ProceduralOperators``: the no-LLM operator family writing real scikit-learn scripts.

Each proposal is a :class:`PipelineConfig` from the task's :class:`Space`, rendered into a
complete script. ``draft`` samples a pipeline (cheap ones preferred, configs already in memory
avoided), ``improve`` makes one atomic change, ``crossover`` recombines groups of two parents,
``debug`` repairs by failure kind, ``analyze`` reads a run. Everything is a function of
``ctx.rng``, the task and the nodes given, so a resumed search proposes the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aira_eval.errors import UsageError
from aira_eval.search.node import NodeView
from aira_eval.search.operators.base import (
    Analysis,
    OperatorContext,
    Proposal,
    RunOutcome,
    code_hash,
    known_codes,
)
from aira_eval.search.operators.procedural import moves, repair
from aira_eval.search.operators.procedural.bugs import (
    DEFAULT_BUG_RATE,
    DEFAULT_DEBUG_FAIL_RATE,
    draw_bug,
    inject,
)
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.estimators import metric_name, supported
from aira_eval.search.operators.procedural.render import describe, family_title, render
from aira_eval.search.operators.procedural.schema import SAMPLE_ROWS, SchemaCache
from aira_eval.search.operators.procedural.space import Space

MAX_REDRAWS = 8
"""Moves drawn again, at most, when a proposal repeats a script of the search."""

_DEFAULT_WEIGHT = {"minimal": 3.0, "moderate": 2.0, "advanced": 1.0}
"""Draft weight of each hyperparameter's default by complexity cue (others weigh 1)."""


class ProceduralOperators:
    """Operators over the procedural pipeline space.

    Args:
        n_folds: cross-validation folds of every generated script.
        sample_rows: train rows read to infer column roles (cached per public dir).
        budget_share: drafts aim at an estimated run time of at most this share of the
            node time limit.
        draft_tries: pipelines sampled per draft before settling for the cheapest one.
        bug_rate: share of drafts and improves given a realistic bug (see :mod:`.bugs`);
            0 gives scripts that never fail by construction.
        debug_fail_rate: share of debugs of such a bug that bring another bug instead.
        seed: the search's seed, written into every script as ``SEED`` (CV split, models'
            ``random_state``) and recorded in each node's config as ``seed``.
    """

    name = "procedural"
    replays_batch = True
    """Proposals are cheap pure functions of (seed, step, view): the runner re-derives a
    batch's earlier proposals (``OperatorContext.pending``) so none is proposed twice."""

    def __init__(self, n_folds: int = 5, sample_rows: int = SAMPLE_ROWS,
                 budget_share: float = 0.25, draft_tries: int = 40,
                 bug_rate: float = DEFAULT_BUG_RATE,
                 debug_fail_rate: float = DEFAULT_DEBUG_FAIL_RATE, seed: int = 0) -> None:
        if n_folds < 2:
            raise ValueError(f"n_folds must be at least 2, got {n_folds}")
        for name, rate in (("bug_rate", bug_rate), ("debug_fail_rate", debug_fail_rate)):
            if not 0.0 <= rate <= 1.0:
                raise UsageError(f"{name} must lie in [0, 1], got {rate}")
        self.bug_rate = float(bug_rate)
        self.debug_fail_rate = float(debug_fail_rate)
        self.n_folds = n_folds
        self.budget_share = budget_share
        self.draft_tries = draft_tries
        self.seed = int(seed)
        self._schemas = SchemaCache(sample_rows)

    # -- helpers -------------------------------------------------------------------------
    def space(self, ctx: OperatorContext) -> Space:
        """The pipeline space of ``ctx``'s task (column roles inferred once per public dir)."""
        brief = ctx.brief
        return Space(brief.problem, self._schemas.get(brief.public_dir, brief.problem),
                     self.n_folds)

    def seen(self, space: Space, nodes: Sequence[NodeView]) -> set[str]:
        """Effective keys (:meth:`Space.effective_key`) of the procedural configs among
        ``nodes``."""
        configs = (PipelineConfig.from_dict(n.config) for n in nodes)
        return {space.effective_key(space.normalize(c)) for c in configs if c is not None}

    def _budget(self, ctx: OperatorContext) -> float:
        limit = ctx.brief.time_limit_s
        return self.budget_share * limit if limit > 0 else float("inf")

    def _propose(self, ctx: OperatorContext, space: Space, config: PipelineConfig,
                 plan: str, bug: str | None = None) -> Proposal:
        if not supported(space.problem):
            return Proposal(code="", plan=plan, error=(
                f"procedural scripts cannot compute {metric_name(space.problem)!r} for "
                f"{space.problem.prediction!r} predictions"))
        cost = space.cost(config)
        plan = f"{plan} Estimated run time {cost:.0f}s."
        title = f"Procedural solution for {ctx.brief.task_id}: {family_title(config)}."
        code = render(config, space, plan=plan, title=title, seed=self.seed)
        record = {**config.to_dict(), "cost_estimate_s": round(cost, 2), "seed": self.seed}
        if bug is not None:
            code, record["bug"] = inject(code, bug), bug
        return Proposal(code=code, plan=plan, config=record)

    def _unique(self, ctx: OperatorContext, space: Space, make: Callable[[set[str]], Proposal],
                redraw: bool = True) -> Proposal:
        """``make(avoid)`` until its script is byte-identical to no node of the search
        (journaled, or proposed earlier in the batch): each repeat's pipeline joins
        ``avoid`` and the move is drawn again from the same ``ctx.rng``, at most
        :data:`MAX_REDRAWS` times (once without ``redraw``: a debug's repair is what it
        is). A repeat left over is kept with ``duplicate_of`` naming the earlier node."""
        known = known_codes(ctx)
        avoid: set[str] = set()
        proposal = make(avoid)
        for _ in range(MAX_REDRAWS if redraw else 0):
            if code_hash(proposal.code) not in known:
                return proposal
            config = PipelineConfig.from_dict(proposal.config)
            if config is not None:
                avoid.add(space.effective_key(config))
            proposal = make(avoid)
        if proposal.code.strip():
            proposal.duplicate_of = known.get(code_hash(proposal.code))
        return proposal

    def _parent(self, space: Space, node: NodeView) -> PipelineConfig | None:
        config = PipelineConfig.from_dict(node.config)
        return None if config is None else space.normalize(config)

    # -- operators -----------------------------------------------------------------------
    def draft(self, ctx: OperatorContext) -> Proposal:
        space = self.space(ctx)

        def make(avoid: set[str]) -> Proposal:
            config = self._sample(ctx, space, avoid)
            summary = "; ".join(describe(config, space))
            return self._propose(ctx, space, config,
                                 f"Draft {family_title(config)}: {summary}.",
                                 draw_bug(ctx.rng, self.bug_rate))

        return self._unique(ctx, space, make)

    def _sample(self, ctx: OperatorContext, space: Space, avoid: set[str]) -> PipelineConfig:
        """Sampled pipelines within budget and not in memory; else the cheapest new one."""
        seen, budget = self.seen(space, ctx.memory) | avoid, self._budget(ctx)
        weight = _DEFAULT_WEIGHT.get(ctx.complexity, 3.0)
        fresh: list[PipelineConfig] = []
        for _ in range(self.draft_tries):
            config = space.sample(ctx.rng, weight)
            if space.effective_key(config) in seen:
                continue
            if space.cost(config) <= budget:
                return config
            fresh.append(config)
        if fresh:
            return min(fresh, key=space.cost)
        config = space.sample(ctx.rng, weight)
        for _ in range(100):  # every sample was a repeat: step away from them
            if space.effective_key(config) not in seen:
                break
            config, _ = moves.improve(space, config, ctx.rng, seen, "advanced")
        return config

    def improve(self, ctx: OperatorContext, parent: NodeView) -> Proposal:
        space = self.space(ctx)
        config = self._parent(space, parent)
        if config is None:
            return self._fallback_draft(ctx, parent, "improve")
        known = self.seen(space, ctx.memory) | {space.effective_key(config)}

        def make(avoid: set[str]) -> Proposal:
            child, change = moves.improve(space, config, ctx.rng, known | avoid, ctx.complexity)
            plan = (f"Improve {parent.node_id}: {change.describe()} "
                    f"(one {change.kind} change).")
            return self._propose(ctx, space, child, plan, draw_bug(ctx.rng, self.bug_rate))

        return self._unique(ctx, space, make)

    def crossover(self, ctx: OperatorContext, a: NodeView, b: NodeView) -> Proposal:
        space = self.space(ctx)
        ca, cb = self._parent(space, a), self._parent(space, b)
        if ca is None or cb is None:
            return self._fallback_draft(ctx, a if ca is None else b, "crossover")
        known = self.seen(space, ctx.memory) | {space.effective_key(ca), space.effective_key(cb)}

        def make(avoid: set[str]) -> Proposal:
            return self._cross(ctx, space, (a, ca), (b, cb), known | avoid)

        return self._unique(ctx, space, make)

    def _cross(self, ctx: OperatorContext, space: Space, a: tuple[NodeView, PipelineConfig],
               b: tuple[NodeView, PipelineConfig], seen: set[str]) -> Proposal:
        (na, ca), (nb, cb) = a, b
        mixed = moves.crossover(space, ca, cb, ctx.rng, seen)
        if mixed is None:
            child, change = moves.improve(space, ca, ctx.rng, seen, ctx.complexity)
            plan = (f"Crossover of {na.node_id} and {nb.node_id}: the parents differ in at "
                    f"most one part, so {na.node_id} with one change instead: "
                    f"{change.describe()}.")
            return self._propose(ctx, space, child, plan)
        child, sources = mixed
        names = {"a": na.node_id, "b": nb.node_id}
        parts = "; ".join(
            f"{', '.join(g for g, s in sources.items() if s == side)} from {names[side]}"
            for side in ("a", "b")
        )
        plan = f"Crossover of {na.node_id} and {nb.node_id}: {parts} (the rest is shared)."
        return self._propose(ctx, space, child, plan)

    def debug(self, ctx: OperatorContext, parent: NodeView) -> Proposal:
        space = self.space(ctx)
        return self._unique(ctx, space, lambda _: self._debug(ctx, space, parent),
                            redraw=False)

    def _debug(self, ctx: OperatorContext, space: Space, parent: NodeView) -> Proposal:
        config = self._parent(space, parent) or space.safe_config()
        injected = parent.config.get("bug")
        if isinstance(injected, str):
            return self._debug_injected(ctx, space, config, parent, injected)
        failure = repair.classify_failure(parent.status, parent.reason, parent.stdout_tail)
        error_text = f"{parent.reason or ''}\n{parent.stdout_tail[-2000:]}"
        child, notes = repair.debug(space, config, failure, error_text, parent.debug_depth)
        said = (parent.reason or parent.status).strip()  # a blank reason has no first line
        why = said.splitlines()[0][:160] if said else failure
        plan = f"Debug {parent.node_id} ({failure}: {why}): {'; '.join(notes)}."
        return self._propose(ctx, space, child, plan)

    def _debug_injected(self, ctx: OperatorContext, space: Space, config: PipelineConfig,
                        parent: NodeView, bug: str) -> Proposal:
        """Fix the bug the parent was given (the pipeline stays); with ``debug_fail_rate``
        the fix brings a different bug instead, so the debug chain goes on."""
        said = (parent.reason or parent.status).strip()
        why = said.splitlines()[0][:160] if said else parent.status
        again = draw_bug(ctx.rng, self.debug_fail_rate, exclude=bug)
        outcome = "fixed it" if again is None else "the fix did not hold"
        plan = f"Debug {parent.node_id} ({bug} bug: {why}): {outcome}."
        return self._propose(ctx, space, config, plan, again)

    def _fallback_draft(self, ctx: OperatorContext, node: NodeView, op: str) -> Proposal:
        proposal = self.draft(ctx)
        proposal.plan = (f"{op.capitalize()} of {node.node_id} is not possible (it has no "
                         f"procedural config), so a fresh draft: {proposal.plan}")
        return proposal

    def analyze(self, ctx: OperatorContext, node: NodeView, outcome: RunOutcome) -> Analysis:
        return analyze_outcome(outcome, metric_name(ctx.brief.problem), node.val_folds)


def analyze_outcome(outcome: RunOutcome, metric: str, folds: Sequence[float] = ()) -> Analysis:
    """Bug or not, a one-line summary, and the reported score (never a test score)."""
    secs = f"{outcome.exec_time:.1f}s" if outcome.exec_time == outcome.exec_time else "?s"
    last_err = next((ln.strip() for ln in reversed(outcome.stderr_tail.splitlines())
                     if ln.strip()), "")
    if outcome.timed_out:
        summary = f"bug: timed out after {secs}"
    elif outcome.oom:
        summary = f"bug: ran out of memory after {secs}"
    elif outcome.exit_code != 0:
        summary = f"bug: exited with code {outcome.exit_code}: {last_err[:200]}"
    elif not outcome.has_submission:
        summary = "bug: no ./submission/submission.csv was written"
    elif outcome.reported_score is None:
        summary = "bug: no VALIDATION_SCORE line in the output"
    else:
        spread = f", folds {min(folds):.4g}-{max(folds):.4g}" if folds else ""
        n_folds = len(folds) or "?"
        summary = f"ok: {metric} {outcome.reported_score:.6g} ({n_folds} folds{spread}) in {secs}"
        return Analysis(is_bug=False, summary=summary, metric=outcome.reported_score)
    return Analysis(is_bug=True, summary=summary, metric=outcome.reported_score)
