"""The search loop: policy batches, parallel node execution, durable journaling, resume.

Determinism: batch ``b`` is proposed from the nodes of batches ``< b`` with an RNG derived
from (seed, b), and node ``s`` is generated with an RNG derived from (seed, s). A search
killed at any moment therefore resumes by re-proposing its unfinished batch and running only
the steps the journal lacks: no node is lost or duplicated, and (with procedural operators and
no wall-clock rules) the result equals an uninterrupted run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from aira_eval.search.journal import BATCH_ACTIONS, JournalView
from aira_eval.search.node import Node, Usage
from aira_eval.search.operators.base import code_hash
from aira_eval.search.policies.base import Action, Policy
from aira_eval.search.runner import NodeCancelled, SearchContext
from aira_eval.study.journal import JournalFile

if TYPE_CHECKING:
    from aira_eval.search.executors import SearchExecutor

NodeCallback = Callable[[Node], None]


@dataclass
class Budget:
    """Per-search limits: node count and wall-clock seconds (None: unlimited)."""

    steps: int
    time_s: float | None = None


@dataclass
class SearchOutcome:
    """How a search ended."""

    search_id: str
    nodes: list[Node] = field(default_factory=list)
    stopped: str = "budget"  # budget | time | cost | policy | interrupted
    resumed_from: int = 0
    torn_line: int | None = None  # a torn last journal line dropped on resume (its line no.)

    def usage(self) -> Usage:
        """LLM usage summed over the search's nodes (zero for procedural operators)."""
        total = Usage()
        for node in self.nodes:
            total.add(node.usage)
        return total


def policy_rng(seed: int, batch: int) -> np.random.Generator:
    """The RNG of the policy's ``batch``-th proposal: a pure function of (seed, batch)."""
    return np.random.default_rng([seed, batch, 0x9011C7])


def _view(ctx: SearchContext, nodes: list[Node], elapsed: float) -> JournalView:
    view = JournalView.from_nodes(nodes, ctx.signal, ctx.lower_is_better)
    view.elapsed_s = elapsed
    return view


