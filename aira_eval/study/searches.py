"""The search table: one row per search, with the agent configuration that ran it.

An *agent* is a policy × operators × model × policy parameters; searches of one agent on one
task differ only by seed. ``agent`` labels name each configuration by the parts that vary in
the loaded studies (``greedy``, ``mcts · aide · gpt-4o``, ``mcts(uct_c=0.5)``), so two
different agents never share a label and one agent always has one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

#: Search columns that come from the node table (constant within a search).
NODE_SEARCH_COLUMNS = ("study_id", "search_id", "task", "policy", "operators", "seed", "fitness",
                       "oracle_run")
#: What defines an agent, beside the policy's parameters (``param.policy.*``).
AGENT_PARTS = ("policy", "operators", "model")


def search_table(nodes: pd.DataFrame, study_dirs: Sequence[Path],
                 renames: Sequence[dict[str, str]] | None = None) -> pd.DataFrame:
    """One row per search of ``nodes``: node-table columns, ``search.json`` parameters as
    ``param.<name>``, ``model`` (empty for procedural operators), ``n_nodes`` and ``agent``.

    Args:
        nodes: the node table (every source).
        study_dirs: each source's study directory (where ``searches/<id>/search.json`` is).
        renames: per source, search ids renamed to keep them unique (old -> new).
    """
    cols = [c for c in NODE_SEARCH_COLUMNS if c in nodes.columns]
    table = nodes.groupby("search_id", sort=False)[cols[:1] + cols[2:]].first().reset_index()
    table["n_nodes"] = nodes.groupby("search_id", sort=False).size().to_numpy()
    params = _search_params(study_dirs, renames or [{} for _ in study_dirs])
    rows = [params.get(str(s), {}) for s in table["search_id"]]
    keys = sorted({k for row in rows for k in row if k not in NODE_SEARCH_COLUMNS})
    for key in keys:
        table[f"param.{key}"] = [_scalar(row.get(key)) for row in rows]
    model = table["param.model"] if "param.model" in table.columns else None
    table["model"] = ["" if model is None or m is None else str(m) for m in
                      (model if model is not None else [None] * len(table))]
    table["agent"] = agent_labels(table)
    return table


def _scalar(value: Any) -> Any:
    """Parameters as table cells: lists and dicts as compact JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def _search_params(study_dirs: Sequence[Path], renames: Sequence[dict[str, str]]
                   ) -> dict[str, dict[str, Any]]:
    """search id (as in the loaded node table) -> the ``params`` of its ``search.json``."""
    out: dict[str, dict[str, Any]] = {}
    for study_dir, renamed in zip(study_dirs, renames, strict=True):
        for meta in sorted((study_dir / "searches").glob("*/search.json")):
            try:
                raw = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a search being written right now; its nodes still load
            search_id = str(raw.get("search_id", meta.parent.name))
            out[renamed.get(search_id, search_id)] = dict(raw.get("params") or {})
    return out


def agent_columns(searches: pd.DataFrame) -> list[str]:
    """The columns that define an agent: :data:`AGENT_PARTS` and the policy parameters."""
    policy_params = sorted(c for c in searches.columns if c.startswith("param.policy."))
    return [c for c in AGENT_PARTS if c in searches.columns] + policy_params


def agent_labels(searches: pd.DataFrame) -> list[str]:
    """One label per search naming its agent by the parts that vary across ``searches``.

    The policy always shows; operators and model show when they differ between searches;
    policy parameters show (``name=value``) when two searches of the same policy differ in them.
    """
    if searches.empty:
        return []
    parts = [c for c in AGENT_PARTS if c in searches.columns]
    varying = [c for c in parts[1:] if searches[c].astype(str).nunique() > 1]
    params = [c for c in agent_columns(searches) if c.startswith("param.policy.")]
    differ = {str(p): [c for c in params if group[c].astype(str).nunique() > 1]
              for p, group in searches.groupby("policy", sort=False)}
    labels = []
    for row in searches.to_dict(orient="records"):
        label = " · ".join([str(row["policy"]), *(str(row[c]) for c in varying if row[c])])
        diff = differ[str(row["policy"])]
        if diff:
            label += "(" + ", ".join(f"{c.removeprefix('param.policy.')}={row[c]}"
                                     for c in diff) + ")"
        labels.append(label)
    return labels
