"""``aira-eval report``: the statistical report a paper needs, from a study in one command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from aira_eval.cli._common import console, err_console, fail, require_out_dir, user_errors
from aira_eval.errors import DataError, UsageError


def _trees(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--trees must be 'all' or a number, got {value!r}") from None


def _formats(value: str) -> list[str]:
    return [f.strip().lower() for f in value.split(",") if f.strip()]


@user_errors
def report(
    studies: list[Path] = typer.Argument(
        ..., metavar="STUDY", help="Study directories (nodes.parquet + study.json) or "
        "nodes.parquet files; several are pooled."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the report."),
    by: list[str] = typer.Option(
        [], "--by", help="Group searches by this attribute (repeatable): agent, policy, "
        "operators, model, task, or a param.* column. Default: as select (by agent when the "
        "searches' agents differ)."),
    fmt: str = typer.Option("md,html,tex", "--format", help="Comma-separated: md, html, tex."),
    trees: str = typer.Option("4", "--trees", help="Search-tree figures: a number (chosen "
                              "round-robin over agents) or 'all'."),
    resamples: int = typer.Option(10_000, "--resamples", help="Bootstrap resamples of the "
                                  "tables (as select)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every resampling."),
    strategy: list[str] = typer.Option([], "--strategy", "-s", help="Strategies (repeatable; "
                                       "default: every applicable one)."),
    reference: str = typer.Option("best-val", "--reference", help="Reference strategy of Δ."),
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Attach the report to the "
                                "study's MLflow selection run."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="MLflow tracking URI "
                                          "(default: sqlite:///STUDY/mlflow.db)."),
) -> None:
    """Write tables, figures, models and a reproducibility manifest for a paper.

    Writes OUT/report.md, OUT/report.html (self-contained), OUT/report.tex (with
    OUT/tables/*.tex), OUT/figures/*.pdf|png and OUT/data/*.csv|parquet.
    """
    from aira_eval.analysis.context import ReportOptions
    from aira_eval.analysis.report import report as build
    from aira_eval.study import load_study

    require_out_dir(out)
    options = ReportOptions(by=list(by), formats=_formats(fmt),
                            trees=_trees(trees), resamples=resamples, seed=seed,
                            strategies=list(strategy), reference=reference,
                            argv=["aira-eval", "report", *sys.argv[2:]])
    try:
        study = load_study(studies)
    except DataError as err:
        fail(err.message, err.hint, code=2)
    for warning in study.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    result = build(study, out, options, mlflow=mlflow, mlflow_uri=mlflow_uri)
    if result.replaced:
        err_console.print(f"[dim]replaced the previous report in {out}[/]", highlight=False)
    for section in result.sections:
        state = f"[yellow]empty:[/] {section.empty}" if section.empty else \
            f"{len(section.tables)} table(s), {len(section.figures)} figure(s)"
        console.print(f"{section.title}: {state} [dim]({section.seconds:.1f} s)[/]",
                      highlight=False)
    for kind in ("md", "html", "tex"):
        if kind in result.files:
            console.print(f"[dim]{kind}: {result.files[kind]}[/]", highlight=False)
    for key, error in result.errors.items():
        err_console.print(f"[yellow]warning:[/] section {key} failed: {error}", highlight=False)
    if result.mlflow and result.mlflow.get("skipped"):
        err_console.print(f"[dim]{result.mlflow['skipped']}[/]", highlight=False)
    if result.mlflow and result.mlflow.get("warning"):
        err_console.print(f"[yellow]warning:[/] {result.mlflow['warning']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
