"""The Ray executor: every node is a Ray task with resource requests, anywhere on a cluster.

The driver proposes batches and journals nodes exactly as with the local executor; a task
only proposes, runs and grades one node (:func:`~aira_eval.search.runner.execute_action`)
on a worker, which rebuilds the search's context once per process from a
:class:`~aira_eval.search.executors.ContextSpec` (the study dir and the task data must be on
a filesystem every worker mounts). Ray re-runs a task whose worker or node died
(``max_retries``); the node's files are rewritten by the new attempt and the node is
journaled once, by the driver, when a result comes back. A task that fails for good becomes
an ``error`` node naming the fault (never lost); a stopped search cancels its tasks, whose
nodes re-run on ``--resume``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aira_eval.errors import UsageError
from aira_eval.search.runner import NodeCancelled, execute_action, new_node
from aira_eval.search.sandbox import close_sandbox
from aira_eval.search.sandbox.watchdog import CANCELLED_REASON

if TYPE_CHECKING:
    from aira_eval.search.executors import ContextSpec, ExecutorOptions
    from aira_eval.search.journal import JournalView
    from aira_eval.search.node import Node
    from aira_eval.search.policies.base import Action
    from aira_eval.search.runner import SearchContext

MAX_SEARCH_THREADS = 256
#: Ray starts its workers 15 nice levels below their raylet by default (``worker_niceness``),
#: and a node's sandboxed script inherits its worker's priority: on a machine with anything
#: else to run, scripts on Ray then lose the CPU to it where the local executor's do not.
#: Every Ray instance aira-eval starts sets this; for a cluster of your own, start its nodes
#: with ``RAY_worker_niceness=0`` (docs/scale.md).
WORKER_NICENESS = 0
ATTEMPTS_FILE = "ray_attempts.txt"
_CACHED = 32  # search contexts kept per worker process
_CONTEXTS: OrderedDict[tuple[str, str], SearchContext] = OrderedDict()
_CONTEXTS_LOCK = threading.Lock()


def _context_for(spec: ContextSpec) -> SearchContext:
    """The worker's context for ``spec``'s search, built once per process."""
    key = (spec.study_dir, spec.search_id)
    with _CONTEXTS_LOCK:
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            ctx = spec.build()
            _CONTEXTS[key] = ctx
            while len(_CONTEXTS) > _CACHED:
                close_sandbox(_CONTEXTS.popitem(last=False)[1].sandbox)
        _CONTEXTS.move_to_end(key)
        return ctx


def run_node(spec: ContextSpec, action: Action, view: JournalView, step: int,
             batch: int) -> Node:
    """The body of one Ray task: propose, run and grade node ``step`` of ``spec``'s search.

    Each attempt first appends its Ray node id to ``NODE_DIR/ray_attempts.txt``, so a node
    re-run after a lost worker or machine says where it ran before (``meta.ray_attempts``).
    """
    ctx = _context_for(spec)
    here = _node_id()
    skeleton = new_node(ctx, action, view, step, batch)
    log = ctx.search_dir / "nodes" / skeleton.node_id / ATTEMPTS_FILE
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(here + "\n")
    node = execute_action(ctx, action, view, step, batch)
    node.meta["ray_node"] = here
    node.meta["ray_attempts"] = log.read_text().split()
    return node


def _node_id() -> str:
    import ray

    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # outside a Ray worker (direct calls in tests)
        return ""


def _check_reachable(address: str) -> None:
    """A plain TCP connect to HOST:PORT, so a dead address fails in seconds, not minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"cannot read the Ray address {address!r}",
                         hint="Write HOST:PORT (the head's GCS port, 6379 by default) or auto.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        raise UsageError(f"the Ray cluster at {address} is unreachable: {err}",
                         hint="Start it (ray start --head --port PORT) or check the address; "
                         "--executor local runs without Ray.") from err


def connect(address: str | None) -> tuple[bool, str | None]:
    """Join the cluster at ``address`` (None: start a Ray instance on this machine; ``auto``:
    the one already running here). Returns (we started Ray here, the dashboard URL)."""
    try:
        import ray
    except ImportError as err:
        raise UsageError("--executor ray needs the `ray` package",
                         hint="pip install 'ray[default]'") from err
    if ray.is_initialized():
        return False, None
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    # a Ray instance started here runs its workers at the driver's priority (see WORKER_NICENESS)
    system = {"worker_niceness": WORKER_NICENESS} if address in (None, "local") else None
    try:
        info = ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                        configure_logging=False, _system_config=system)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        raise UsageError(f"cannot connect to the Ray cluster at {address or 'a new local one'}: "
                         f"{str(err).splitlines()[0] if str(err) else type(err).__name__}",
                         hint="Check `ray status` on the head, or pass --ray-address "
                         "HOST:PORT.") from err
    return True, _dashboard(getattr(info, "dashboard_url", None))


