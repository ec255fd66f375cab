"""What an import (and its re-grade) found, per search: statuses, scores, the convention that
ran, and how the re-run's validation scores compare with the log's.

A re-run whose validation score disagrees with the one the agent logged is a finding (the code
does not reproduce, or runs differently in this environment); :func:`val_comparison` counts
them and lists the largest.
"""

from __future__ import annotations

from typing import Any

from aira_eval.importers.common import ImportedSearch
from aira_eval.study.node import Node

TOP_DISAGREEMENTS = 5


def val_comparison(nodes: list[Node]) -> dict[str, Any]:
    """Log vs re-run validation score over the regraded nodes that have both."""
    pairs = [n for n in nodes if n.meta.get("val_agrees") is not None]
    sources: dict[str, int] = {}
    for node in nodes:
        if node.meta.get("regraded"):
            key = str(node.meta.get("val_source") or "none")
            sources[key] = sources.get(key, 0) + 1
    disagree = sorted((n for n in pairs if not n.meta["val_agrees"]),
                      key=lambda n: -abs(float(n.meta["val_diff"])))
    diffs = [abs(float(n.meta["val_diff"])) for n in pairs]
    return {
        "compared": len(pairs),
        "disagree": len(disagree),
        "max_abs_diff": max(diffs) if diffs else None,
        "val_sources": sources,
        "disagreements": [
            {"node_id": n.node_id, "log_val": n.meta.get("log_val"),
             "rerun_val": n.meta.get("rerun_val"), "printed_line": n.meta.get("printed_line")}
            for n in disagree[:TOP_DISAGREEMENTS]],
    }


def search_summary(search: ImportedSearch, nodes: list[Node] | None = None) -> dict[str, Any]:
    """One search's summary (``nodes``: the journal's nodes after a re-grade)."""
    nodes = search.nodes if nodes is None else nodes
    statuses: dict[str, int] = {}
    for node in nodes:
        statuses[node.status] = statuses.get(node.status, 0) + 1
    out: dict[str, Any] = {
        "search_id": search.search_id, "task": search.task, "importer": search.importer,
        "source": str(search.source), "nodes": len(nodes), "statuses": statuses,
        "with_val": sum("val" in n.scores for n in nodes),
        "with_test": sum("test" in n.scores for n in nodes),
        "lower_is_better": search.lower_is_better, "notes": list(search.notes),
        "warnings": list(search.warnings),
        "convention": search.convention.record(), "log_versions": dict(search.log_versions),
    }
    if any(n.meta.get("regraded") for n in nodes):
        out["val_comparison"] = val_comparison(nodes)
    return out
