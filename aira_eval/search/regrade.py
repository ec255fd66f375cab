"""Re-run and grade the nodes of existing searches (e.g. imported AIDE or aira-dojo logs).

AIDE journals carry only validation scores; re-running each node's code in the sandbox on the
task and grading its submission on every held-out set gives the test scores selection needs.

- **As the peer ran it.** Each search's ``search.json`` may hold an ``exec_layout`` (the
  importer's detected convention as plain :class:`~aira_eval.search.sandbox.base.ExecSpec`
  fields: input aliases, submission path, absolute path maps); the sandbox applies it, the
  code is never edited.
- **Pinned environment.** ``python`` (local interpreter or venv) or the docker ``image`` choose
  the environment; it is probed once (:func:`~aira_eval.search.environment.probe_environment`)
  and recorded on every regraded search and node.
- **Parallel and resumable.** Nodes of all searches run in one thread pool (``workers``); each
  finished node is journaled at once (``meta["regraded"]``), so an interrupted re-grade resumes
  where it stopped; a finished search is marked ``regrade.done`` in its ``search.json``.
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aira_eval.errors import UsageError
from aira_eval.search.node import Node
from aira_eval.search.operators.base import TaskBrief
from aira_eval.search.runner import NodeCancelled, SearchContext, rerun_node
from aira_eval.search.sandbox import close_sandbox
from aira_eval.search.sandbox.leftovers import reap, scratch_root
from aira_eval.study.journal import JournalFile
from aira_eval.study.lock import study_lock
from aira_eval.study.manifest import task_info
from aira_eval.study.records import (
    SearchMeta,
    read_search_meta,
    rebuild_node_table,
    search_meta_path,
    write_search_meta,
)

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task
    from aira_eval.search.sandbox.base import Sandbox


@dataclass
class RegradeOptions:
    """How to re-run: limits, backend and environment, parallelism, resumption."""

    data_dir: Path | None = None
    timeout_s: float = 600.0
    memory_mb: int | None = 8192
    sandbox: str = "local"
    image: str | None = None
    python: str | None = None
    workers: int = 1
    redo: bool = False


@dataclass
class RegradeResult:
    """One search's outcome: final status counts, nodes run now and nodes already done."""

    search_id: str
    statuses: dict[str, int] = field(default_factory=dict)
    rerun: int = 0
    resumed: int = 0


@dataclass
class _Job:
    search_dir: Path
    ctx: SearchContext
    journal: JournalFile
    nodes: list[Node]
    result: RegradeResult
    convention: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _search_json(search_dir: Path) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(search_meta_path(search_dir).read_text())
    return raw


def _update_search_json(search_dir: Path, **fields: Any) -> None:
    raw = _search_json(search_dir)
    raw.update(fields)
    names = SearchMeta.__dataclass_fields__
    write_search_meta(search_dir, read_search_meta(search_dir),
                      {k: v for k, v in raw.items() if k not in names})


def layout_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """``search.json``'s ``exec_layout`` as ExecSpec keyword arguments (tuples)."""
    layout = raw.get("exec_layout") or {}
    out: dict[str, Any] = {}
    if layout.get("input_aliases"):
        out["input_aliases"] = tuple(str(a) for a in layout["input_aliases"])
    if layout.get("submission_path"):
        out["submission_path"] = str(layout["submission_path"])
    if layout.get("path_maps"):
        out["path_maps"] = tuple((str(t), str(e)) for t, e in layout["path_maps"])
    return out


def _context(study_dir: Path, search_dir: Path, task: Task, options: RegradeOptions,
             sandbox: Sandbox, python: str | None) -> SearchContext:
    from aira_eval.search.operators.registry import make_operators

    fields = layout_fields(_search_json(search_dir))
    if python is not None:
        fields["python"] = python
    return SearchContext(
        search_id=search_dir.name, search_dir=search_dir, study_dir=study_dir, task=task,
        brief=TaskBrief.from_task(task, options.timeout_s),
        operators=make_operators("procedural"), sandbox=sandbox, seed=0, signal="val",
        memory_scope="none", node_timeout_s=options.timeout_s, memory_mb=options.memory_mb,
        heldout_sizes=task_info(task).heldout_sizes, spec_fields=fields,
    )


def make_regrade_sandbox(options: RegradeOptions) -> Sandbox:
    """The sandbox backend of ``options`` (docker: its image)."""
    from aira_eval.search.sandbox import make_sandbox

    if options.sandbox == "docker" and options.image:
        return make_sandbox("docker", image=options.image)
    return make_sandbox(options.sandbox)


def _jobs(study_dir: Path, search_ids: list[str], options: RegradeOptions, sandbox: Sandbox,
          python: str | None) -> list[_Job]:
    from aira_eval.datasets.registry import resolve_task

    tasks: dict[str, Task] = {}
    jobs = []
    for search_id in search_ids:
        search_dir = study_dir / "searches" / search_id
        if not search_meta_path(search_dir).exists():
            raise UsageError(f"no search {search_id!r} in {study_dir}")
        meta = read_search_meta(search_dir)
        if meta.task not in tasks:
            tasks[meta.task] = resolve_task(meta.task, data_dir=options.data_dir)
        ctx = _context(study_dir, search_dir, tasks[meta.task], options, sandbox, python)
        journal = JournalFile(search_dir / "journal.jsonl")
        convention = (_search_json(search_dir).get("convention") or {}).get("name")
        jobs.append(_Job(search_dir, ctx, journal, journal.read(), RegradeResult(search_id),
                         convention))
    return jobs


def _pending(node: Node, redo: bool) -> bool:
    return bool(node.code.strip()) and (redo or not node.meta.get("regraded"))


