"""Import an AIDE run (``journal.json``, https://github.com/WecoAI/aideml) as node records.

AIDE serialises its journal as ``{"nodes": [...], "node2parent": {child: parent}, "__version":
"2"}`` (version 2 stores parents only in ``node2parent``; older journals keep a ``parent`` id on
the node). Per node: ``id``, ``step``, ``code``, ``plan``, ``ctime``, ``_term_out`` (a list of
output chunks), ``exec_time``, ``exc_type``, ``analysis``, ``metric`` (``{"value", "maximize"}``;
``value`` None for a buggy node) and ``is_buggy``.

Mapping: ``is_buggy`` -> status ``buggy`` (reason: the exception type and the analysis' first
line), else ``ok``; ``metric.value`` -> ``score_val`` and ``not metric.maximize`` ->
``lower_is_better`` (from any node that states it; unknown when none does, e.g. when every node
failed: then False, noted); operator as AIDE names its stages: no parent ``draft``, a buggy
parent ``debug``, else ``improve``. AIDE logs carry no test scores: ``--regrade`` re-runs the
code to get them. The run's ``config.yaml`` (beside the journal) gives the model
(``agent.code.model``, ``agent.feedback.model``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from aira_eval.errors import DataError, UsageError
from aira_eval.importers.agent_config import aide_params
from aira_eval.importers.common import (
    STDOUT_TAIL,
    ImportedSearch,
    corrupt_log,
    fill_lineage,
    finite,
    first_line,
    join_term_out,
    slug,
    unreadable_metric_note,
    unscored,
)
from aira_eval.importers.conventions import detect_aide, read_aide_config
from aira_eval.importers.task_check import aide_task_name, task_mismatch
from aira_eval.importers.versions import versions_from_text
from aira_eval.study.node import Node, OperatorName


def read_aide_journal(path: Path) -> dict[str, Any]:
    """The raw journal; a clear error when the file is not an AIDE journal."""
    if not path.is_file():
        raise UsageError(f"AIDE journal {path} does not exist",
                         hint="Pass the journal.json of an AIDE run (logs/<run>/journal.json).")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise corrupt_log(path, err) from err
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise UsageError(f"{path} is not an AIDE journal (no 'nodes' list)",
                         hint="Pass the journal.json of an AIDE run.")
    return raw


def _metric(raw: Any) -> tuple[float | None, bool | None]:
    if isinstance(raw, dict):
        maximize = raw.get("maximize")
        return finite(raw.get("value")), maximize if isinstance(maximize, bool) else None
    return finite(raw), None


def _parents(raw: dict[str, Any]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in (raw.get("node2parent") or {}).items()}
    for node in raw["nodes"]:
        parent = node.get("parent")
        if isinstance(parent, str) and node.get("id") is not None:
            out.setdefault(str(node["id"]), parent)
        elif isinstance(parent, dict) and parent.get("id"):
            out.setdefault(str(node["id"]), str(parent["id"]))
    return out


def _node(raw: dict[str, Any], search_id: str, parent: str | None,
          parent_buggy: bool | None) -> tuple[Node, str]:
    node_id = str(raw.get("id") or f"{search_id}-n{int(raw.get('step', 0)):04d}")
    value, _ = _metric(raw.get("metric"))
    buggy = bool(raw.get("is_buggy"))  # a node without a score is buggy too (unscored)
    operator = "draft" if parent is None else "debug" if parent_buggy else "improve"
    term_out = join_term_out(raw.get("_term_out", raw.get("term_out")))
    analysis = str(raw.get("analysis") or "")
    reason = None
    if buggy:
        exc = raw.get("exc_type")
        reason = "; ".join(p for p in (str(exc) if exc else "", first_line(analysis)) if p) \
            or "AIDE marked the node buggy"
    meta: dict[str, Any] = {"source": "aide", "source_id": raw.get("id"),
                            "exc_type": raw.get("exc_type"), "is_buggy": raw.get("is_buggy")}
    metric = raw.get("metric")
    status, reason = unscored("buggy" if buggy else "ok", reason,
                              metric.get("value") if isinstance(metric, dict) else metric,
                              value is not None, meta)
    node = Node(
        node_id=node_id, search_id=search_id, step=int(raw.get("step", 0)),
        batch=int(raw.get("step", 0)), operator=cast(OperatorName, operator),
        parent_ids=[parent] if parent else [], status=cast(Any, status), reason=reason,
        plan=str(raw.get("plan") or ""), code=str(raw.get("code") or ""),
        stdout_tail=term_out[-STDOUT_TAIL:], analysis=analysis,
        scores={"val": value} if value is not None and not buggy else {},
        exec_time=finite(raw.get("exec_time")) or float("nan"),
        started_at=finite(raw.get("ctime")) or float("nan"),
        meta=meta,
    )
    return node, term_out


def _direction(nodes: list[dict[str, Any]]) -> bool | None:
    for raw in nodes:
        _, maximize = _metric(raw.get("metric"))
        if maximize is not None:
            return not maximize
    return None


def parse_aide_journal(
    path: Path, task: str, search_id: str | None = None, lower_is_better: bool | None = None
) -> ImportedSearch:
    """Parse an AIDE ``journal.json`` into an :class:`ImportedSearch` for task ``task``.

    ``lower_is_better`` is used when no node states the metric's direction.
    """
    raw = read_aide_journal(path)
    search_id = search_id or f"aide__{slug(path.resolve().parent.name)}"
    parents = _parents(raw)
    buggy = {str(n.get("id")): bool(n.get("is_buggy")) for n in raw["nodes"]}
    nodes: list[Node] = []
    stdout: dict[str, str] = {}
    for item in sorted(raw["nodes"], key=lambda n: int(n.get("step", 0))):
        if not isinstance(item, dict):
            raise DataError(f"{path}: a node is not a JSON object")
        parent = parents.get(str(item.get("id")))
        node, term_out = _node(item, search_id, parent, buggy.get(parent) if parent else None)
        nodes.append(node)
        stdout[node.node_id] = term_out
    fill_lineage(nodes)
    notes = unreadable_metric_note(nodes)
    direction = _direction(raw["nodes"])
    if direction is None:
        notes.append("no node states the metric direction"
                     + ("" if lower_is_better is not None else "; assumed higher is better"))
        direction = bool(lower_is_better)
    sources = [path] + ([path.parent / "config.yaml"] if (path.parent / "config.yaml").is_file()
                        else [])
    config = read_aide_config(path.parent / "config.yaml")
    mismatch = task_mismatch(task, aide_task_name(config), "config.yaml")
    return ImportedSearch(
        importer="aide", source=path, sources=sources, search_id=search_id, task=task,
        policy="aide-greedy", operators="aide-llm", seed=0, lower_is_better=direction,
        nodes=nodes, stdout=stdout, notes=notes,
        extra={"journal_version": str(raw.get("__version", "1"))},
        convention=detect_aide(path, [n.code for n in nodes if n.code.strip()]),
        log_versions=versions_from_text(stdout.values()),
        params=aide_params(config), warnings=[mismatch] if mismatch else [],
    )
