"""``aira-eval check``: contamination checks of one or more studies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from aira_eval.cli._common import console, err_console, fail, print_json, user_errors
from aira_eval.errors import DataError, UsageError

if TYPE_CHECKING:
    from aira_eval.checks.report import CheckReport

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim", "error": "magenta"}


def _render(report: CheckReport, path: Path) -> None:
    table = Table(title=f"Contamination checks: {report.study_id}", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("summary", overflow="fold")
    for check in report.checks:
        style = _STYLE.get(check.status, "")
        table.add_row(check.title, f"[{style}]{check.status}[/]", check.summary)
    console.print(table)
    console.print(f"report: {path} (and {path.with_suffix('.md').name})", highlight=False)


@user_errors
def check(
    studies: list[Path] = typer.Argument(..., metavar="STUDY", help="Study directories to check."),
    references: Path | None = typer.Option(
        None, "--references", help="Folder of reference solutions (.py, .ipynb) for the "
        "similarity check; skipped without it."),
    model: str | None = typer.Option(
        None, "--model", help="litellm model for the familiarity probe; skipped without it."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Task data dir (default: the study's, $AIRA_EVAL_DATA_DIR, "
        "or ~/.cache/mle-bench/data)."),
    near_digits: int = typer.Option(
        4, "--near-digits", help="Significant digits numbers are rounded to for near "
        "duplicates."),
    z_threshold: float = typer.Option(
        4.0, "--z-threshold", help="Flag nodes whose z = oriented(test - val) / SE exceeds "
        "this."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any check fails."),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
    mock_response: str | None = typer.Option(None, "--mock-response", hidden=True),
) -> None:
    """Contamination checks: overlap, code leakage, test vs val, similarity, familiarity.

    Train/test duplicate rows per task; leakage in node code (paths outside ./input, private
    answers, network, hard-coded labels); nodes whose test score beats their validation by
    z > --z-threshold; similarity to --references; an LLM familiarity probe with --model.
    Writes STUDY/checks/contamination.json and .md for every study.
    """
    from aira_eval.checks.report import STATUS_RANK, CheckOptions, run_checks

    if data_dir is not None and not data_dir.expanduser().is_dir():
        raise UsageError(f"--data-dir {data_dir} does not exist")
    llm_kwargs: dict[str, Any] = {"mock_response": mock_response} if mock_response else {}
    options = CheckOptions(
        references=references, model=model,
        data_dir=data_dir.expanduser() if data_dir else None, near_digits=near_digits,
        z_threshold=z_threshold, llm_kwargs=llm_kwargs,
    ).validate()
    cache: dict[Any, Any] = {}
    reports = []
    for study in studies:
        try:
            report = run_checks(study, options, overlap_cache=cache)
        except DataError as err:  # an unreadable or newer-schema study: exit 2, as select
            fail(err.message, err.hint, code=2)
        for warning in report.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        path = study / "checks" / "contamination.json"
        report.write(path)
        path.with_suffix(".md").write_text(report.to_markdown(), encoding="utf-8")
        reports.append(report)
        if not as_json:
            _render(report, path)
    if as_json:
        worst = max((r.status for r in reports), key=STATUS_RANK.__getitem__)
        print_json({"status": worst, "reports": [r.to_dict() for r in reports]})
    if strict and any(r.failed for r in reports):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