def _run_one(job: _Job, index: int, env: dict[str, Any]) -> Node:
    """Re-run one node on a copy, then journal it (the whole journal, atomically)."""
    node = copy.deepcopy(job.nodes[index])
    try:
        rerun_node(job.ctx, node)
    except NodeCancelled:
        raise
    except Exception as err:  # a harness fault is recorded on the node, the others go on
        node.status, node.reason = "error", f"harness error: {type(err).__name__}: {err}"
        node.meta["traceback"] = traceback.format_exc(limit=8)
    node.meta["regraded"] = True
    if job.convention is not None:  # the convention this run used
        node.meta["convention"] = job.convention
    node.meta["sandbox_python"] = env.get("executable")
    node.meta["sandbox_image"] = env.get("image")
    with job.lock:
        job.nodes[index] = node
        job.journal.rewrite(job.nodes)
    return node


def _finish(job: _Job, env: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for node in job.nodes:
        counts[node.status] = counts.get(node.status, 0) + 1
    job.result.statuses = counts
    done = all(not _pending(n, False) for n in job.nodes)
    _update_search_json(job.search_dir, regrade={
        "done": done, "environment": env, "statuses": counts,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exec_layout_used": {k: v for k, v in job.ctx.spec_fields.items() if k != "python"}})


def _check_maps(sandbox: Sandbox, jobs: list[_Job], python: str | None) -> None:
    """Fail before any run when a search needs path maps the local sandbox cannot make."""
    from aira_eval.search.sandbox.base import ExecSpec, SandboxError

    mode_for = getattr(sandbox, "mode_for", None)
    needs = sorted({t for j in jobs for t, _ in j.ctx.spec_fields.get("path_maps", ())})
    if not needs or not callable(mode_for):
        return
    mode = mode_for(python or ExecSpec.python)
    if not mode.jail:
        raise SandboxError(
            f"these searches' convention maps {', '.join(needs)}, which needs a mount "
            f"namespace, but the local sandbox runs in {mode.name} mode here",
            hint="Run as root or allow unprivileged user namespaces, use --sandbox docker, "
                 "or give the paths the scripts use with --input-dir/--submission-path.")


def regrade_searches(
    study_dir: Path,
    search_ids: list[str],
    options: RegradeOptions,
    on_node: Callable[[str, Node], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    environment: dict[str, Any] | None = None,
    rebuild: bool = True,
) -> list[RegradeResult]:
    """Re-run the pending nodes of ``search_ids`` (all with ``options.redo``) in parallel.

    ``on_plan(to_run, already_done)`` is called once before any node runs, ``on_node(search_id,
    node)`` after each; ``environment`` is a probe result to reuse (else the sandbox is probed).
    Ctrl-C cancels the running nodes: every node finished before it stays journaled.
    """
    with study_lock(study_dir, "regrade"):
        reap(scratch_root(study_dir))
        return _regrade_locked(study_dir, search_ids, options, on_node, on_plan, environment,
                               rebuild)


def _regrade_locked(study_dir: Path, search_ids: list[str], options: RegradeOptions,
                    on_node: Callable[[str, Node], None] | None,
                    on_plan: Callable[[int, int], None] | None,
                    environment: dict[str, Any] | None, rebuild: bool) -> list[RegradeResult]:
    from aira_eval.search.environment import check_python, probe_environment

    python = check_python(options.python)
    sandbox = make_regrade_sandbox(options)
    env = environment or probe_environment(sandbox, python, options.image)
    jobs = _jobs(study_dir, search_ids, options, sandbox, python)
    _check_maps(sandbox, jobs, python)
    work = [(job, i) for job in jobs for i, n in enumerate(job.nodes) if _pending(n, options.redo)]
    for job in jobs:
        job.result.resumed = sum(1 for n in job.nodes if n.code.strip()) - sum(
            1 for j, _ in work if j is job)
    if on_plan is not None:
        on_plan(len(work), sum(j.result.resumed for j in jobs))
    _run_pool(work, env, max(1, options.workers), sandbox, on_node)
    for job in jobs:
        _finish(job, env)
    if rebuild:
        rebuild_node_table(study_dir)
    return [job.result for job in jobs]


def _run_pool(work: list[tuple[_Job, int]], env: dict[str, Any], workers: int,
              sandbox: Sandbox, on_node: Callable[[str, Node], None] | None) -> None:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regrade")
    futures: dict[Future[Node], _Job] = {pool.submit(_run_one, job, i, env): job
                                          for job, i in work}
    try:
        for fut in as_completed(futures):
            node = fut.result()
            futures[fut].result.rerun += 1
            if on_node is not None:
                on_node(futures[fut].result.search_id, node)
    except BaseException:
        cancel = getattr(sandbox, "cancel", None)
        if callable(cancel):
            cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    close_sandbox(sandbox)


def regrade_study(
    study_dir: Path,
    search_id: str,
    data_dir: Path | None = None,
    timeout_s: float = 600.0,
    memory_mb: int | None = 8192,
    sandbox: str = "local",
    on_node: Callable[[Node], None] | None = None,
    **options: Any,
) -> RegradeResult:
    """Re-run every pending node of ``search_id`` in ``study_dir`` and grade it on the task
    (see :func:`regrade_searches`; ``options`` are further :class:`RegradeOptions` fields)."""
    opts = RegradeOptions(data_dir=data_dir, timeout_s=timeout_s, memory_mb=memory_mb,
                          sandbox=sandbox, **options)
    callback = None if on_node is None else (lambda _sid, node: on_node(node))
    return regrade_searches(study_dir, [search_id], opts, on_node=callback)[0]
