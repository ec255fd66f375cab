"""AIRA-dojo's evolutionary policy (islands, after FunSearch / REvolve), rebuilt from the journal.

AIRA-dojo (``dojo/solvers/evo``) runs generations of ``individuals_per_generation`` children:

- generation 0: drafts, each assigned to a uniformly random island;
- later generations: per child, an operator (crossover with probability ``crossover_prob``
  once the generation is ``>= num_generations_till_crossover``, improve otherwise), an island
  sampled by its mean fitness, and 1 (improve) or 2 distinct (crossover) parents sampled from
  that island; both draws use softmax weights ``exp(s / T) / sum(exp(s / T))`` of min-max
  normalised scores ``s`` in [0, 1] (normalised by the lowest and highest fitness of any
  individual so far; 0.5 when they are equal), at temperature
  ``T = initial_temp - (initial_temp - final_temp) * generation / num_generations``;
- a buggy child runs a debug loop (``max_debug_depth`` steps, ``max_debug_time`` seconds of
  execution; same loop as MCTS); the child, or the node that fixed it, is the individual;
  unfixed children are discarded;
- when the generation is done, generation 0's individuals seed their islands; later
  individuals join their island only if their fitness is at least the island's current mean
  (always into an empty island), in child order, and the worst member is evicted while the
  island exceeds ``max_island_size``;
- then, with ``migration_prob`` (from generation ``num_generations_till_migration`` on, only
  with several islands), the weaker half of the islands keep only their best member and each
  receives one migrant from a uniformly chosen stronger island with more than one member
  (softmax-weighted at T = 1 among its non-best members).

Conventions where AIRA-dojo is ambiguous or has an edge case (documented, deliberate):

- fitness is oriented (higher is better), so the lower-is-better branches collapse;
- AIRA-dojo resamples an island until it has enough members (and fails after ``2 x islands``
  attempts); we sample directly among the islands that have enough members (the limit of its
  rejection sampling), and a crossover with no island of two members becomes an improve;
- AIRA-dojo's ``reset_islands`` sorts so that it resets the *best* half of the islands,
  contradicting its own docstring and FunSearch; we reset the weaker half (ties: lower island
  id is weaker) and use a strict ``u < migration_prob`` so 0 means never;
- the policy returns ``[]`` (done) after ``num_generations`` generations.

Batching: a generation's children are independent, so they go out together (up to
``max_batch``), then one debug step per buggy child in parallel; slots are served in order,
so ``max_batch = 1`` reproduces AIRA-dojo's sequential order. Parents of a child are drawn
when the child is handed out; the islands only change between generations, so every child of
a generation is drawn from the same distribution, as in AIRA-dojo. Each action's ``meta``
records its generation, individual slot and island (and, when a migration was drawn before the
generation, its moves, on the actions handed out in that call), from which the islands are
replayed on every call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aira_eval.search.journal import JournalView
from aira_eval.search.node import NodeView
from aira_eval.search.policies.base import Action, ActionKind, ParamPolicy
from aira_eval.search.policies.greedy import check_batch
from aira_eval.search.policies.mcts import debug_chain, open_debug_target

META_GENERATION = "evo_generation"
META_INDIVIDUAL = "evo_individual"
META_ISLAND = "evo_island"
META_MIGRATION = "evo_migration"


@dataclass(frozen=True)
class EvolutionaryParams:
    """AIRA-dojo's ``EvolutionarySolverConfig`` with the published values.

    ``max_debug_depth`` follows the MLE-bench/AIRA-dojo debug setting (20); ``max_debug_time``
    (unset in AIRA-dojo's dataclass) defaults to its per-node ``execution_timeout``, 14400 s.
    """

    num_islands: int = 1
    max_island_size: int = 500
    individuals_per_generation: int = 5
    num_generations: int = 100
    num_generations_till_crossover: int = 2
    crossover_prob: float = 0.5
    migration_prob: float = 0.0
    num_generations_till_migration: int = 0
    initial_temp: float = 1.0
    final_temp: float = 1.0
    max_debug_depth: int = 20
    max_debug_time: float = 14400.0

    def validate(self) -> None:
        for name in ("num_islands", "max_island_size", "individuals_per_generation"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.num_generations < 1:
            raise ValueError("num_generations must be at least 1")
        if self.num_generations_till_crossover < 0 or self.num_generations_till_migration < 0:
            raise ValueError("num_generations_till_* must be >= 0")
        for name in ("crossover_prob", "migration_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.initial_temp <= 0 or self.final_temp <= 0:
            raise ValueError("initial_temp and final_temp must be > 0")
        if self.max_debug_depth < 0:
            raise ValueError("max_debug_depth must be >= 0")
        if self.max_debug_time <= 0:
            raise ValueError("max_debug_time must be > 0")


def temperature(params: EvolutionaryParams, generation: int) -> float:
    """AIRA-dojo's linear schedule from ``initial_temp`` to ``final_temp``."""
    t0, t1 = params.initial_temp, params.final_temp
    return t0 - (t0 - t1) * generation / params.num_generations


def softmax_weights(scores: Sequence[float], temp: float) -> np.ndarray:
    """``exp(s / temp)`` normalised to sum 1 (REvolve's ``normalized``), computed stably."""
    x = np.asarray(scores, dtype=float) / temp
    e = np.exp(x - x.max())
    return np.asarray(e / e.sum())


def fitness(node: NodeView) -> float:
    return float(node.fitness) if node.fitness is not None else -math.inf


@dataclass
class Population:
    """The islands (members in insertion order) and the fitness range seen so far."""

    islands: list[list[NodeView]]
    max_size: int
    fmin: float = math.inf
    fmax: float = -math.inf

    @property
    def size(self) -> int:
        return sum(len(i) for i in self.islands)

    def observe(self, f: float) -> None:
        if math.isfinite(f):
            self.fmin, self.fmax = min(self.fmin, f), max(self.fmax, f)

    def normalised(self, f: float) -> float:
        """Min-max normalised score in [0, 1]; 0 for no score, 0.5 on a degenerate range."""
        if not math.isfinite(f):
            return 0.0
        if not (math.isfinite(self.fmin) and math.isfinite(self.fmax)) or self.fmax == self.fmin:
            return 0.5
        return float(np.clip((f - self.fmin) / (self.fmax - self.fmin), 0.0, 1.0))

    def mean(self, island: int) -> float:
        members = self.islands[island]
        return float(np.mean([fitness(n) for n in members])) if members else -math.inf

    def best(self, island: int) -> float:
        members = self.islands[island]
        return max(fitness(n) for n in members) if members else -math.inf

    def seed(self, node: NodeView, island: int) -> None:
        self.observe(fitness(node))
        self.islands[island].append(node)

    def add(self, node: NodeView, island: int) -> None:
        """Admit ``node`` if it reaches the island's mean; evict the worst above the limit."""
        f = fitness(node)
        self.observe(f)
        members = self.islands[island]
        if not members or f >= self.mean(island):
            members.append(node)
        while len(members) > self.max_size:
            scores = [fitness(n) for n in members]
            members.pop(scores.index(min(scores)))


@dataclass
class Generation:
    """Children of one generation by individual slot, and the migration recorded with it."""

    slots: dict[int, NodeView] = field(default_factory=dict)
    migration: list[list[Any]] | None = None


def generations(journal: JournalView) -> dict[int, Generation]:
    """Evolutionary nodes grouped by generation (the earliest node of each slot)."""
    out: dict[int, Generation] = {}
    for n in journal.nodes:
        if META_GENERATION not in n.meta:
            continue
        gen = out.setdefault(int(n.meta[META_GENERATION]), Generation())
        if gen.migration is None and n.meta.get(META_MIGRATION) is not None:
            gen.migration = list(n.meta[META_MIGRATION])
        if n.operator != "debug":
            gen.slots.setdefault(int(n.meta[META_INDIVIDUAL]), n)
    return out


def _individual(journal: JournalView, node: NodeView) -> NodeView | None:
    """The child itself if good, the node that fixed it, or None (discarded)."""
    end = debug_chain(journal, node)[-1]
    return end if end.is_good else None


def _weaker_half(pop: Population) -> list[int]:
    order = sorted(range(len(pop.islands)), key=lambda k: (pop.best(k), k))
    return order[: len(order) // 2]


def migrate(pop: Population, rng: np.random.Generator) -> list[list[Any]]:
    """Reset the weaker half of the islands and move one migrant into each; returns the moves."""
    reset = _weaker_half(pop)
    keep = [k for k in range(len(pop.islands)) if k not in reset]
    moves: list[list[Any]] = []
    for k in reset:
        _keep_best(pop, k)
        founders = [j for j in keep if len(pop.islands[j]) > 1]
        if not founders:
            continue
        src = founders[int(rng.integers(len(founders)))]
        top = pop.best(src)
        candidates = [n for n in pop.islands[src] if fitness(n) != top]
        if not candidates:
            continue
        w = softmax_weights([pop.normalised(fitness(n)) for n in candidates], 1.0)
        migrant = candidates[int(rng.choice(len(candidates), p=w))]
        _move(pop, migrant.node_id, src, k)
        moves.append([migrant.node_id, src, k])
    return moves


def _keep_best(pop: Population, island: int) -> None:
    members = pop.islands[island]
    if members:
        scores = [fitness(n) for n in members]
        pop.islands[island] = [members[scores.index(max(scores))]]


def _move(pop: Population, node_id: str, src: int, dst: int) -> None:
    found = [n for n in pop.islands[src] if n.node_id == node_id]
    if found:
        pop.islands[src] = [n for n in pop.islands[src] if n.node_id != node_id]
        pop.islands[dst].append(found[0])


def _replay_migration(pop: Population, moves: list[list[Any]]) -> None:
    for k in _weaker_half(pop):
        _keep_best(pop, k)
    for node_id, src, dst in moves:
        _move(pop, str(node_id), int(src), int(dst))


def rebuild(journal: JournalView, params: EvolutionaryParams) -> tuple[Population, int, Generation]:
    """Replay the islands from the journal.

    Returns the population after every completed generation (and the migration recorded with
    the current one), the current generation number, and its children so far.
    """
    pop = Population([[] for _ in range(params.num_islands)], params.max_island_size)
    gens = generations(journal)
    g = 0
    while True:
        gen = gens.get(g, Generation())
        if g > 0 and gen.migration is not None:
            _replay_migration(pop, gen.migration)
        done = len(gen.slots) >= params.individuals_per_generation and not any(
            open_debug_target(journal, n, params.max_debug_depth, params.max_debug_time)
            is not None
            for n in gen.slots.values()
        )
        if not done:
            return pop, g, gen
        for slot in sorted(gen.slots):
            child = gen.slots[slot]
            ind = _individual(journal, child)
            if ind is not None:
                island = int(child.meta.get(META_ISLAND, 0)) % params.num_islands
                (pop.seed if g == 0 else pop.add)(ind, island)
        g += 1


def island_members(journal: JournalView, params: EvolutionaryParams) -> list[list[str]]:
    """Node ids per island after the completed generations (for tests and reports)."""
    pop, _, _ = rebuild(journal, params)
    return [[n.node_id for n in island] for island in pop.islands]


class EvolutionaryPolicy(ParamPolicy[EvolutionaryParams]):
    """AIRA-dojo's evolutionary search (see the module docstring for the conventions)."""

    algorithm = "evolutionary"
    params_type = EvolutionaryParams

    def propose(
        self, journal: JournalView, rng: np.random.Generator, max_batch: int
    ) -> list[Action]:
        check_batch(max_batch)
        p = self.params
        pop, g, gen = rebuild(journal, p)
        if g >= p.num_generations:
            return []
        extra: dict[str, Any] = {}
        if not gen.slots and self._migration_due(g) and rng.random() < p.migration_prob:
            extra[META_MIGRATION] = migrate(pop, rng)
        actions: list[Action] = []
        for slot in range(p.individuals_per_generation):
            if len(actions) == max_batch:
                break
            child = gen.slots.get(slot)
            if child is None:
                actions.append(self._plan(pop, g, slot, rng, extra))
                continue
            target = open_debug_target(journal, child, p.max_debug_depth, p.max_debug_time)
            if target is not None:
                meta = {k: child.meta[k] for k in (META_GENERATION, META_INDIVIDUAL, META_ISLAND)}
                meta |= {"policy": self.name, "evo_debug": True}
                actions.append(Action("debug", (target.node_id,), meta))
        return actions

    def _migration_due(self, g: int) -> bool:
        """Migration follows the islands update of generation ``g - 1`` (>= 1)."""
        p = self.params
        return (
            p.num_islands > 1
            and p.migration_prob > 0
            and g - 1 >= max(1, p.num_generations_till_migration)
        )

    def _plan(
        self, pop: Population, g: int, slot: int, rng: np.random.Generator, extra: dict[str, Any]
    ) -> Action:
        """One child of generation ``g``: a draft, an improve or a crossover."""
        p = self.params
        temp = temperature(p, g)
        meta: dict[str, Any] = {"policy": self.name, META_GENERATION: g, META_INDIVIDUAL: slot}
        meta |= {"evo_temperature": temp, **extra}
        if g == 0 or pop.size == 0:
            meta[META_ISLAND] = int(rng.integers(p.num_islands))
            return Action("draft", (), meta)
        cx_prob = p.crossover_prob if g >= p.num_generations_till_crossover else 0.0
        op: ActionKind = "improve" if rng.random() >= cx_prob else "crossover"
        need = 1 if op == "improve" else 2
        if not any(len(isl) >= need for isl in pop.islands):
            op, need = "improve", 1
        island = self._sample_island(pop, need, temp, rng)
        members = pop.islands[island]
        w = softmax_weights([pop.normalised(fitness(n)) for n in members], temp)
        picks = rng.choice(len(members), size=need, replace=False, p=w)
        meta[META_ISLAND] = island
        return Action(op, tuple(members[int(i)].node_id for i in picks), meta)

    @staticmethod
    def _sample_island(pop: Population, need: int, temp: float, rng: np.random.Generator) -> int:
        """An island with at least ``need`` members, weighted by its normalised mean fitness."""
        w = softmax_weights([pop.normalised(pop.mean(k)) for k in range(len(pop.islands))], temp)
        w = np.where([len(isl) >= need for isl in pop.islands], w, 0.0)
        return int(rng.choice(len(w), p=w / w.sum()))
