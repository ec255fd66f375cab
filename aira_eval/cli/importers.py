"""``aira-eval import aide|dojo``: peers' search logs as aira-eval studies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aira_eval.cli._common import console, print_json, user_errors
from aira_eval.errors import UsageError

if TYPE_CHECKING:
    from aira_eval.importers.common import ImportedSearch

import_app = typer.Typer(
    name="import", help="Import peers' search logs (AIDE, aira-dojo) as a study.",
    no_args_is_help=True,
)

REGRADE_UNAVAILABLE = (
    "--regrade needs the search engine's regrade API "
    "(aira_eval.search.regrade.regrade_study), which this installation does not have yet"
)


def _regrader() -> Callable[..., object] | None:
    """``aira_eval.search.regrade.regrade_study(study_dir, search_id, data_dir=...)`` — re-run
    every node of one imported search in the sandbox, grade it, rewrite the node table — when
    the search engine provides it."""
    import importlib

    try:
        module = importlib.import_module("aira_eval.search.regrade")
    except ImportError:
        return None
    func = getattr(module, "regrade_study", None)
    return func if callable(func) else None


def _check_regrade(regrade: bool) -> Callable[..., object] | None:
    if not regrade:
        return None
    func = _regrader()
    if func is None:
        raise UsageError(REGRADE_UNAVAILABLE,
                         hint="Import without --regrade; the imported nodes keep their "
                              "validation scores only.")
    return func


def _summary(search: ImportedSearch, out: Path) -> dict[str, object]:
    statuses: dict[str, int] = {}
    for node in search.nodes:
        statuses[node.status] = statuses.get(node.status, 0) + 1
    return {
        "study": str(out), "search_id": search.search_id, "task": search.task,
        "importer": search.importer, "nodes": len(search.nodes), "statuses": statuses,
        "with_val": sum("val" in n.scores for n in search.nodes),
        "with_test": sum("test" in n.scores for n in search.nodes),
        "lower_is_better": search.lower_is_better, "notes": search.notes,
    }


def _report(search: ImportedSearch, out: Path, as_json: bool) -> None:
    summary = _summary(search, out)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"imported [bold]{len(search.nodes)}[/] nodes of {search.importer} search "
        f"{search.search_id} (task {search.task}) into {out}", highlight=False)
    console.print(f"statuses: {summary['statuses']}; with validation score: "
                  f"{summary['with_val']}; with test score: {summary['with_test']}",
                  highlight=False)
    for note in search.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@import_app.command("aide")
@user_errors
def import_aide(
    journal: Path = typer.Argument(..., help="An AIDE run's journal.json."),
    task: str = typer.Option(..., "--task", help="Task id the run solved."),
    out: Path = typer.Option(..., "--out", help="Study directory to write (or extend)."),
    search_id: str | None = typer.Option(None, "--search-id", help="Search id (default: "
                                         "aide__<run dir name>)."),
    regrade: bool = typer.Option(False, "--regrade", help="Re-run every node's code in the "
                                 "sandbox on the task and grade it (needs the search engine)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Task data dir."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Import an AIDE journal.json (validation scores only; --regrade adds test scores)."""
    from aira_eval.importers.aide import parse_aide_journal
    from aira_eval.importers.common import write_imported_study

    regrader = _check_regrade(regrade)
    search = parse_aide_journal(journal, task=task, search_id=search_id)
    write_imported_study(search, out, data_dir=data_dir)
    if regrader is not None:
        from aira_eval.study.journal import JournalFile

        regrader(out, search.search_id, data_dir=data_dir)
        journal = out / "searches" / search.search_id / "journal.jsonl"
        search.nodes = JournalFile(journal).read()  # report the regraded statuses and scores
    _report(search, out, as_json)


@import_app.command("dojo")
@user_errors
def import_dojo(
    run_dir: Path = typer.Argument(..., help="An aira-dojo run's output directory."),
    out: Path = typer.Option(..., "--out", help="Study directory to write (or extend)."),
    task: str | None = typer.Option(None, "--task", help="Task id (default: from "
                                    "dojo_config.json, e.g. mlebench:<competition>)."),
    search_id: str | None = typer.Option(None, "--search-id", help="Search id (default: "
                                         "dojo__<run dir name>)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Task data dir."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Import an aira-dojo run directory (validation and test scores)."""
    from aira_eval.importers.common import write_imported_study
    from aira_eval.importers.dojo import parse_dojo_run

    search = parse_dojo_run(run_dir, task=task, search_id=search_id)
    write_imported_study(search, out, data_dir=data_dir)
    _report(search, out, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
