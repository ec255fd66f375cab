"""``aira-eval select``: compare final-pick strategies on one or more studies."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aira_eval.cli._common import console, err_console, fail, print_json, user_errors
from aira_eval.errors import DataError

if TYPE_CHECKING:
    from aira_eval.selection.summary import SelectionResult
    from aira_eval.study import Study


@user_errors
def select(
    studies: list[Path] = typer.Argument(
        ..., help="Study directories (nodes.parquet + study.json) or nodes.parquet files; "
        "several are pooled."),
    strategy: list[str] = typer.Option(
        [], "--strategy", "-s", help="Strategy to compare (repeatable). Default: every "
        "applicable one: best-val, oracle, topk, shrinkage, lcb, best-search, best-select, "
        "last, random."),
    k: int = typer.Option(3, "--k", help="Submissions per search for topk."),
    z: float = typer.Option(1.0, "--z", help="Standard errors below the mean for lcb."),
    reference: str = typer.Option("best-val", "--reference", help="Strategy the others are "
                                  "compared with (paired differences, P(improve))."),
    resamples: int = typer.Option(10_000, "--resamples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    task_bootstrap: bool = typer.Option(False, "--task-bootstrap", help="Resample tasks too "
                                        "(two-level bootstrap), not only seeds within tasks."),
    ci: str = typer.Option("percentile", "--ci", help="Interval shown: percentile or bca "
                           "(both are written to summary.json)."),
    metric: str = typer.Option("auto", "--metric", help="Metric of the Δ and P(improve) "
                               "columns (default: normalized_score when every task has a "
                               "sample score, else test_score, else win_rate)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Directory for picks.parquet and "
                                    "summary.json (default: STUDY/selection of the first)."),
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Log the run to MLflow."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", "--tracking-uri",
                                          help="MLflow tracking URI (default: "
                                          "sqlite:///STUDY/mlflow.db)."),
) -> None:
    """Compare final-pick strategies: picks per search, judged on test, with bootstrap CIs.

    Decides which node(s) every strategy submits per search, judges the picks on the test
    set, and compares strategies across tasks and seeds with stratified bootstrap intervals.

    Writes STUDY/selection/picks.parquet (one row per strategy and search) and
    STUDY/selection/summary.json, and logs a run to the study's MLflow store.
    """
    from aira_eval.selection.summary import SelectionOptions, run_selection, write_results
    from aira_eval.study import load_study

    options = SelectionOptions(
        strategies=list(strategy), k=k, z=z, reference=reference, n_resamples=resamples,
        seed=seed, task_bootstrap=task_bootstrap, ci=ci,  # type: ignore[arg-type]
        metric=metric,
    )
    options.check()
    try:
        study = load_study(studies, require_valid=True)
    except DataError as err:  # an unreadable or newer-schema input is a usage error here
        fail(err.message, err.hint, code=2)
    result = run_selection(study, options)
    out_dir = out if out is not None else study.sources[0].study_dir / "selection"
    files = write_results(result, out_dir)
    result.summary["outputs"] = {name: str(path) for name, path in files.items()}
    tracking = _track(result, files, study, mlflow_uri) if mlflow else None
    if tracking is not None:
        result.summary["mlflow"] = tracking
    if as_json:
        print_json(result.summary)
    else:
        _render(result, _mixed_metrics(study))
        console.print(f"[dim]picks: {files['picks']}  summary: {files['summary']}[/]")
    _warnings(result, tracking)


def _track(result: SelectionResult, files: dict[str, Path], study: Study,
           uri: str | None) -> dict[str, Any]:
    from aira_eval.selection.tracking import log_selection

    with contextlib.suppress(ImportError):
        import mlflow  # noqa: F401  (configures its loggers on import; quiet them after)
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from aira_eval.study.manifest import mlflow_experiment

    experiment = mlflow_experiment("+".join(dict.fromkeys(study.study_ids)))
    outcome = log_selection(result.summary, files, study.sources[0].study_dir, experiment, uri)
    return {"tracking_uri": outcome.tracking_uri, "experiment": outcome.experiment,
            "run_id": outcome.run_id, "run_name": outcome.run_name, "warning": outcome.warning}


def _warnings(result: SelectionResult, tracking: dict[str, Any] | None) -> None:
    for name, reason in result.skipped.items():
        err_console.print(f"[yellow]note:[/] skipped {name}: {reason}", highlight=False)
    oracle_runs = result.summary["counts"]["oracle_run_searches"]
    if oracle_runs:
        err_console.print(f"[yellow]warning:[/] {oracle_runs} search(es) steered by test scores "
                          "(oracle runs): their picks are not blind.", highlight=False)
    if tracking is not None and tracking["warning"]:
        err_console.print(f"[yellow]warning:[/] {tracking['warning']}", highlight=False)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"


def _with_ci(stats: dict[str, Any]) -> str:
    """Estimate over its interval, two lines, so that 80 columns fit the table."""
    if stats["estimate"] is None:
        return "—"
    return f"{_fmt(stats['estimate'])}\n{_fmt(stats['ci_low'])}…{_fmt(stats['ci_high'])}"


_SHORT = {"normalized_score": "norm.", "test_score": "test", "win_rate": "win",
          "any_medal": "medal", "valid_submission": "valid"}


def _mixed_metrics(study: Any) -> bool:
    """True when the tasks' raw test scores are on different scales (metric or direction):
    their mean is then meaningless and the table shows only normalized scores."""
    metrics = {(info.metric, info.lower_is_better) for info in study.tasks.values()}
    return len(metrics) > 1


def _render(result: SelectionResult, mixed: bool = False) -> None:
    from rich import box
    from rich.table import Table

    summary = result.summary
    head, ref = summary["headline_metric"], summary["reference"]
    counts, opts = summary["counts"], summary["options"]
    _tasks_too = ", tasks too" if opts["task_bootstrap"] else ""
    table = Table(
        box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True,
        title=f"{counts['tasks']} task(s) × {counts['searches']} search(es): mean over tasks of "
        "the mean over seeds",
        caption=f"{int(opts['level'] * 100)}% {summary['ci_method']} intervals under each value "
        f"({opts['n_resamples']} stratified resamples{_tasks_too}); Δ = {head} − {ref}'s, "
        "paired; P(imp) = share of resamples where Δ favours it.",
    )
    table.add_column("strategy", no_wrap=True)
    delta_col = "Δ " + _SHORT.get(head, head[:6])
    for col in ("test", "regret", "medal", "norm.", delta_col, "P(imp)"):
        table.add_column(col, justify="right", no_wrap=True)
    failures = []
    for name, block in summary["strategies"].items():
        m = block["metrics"]
        label = name + ("\n(uses test)" if block["uses_test"] else "")
        label += f"\n(k={opts['k']})" if name == "topk" else ""
        table.add_row(
            label, "—" if mixed else _with_ci(m["test_score"]),
            "—" if mixed else _fmt(m["regret"]["estimate"]),
            _fmt(m["any_medal"]["estimate"]), _with_ci(m["normalized_score"]),
            "ref" if name == ref else _with_ci(m[head]["delta"]),
            "—" if name == ref else _fmt(m[head]["p_improve"]),
        )
        if block["failures"]:
            failures.append(f"{name} {block['failures']}/{block['searches']}")
    console.print(table)
    if mixed:
        console.print("test and regret: — because the tasks use different metrics; compare "
                      "normalized scores (or --json for per-task values).")
    if failures:
        console.print("failed submissions (no medal, normalized score 0): " + ", ".join(failures))


def register(app: typer.Typer) -> None:
    app.command("select")(select)
