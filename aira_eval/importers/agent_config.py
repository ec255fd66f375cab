"""The agent configuration a peer's run config names: its LLM(s) and operators.

Recorded as the imported search's ``params`` (``search.json``), the same keys ``aira-eval
search`` writes: ``model`` (one model, or ``op=model,...`` when the operators use different
ones, so runs of different LLMs are different agents) and ``model_for.<operator>``; aira-dojo
runs also record their operator set (``operator_set``).
"""

from __future__ import annotations

from typing import Any


def _get(raw: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def llm_params(models: dict[str, str]) -> dict[str, Any]:
    """``model`` and ``model_for.<op>`` from ``operator -> model`` (empty models dropped)."""
    models = {op: str(m) for op, m in sorted(models.items()) if m}
    if not models:
        return {}
    distinct = sorted(set(models.values()))
    model = distinct[0] if len(distinct) == 1 else ",".join(f"{o}={m}" for o, m in models.items())
    return {"model": model, **{f"model_for.{op}": m for op, m in models.items()}}


def dojo_params(config: dict[str, Any]) -> dict[str, Any]:
    """aira-dojo's ``solver.operators.<op>.llm.client.model_id`` and the operator names."""
    operators = _get(config, "solver", "operators")
    if not isinstance(operators, dict):
        return {}
    models = {}
    for op, spec in operators.items():
        client = _get(spec, "llm", "client") or {}
        model = _get(client, "model_id") or _get(client, "model") or _get(spec, "llm", "model")
        if isinstance(model, str):
            models[str(op)] = model
    out = llm_params(models)
    out["operator_set"] = ",".join(sorted(str(op) for op in operators))
    return out


def aide_params(config: dict[str, Any]) -> dict[str, Any]:
    """AIDE's ``config.yaml``: ``agent.code.model`` (drafts, improvements, debugging) and
    ``agent.feedback.model`` (the analysis of each run); the report's model is not the search's."""
    models = {}
    for stage in ("code", "feedback"):
        model = _get(config, "agent", stage, "model")
        if isinstance(model, str):
            models[stage] = model
    return llm_params(models)
