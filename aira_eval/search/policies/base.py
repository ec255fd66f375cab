"""The policy interface.

A policy is a pure function of the blinded journal: given the nodes so far (fitness oriented
so that higher is better, no test or select scores), a seeded RNG and a batch size, it returns
the next actions. It keeps no hidden state, so a resumed search re-derives every decision from
the journal. MCTS statistics and evolutionary islands are rebuilt from the journal each call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import numpy as np

from aira_eval.search.journal import JournalView

ActionKind = Literal["draft", "improve", "debug", "crossover"]


@dataclass(frozen=True)
class Action:
    """One node to create: the operator and its parents (none for a draft, two for crossover).

    ``meta`` carries policy bookkeeping that must be journaled (e.g. the MCTS expansion it
    belongs to, the evolutionary generation and island).
    """

    operator: ActionKind
    parent_ids: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """Decides which operator to apply where."""

    name: str

    def propose(
        self, journal: JournalView, rng: np.random.Generator, max_batch: int
    ) -> list[Action]:
        """Up to ``max_batch`` actions to run in parallel (at least one while budget remains).

        ``journal.elapsed_s`` is the search's wall time so far (for time-bounded rules).
        """
        ...


class _Params(Protocol):
    def validate(self) -> None: ...


P = TypeVar("P", bound=_Params)


class ParamPolicy(Generic[P]):
    """Shared plumbing of the built-in policies: validated parameters (a dataclass with the
    published names and defaults), a name, and a flat loggable description."""

    algorithm: ClassVar[str]
    params_type: ClassVar[type]

    def __init__(self, params: P | None = None, name: str | None = None) -> None:
        self.params: P = params if params is not None else self.params_type()
        self.params.validate()
        self.name = name or self.algorithm

    def describe(self) -> dict[str, Any]:
        """Flat, loggable description: ``name``, ``algorithm`` and every parameter."""
        return {"name": self.name, "algorithm": self.algorithm, **asdict(self.params)}  # type: ignore[call-overload]
