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

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Iterator
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
ORPHAN_POLL_S = 0.05  # how often a busy worker checks that its raylet lives
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
    with _fate_shared(bool(here)):
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(here + "\n")
        node = execute_action(ctx, action, view, step, batch)
        node.meta["ray_node"] = here
        node.meta["ray_attempts"] = log.read_text().split()
    return node


@contextlib.contextmanager
def _fate_shared(worker: bool) -> Iterator[None]:
    """While a node runs on a Ray worker, the worker dies at once with what it works for, so a
    task of a dead driver (or of a dead Ray node) never writes into the study dir again.

    Ray lets a running task finish when its raylet dies (the driver's private instance when
    the driver is killed, or a node lost mid-study): the task would then journal nothing but
    write its node's files while the resumed study (or Ray's retry elsewhere) runs the same
    node. And Ray ends the workers of a dead driver with SIGTERM, which its handler turns
    into ``SystemExit``, a graceful unwind that still flushes the node's output files. So
    here SIGTERM takes the kernel's default action, and a thread ends the worker when its
    parent (the raylet) is gone. The sandboxed script follows its worker
    (``PR_SET_PDEATHSIG``)."""
    if not worker or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    done = threading.Event()
    watcher = threading.Thread(target=_exit_when_orphaned, args=(os.getppid(), done),
                               name="aira-eval-fate", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGTERM, previous)


def _exit_when_orphaned(parent: int, done: threading.Event) -> None:
    while not done.wait(ORPHAN_POLL_S):
        if os.getppid() != parent:
            os._exit(1)


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
    """Join the cluster at ``address`` (None: start a private Ray instance on this machine;
    ``auto``: the one already running here). Returns (we connected here, the dashboard URL).

    None starts a new instance even when another one runs here (``ray.init(address="local")``):
    ``ray.init()`` alone would join whatever ``RAY_ADDRESS`` or the last ``ray start`` of the
    machine names — a stranger's cluster, or one left over by a killed run."""
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
        info = ray.init(address=address or "local", logging_level=logging.ERROR,
                        log_to_driver=False, configure_logging=False, _system_config=system)
    except Exception as err:  # Ray raises bare Exception too (a node that timed out starting)
        raise UsageError(f"cannot connect to the Ray cluster at {address or 'a new local one'}: "
                         f"{str(err).splitlines()[0] if str(err) else type(err).__name__}",
                         hint="Check `ray status` on the head, or pass --ray-address "
                         "HOST:PORT; a new local one may time out starting on an "
                         "overloaded machine: try again.") from err
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
