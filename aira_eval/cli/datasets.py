"""``aira-eval datasets``: list, show and prepare tasks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aira_eval.cli._common import console, print_json, resolve_data_dir, user_errors
from aira_eval.errors import UsageError

if TYPE_CHECKING:
    from aira_eval.datasets.task import Task

datasets_app = typer.Typer(
    help="List, inspect and prepare tasks (builtin:, synthetic:, mlebench:, task YAML).",
    no_args_is_help=True,
)

_DATA_DIR_HELP = "MLE-bench data dir (default $AIRA_EVAL_DATA_DIR or ~/.cache/mle-bench/data)."
_STATUS_STYLE = {"prepared": "green", "prepared on first use": "cyan", "not prepared": "yellow",
                 "absent": "dim", "no grader": "red"}
DESCRIPTION_LINES = 12


@datasets_app.command("list")
@user_errors
def list_cmd(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List every known task with where it was found and whether it is prepared."""
    from rich.table import Table

    from aira_eval.datasets.registry import list_tasks

    rows = list_tasks(resolve_data_dir(data_dir))
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    table = Table(title="tasks")
    for column in ("task", "source", "status", "graders", "location"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = _STATUS_STYLE.get(row.status, "")
        table.add_row(row.task_id, row.source, f"[{style}]{row.status}[/]" if style else row.status,
                      row.graders, row.location)
    console.print(table)


@datasets_app.command("show")
@user_errors
def show(
    task: str = typer.Argument(..., help="Task id or task YAML path."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    heldouts: bool | None = typer.Option(None, "--heldouts/--no-heldouts",
                                         help="Show the task with or without held-out sets "
                                         "(default: the source's default)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a task: files and rows, metric, direction, thresholds, held-out sets, description."""
    from aira_eval.datasets.registry import resolve_task

    resolved = resolve_task(task, data_dir=resolve_data_dir(data_dir), heldouts=heldouts)
    info = task_summary(resolved)
    if as_json:
        print_json(info)
        return
    _render_show(info)


def _rows(path: Path) -> int | None:
    """Data rows of a CSV file (None when it is not a readable CSV)."""
    import pandas as pd

    if path.suffix.lower() != ".csv":
        return None
    try:
        return len(pd.read_csv(path, usecols=[0]))
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def task_summary(task: Task) -> dict[str, Any]:
    """What ``datasets show`` prints, as a JSON-able dict."""
    thresholds = task.thresholds()
    files = [
        {"file": p.name, "kind": "dir" if p.is_dir() else "file", "rows": _rows(p)}
        for p in sorted(task.public_dir.iterdir())
    ]
    description = task.description().splitlines()
    return {
        "task_id": task.task_id,
        "source": task.source,
        "name": task.name,
        "location": str(task.location) if task.location else None,
        "public_dir": str(task.public_dir),
        "files": files,
        "metric": task.metric,
        "lower_is_better": task.lower_is_better,
        "thresholds": thresholds.to_dict() if thresholds is not None else None,
        "heldouts": task.heldout_sizes(),
        "heldout_seed": task.heldout_seed,
        "heldout_fractions": task.heldout_fractions,
        "problem": task.problem.to_dict() if task.problem is not None else None,
        "description_head": "\n".join(description[:DESCRIPTION_LINES]),
    }


def _render_show(info: dict[str, Any]) -> None:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("task", info["task_id"])
    grid.add_row("source", info["source"])
    grid.add_row("location", str(info["location"]))
    grid.add_row("public dir", info["public_dir"])
    direction = "lower" if info["lower_is_better"] else "higher"
    grid.add_row("metric", f"{info['metric']} ({direction} is better)")
    th = info["thresholds"]
    grid.add_row("thresholds", "no leaderboard" if th is None else ", ".join(
        f"{k.removesuffix('_threshold')} {th[k]:.5g}" for k in
        ("gold_threshold", "silver_threshold", "bronze_threshold", "median_threshold")))
    held = ", ".join(f"{k}: {v} rows" for k, v in info["heldouts"].items())
    if info["heldout_seed"] is not None:
        held += f" (seed {info['heldout_seed']})"
    grid.add_row("held-out sets", held)
    grid.add_row("public files", "\n".join(
        f"{f['file']}{'/' if f['kind'] == 'dir' else ''}"
        + (f"  ({f['rows']} rows)" if f["rows"] is not None else "") for f in info["files"]))
    problem = info["problem"]
    if problem:
        columns = problem["id_columns"] + problem["submission_columns"][:6]
        more = " ..." if len(problem["submission_columns"]) > 6 else ""
        grid.add_row("submission", f"{','.join(columns)}{more} ({problem['prediction']})")
    console.print(Panel(grid, title=info["task_id"], expand=False), highlight=False)
    if info["description_head"]:
        console.print(Panel(info["description_head"], title="description.md (head)",
                            expand=False), highlight=False, markup=False)


@datasets_app.command("prepare")
@user_errors
def prepare(
    source: Path = typer.Argument(..., help="A task YAML, or a raw folder holding task.yaml."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the prepared task to."),
    raw_dir: Path | None = typer.Option(None, "--raw-dir", help="Folder the YAML's file paths "
                                        "are relative to (default: the YAML's folder)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --out."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Turn raw Kaggle-style CSV files described by a task YAML into the prepared layout.

    Without a test file the train file is split 90/10 with train_test_split(test_size=0.1,
    random_state=0) (MLE-bench's convention). Writes OUT/prepared/public, OUT/prepared/private,
    OUT/checksums.yaml (md5) and OUT/task.yaml, which `--task OUT/task.yaml` then uses.

    YAML fields: name, files (train; test + answers; sample_submission; extra), id_column,
    target_columns, metric, direction, prediction, positive_label, class_columns,
    text_columns, drop_columns, split (test_size, random_state), leaderboard, title,
    description / description_file.
    """
    import yaml

    from aira_eval.datasets.prepare import CHECKSUMS_FILE
    from aira_eval.datasets.yaml_prepare import prepare_yaml
    from aira_eval.datasets.yaml_task import load_task_yaml

    yaml_path = source / "task.yaml" if source.is_dir() else source
    if not yaml_path.is_file():
        raise UsageError(f"task YAML {yaml_path} does not exist",
                         hint="Pass a task YAML file, or a folder that holds task.yaml.")
    spec = load_task_yaml(yaml_path, raw_dir=raw_dir or (source if source.is_dir() else None))
    written = prepare_yaml(spec, out, overwrite=overwrite)
    # {"private": {file: md5}, "public": {...}}, as just written (no second hashing pass)
    checksums = yaml.safe_load((written.parent / CHECKSUMS_FILE).read_text())
    if as_json:
        print_json({"task_yaml": str(written), "out": str(out), "checksums": checksums})
        return
    console.print(f"[green]prepared[/] {spec.name} into {out}", highlight=False)
    for side, files in checksums.items():
        for name, digest in files.items():
            console.print(f"  {side}/{name}  md5 {digest}", highlight=False)
    console.print(f"use it with: --task {written}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
