"""``aira-eval grade``: grade one submission the way MLE-bench does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aira_eval.cli._common import (
    console,
    print_json,
    require_file,
    resolve_data_dir,
    user_errors,
)

if TYPE_CHECKING:
    from aira_eval.datasets.grading import GradeReport
    from aira_eval.datasets.task import Task

_NO_HELDOUTS_HINT = (
    "This submission covers the task's test file without the hidden held-out rows, and is "
    "valid that way: grade it with --no-heldouts."
)


@user_errors
def grade(
    submission: Path = typer.Argument(..., help="The submission CSV to grade."),
    task: str = typer.Option(..., "--task", "-t", help="Task id (builtin:NAME, "
                             "synthetic:NAME, mlebench:ID) or a task YAML path."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="MLE-bench data dir "
                                         "(default $AIRA_EVAL_DATA_DIR or "
                                         "~/.cache/mle-bench/data)."),
    heldouts: bool | None = typer.Option(
        None, "--heldouts/--no-heldouts",
        help="Grade the hidden search/select sets too; the submission must then cover every "
        "row of the task's agent-facing test file. Default: on for builtin/synthetic/YAML "
        "tasks, off for mlebench ones.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Grade SUBMISSION on a task: score, validity, medal thresholds and flags.

    An invalid submission is a result (exit 0, valid false, a reason); an unknown task, a
    missing file or a bad option exits with status 2.
    """
    from aira_eval.datasets.registry import resolve_task

    require_file(submission, "submission file", regular=True)
    resolved = resolve_task(task, data_dir=resolve_data_dir(data_dir), heldouts=heldouts)
    reports = resolved.grade_heldouts(submission)
    test = reports["test"]
    others = {name: rep for name, rep in reports.items() if name != "test"}
    if as_json:
        print_json(_payload(resolved, test, others))
        return
    _render(resolved, test, others)
    if not test.valid_submission and others and \
            resolved.grade(submission, heldouts=False).valid_submission:
        console.print(f"[yellow]hint:[/] {_NO_HELDOUTS_HINT}", highlight=False)


def _payload(task: Task, test: GradeReport, others: dict[str, GradeReport]) -> dict[str, Any]:
    payload: dict[str, Any] = {"task_id": task.task_id, **test.to_dict(),
                               "metric": task.metric}
    if others:
        payload["heldouts"] = {
            name: {"score": rep.score, "raw_score": rep.raw_score,
                   "valid_submission": rep.valid_submission, "reason": rep.reason}
            for name, rep in others.items()
        }
    return payload


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.5g}"


def _render(task: Task, test: GradeReport, others: dict[str, GradeReport]) -> None:
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    verdict = "[green]yes[/]" if test.valid_submission else "[red]no[/]"
    table.add_row("task", task.task_id)
    table.add_row("metric", f"{task.metric} ({'lower' if test.is_lower_better else 'higher'} "
                  "is better)")
    table.add_row("score", _fmt(test.score))
    table.add_row("valid submission", verdict)
    if test.reason:
        table.add_row("reason", f"[red]{test.reason}[/]")
    if task.thresholds() is not None:  # medals mean something only with a leaderboard
        for name in ("gold", "silver", "bronze", "median"):
            table.add_row(f"{name} threshold", _fmt(getattr(test, f"{name}_threshold")))
        flags = {"gold": test.gold_medal, "silver": test.silver_medal,
                 "bronze": test.bronze_medal, "any medal": test.any_medal,
                 "above median": test.above_median}
        table.add_row("medals", "  ".join(f"{k}: {'yes' if v else 'no'}"
                                          for k, v in flags.items()))
    for name, rep in others.items():
        value = _fmt(rep.score) if rep.valid_submission else f"[red]invalid[/] ({rep.reason})"
        table.add_row(f"{name} score", value)
    console.print(Panel(table, title=f"grade: {task.name}", expand=False), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("grade")(grade)
