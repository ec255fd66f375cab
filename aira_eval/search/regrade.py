"""Re-run and grade the nodes of an existing search (e.g. an imported AIDE log).

AIDE journals carry only validation scores; re-running each node's code in the sandbox on the
task and grading its submission on every held-out set gives the test scores selection needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aira_eval.errors import UsageError
from aira_eval.search.node import Node
from aira_eval.search.operators.base import TaskBrief
from aira_eval.search.runner import SearchContext, rerun_node
from aira_eval.search.sandbox.leftovers import reap, scratch_root
from aira_eval.study.journal import JournalFile
from aira_eval.study.lock import study_lock
from aira_eval.study.manifest import task_info
from aira_eval.study.records import read_search_meta, rebuild_node_table, search_meta_path


@dataclass
class RegradeResult:
    search_id: str
    statuses: dict[str, int] = field(default_factory=dict)


def _context(study_dir: Path, search_dir: Path, task_id: str, data_dir: Path | None,
             timeout_s: float, memory_mb: int | None, sandbox: str) -> SearchContext:
    from aira_eval.datasets.registry import resolve_task
    from aira_eval.search.operators.registry import make_operators
    from aira_eval.search.sandbox import make_sandbox

    task = resolve_task(task_id, data_dir=data_dir)
    return SearchContext(
        search_id=search_dir.name, search_dir=search_dir, study_dir=study_dir, task=task,
        brief=TaskBrief.from_task(task, timeout_s), operators=make_operators("procedural"),
        sandbox=make_sandbox(sandbox), seed=0, signal="val", memory_scope="none",
        node_timeout_s=timeout_s, memory_mb=memory_mb,
        heldout_sizes=task_info(task).heldout_sizes,
    )


def regrade_study(
    study_dir: Path,
    search_id: str,
    data_dir: Path | None = None,
    timeout_s: float = 600.0,
    memory_mb: int | None = 8192,
    sandbox: str = "local",
    on_node: Callable[[Node], None] | None = None,
) -> RegradeResult:
    """Re-run every node of ``search_id`` in ``study_dir`` and grade it on the task.

    The journal is rewritten atomically with the new statuses and scores, then the node table
    is rebuilt. Nodes without code are left as they are.
    """
    search_dir = study_dir / "searches" / search_id
    if not search_meta_path(search_dir).exists():
        raise UsageError(f"no search {search_id!r} in {study_dir}")
    with study_lock(study_dir, "regrade"):
        reap(scratch_root(study_dir))
        return _regrade(study_dir, search_dir, data_dir, timeout_s, memory_mb, sandbox, on_node)


def _regrade(study_dir: Path, search_dir: Path, data_dir: Path | None, timeout_s: float,
             memory_mb: int | None, sandbox: str,
             on_node: Callable[[Node], None] | None) -> RegradeResult:
    search_id = search_dir.name
    meta = read_search_meta(search_dir)
    ctx = _context(study_dir, search_dir, meta.task, data_dir, timeout_s, memory_mb, sandbox)
    journal = JournalFile(search_dir / "journal.jsonl")
    nodes = journal.read()
    result = RegradeResult(search_id)
    for node in nodes:
        if node.code.strip():
            rerun_node(ctx, node)
            node.meta["regraded"] = True
        result.statuses[node.status] = result.statuses.get(node.status, 0) + 1
        if on_node is not None:
            on_node(node)
    journal.rewrite(nodes)
    rebuild_node_table(study_dir)
    return result
