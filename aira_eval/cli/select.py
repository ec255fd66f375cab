"""``aira-eval select``: compare final-pick strategies on one or more studies."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aira_eval.cli._common import (
    console,
    err_console,
    fail,
    print_json,
    require_out_dir,
    user_errors,
)
from aira_eval.errors import DataError

if TYPE_CHECKING:
    from aira_eval.selection.result import SelectionResult
    from aira_eval.study import Study


@user_errors
def select(
    studies: list[Path] = typer.Argument(
        ..., metavar="STUDY", help="Study directories (nodes.parquet + study.json) or "
        "nodes.parquet files; several are pooled."),
    strategy: list[str] = typer.Option(
        [], "--strategy", "-s", help="Strategy to compare (repeatable). Default: every "
        "applicable one: best-val, oracle, topk, shrinkage, lcb, best-search, best-select, "
        "last, random."),
    k: int = typer.Option(3, "--k", help="Submissions per search for topk."),
    z: float = typer.Option(1.0, "--z", help="Standard errors below the mean for lcb."),
    reference: str = typer.Option("best-val", "--reference", help="Strategy the others are "
                                  "compared with (paired per-search differences)."),
    resamples: int = typer.Option(10_000, "--resamples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    task_bootstrap: bool = typer.Option(False, "--task-bootstrap", help="Resample tasks too "
                                        "(two-level bootstrap), not only seeds within tasks."),
    ci: str = typer.Option("hall", "--ci", help="Interval shown: hall (default: t with "
                           "Hall's skewness correction, holds 95% from 5 seeds per task for "
                           "means and differences of picks), t (Welch–Satterthwaite), "
                           "studentized, expanded, percentile or bca (all but studentized are "
                           "always in summary.json; between groups the same, with Welch's "
                           "df for hall and t, and hall for studentized)."),
    metric: str = typer.Option("auto", "--metric", help="Metric of the Δ and fav. "
                               "columns (default: normalized_score when every task has a "
                               "sample score, else test_score, else win_rate)."),
    by: list[str] = typer.Option(
        [], "--by", help="Group searches by a search attribute (repeatable): policy, "
        "operators, model, task, agent, a node-table column or param.NAME. Default: by agent "
        "when the searches' agents differ."),
    pool: bool = typer.Option(False, "--pool", help="Pool every search into one group, even "
                              "when their agents differ."),
    baseline_group: str | None = typer.Option(
        None, "--baseline-group", help="Compare every group with this one (default: every "
        "pair of groups)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Directory for the results "
                                    "(default: STUDY/selection/<run name> of the first study; "
                                    "STUDY/selection/index.json names the latest)."),
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Log the run to MLflow."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", "--tracking-uri",
                                          help="MLflow tracking URI (default: the one "
                                          "each study was run with, else "
                                          "MLFLOW_TRACKING_URI, else "
                                          "sqlite:///STUDY/mlflow.db)."),
) -> None:
    """Compare final-pick strategies per agent: picks per search, judged on test, with CIs.

    Decides which node(s) every strategy submits per search, judges the picks on the test
    set, and compares strategies across tasks and seeds with stratified bootstrap intervals,
    per group of searches (by agent when the searches' agents differ), and the groups with
    each other for the same strategy.

    Writes STUDY/selection/<run>/ (picks.parquet, summary.parquet, compare.parquet,
    summary.json; the run is named by its options, e.g. all, topk, all.by-policy) and logs a
    run to the study's MLflow store.
    """
    import aira_eval as ae
    from aira_eval.selection.outputs import run_name, update_index, write_results

    config = ae.SelectionConfig(
        strategies=list(strategy), k=k, z=z, reference=reference, n_resamples=resamples,
        seed=seed, task_bootstrap=task_bootstrap, ci=ci,  # type: ignore[arg-type]
        metric=metric, by=list(by), pool=pool, baseline_group=baseline_group,
    )
    config.check()
    try:
        study = ae.load_study(studies, require_valid=True)
    except DataError as err:  # an unreadable or newer-schema input is a usage error here
        fail(err.message, err.hint, code=2)
    if out is not None:
        require_out_dir(out)
    result = ae.select(study, config)
    name = run_name(config)
    selection_dir = study.sources[0].study_dir / "selection"
    files = write_results(result, out if out is not None else selection_dir / name)
    if out is None:
        update_index(selection_dir, name, result)
    result.summary["outputs"] = {key: str(path) for key, path in files.items()}
    tracking = _track(result, files, study, mlflow_uri, name) if mlflow else None
    if tracking is not None:
        result.summary["mlflow"] = tracking
    if as_json:
        print_json(result.summary)
    else:
        from aira_eval.cli.select_render import render

        render(result, _mixed_metrics(study))
        console.print(f"[dim]results: {files['summary'].parent}[/]", highlight=False)
    _warnings(result, tracking, study)


def _track(result: SelectionResult, files: dict[str, Path], study: Study,
           uri: str | None, name: str) -> dict[str, Any]:
    """Log the run into every judged study's experiment; the first is reported on top."""
    from aira_eval.selection.tracking import log_selection_per_study

    with contextlib.suppress(ImportError):
        import mlflow  # noqa: F401  (configures its loggers on import; quiet them after)
    for logger in ("alembic", "mlflow"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    outcomes = log_selection_per_study(
        result.summary, files, [(s.study_id, s.study_dir) for s in study.sources], uri,
        picks=result.picks, mixed=_mixed_metrics(study), label=name)
    first = outcomes[0]
    warnings = [o.warning for o in outcomes if o.warning]
    return {"tracking_uri": first.tracking_uri, "experiment": first.experiment,
            "run_id": first.run_id, "run_name": first.run_name,
            "warning": "; ".join(warnings) if warnings else None,
            "runs": [{"tracking_uri": o.tracking_uri, "experiment": o.experiment,
                      "run_id": o.run_id} for o in outcomes]}


def _warnings(result: SelectionResult, tracking: dict[str, Any] | None,
              study: Study) -> None:
    for line in [*study.warnings, *result.summary.get("warnings", [])]:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False)
    for name, reason in result.skipped.items():
        err_console.print(f"[yellow]note:[/] skipped {name}: {reason}", highlight=False)
    oracle_runs = result.summary["counts"]["oracle_run_searches"]
    if oracle_runs:
        err_console.print(f"[yellow]warning:[/] {oracle_runs} search(es) steered by test scores "
                          "(oracle runs): their picks are not blind.", highlight=False)
    if tracking is not None and tracking["warning"]:
        from rich.markup import escape  # an MLflow error's text may hold brackets

        err_console.print(f"[yellow]warning:[/] {escape(tracking['warning'])}", highlight=False)


def _mixed_metrics(study: Any) -> bool:
    """True when the tasks' raw test scores are on different scales (metric or direction):
    their mean is then meaningless and the table shows only normalized scores."""
    from aira_eval.selection.summary import shared_metric

    return not shared_metric(study.tasks)


def register(app: typer.Typer) -> None:
    app.command("select")(select)
