"""Operator families by name."""

from __future__ import annotations

from typing import Any

from aira_eval.errors import unknown_name
from aira_eval.search.operators.base import Operators

OPERATOR_FAMILIES = ("procedural", "aide", "aira")


def make_operators(name: str, params: dict[str, Any] | None = None, study: Any = None,
                   search_id: str = "search", seed: int = 0) -> Operators:
    """The operator family ``name`` configured with ``params``.

    The LLM sets (``aide``, ``aira``) take their model and call settings from ``study`` (a
    :class:`~aira_eval.search.config.StudyConfig`) when given, else from ``params`` alone;
    ``search_id`` and ``seed`` identify the search (response-cache nonce, retry jitter); the
    procedural family writes ``seed`` into its scripts (CV split, models' ``random_state``).
    """
    params = params or {}
    if name == "procedural":
        from aira_eval.search.operators.procedural.operators import ProceduralOperators

        return ProceduralOperators(**{"seed": seed, **params})
    if name in ("aide", "aira"):
        from aira_eval.search.operators.llm.operators import LLMOperators

        if study is not None:
            return LLMOperators.from_study(name, study, params, search_id, seed)
        return LLMOperators.from_params(name, params, search_id, seed)
    raise unknown_name("operator family", name, OPERATOR_FAMILIES)
