"""Policy names, presets and construction from user parameters.

``make_policy("greedy", {"debug_prob": 1.0})`` builds a policy; every name in
:data:`POLICY_NAMES` is either an algorithm (its published defaults) or a preset (an
algorithm with some parameters fixed, which user parameters may still override). Unknown
names, unknown parameters and invalid values raise :class:`~aira_eval.errors.UsageError`
naming what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aira_eval.errors import UsageError, unknown_name
from aira_eval.search.policies.base import Policy
from aira_eval.search.policies.evolutionary import EvolutionaryParams, EvolutionaryPolicy
from aira_eval.search.policies.greedy import GreedyParams, GreedyPolicy
from aira_eval.search.policies.mcts import MCTSParams, MCTSPolicy
from aira_eval.search.policies.random_policy import RandomParams, RandomPolicy


@dataclass(frozen=True)
class _Algorithm:
    policy: type
    params: type


ALGORITHMS: dict[str, _Algorithm] = {
    "greedy": _Algorithm(GreedyPolicy, GreedyParams),
    "mcts": _Algorithm(MCTSPolicy, MCTSParams),
    "evolutionary": _Algorithm(EvolutionaryPolicy, EvolutionaryParams),
    "random": _Algorithm(RandomPolicy, RandomParams),
}

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    # The greedy setting MLE-bench and AIRA-dojo run AIDE with.
    "greedy-mlebench": ("greedy", {"num_drafts": 5, "debug_prob": 1.0, "max_debug_depth": 20}),
}

POLICY_NAMES: tuple[str, ...] = (*ALGORITHMS, *PRESETS)


def policy_params(name: str) -> dict[str, Any]:
    """The parameters (with their values) the policy ``name`` starts from."""
    algorithm, preset = _resolve(name)
    defaults = dataclasses.asdict(ALGORITHMS[algorithm].params())
    return defaults | preset


def make_policy(name: str, params: Mapping[str, Any] | None = None) -> Policy:
    """The policy ``name`` with ``params`` overriding its defaults (or its preset's)."""
    algorithm, preset = _resolve(name)
    spec = ALGORITHMS[algorithm]
    values = _coerce_all(name, spec.params, {**preset, **dict(params or {})})
    try:
        built = spec.params(**values)
        built.validate()
    except ValueError as err:
        raise UsageError(f"invalid parameter for policy {name!r}: {err}") from err
    policy: Policy = spec.policy(built, name=name)
    return policy


def _resolve(name: str) -> tuple[str, dict[str, Any]]:
    if name in ALGORITHMS:
        return name, {}
    if name in PRESETS:
        algorithm, preset = PRESETS[name]
        return algorithm, dict(preset)
    raise unknown_name("policy", name, POLICY_NAMES)


def _coerce_all(name: str, params_cls: type, raw: Mapping[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(params_cls)
    valid = [f.name for f in dataclasses.fields(params_cls)]
    unknown = sorted(set(raw) - set(valid))
    if unknown:
        raise UsageError(
            f"unknown parameter(s) for policy {name!r}: {', '.join(unknown)}",
            hint=f"valid parameters: {', '.join(valid)}",
        )
    return {key: _coerce(name, key, hints[key], value) for key, value in raw.items()}


def _coerce(name: str, key: str, kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` (int or float); strings from a command line are parsed."""
    try:
        if not isinstance(value, bool):
            if kind is int:
                number = float(value) if isinstance(value, str) else value
                if isinstance(number, int | float) and float(number) == int(number):
                    return int(number)
            elif kind is float:
                number = float(value)
                if not math.isnan(number):
                    return number
            else:
                return value
    except (TypeError, ValueError, OverflowError):
        pass
    type_name = getattr(kind, "__name__", str(kind))
    raise UsageError(f"parameter {key!r} of policy {name!r} must be {type_name}, got {value!r}")
