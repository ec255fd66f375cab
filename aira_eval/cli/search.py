"""``aira-eval search``: run a study of searches (tasks × policies × seeds)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from aira_eval.cli._common import console, err_console, user_errors


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


def _install_interrupt(stop: threading.Event) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print(
            "[yellow]stopping: running scripts are killed (their nodes re-run on --resume); "
            "every finished node is in the journal. Ctrl-C again aborts at once.[/]"
        )

    return signal.signal(signal.SIGINT, handler)


def search(
    task: list[str] = typer.Option([], "--task", "-t", help="Task id (repeatable): "
                                   "builtin:NAME, synthetic:NAME, mlebench:ID or a task YAML."),
    policy: list[str] = typer.Option([], "--policy", "-p", help="Policy (repeatable): greedy, "
                                     "greedy-mlebench, mcts, evolutionary, random."),
    operators: str | None = typer.Option(None, "--operators", help="Operator family."),
    seeds: str | None = typer.Option(None, "--seeds", help="Seeds, e.g. 0-4 or 0,3,7."),
    steps: int | None = typer.Option(None, "--steps", help="Nodes per search."),
    workers: int | None = typer.Option(None, "--workers", help="Nodes run at once."),
    time_budget: float | None = typer.Option(None, "--time-budget", help="Seconds per search."),
    node_timeout: float | None = typer.Option(None, "--node-timeout", help="Seconds per node."),
    memory_mb: int | None = typer.Option(None, "--memory-mb", help="Memory limit per node."),
    fitness: str | None = typer.Option(None, "--fitness", help="Steering signal: val, search, "
                                       "or test (an oracle run)."),
    heldouts: bool | None = typer.Option(None, "--heldouts/--no-heldouts",
                                         help="Build the hidden search/select sets."),
    sandbox: str | None = typer.Option(None, "--sandbox", help="local or docker."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="MLE-bench data dir."),
    mlflow: bool | None = typer.Option(None, "--mlflow/--no-mlflow", help="Record to MLflow."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="MLflow tracking URI "
                                          "(default: STUDY/mlflow.db)."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with the same keys."),
    out: Path = typer.Option(..., "--out", "-o", help="Study directory to write."),
    resume: bool = typer.Option(False, "--resume", help="Continue the study in --out."),
) -> None:
    """Run searches over solution scripts and grade every node on every held-out set."""
    from aira_eval.search.study_runner import run_study

    options = {
        "tasks": task, "policies": policy, "operators": operators, "seeds": seeds,
        "steps": steps, "workers": workers, "time_budget_s": time_budget,
        "node_timeout_s": node_timeout, "memory_mb": memory_mb, "fitness": fitness,
        "heldouts": heldouts, "sandbox": sandbox,
        "data_dir": str(data_dir) if data_dir else None, "mlflow": mlflow,
        "mlflow_uri": mlflow_uri,
    }
    from aira_eval.search.config import StudyConfig

    given = _given(options, config)
    cfg = StudyConfig.from_dict({**StudyConfig().to_dict(), **given})
    stop = threading.Event()
    previous = _install_interrupt(stop)
    try:
        from aira_eval.cli.search_progress import StudyProgress

        with StudyProgress(console, cfg) as progress:
            result = run_study(cfg, out, resume=resume, events=progress.events(), stop=stop,
                               overrides=given)
    finally:
        signal.signal(signal.SIGINT, previous)
    _report(result, out, cfg.mlflow)
    if result.interrupted:
        raise typer.Exit(130)


def _report(result: Any, out: Path, mlflow: bool) -> None:
    n = sum(len(o.nodes) for o in result.outcomes)
    where = "nodes.parquet, journals" + (", MLflow" if mlflow else "")
    console.print(f"[bold]study[/] {out}: {len(result.outcomes)} searches, {n} nodes ({where})")
    for err in result.mlflow_errors[:3]:
        err_console.print(f"[yellow]warning:[/] {err}")
    if result.interrupted:
        err_console.print(f"[yellow]interrupted[/] at {time.strftime('%H:%M:%S')}: continue "
                          f"with `aira-eval search --out {out} --resume`")


def register(app: typer.Typer) -> None:
    app.command("search")(user_errors(search))
