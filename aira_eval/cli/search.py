"""``aira-eval search``: run a study of searches (tasks × policies × seeds)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape

from aira_eval.cli._common import console, err_console, require_out_dir, user_errors


def _given(options: dict[str, Any], config_file: Path | None) -> dict[str, Any]:
    """The options the user set (YAML file first, command line over it)."""
    from aira_eval.search.config import StudyConfig, parse_seeds

    given = {k: v for k, v in options.items() if v is not None and v != []}
    if "seeds" in given:
        given["seeds"] = parse_seeds(given["seeds"])
    if config_file is None:
        return given
    from_file = {k: v for k, v in StudyConfig.from_yaml(config_file).to_dict().items()
                 if v != getattr(StudyConfig(), k)}
    return {**from_file, **given}


def _expand_splits(tasks: list[str], data_dir: str | None) -> list[str]:
    """``mlebench:split=NAME`` -> the split's prepared competitions (one line per skipped)."""
    from aira_eval.datasets.mlebench_source import default_data_dir, expand_tasks

    expansion = expand_tasks(list(tasks), Path(data_dir).expanduser() if data_dir
                             else default_data_dir())
    for line in expansion.skipped:
        err_console.print(f"[dim]{line}[/]")
    return expansion.tasks


def _model_for(pairs: list[str]) -> dict[str, str] | None:
    """``["debug=gpt-4o-mini"]`` -> ``{"debug": "gpt-4o-mini"}`` (None when none given)."""
    from aira_eval.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        op, sep, name = pair.partition("=")
        if not sep or not op.strip() or not name.strip():
            raise UsageError(f"cannot read --model-for {pair!r}",
                             hint="Write OPERATOR=MODEL, e.g. --model-for debug=gpt-4o-mini.")
        out[op.strip()] = name.strip()
    return out or None


