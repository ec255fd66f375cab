"""Operator families by name."""

from __future__ import annotations

from typing import Any

from aira_eval.errors import UsageError
from aira_eval.search.operators.base import Operators

OPERATOR_FAMILIES = ("procedural",)


def make_operators(name: str, params: dict[str, Any] | None = None) -> Operators:
    """The operator family ``name`` configured with ``params``."""
    params = params or {}
    if name == "procedural":
        from aira_eval.search.operators.procedural.operators import ProceduralOperators

        return ProceduralOperators(**params)
    raise UsageError(
        f"unknown operator family {name!r}",
        hint=f"Use one of: {', '.join(OPERATOR_FAMILIES)}.",
    )
