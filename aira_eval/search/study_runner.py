"""Run a whole study: every (task, policy, seed) search, recorded to one study directory."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aira_eval.errors import UsageError, disk_full
from aira_eval.search.config import StudyConfig
from aira_eval.search.engine import Budget, SearchEngine, SearchOutcome
from aira_eval.search.executors import ContextSpec, StudyExecutor
from aira_eval.search.node import Node
from aira_eval.search.operators.base import TaskBrief
from aira_eval.search.recorders import MlflowRecorder, StudyLogger, outcome_summary
from aira_eval.search.runner import SearchContext
from aira_eval.search.sandbox.leftovers import reap, scratch_root
from aira_eval.study.journal import JournalFile
from aira_eval.study.lock import LOCK_NAME, study_lock
from aira_eval.study.manifest import StudyManifest, TaskInfo, task_info
from aira_eval.study.records import NodeTableBuilder, SearchMeta, write_search_meta
from aira_eval.study.tracking import absolute_tracking_uri, own_store_uri, study_tracking_uri

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task

_VERSIONED = ("aira-eval", "numpy", "pandas", "scikit-learn", "scipy", "pyarrow", "mlflow",
              "litellm")


@dataclass(frozen=True)
class SearchPlan:
    search_id: str
    task_id: str
    policy: str
    seed: int


@dataclass
class StudyEvents:
    """Callbacks the CLI uses for progress; all optional. Searches run in parallel threads,
    so callbacks must be thread-safe (rich's Progress is)."""

    #: (plan, nodes already journaled, lower_is_better)
    on_search_start: Callable[[SearchPlan, list[Node], bool], None] | None = None
    on_node: Callable[[SearchPlan, Node], None] | None = None
    on_search_end: Callable[[SearchPlan, SearchOutcome], None] | None = None
    on_study_start: Callable[[StudyConfig, int], None] | None = None
    on_executor: Callable[[str, str | None], None] | None = None  # name, dashboard URL


@dataclass
class StudyResult:
    study_dir: Path
    outcomes: list[SearchOutcome] = field(default_factory=list)
    mlflow_errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    config: StudyConfig | None = None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def plan_searches(config: StudyConfig) -> list[SearchPlan]:
    return [
        SearchPlan(f"{slug(t)}__{p}__s{s}", t, p, s)
        for t in config.tasks
        for p in config.policies
        for s in config.seeds
    ]


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


#: The study's own store (``sqlite:///<absolute STUDY>/mlflow.db``).
default_tracking_uri = own_store_uri


RESUME_OVERRIDABLE = ("workers", "steps", "time_budget_s", "mlflow", "mlflow_uri", "data_dir",
                      "max_cost_usd", "request_timeout_s", "max_concurrent_calls",
                      "executor", "ray_address", "cpus_per_node", "ray_resources", "disk_mb",
                      "sandbox_prefork")


def prepare_study(
    config: StudyConfig, out: Path, resume: bool, overrides: dict[str, Any] | None = None
) -> StudyConfig:
    """Check the study dir; on resume, return the stored config with ``overrides`` applied
    (only budgets, workers and MLflow settings may change: the rest defines the study). A
    relative local tracking store is recorded absolute (:func:`absolute_tracking_uri`)."""
    config = replace(config, mlflow_uri=absolute_tracking_uri(config.mlflow_uri))
    if overrides and overrides.get("mlflow_uri"):
        overrides = {**overrides, "mlflow_uri": absolute_tracking_uri(overrides["mlflow_uri"])}
    manifest_path = out / "study.json"
    if manifest_path.exists() and not resume:
        raise UsageError(
            f"{out} already holds a study",
            hint="Pass --resume to continue it, or choose another --out.",
        )
    if resume:
        if not manifest_path.exists():
            raise _nothing_to_resume(out)
        manifest = StudyManifest.read(out)
        stored = StudyConfig.from_dict(manifest.config)
        fixed = sorted(k for k, v in (overrides or {}).items()
                       if k not in RESUME_OVERRIDABLE and getattr(stored, k) != v)
        if fixed:
            raise UsageError(
                f"cannot change {', '.join(fixed)} when resuming: they define the study",
                hint=f"On --resume only {', '.join(RESUME_OVERRIDABLE)} may change; start a "
                "new study (another --out) for the rest.")
        for key, value in (overrides or {}).items():
            setattr(stored, key, value)
        stored.validate()
        manifest.config = stored.to_dict()
        manifest.write(out)
        return stored
    return config.validate()


def _nothing_to_resume(out: Path) -> UsageError:
    return UsageError(f"nothing to resume: {out} holds no study.json",
                      hint="Start the study without --resume (or check the --out path).")


def check_config(config: StudyConfig) -> StudyConfig:
    """Every check of ``config`` that needs neither data nor a sandbox: its values, its
    policies and its operators (built once and dropped), so a bad value fails before the
    study dir is written."""
    from aira_eval.search.operators.registry import make_operators
    from aira_eval.search.policies.registry import make_policy

    config.validate()
    for policy in config.policies:
        make_policy(policy, config.policy_params.get(policy, {}))
    try:
        make_operators(config.operators, config.operator_params, study=config,
                       search_id="check", seed=config.seeds[0])
    except (TypeError, ValueError) as err:
        raise UsageError(f"bad operator_params for {config.operators}: {err}",
                         hint="Fix the operator_params section of the config "
                         "(see docs/search.md).") from None
    return config


def _resolve_tasks(config: StudyConfig) -> dict[str, Task]:
    from aira_eval.datasets.registry import resolve_task

    data_dir = Path(config.data_dir).expanduser() if config.data_dir else None
    tasks = {t: resolve_task(t, data_dir=data_dir, heldouts=config.heldouts,
                             description=config.description) for t in config.tasks}
    if config.fitness == "search":
        lacking = [t for t, task in tasks.items() if "search" not in task.heldouts]
        if lacking:
            raise UsageError(
                f"--fitness search needs a `search` held-out set, which {', '.join(lacking)} "
                "lacks", hint="Pass --heldouts, or steer by --fitness val.")
    return tasks


def _manifest(config: StudyConfig, out: Path, infos: dict[str, TaskInfo]) -> StudyManifest:
    return StudyManifest(
        study_id=out.resolve().name,
        seed=config.seeds[0],
        config=config.to_dict(),
        tasks=infos,
        versions=package_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _context(config: StudyConfig, out: Path, plan: SearchPlan, task: Task,
             info: TaskInfo) -> SearchContext:
    from aira_eval.search.operators.registry import make_operators
    from aira_eval.search.sandbox import make_sandbox

    return SearchContext(
        search_id=plan.search_id,
        search_dir=out / "searches" / plan.search_id,
        study_dir=out,
        task=task,
        brief=TaskBrief.from_task(task, config.node_timeout_s),
        operators=make_operators(config.operators, config.operator_params, study=config,
                                 search_id=plan.search_id, seed=plan.seed),
        sandbox=make_sandbox(config.sandbox, image=config.docker_image,
                             labels=sandbox_labels(out, plan.search_id),
                             cpus=config.cpus_per_node,
                             **({"prefork": True} if config.sandbox_prefork else {})),
        seed=plan.seed,
        signal=config.fitness,  # type: ignore[arg-type]
        memory_scope=config.memory_scope,  # type: ignore[arg-type]
        node_timeout_s=config.node_timeout_s,
        memory_mb=config.memory_mb,
        heldout_sizes=info.heldout_sizes,
        disk_mb=config.disk_mb,
        max_submission_mb=config.max_submission_mb,
    )


def sandbox_labels(out: Path, search_id: str) -> dict[str, str]:
    """The labels on a search's containers (``aira-eval clean`` finds them by study dir)."""
    from aira_eval.search.sandbox.docker import LABEL_SEARCH, LABEL_STUDY, LABEL_STUDY_DIR

    study = out.resolve()
    return {LABEL_STUDY_DIR: str(study), LABEL_STUDY: study.name, LABEL_SEARCH: search_id}


def _search_params(config: StudyConfig, plan: SearchPlan, policy_desc: dict[str, Any]) -> dict:
    return {
        "task": plan.task_id, "policy": plan.policy, "operators": config.operators,
        "seed": plan.seed, "steps": config.steps, "time_budget_s": config.time_budget_s,
        "node_timeout_s": config.node_timeout_s, "memory_mb": config.memory_mb,
        "workers": config.workers, "fitness": config.fitness,
        "oracle_run": config.oracle_run, "memory_scope": config.memory_scope,
        "description": config.description,
        **{f"policy.{k}": v for k, v in policy_desc.items()},
        **_llm_params(config),
    }


def _llm_params(config: StudyConfig) -> dict[str, Any]:
    """The LLM settings worth comparing runs by (never a key: only its variable's name)."""
    if config.operators == "procedural":
        return {}
    out: dict[str, Any] = {"model": config.model, "api_base": config.api_base,
                           "temperature": config.temperature, "top_p": config.top_p,
                           "max_cost_usd": config.max_cost_usd, "replay": config.replay}
    out.update({f"model_for.{op}": m for op, m in sorted(config.model_for.items())})
    return out


def run_study(
    config: StudyConfig,
    out: Path,
    resume: bool = False,
    events: StudyEvents | None = None,
    stop: threading.Event | None = None,
    overrides: dict[str, Any] | None = None,
) -> StudyResult:
    """Run (or resume) every search of ``config`` into study dir ``out``.

    On ``resume`` the study's stored config is used, with ``overrides`` (the options the user
    gave again) applied where :data:`RESUME_OVERRIDABLE` allows. The study dir's write lock
    (:func:`~aira_eval.study.lock.study_lock`) is held for the whole run.
    """
    existed = out.is_dir()
    if resume and existed and not any(out.iterdir()):  # e.g. a typo'd --out made by mkdir
        raise _nothing_to_resume(out)
    if not resume:  # a rejected config writes nothing, not even the lock
        check_config(config)
    with study_lock(out, "search --resume" if resume else "search"):
        reap(scratch_root(out))  # what a killed run of this study left behind
        resume = resume and not (existed and _killed_before_manifest(out))
        try:
            return _run_study(config, out, resume, events, stop, overrides)
        except Exception as err:
            full = disk_full(err)
            if full is None:
                raise
            raise _no_space(out, full) from err
        finally:
            with contextlib.suppress(OSError):
                scratch_root(out).rmdir()


def _no_space(out: Path, err: OSError) -> UsageError:
    """The clear error for a full disk (or quota) met while running study ``out``."""
    what = os.strerror(err.errno) if err.errno else "No space left on device"
    where = f" writing {err.filename}" if err.filename else ""
    return UsageError(
        f"no space left{where} (study {out}): {what}",
        hint="Every finished node is journaled before anything else is written and a node "
        "cut short is not, so the journals are intact: free some space, then run again "
        "with --resume.")


def _killed_before_manifest(out: Path) -> bool:
    """``out`` holds nothing but the lock: a run killed before it wrote its manifest, which
    ``--resume`` starts afresh."""
    return not (out / "study.json").exists() and all(
        p.name == LOCK_NAME for p in out.iterdir())


def _run_study(
    config: StudyConfig, out: Path, resume: bool, events: StudyEvents | None,
    stop: threading.Event | None, overrides: dict[str, Any] | None,
) -> StudyResult:
    config = prepare_study(config, out, resume, overrides)
    events = events or StudyEvents()
    stop = stop or threading.Event()
    tasks = _resolve_tasks(config)
    plans = plan_searches(config)
    if resume:  # the stored config with this run's overrides (a new one: run_study checked)
        check_config(config)
    _check_sandbox(config)  # e.g. a missing docker image: fail before study.json exists
    if resume and config.sandbox == "docker":  # containers a killed run left behind
        from aira_eval.search.sandbox.docker import reap as reap_containers

        reap_containers(out)
    _check_llm_credentials(config)
    infos = {t: task_info(task) for t, task in tasks.items()}  # once per task: grades, md5s
    executor = _executor(config)  # e.g. Ray unreachable: fail before study.json exists
    if not resume:
        _manifest(config, out, infos).write(out)
    if events.on_study_start is not None:
        events.on_study_start(config, len(plans))
    if events.on_executor is not None:
        events.on_executor(executor.name, executor.dashboard_url)
    recorder = _recorder(config, out)
    result = StudyResult(out, config=config)
    shared = _Shared(recorder, events, stop, executor, NodeTableBuilder(out))
    threads = executor.search_threads(len(plans), config.workers)
    failed = True
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search") as pool:
            futures = [
                pool.submit(_run_one, config, out, plan, tasks[plan.task_id],
                            infos[plan.task_id], shared)
                for plan in plans
            ]
            result.outcomes = _outcomes(futures, stop)
        failed = False
    finally:
        executor.close()
        if config.sandbox == "docker":  # e.g. containers started ahead in killed Ray workers
            with contextlib.suppress(Exception):  # (this machine's daemon; maybe none here)
                from aira_eval.search.sandbox.docker import reap as reap_containers

                reap_containers(out)
        if failed:  # best effort: the first error is the one to report (journals are intact)
            with contextlib.suppress(Exception):
                shared.table.rebuild()
        else:  # every search joined: left here is what a killed Ray worker could not clean
            reap(scratch_root(out))
            shared.table.rebuild()
        if recorder is not None:  # an interrupted study is KILLED: `--resume` continues it
            recorder.finish(status="FAILED" if failed else
                            "KILLED" if stop.is_set() else "FINISHED")
            result.mlflow_errors = list(recorder.errors)
    result.interrupted = stop.is_set()
    return result


def _outcomes(futures: list[Future[SearchOutcome]], stop: threading.Event
              ) -> list[SearchOutcome]:
    """Every search's outcome; the first search that fails stops the others (their running
    scripts are killed and re-run on resume) before its error is raised."""
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    for fut in done:
        if not fut.cancelled() and fut.exception() is not None:
            stop.set()
            fut.result()  # raises its error
    return [f.result() for f in futures]


def _executor(config: StudyConfig) -> StudyExecutor:
    from aira_eval.search.executors import ExecutorOptions, make_executor

    return make_executor(ExecutorOptions(
        name=config.executor, workers=config.workers, ray_address=config.ray_address,
        cpus_per_node=config.cpus_per_node, memory_mb=config.memory_mb,
        resources=dict(config.ray_resources)))


def _portable(config: StudyConfig) -> dict[str, Any]:
    """The config as a remote worker reads it: local paths made absolute."""
    raw = config.to_dict()
    for key in ("data_dir", "llm_cache"):
        if raw.get(key):
            raw[key] = str(Path(raw[key]).expanduser().resolve())
    return raw


def _check_llm_credentials(config: StudyConfig) -> None:
    if config.operators == "procedural" or config.replay or not config.model:
        return
    if "mock_response" in config.operator_params.get("completion_kwargs", {}):
        return  # litellm's mocked responses need no credentials
    from aira_eval.search.operators.llm.credentials import require_credentials

    models = [config.model, *config.model_for.values()]
    require_credentials(models, config.api_key_env, config.api_base)


def _check_sandbox(config: StudyConfig) -> None:
    from aira_eval.search.sandbox import make_sandbox

    make_sandbox(config.sandbox, image=config.docker_image)


def _recorder(config: StudyConfig, out: Path) -> MlflowRecorder | None:
    if not config.mlflow:
        return None
    uri = study_tracking_uri(out, config.mlflow_uri)
    rec = MlflowRecorder(StudyLogger(uri, out, StudyManifest.read(out)))
    rec.start()
    return rec


@dataclass
class _Shared:
    """What every search of a running study shares."""

    recorder: MlflowRecorder | None
    events: StudyEvents
    stop: threading.Event
    executor: StudyExecutor  # runs the nodes (local threads sharing the workers, or Ray)
    table: NodeTableBuilder


def _run_one(
    config: StudyConfig, out: Path, plan: SearchPlan, task: Task, info: TaskInfo,
    shared: _Shared,
) -> SearchOutcome:
    """Run one search; several run at once, sharing the study's worker slots."""
    if shared.stop.is_set():
        return SearchOutcome(plan.search_id, stopped="interrupted")
    from aira_eval.search.policies.registry import make_policy

    recorder, events = shared.recorder, shared.events
    policy = make_policy(plan.policy, config.policy_params.get(plan.policy, {}))
    ctx = _context(config, out, plan, task, info)
    meta = SearchMeta(out.resolve().name, plan.search_id, plan.task_id, plan.policy,
                      config.operators, plan.seed, config.fitness, bool(task.lower_is_better),
                      config.description)
    desc = policy.describe() if hasattr(policy, "describe") else {}
    params = _search_params(config, plan, desc)
    previous = _previous_outcome(ctx.search_dir)
    write_search_meta(ctx.search_dir, meta,
                      {"params": params, **({"outcome": previous} if previous else {})})
    journaled = JournalFile(ctx.search_dir / "journal.jsonl").read()
    if recorder is not None:
        recorder.open_search(meta, params, journaled)

    def on_node(node: Node) -> None:
        if recorder is not None:
            recorder.record(meta, node)
        if events.on_node is not None:
            events.on_node(plan, node)

    spec = ContextSpec(_portable(config), str(out.resolve()), plan.search_id, plan.task_id,
                       plan.policy, plan.seed, info)
    engine = SearchEngine(ctx, policy, Budget(config.steps, config.time_budget_s),
                          workers=config.workers, on_node=on_node, stop=shared.stop,
                          executor=shared.executor.for_search(ctx, spec, config.workers))
    if events.on_search_start is not None:
        events.on_search_start(plan, journaled, bool(task.lower_is_better))
    outcome = engine.run()
    if _was_complete(outcome, previous):  # a finished search resumed: nothing to rewrite,
        if recorder is not None:  # but a run killed before its run was closed left it open
            recorder.close_search(meta, outcome_summary(previous or {}))
    else:
        summary = _summary(outcome, bool(task.lower_is_better))
        write_search_meta(ctx.search_dir, meta, {
            "params": params, "outcome": {"stopped": outcome.stopped, **summary}})
        shared.table.rebuild()
        if recorder is not None:
            recorder.close_search(meta, summary, "KILLED" if outcome.stopped == "interrupted"
                                  else "FINISHED")
    if events.on_search_end is not None:
        events.on_search_end(plan, outcome)
    return outcome


def _was_complete(outcome: SearchOutcome, previous: dict[str, Any] | None) -> bool:
    """The search had ended before and this run added no node to it."""
    return (previous is not None and previous.get("stopped") != "interrupted"
            and outcome.resumed_from == len(outcome.nodes) and outcome.stopped != "interrupted")


def _previous_outcome(search_dir: Path) -> dict[str, Any] | None:
    """The outcome a search recorded when it last ran to its end (None: it never did)."""
    import json

    try:
        outcome = json.loads((search_dir / "search.json").read_text()).get("outcome")
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def _summary(outcome: SearchOutcome, lower_is_better: bool) -> dict[str, float]:
    ok = [n for n in outcome.nodes if n.status == "ok" and "val" in n.scores]
    usage = outcome.usage()
    out = {"nodes": float(len(outcome.nodes)), "nodes_ok": float(len(ok)),
           "llm.prompt_tokens": float(usage.prompt_tokens),
           "llm.completion_tokens": float(usage.completion_tokens),
           "llm.cost_usd": usage.cost_usd, "llm.calls": float(usage.calls)}
    if ok:
        pick = (min if lower_is_better else max)(ok, key=lambda n: n.scores["val"])
        out["best_val.score_val"] = pick.scores["val"]
        if "test" in pick.scores:
            out["best_val.score_test"] = pick.scores["test"]
    return out
