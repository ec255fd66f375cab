"""The record of one search node: a complete solution script, its run, and its grades.

:class:`Node` is one journal line, the unit of the on-disk study. What policies and operators
may see of it (no ``test`` or ``select`` score) is :class:`aira_eval.search.node.NodeView`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aira_eval.study.status import FAILED_STATUSES, Status

OperatorName = Literal["draft", "improve", "debug", "crossover"]
FitnessSignal = Literal["val", "search", "test"]


@dataclass
class Usage:
    """LLM usage of one node (zero for procedural operators)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    latency_s: float = 0.0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.calls += other.calls
        self.latency_s += other.latency_s


@dataclass
class Node:
    """The full record of one search node, as written to the journal.

    Attributes:
        scores: held-out set name -> score (``val`` from the script's own report; ``search``,
            ``select``, ``test`` graded by the harness). Absent keys mean no score.
        heldout_sizes: held-out set name -> rows graded.
        config: operator-specific description of the solution (the procedural pipeline, or
            the LLM's plan metadata); used for memory and crossover.
        batch: the policy batch this node was proposed in (for deterministic resume).
        duplicate_of: the id of an earlier node of the same search whose ``code.py`` is
            byte-identical to this one's, as the operator (or the engine) reported it;
            ``None`` when the script is new.
    """

    node_id: str
    search_id: str
    step: int
    batch: int
    operator: OperatorName
    parent_ids: list[str] = field(default_factory=list)
    depth: int = 0
    debug_depth: int = 0
    status: Status = "pending"
    reason: str | None = None
    plan: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    code_path: str | None = None
    stdout_tail: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    val_folds: list[float] = field(default_factory=list)
    heldout_sizes: dict[str, int] = field(default_factory=dict)
    exec_time: float = math.nan
    started_at: float = math.nan
    finished_at: float = math.nan
    isolation: str = "none"
    isolation_note: str | None = None
    analysis: str = ""
    usage: Usage = field(default_factory=Usage)
    meta: dict[str, Any] = field(default_factory=dict)
    duplicate_of: str | None = None

    @property
    def is_ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_buggy(self) -> bool:
        return self.status in FAILED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Node:
        data = dict(raw)
        data["usage"] = Usage(**data.get("usage", {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def oriented(score: float | None, lower_is_better: bool) -> float | None:
    """Score oriented so that higher is better; None/NaN -> None."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    return -score if lower_is_better else score
