"""The edits procedural operators make to pipeline configs: improve, crossover, debug.

- :func:`improve` makes exactly one atomic change (one hyperparameter, one preprocessing or
  feature choice, or the model family with its default hyperparameters);
- :func:`crossover` takes each group (preprocessing, features, text, training, model) whole
  from one parent or the other, with both parents contributing;

Debugging lives in :mod:`.repair`.

Every function is deterministic given its ``rng`` and avoids configs whose effective key
(:meth:`Space.effective_key`) is in ``seen`` (the memory in scope) when it can.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from aira_eval.search.operators.procedural.config import (
    FAMILIES,
    FIELD_GROUPS,
    GROUPS,
    PipelineConfig,
)
from aira_eval.search.operators.procedural.space import Space, weighted_index

_KIND_OF_GROUP = {
    "preprocessing": "preprocessing", "features": "feature step",
    "text": "text features", "training": "training",
}
_KIND_WEIGHTS: dict[str, dict[str, float]] = {
    "minimal": {"hyperparameter": 4.0, "preprocessing": 1.5, "feature step": 1.5,
                "text features": 1.5, "training": 1.0, "model family": 0.5},
    "moderate": {"hyperparameter": 3.0, "preprocessing": 2.0, "feature step": 2.0,
                 "text features": 2.0, "training": 1.0, "model family": 1.0},
    "advanced": {"hyperparameter": 2.0, "preprocessing": 2.0, "feature step": 2.5,
                 "text features": 2.0, "training": 1.0, "model family": 2.0},
}


@dataclass(frozen=True)
class Change:
    """One atomic edit: the knob path, old and new value, and what kind of change it is."""

    path: str
    old: Any
    new: Any
    kind: str

    def describe(self) -> str:
        if self.path == "model.family":
            return f"change model.family from {self.old} to {self.new} (default hyperparameters)"
        return f"change {self.path} from {self.old!r} to {self.new!r}"


def candidate_changes(space: Space, config: PipelineConfig) -> list[Change]:
    """Every single-knob edit of ``config`` this task's space allows that changes the fitted
    model (:meth:`Space.effective_key`): knobs the model cannot notice (scaling for tree
    ensembles), choices the data makes moot (imputation without missing values, a leaf cap
    above what the rows allow) are left alone."""
    out: list[Change] = []
    for knob in space.relevant_knobs(config):
        old = getattr(config, knob.name)
        kind = _KIND_OF_GROUP[FIELD_GROUPS[knob.name]]
        out += [Change(knob.path, old, v, kind) for v in knob.options if v != old]
    for name, options in space.param_grid(config.family).items():
        old = config.params.get(name)
        out += [Change(f"model.params.{name}", old, v, "hyperparameter")
                for v in options if v != old]
    out += [Change("model.family", config.family, f, "model family")
            for f in FAMILIES if f != config.family]
    key = space.effective_key(config)
    return [c for c in out if space.effective_key(apply_change(space, config, c)) != key]


def apply_change(space: Space, config: PipelineConfig, change: Change) -> PipelineConfig:
    if change.path == "model.family":
        return replace(config, family=change.new, params=space.default_params(change.new))
    return config.with_value(change.path, change.new)


def improve(
    space: Space, config: PipelineConfig, rng: np.random.Generator, seen: set[str],
    complexity: str = "minimal",
) -> tuple[PipelineConfig, Change]:
    """``config`` with one atomic change, weighted by kind (the complexity cue shifts weight
    from hyperparameters to feature steps and model families)."""
    changes = candidate_changes(space, config)
    fresh = [c for c in changes
             if space.effective_key(apply_change(space, config, c)) not in seen]
    pool = fresh or changes
    kind_weights = _KIND_WEIGHTS.get(complexity, _KIND_WEIGHTS["minimal"])
    per_kind: dict[str, int] = {}
    for c in pool:
        per_kind[c.kind] = per_kind.get(c.kind, 0) + 1
    weights = [kind_weights[c.kind] / per_kind[c.kind] for c in pool]
    change = pool[weighted_index(rng, weights)]
    return apply_change(space, config, change), change


def crossover(
    space: Space, a: PipelineConfig, b: PipelineConfig, rng: np.random.Generator, seen: set[str]
) -> tuple[PipelineConfig, dict[str, str]] | None:
    """A child taking each group from ``a`` or ``b`` (both contributing), or ``None`` when
    the parents differ in fewer than two groups (no child would differ from both).

    Returns the child and, for each group where the parents differ, ``"a"`` or ``"b"``.
    """
    differing = [g for g in GROUPS if a.group_values(g) != b.group_values(g)]
    if len(differing) < 2:
        return None
    options = [
        bits
        for bits in itertools.product((0, 1), repeat=len(differing))
        if 0 < sum(bits) < len(bits)
    ]
    children = []
    for bits in options:
        child = a
        for group, from_b in zip(differing, bits, strict=True):
            if from_b:
                child = child.with_group(group, b)
        children.append((space.normalize(child), bits))
    fresh = [c for c in children if space.effective_key(c[0]) not in seen] or children
    child, bits = fresh[int(rng.integers(len(fresh)))]
    return child, {g: ("b" if bit else "a") for g, bit in zip(differing, bits, strict=True)}