def _dashboard(url: str | None) -> str | None:
    if not url:
        return None
    return url if url.startswith("http") else f"http://{url}"


class RayExecutor:
    """Sends nodes to a Ray cluster (see the module docstring)."""

    name = "ray"

    def __init__(self, options: ExecutorOptions) -> None:
        import ray

        self.owns, self.dashboard_url = connect(options.ray_address)
        self.address = options.ray_address
        try:
            _check_resources(options)
        except UsageError:
            self.close()
            raise
        request: dict[str, Any] = {"num_cpus": options.cpus_per_node,
                                   "max_retries": options.max_retries,
                                   "retry_exceptions": False}
        if options.memory_mb:
            request["memory"] = options.memory_mb * 2**20
        if options.resources:
            request["resources"] = dict(options.resources)
        self.remote = ray.remote(run_node).options(**request)

    def for_search(self, ctx: SearchContext, spec: ContextSpec,
                   workers: int) -> RaySearchExecutor:
        import ray

        return RaySearchExecutor(ctx, self.remote, ray.put(spec), workers)

    def search_threads(self, searches: int, workers: int) -> int:
        return max(1, min(searches, MAX_SEARCH_THREADS))

    def close(self) -> None:
        import ray

        if self.owns and ray.is_initialized():
            ray.shutdown()


def _check_resources(options: ExecutorOptions) -> None:
    """Fail now, not by waiting forever, when no node could ever run a node task."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    want = {"CPU": options.cpus_per_node, **options.resources}
    if options.memory_mb:
        want["memory"] = options.memory_mb * 2**20
    if not any(all(res.get(k, 0) >= v for k, v in want.items()) for res in nodes):
        shown = ", ".join(f"{k}={v:g}" for k, v in want.items())
        raise UsageError(
            f"no node of the Ray cluster at {options.ray_address or 'this machine'} offers "
            f"{shown} for one search node",
            hint="Lower --cpus-per-node/--memory-mb, or start nodes with those resources "
            "(ray start --num-cpus N --resources '{\"NAME\": N}').")


class RaySearchExecutor:
    """One search's nodes as Ray tasks; a thread per in-flight node waits for its result."""

    def __init__(self, ctx: SearchContext, remote: Any, spec_ref: Any, workers: int) -> None:
        self.ctx, self.remote, self.spec_ref = ctx, remote, spec_ref
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ray")
        self.inflight: set[Any] = set()
        self.lock = threading.Lock()
        self.cancelled = threading.Event()
        self._view: JournalView | None = None
        self._view_ref: Any = None

    def submit(self, action: Action, view: JournalView, step: int, batch: int) -> Future[Node]:
        import ray

        if view is not self._view:  # one copy of the batch's view in the object store
            self._view, self._view_ref = view, ray.put(view)
        ref = self.remote.remote(self.spec_ref, action, self._view_ref, step, batch)
        with self.lock:
            self.inflight.add(ref)
        return self.pool.submit(self._wait, ref, action, view, step, batch)

    def _wait(self, ref: Any, action: Action, view: JournalView, step: int, batch: int) -> Node:
        import ray
        from ray.exceptions import RayError, TaskCancelledError

        started = time.time()
        try:
            return ray.get(ref)
        except TaskCancelledError as err:
            raise NodeCancelled(CANCELLED_REASON) from err
        except RayError as err:  # retries exhausted: the fault is the node's outcome
            if self.cancelled.is_set():
                raise NodeCancelled(CANCELLED_REASON) from err
            return _failed_node(self.ctx, action, view, step, batch, err, started)
        finally:
            with self.lock:
                self.inflight.discard(ref)

    def cancel(self) -> None:
        import ray

        self.cancelled.set()
        with self.lock:
            refs = list(self.inflight)
        for ref in refs:
            try:
                ray.cancel(ref, force=True)  # kills the worker and its script; not retried
            except Exception:  # already finished
                continue

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _failed_node(ctx: SearchContext, action: Action, view: JournalView, step: int, batch: int,
                 err: BaseException, started: float) -> Node:
    node = new_node(ctx, action, view, step, batch)
    node.started_at, node.finished_at = started, time.time()
    node.status = "error"
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    node.reason = f"harness error: the Ray task failed for good: {type(err).__name__}: {first}"
    node.meta["traceback"] = "".join(traceback.format_exception_only(err))[-2000:]
    return node