class SearchEngine:
    """Runs one search to its budget, appending every finished node to its journal."""

    def __init__(
        self,
        ctx: SearchContext,
        policy: Policy,
        budget: Budget,
        workers: int = 1,
        on_node: NodeCallback | None = None,
        stop: threading.Event | None = None,
        slots: threading.Semaphore | None = None,
        executor: SearchExecutor | None = None,
    ) -> None:
        """``executor`` runs the nodes (default: ``workers`` local threads, each holding one
        of the shared ``slots`` while it runs); the engine alone journals them."""
        self.ctx = ctx
        self.slots = slots
        self.executor = executor
        self.policy = policy
        self.budget = budget
        self.workers = max(1, workers)
        self.on_node = on_node
        self.stop = stop or threading.Event()
        self.journal = JournalFile(ctx.search_dir / "journal.jsonl")

    def run(self) -> SearchOutcome:
        nodes = self.journal.repair()
        outcome = SearchOutcome(self.ctx.search_id, resumed_from=len(nodes),
                                torn_line=self.journal.torn_line)
        prior = max((float(n.meta.get("search_elapsed", 0.0)) for n in nodes), default=0.0)
        t0 = time.monotonic() - prior
        closed: set[int] = set()  # batches re-proposed on resume with nothing left to run
        codes = _code_index(nodes)  # kept up to date as nodes are journaled
        if self.executor is None:
            from aira_eval.search.executors.local import LocalSearchExecutor

            self.executor = LocalSearchExecutor(self.ctx, self.workers, self.slots)
        pool = self.executor
        try:
            while True:
                reason = self._stop_reason(nodes, time.monotonic() - t0)
                if reason:
                    outcome.stopped = reason
                    break
                batch = _next_batch(nodes, closed)
                prefix = [n for n in nodes if n.batch < batch]
                view = _view(self.ctx, prefix, time.monotonic() - t0)
                actions = self.policy.propose(view, policy_rng(self.ctx.seed, batch), self.workers)
                actions = actions[: max(0, self.budget.steps - len(prefix))]
                view.meta[BATCH_ACTIONS] = tuple(actions)  # operators may replay siblings
                if not actions:
                    outcome.stopped = "policy"
                    break
                done = {n.step for n in nodes}
                steps = range(len(prefix), len(prefix) + len(actions))
                todo = [(step, a) for step, a in zip(steps, actions, strict=True)
                        if step not in done]
                if not todo:  # e.g. a time-dependent policy now proposes fewer actions
                    closed.add(batch)
                    continue
                nodes.extend(self._run_batch(pool, todo, view, batch, len(actions), t0, codes))
        finally:
            pool.close()
        outcome.nodes = sorted(nodes, key=lambda n: n.step)
        return outcome

    def _stop_reason(self, nodes: list[Node], elapsed: float) -> str | None:
        if self.stop.is_set():
            return "interrupted"
        if len(nodes) >= self.budget.steps:
            return "budget"
        if self.budget.time_s is not None and elapsed >= self.budget.time_s:
            return "time"
        spent = getattr(self.ctx.operators, "budget_exhausted", None)  # LLM spend limit
        if callable(spent) and spent(nodes):
            return "cost"
        return None

    def _run_batch(
        self,
        pool: SearchExecutor,
        todo: list[tuple[int, Action]],
        view: JournalView,
        batch: int,
        size: int,
        t0: float,
        codes: dict[str, str],
    ) -> list[Node]:
        """Run ``todo`` in parallel; journal each node as it finishes (``size`` is the whole
        batch's action count, recorded so a resume knows whether the batch completed).
        ``codes`` (code hash -> node id of the journaled nodes) marks a node whose script an
        earlier-journaled node already had, when its operator did not report it."""
        pending: set[Future[Node]] = {
            pool.submit(action, view, step, batch) for step, action in todo
        }
        finished: list[Node] = []
        cancelled = False
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if self.stop.is_set() and not cancelled:
                cancelled = True
                pool.cancel()  # running scripts are killed; their nodes re-run on resume
            for fut in done:
                try:
                    node = fut.result()
                except NodeCancelled:
                    continue
                node.meta["search_elapsed"] = time.monotonic() - t0
                node.meta["batch_size"] = size
                _mark_duplicate(node, codes)
                self.journal.append(node)  # durable before the node counts as done
                finished.append(node)
                if self.on_node is not None:
                    self.on_node(node)
        return finished


def _code_index(nodes: list[Node]) -> dict[str, str]:
    """Code hash -> id of the first node (by step) with that script."""
    out: dict[str, str] = {}
    for node in sorted(nodes, key=lambda n: n.step):
        if node.code.strip():
            out.setdefault(code_hash(node.code), node.node_id)
    return out


def _mark_duplicate(node: Node, codes: dict[str, str]) -> None:
    """Record ``duplicate_of`` for a byte-identical script the operator could not see (e.g.
    two LLM replies of one parallel batch), then index the node's own code."""
    if not node.code.strip():
        return
    digest = code_hash(node.code)
    if node.duplicate_of is None and codes.get(digest, node.node_id) != node.node_id:
        node.duplicate_of = codes[digest]
    codes.setdefault(digest, node.node_id)


def _next_batch(nodes: list[Node], closed: set[int]) -> int:
    """The batch to propose next: the last journaled batch again when it is incomplete (its
    missing steps are run on resume) and not ``closed``, else the one after it."""
    if not nodes:
        return 0
    last = max(n.batch for n in nodes)
    members = [n for n in nodes if n.batch == last]
    size = members[0].meta.get("batch_size")
    incomplete = size is not None and len(members) < int(size)
    return last if incomplete and last not in closed else last + 1