def _install_interrupt(stop: threading.Event) -> dict[signal.Signals, Any]:
    """Ctrl-C (SIGINT) and ``kill`` (SIGTERM) stop the study cleanly (resumable; its MLflow
    runs end KILLED); a second one aborts at once. Returns the handlers replaced."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print(
            "[yellow]stopping: running scripts are killed (their nodes re-run on --resume); "
            "every finished node is in the journal. Ctrl-C again aborts at once.[/]"
        )

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def search(
    task: list[str] = typer.Option([], "--task", "-t", show_default="builtin:breast-cancer",
                                   help="Task id (repeatable): "
                                   "builtin:NAME, synthetic:NAME, mlebench:ID or a task YAML."),
    policy: list[str] = typer.Option([], "--policy", "-p", show_default="greedy",
                                     help="Policy (repeatable): greedy, "
                                     "greedy-mlebench, mcts, evolutionary, random."),
    operators: str | None = typer.Option(None, "--operators", show_default="procedural",
                                         help="Operator family: "
                                         "procedural, aide or aira (LLM; needs --model)."),
    seeds: str | None = typer.Option(None, "--seeds", show_default="0",
                                     help="Seeds, e.g. 0-4 or 0,3,7."),
    steps: int | None = typer.Option(None, "--steps", show_default="20", help="Nodes per search."),
    workers: int | None = typer.Option(None, "--workers", show_default="1",
                                       help="Nodes run at once."),
    time_budget: float | None = typer.Option(None, "--time-budget", help="Seconds per search."),
    node_timeout: float | None = typer.Option(None, "--node-timeout", show_default="300",
                                              help="Seconds per node."),
    memory_mb: int | None = typer.Option(None, "--memory-mb", show_default="4096",
                                         help="Memory limit per node."),
    fitness: str | None = typer.Option(None, "--fitness", show_default="val",
                                       help="Steering signal: val, search, "
                                       "or test (an oracle run)."),
    heldouts: bool | None = typer.Option(None, "--heldouts/--no-heldouts",
                                         show_default="on; off for mlebench tasks",
                                         help="Build the hidden search/select sets."),
    sandbox: str | None = typer.Option(None, "--sandbox", show_default="local",
                                       help="local or docker."),
    prefork: bool | None = typer.Option(None, "--prefork/--no-prefork", show_default="off",
                                        help="Local sandbox: fork scripts from an "
                                        "interpreter that imported numpy/pandas/sklearn."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="MLE-bench data dir."),
    mlflow: bool | None = typer.Option(None, "--mlflow/--no-mlflow", show_default="mlflow",
                                       help="Record to MLflow."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", "--tracking-uri",
                                          help="MLflow tracking URI, e.g. a server's "
                                          "http://HOST:PORT (default: MLFLOW_TRACKING_URI, "
                                          "else STUDY/mlflow.db)."),
    model: str | None = typer.Option(None, "--model", help="LLM of --operators aide/aira: "
                                     "any litellm model string."),
    model_for: list[str] = typer.Option([], "--model-for", help="Per-operator model "
                                        "(repeatable): debug=MODEL, analyze=MODEL, ..."),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server "
                                        "URL (vLLM, Ollama, a proxy)."),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="NAME of the env "
                                           "variable holding the API key."),
    temperature: float | None = typer.Option(None, "--temperature", help="LLM temperature."),
    top_p: float | None = typer.Option(None, "--top-p", help="LLM nucleus sampling."),
    request_timeout: float | None = typer.Option(None, "--request-timeout", show_default="600",
                                                 help="Seconds per LLM request."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="LLM spend limit in USD "
                                          "per search; the search stops when it is spent."),
    llm_cache: Path | None = typer.Option(None, "--llm-cache", help="Directory recording "
                                          "every LLM response (read-through cache)."),
    replay: bool = typer.Option(False, "--replay", help="Serve LLM calls from --llm-cache "
                                "alone; a miss is an error node."),
    bug_rate: float | None = typer.Option(None, "--bug-rate", show_default="0.3",
                                          help="Procedural operators: "
                                          "share of drafts/improves given a realistic bug "
                                          "(0: scripts never fail by design). 0.3 is not a "
                                          "published rate: the AIDE, AIRA-dojo and MLE-bench "
                                          "papers give none per node (see docs/search.md)."),
    description: str | None = typer.Option(None, "--description", show_default="original",
                                           help="Task description "
                                           "agents get: original, or obfuscated (MLE-bench's "
                                           "contamination ablation)."),
    executor: str | None = typer.Option(None, "--executor", help="Where nodes run: local "
                                        "(threads here) or ray (a Ray cluster)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster: auto or "
                                           "HOST:PORT (default: start Ray on this machine)."),
    cpus_per_node: float | None = typer.Option(None, "--cpus-per-node",
                                               help="CPUs each node's Ray task requests."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with the same keys."),
    out: Path = typer.Option(..., "--out", "-o", help="Study directory to write."),
    resume: bool = typer.Option(False, "--resume", help="Continue the study in --out."),
) -> None:
    """Run searches over solution scripts and grade every node on every held-out set."""
    import aira_eval as ae

    require_out_dir(out)
    options = {
        "tasks": task, "policies": policy, "operators": operators, "seeds": seeds,
        "steps": steps, "workers": workers, "time_budget_s": time_budget,
        "node_timeout_s": node_timeout, "memory_mb": memory_mb, "fitness": fitness,
        "heldouts": heldouts, "sandbox": sandbox, "sandbox_prefork": prefork,
        "data_dir": str(data_dir) if data_dir else None, "mlflow": mlflow,
        "mlflow_uri": mlflow_uri, "model": model, "model_for": _model_for(model_for),
        "api_base": api_base, "api_key_env": api_key_env, "temperature": temperature,
        "top_p": top_p, "request_timeout_s": request_timeout, "max_cost_usd": max_cost,
        "llm_cache": str(llm_cache.expanduser().resolve()) if llm_cache else None,
        "replay": True if replay else None, "description": description, "executor": executor,
        "ray_address": ray_address, "cpus_per_node": cpus_per_node,
    }
    from aira_eval.search.config import StudyConfig

    given = _given(options, config)
    if bug_rate is not None:
        given["operator_params"] = {**given.get("operator_params", {}), "bug_rate": bug_rate}
    if "tasks" in given:
        given["tasks"] = _expand_splits(given["tasks"], given.get("data_dir"))
    cfg = StudyConfig.from_dict({**StudyConfig().to_dict(), **given})
    stop = threading.Event()
    previous = _install_interrupt(stop)
    try:
        from aira_eval.cli.search_progress import StudyProgress

        with StudyProgress(console) as progress:
            events = progress.events()
            events.on_executor = _show_executor
            result = ae.run_study(cfg, out, resume=resume, events=events, stop=stop,
                                  overrides=given)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    _report(result, out, bool(result.config and result.config.mlflow))
    if result.interrupted:
        raise typer.Exit(130)


def _show_executor(name: str, dashboard_url: str | None) -> None:
    if name != "local":
        where = f": dashboard {dashboard_url}" if dashboard_url else ""
        console.print(f"[bold]executor[/] {name}{where}")


def _report(result: Any, out: Path, mlflow: bool) -> None:
    n = sum(len(o.nodes) for o in result.outcomes)
    new = sum(len(o.nodes) - o.resumed_from for o in result.outcomes)
    if result.outcomes and not new and not result.interrupted:
        console.print(f"[bold]study[/] {out} is complete: {len(result.outcomes)} searches, "
                      f"{n} nodes; nothing to run.")
        return
    where = "nodes.parquet, journals" + (", MLflow" if mlflow else "")
    console.print(f"[bold]study[/] {out}: {len(result.outcomes)} searches, {n} nodes ({where})")
    usages = [o.usage() for o in result.outcomes]
    calls = sum(u.calls for u in usages)
    if calls:
        tokens = sum(u.prompt_tokens + u.completion_tokens for u in usages)
        cost = sum(u.cost_usd for u in usages)
        console.print(f"LLM: {calls} calls, {tokens:,} tokens, ${cost:.4f} "
                      f"(per search: searches/<id>/search.json and MLflow `llm.*`)")
    for outcome in result.outcomes:
        if outcome.torn_line is not None:
            err_console.print(f"[yellow]note:[/] {outcome.search_id}: dropped the torn last "
                              f"journal line ({outcome.torn_line}), a node interrupted "
                              "mid-write; it ran again.", highlight=False)
        if outcome.stopped == "cost":
            err_console.print(f"[yellow]{outcome.search_id}[/] stopped at its --max-cost limit")
    for err in result.mlflow_errors[:3]:  # an error's text may hold brackets: not markup
        err_console.print(f"[yellow]warning:[/] {escape(err)}", highlight=False)
    if result.interrupted:
        err_console.print(f"[yellow]interrupted[/] at {time.strftime('%H:%M:%S')}: continue "
                          f"with `aira-eval search --out {out} --resume`")


def register(app: typer.Typer) -> None:
    app.command("search")(user_errors(search))
