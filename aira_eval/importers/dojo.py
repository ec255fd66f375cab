"""Import an aira-dojo run directory (https://github.com/facebookresearch/aira-dojo).

A dojo run dir holds the same node list in up to three files; the importer reads the one with
the most nodes, preferring on ties the final export over the checkpoint over the log:

- ``<Solver>_search_data.json``: ``{"nodes": [...], "config", "solution", "tree_path"}``,
  written when the search ends (``<Solver>`` names the policy: Greedy, MCTS, Evo);
- ``checkpoint_journal.jsonl``: one node per line, rewritten at every checkpoint;
- ``JOURNAL.jsonl``: the log, ``{"timestamp", "step", "data": node}`` per line, with
  ``metric_info`` flattened into ``metric_info/<key>`` fields.

Plus ``dojo_config.json`` (task name and benchmark, seed, ``solver.use_test_score``, the
operators' LLMs ``solver.operators.<op>.llm.client.model_id``: the search's ``model``).
Per node: ``step``, ``id``, ``plan``, ``code``, ``metric`` (validation value, None when buggy),
``metric_maximize``, ``metric_info`` (the grader's report: ``score`` is the **test** score dojo
grades every node with, ``valid_submission``, ``validity_feedback``; with ``use_test_score`` the
metric is the test score and ``validation_score`` the validation), ``is_buggy``, ``parents``
(steps of the parent nodes), ``operators_used`` (``draft``/``improve``/``debug``/... then
``analysis``), ``operators_metrics`` (LLM usage per call), ``exec_time``, ``exit_code``,
``creation_time``, ``term_out``/``_term_out``.

Dojo's virtual root (step 0, no code, no parents) is dropped: its children become drafts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from aira_eval.errors import UsageError
from aira_eval.importers.agent_config import dojo_params
from aira_eval.importers.common import (
    OPERATORS,
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
from aira_eval.importers.conventions import detect_dojo
from aira_eval.importers.task_check import task_mismatch
from aira_eval.importers.versions import versions_from_dojo, versions_from_text
from aira_eval.study.node import Node, OperatorName, Usage

NO_FEEDBACK = "submission grader feedback not available"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise corrupt_log(path, err) from err


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, line in enumerate(_read_text(path).splitlines()):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise corrupt_log(path, err, i + 1) from err
        if not isinstance(item, dict):
            continue
        out.append(item.get("data", item) if "data" in item and "timestamp" in item else item)
    return out


def _unflatten(node: dict[str, Any]) -> dict[str, Any]:
    """Fold ``metric_info/<key>`` fields (the log's flattening) back into ``metric_info``."""
    info = dict(node.get("metric_info") or {})
    for key in [k for k in node if k.startswith("metric_info/")]:
        info[key.split("/", 1)[1]] = node.pop(key)
    node["metric_info"] = info
    return node


def node_sources(run_dir: Path) -> list[Path]:
    """Candidate node files, in order of preference."""
    found = sorted(run_dir.glob("*_search_data.json"))
    found += [run_dir / n for n in ("checkpoint_journal.jsonl", "checkpoint/journal.jsonl",
                                    "JOURNAL.jsonl")]
    return [p for p in found if p.is_file()]


def read_dojo_nodes(run_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The file with the most nodes and its nodes (``metric_info`` unflattened)."""
    if not run_dir.is_dir():
        raise UsageError(f"aira-dojo run directory {run_dir} does not exist",
                         hint="Pass the run's output dir (with JOURNAL.jsonl, dojo_config.json).")
    best: tuple[Path, list[dict[str, Any]]] | None = None
    for path in node_sources(run_dir):
        if path.suffix == ".json":
            try:
                raw = json.loads(_read_text(path))
            except json.JSONDecodeError as err:
                raise corrupt_log(path, err) from err
            nodes = raw.get("nodes", []) if isinstance(raw, dict) else []
        else:
            nodes = _read_jsonl(path)
        if best is None or len(nodes) > len(best[1]):
            best = (path, nodes)
    if best is None:
        raise UsageError(f"{run_dir} holds no aira-dojo journal",
                         hint="Expected *_search_data.json, checkpoint_journal.jsonl or "
                              "JOURNAL.jsonl.")
    return best[0], [_unflatten(dict(n)) for n in best[1] if isinstance(n, dict)]


def _is_root(raw: dict[str, Any]) -> bool:
    return not str(raw.get("code") or "").strip() and not raw.get("parents") \
        and not raw.get("operators_used")


def _usage(raw: dict[str, Any]) -> Usage:
    usage = Usage()
    for item in raw.get("operators_metrics") or []:
        u = (item or {}).get("usage") or {}
        usage.add(Usage(prompt_tokens=int(u.get("prompt_tokens") or 0),
                        completion_tokens=int(u.get("completion_tokens") or 0),
                        cost_usd=float(u.get("cost") or 0.0), calls=1,
                        latency_s=float(u.get("latency") or 0.0)))
    return usage


def _raw_val(raw: dict[str, Any], use_test_score: bool) -> Any:
    """The logged validation value (not yet checked to be a number)."""
    if use_test_score:
        return (raw.get("metric_info") or {}).get("validation_score")
    metric = raw.get("metric")
    return metric.get("value") if isinstance(metric, dict) else metric


def _scores(raw: dict[str, Any], use_test_score: bool) -> dict[str, float]:
    info = raw.get("metric_info") or {}
    val = finite(_raw_val(raw, use_test_score))
    test = finite(info.get("score"))
    scores = {"val": val} if val is not None and not raw.get("is_buggy") else {}
    if test is not None:
        scores["test"] = test
    return scores


def _status(raw: dict[str, Any]) -> tuple[str, str | None]:
    if not raw.get("is_buggy"):
        return "ok", None
    info = raw.get("metric_info") or {}
    feedback = str(info.get("validity_feedback") or "")
    exit_code = raw.get("exit_code")
    if info.get("valid_submission") is False and exit_code in (0, None):
        return "invalid_submission", f"invalid submission: {feedback}"[:300]
    why = first_line(str(raw.get("analysis") or "")) or (
        f"exit code {exit_code}" if exit_code not in (0, None) else "dojo marked the node buggy")
    if feedback and feedback != NO_FEEDBACK:
        why += f" (grader: {feedback})"
    return "buggy", why[:500]


def _node(raw: dict[str, Any], search_id: str, step_ids: dict[int, str],
          use_test_score: bool) -> tuple[Node, str]:
    ops = [o for o in raw.get("operators_used") or [] if o in OPERATORS]
    parents = [step_ids.get(p) if isinstance(p, int) else str(p) for p in raw.get("parents") or []]
    scores = _scores(raw, use_test_score)
    meta = {"source": "aira-dojo", "source_id": raw.get("id"), "exit_code": raw.get("exit_code"),
            "metric_info": raw.get("metric_info") or {}}
    status, reason = unscored(*_status(raw), _raw_val(raw, use_test_score), "val" in scores,
                              meta)
    term_out = join_term_out(raw.get("term_out") or raw.get("_term_out"))
    node = Node(
        node_id=str(raw.get("id") or f"{search_id}-n{int(raw['step']):04d}"),
        search_id=search_id, step=int(raw.get("step", 0)), batch=int(raw.get("step", 0)),
        operator=cast(OperatorName, ops[0] if ops else "import"),
        parent_ids=[p for p in parents if p], status=cast(Any, status), reason=reason,
        plan=str(raw.get("plan") or ""), code=str(raw.get("code") or ""),
        stdout_tail=term_out[-STDOUT_TAIL:], analysis=str(raw.get("analysis") or ""),
        scores=scores,
        exec_time=finite(raw.get("exec_time")) or float("nan"),
        started_at=finite(raw.get("creation_time")) or float("nan"), usage=_usage(raw),
        meta=meta,
    )
    return node, term_out


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "dojo_config.json"
    if not path.is_file():
        return {}
    try:
        raw = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise corrupt_log(path, err) from err
    return raw if isinstance(raw, dict) else {}


def _task_id(config: dict[str, Any]) -> str | None:
    task = config.get("task") or {}
    name = task.get("name")
    if not name:
        return None
    return f"mlebench:{name}" if task.get("benchmark") == "mlebench" else str(name)


def _direction(nodes: list[dict[str, Any]]) -> bool | None:
    for raw in nodes:  # the root states it: WorstMetricValue(maximize=not lower_is_better)
        if isinstance(raw.get("metric_maximize"), bool):
            return not raw["metric_maximize"]
    return None


def parse_dojo_run(
    run_dir: Path, task: str | None = None, search_id: str | None = None
) -> ImportedSearch:
    """Parse an aira-dojo run dir into an :class:`ImportedSearch` (test scores included)."""
    source, raw_nodes = read_dojo_nodes(run_dir)
    config = _config(run_dir)
    solver = config.get("solver") or {}
    use_test = bool(solver.get("use_test_score"))
    task_id = task or _task_id(config)
    if task_id is None:
        raise UsageError(f"{run_dir} does not name its task (no dojo_config.json task.name)",
                         hint="Pass --task.")
    search_id = search_id or f"dojo__{slug(run_dir.resolve().name)}"
    mismatch = task_mismatch(task_id, _task_id(config), "dojo_config.json")
    ordered = sorted(raw_nodes, key=lambda n: int(n.get("step", 0)))
    step_ids = {int(n.get("step", 0)): str(n.get("id")) for n in ordered if not _is_root(n)}
    kept = [n for n in ordered if not _is_root(n)]
    notes = [f"dropped dojo's virtual root node ({len(ordered) - len(kept)})"] \
        if len(kept) < len(ordered) else []
    nodes, stdout = [], {}
    for raw in kept:
        node, term_out = _node(raw, search_id, step_ids, use_test)
        nodes.append(node)
        stdout[node.node_id] = term_out
    fill_lineage(nodes)
    notes += unreadable_metric_note(nodes)
    direction = _direction(ordered)
    if direction is None:
        notes.append("no node states the metric direction; assumed higher is better")
    exports = sorted(run_dir.glob("*_search_data.json"))
    policy = exports[0].name.split("_search_data")[0].lower() if exports else "search"
    sources = [source] + ([run_dir / "dojo_config.json"]
                          if (run_dir / "dojo_config.json").is_file() else [])
    return ImportedSearch(
        importer="dojo", source=run_dir, sources=sources, search_id=search_id, task=task_id,
        policy=f"dojo-{policy}", operators="dojo-llm",
        seed=int((config.get("metadata") or {}).get("seed") or 0),
        lower_is_better=bool(direction), fitness="test" if use_test else "val",
        nodes=nodes, stdout=stdout, notes=notes,
        extra={"node_file": source.name, "use_test_score": use_test},
        convention=detect_dojo(config, [n.code for n in nodes if n.code.strip()]),
        log_versions={**versions_from_text(stdout.values()), **versions_from_dojo(config)},
        params=dojo_params(config), warnings=[mismatch] if mismatch else [],
    )
