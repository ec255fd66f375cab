"""``aira-eval import aide|dojo``: peers' search logs as aira-eval studies.

One log or a folder of them; ``--regrade`` re-runs every node's code as the peer ran it (its
working-dir convention, detected from the log or given by ``--input-dir`` /
``--submission-path``) in a chosen environment (``--sandbox-python``, or ``--sandbox docker
--image``), in parallel (``--workers``) and resumably (run the same command again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from aira_eval.cli._common import console, err_console, fail, print_json, user_errors
from aira_eval.errors import UsageError

if TYPE_CHECKING:
    from aira_eval.importers.batch import ImportOutcome
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
    """``aira_eval.search.regrade.regrade_study`` when the search engine provides it."""
    import importlib

    try:
        module = importlib.import_module("aira_eval.search.regrade")
    except ImportError:
        return None
    func = getattr(module, "regrade_study", None)
    return func if callable(func) else None


@dataclass
class _Options:
    """The options both importers share."""

    out: Path
    data_dir: Path | None
    regrade: bool
    sandbox: str
    image: str | None
    python: str | None
    workers: int
    timeout_s: float
    redo: bool
    input_dir: str | None
    submission_path: str | None
    as_json: bool


OUT = typer.Option(..., "--out", help="Study directory to write (or extend).")
DATA_DIR = typer.Option(None, "--data-dir", help="Task data dir.")
REGRADE = typer.Option(False, "--regrade", help="Re-run every node's code in the sandbox on "
                       "the task and grade it; run again to resume.")
SANDBOX = typer.Option("local", "--sandbox", help="Re-grade backend: local or docker.")
IMAGE = typer.Option(None, "--image", help="Docker image of the re-grade environment.")
PYTHON = typer.Option(None, "--sandbox-python", help="Interpreter (or virtualenv dir) that "
                      "runs the scripts (local sandbox), e.g. one with the agent's pandas.")
WORKERS = typer.Option(1, "--workers", min=1, help="Nodes re-run at once.")
TIMEOUT = typer.Option(600.0, "--timeout", min=1.0, help="Per-node time limit (s).")
REDO = typer.Option(False, "--redo", help="Re-run nodes already regraded.")
INPUT_DIR = typer.Option(None, "--input-dir", help="Where the scripts read the task files "
                         "(./input, ./data, /home/data); default: detected from the log.")
SUBMISSION = typer.Option(None, "--submission-path", help="Where the scripts write their "
                          "submission (./working/submission.csv ...); default: detected.")
AS_JSON = typer.Option(False, "--json", help="Print a JSON summary.")


def _check(opts: _Options) -> None:
    if opts.regrade and _regrader() is None:
        raise UsageError(REGRADE_UNAVAILABLE, hint="Import without --regrade; the imported "
                         "nodes keep their validation scores only.")
    if opts.sandbox not in ("local", "docker"):
        raise UsageError(f"unknown sandbox {opts.sandbox!r}", hint="Use local or docker.")
    if opts.python and opts.sandbox == "docker":
        raise UsageError("--sandbox-python is for the local sandbox",
                         hint="With docker the image's python runs the scripts (--image).")


def _run(parse: Callable[[Path, str | None], ImportedSearch],
         sources: list[tuple[Path, str | None]], opts: _Options) -> None:
    from aira_eval.importers.batch import import_batch

    _check(opts)

    def parse_with(source: Path, search_id: str | None) -> ImportedSearch:
        search = parse(source, search_id)
        search.convention = search.convention.with_overrides(opts.input_dir,
                                                             opts.submission_path)
        return search

    outcomes = import_batch(parse_with, sources, opts.out, data_dir=opts.data_dir,
                            keep_existing=opts.regrade or len(sources) > 1)
    nodes: dict[str, Any] = {}
    warnings: list[str] = []
    if opts.regrade:
        nodes, warnings = _regrade(outcomes, opts)
    _report(outcomes, nodes, warnings, opts)


def _regrade(outcomes: list[ImportOutcome], opts: _Options) -> tuple[dict[str, Any], list[str]]:
    """Probe the environment, warn where the logs' versions differ, re-run with a progress bar;
    the journals' nodes after the re-grade, per search id."""
    from aira_eval.importers.versions import version_warnings
    from aira_eval.search.environment import check_python, probe_environment
    from aira_eval.search.regrade import RegradeOptions, make_regrade_sandbox, regrade_searches
    from aira_eval.study.journal import JournalFile
    from aira_eval.study.manifest import StudyManifest

    options = RegradeOptions(data_dir=opts.data_dir, timeout_s=opts.timeout_s,
                             sandbox=opts.sandbox, image=opts.image,
                             python=check_python(opts.python), workers=opts.workers,
                             redo=opts.redo)
    env = probe_environment(make_regrade_sandbox(options), options.python, options.image)
    manifest = StudyManifest.read(opts.out)
    manifest.config["sandbox_environment"] = env
    manifest.write(opts.out)
    warnings = [f"{o.search.search_id}: {w}" for o in outcomes
                for w in version_warnings(o.search.log_versions, env)]
    for line in warnings if not opts.as_json else []:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False)
    ids = [o.search.search_id for o in outcomes]
    try:
        with _Progress(opts.as_json) as (on_plan, on_node):
            regrade_searches(opts.out, ids, options, on_node=on_node, on_plan=on_plan,
                             environment=env)
    except KeyboardInterrupt:
        fail("re-grade interrupted; every node finished so far is journaled",
             "Run the same command again to resume.", code=130)
    return {sid: JournalFile(opts.out / "searches" / sid / "journal.jsonl").read()
            for sid in ids}, warnings


class _Progress:
    """A rich progress bar on stderr fed by the re-grade's callbacks."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                            disable=quiet)
        self.task = self.bar.add_task("re-grading", total=None)

    def __enter__(self) -> tuple[Callable[[int, int], None], Callable[[str, Any], None]]:
        self.bar.start()

        def on_plan(todo: int, done: int) -> None:
            note = f" ({done} already regraded)" if done else ""
            self.bar.update(self.task, total=todo, description=f"re-grading{note}")

        def on_node(search_id: str, node: Any) -> None:
            self.bar.update(self.task, advance=1,
                            description=f"{search_id[:40]} {node.status}")

        return on_plan, on_node

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _report(outcomes: list[ImportOutcome], nodes: dict[str, Any], warnings: list[str],
            opts: _Options) -> None:
    from aira_eval.importers.summary import search_summary

    per = [{**search_summary(o.search, nodes.get(o.search.search_id)), "state": o.state}
           for o in outcomes]
    total = _totals(per)
    summary: dict[str, Any] = {"study": str(opts.out), **total, "searches": per,
                               "environment_warnings": warnings}
    if len(per) == 1:
        summary = {**per[0], **summary}
    if opts.as_json:
        print_json(summary)
        return
    for item in per:
        _print_search(item, opts.out)
    if len(per) > 1:
        console.print(f"{len(per)} searches, {total['nodes']} nodes; statuses: "
                      f"{total['statuses']}", highlight=False)


def _totals(per: list[dict[str, Any]]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for item in per:
        for key, count in item["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    return {"nodes": sum(i["nodes"] for i in per), "statuses": statuses,
            "with_val": sum(i["with_val"] for i in per),
            "with_test": sum(i["with_test"] for i in per)}


def _print_search(item: dict[str, Any], out: Path) -> None:
    verb = "imported" if item["state"] == "imported" else "kept (already imported)"
    conv = item["convention"]
    console.print(f"{verb} [bold]{item['nodes']}[/] nodes of {item['importer']} search "
                  f"{item['search_id']} (task {item['task']}) into {out}; convention "
                  f"{conv['name']} ({conv['detected_from']})", highlight=False)
    console.print(f"statuses: {item['statuses']}; with validation score: {item['with_val']}; "
                  f"with test score: {item['with_test']}", highlight=False)
    comp = item.get("val_comparison")
    if comp:
        diff = comp["max_abs_diff"]  # 4 significant digits (the JSON keeps every digit)
        console.print(f"validation, log vs re-run: {comp['compared']} compared, "
                      f"{comp['disagree']} disagree (max |diff| "
                      f"{diff if diff is None else format(diff, '.4g')}); "
                      f"re-run val from: {comp['val_sources']}", highlight=False)
        for row in comp["disagreements"]:
            console.print(f"[yellow]finding:[/] {row['node_id']}: log {row['log_val']} vs "
                          f"re-run {row['rerun_val']}", highlight=False)
    for note in item["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for warning in item["warnings"]:
        err_console.print(f"[yellow]warning:[/] {item['search_id']}: {warning}",
                          highlight=False)


@import_app.command("aide")
@user_errors
def import_aide(
    journal: Path = typer.Argument(..., help="An AIDE run's journal.json, or a folder of runs."),
    task: str = typer.Option(..., "--task", help="Task id the run(s) solved."),
    out: Path = OUT,
    search_id: str | None = typer.Option(None, "--search-id", help="Search id (default: "
                                         "aide__<run dir name>; one journal only)."),
    regrade: bool = REGRADE, data_dir: Path | None = DATA_DIR, sandbox: str = SANDBOX,
    image: str | None = IMAGE, sandbox_python: str | None = PYTHON, workers: int = WORKERS,
    timeout: float = TIMEOUT, redo: bool = REDO, input_dir: str | None = INPUT_DIR,
    submission_path: str | None = SUBMISSION, as_json: bool = AS_JSON,
) -> None:
    """Import AIDE journal.json files (validation scores only; --regrade adds test scores)."""
    from aira_eval.importers.aide import parse_aide_journal
    from aira_eval.importers.batch import batch_search_id, find_aide_journals

    journals = find_aide_journals(journal)
    batch = len(journals) > 1 or (journal.is_dir() and not (journal / "journal.json").is_file())
    if batch and search_id:
        raise UsageError("--search-id names one search; a folder of runs gets one id per run")
    sources = [(j, batch_search_id("aide", journal, j.parent) if batch else search_id)
               for j in journals]
    opts = _Options(out, data_dir, regrade, sandbox, image, sandbox_python, workers, timeout,
                    redo, input_dir, submission_path, as_json)
    _run(lambda p, sid: parse_aide_journal(p, task=task, search_id=sid), sources, opts)


@import_app.command("dojo")
@user_errors
def import_dojo(
    run_dir: Path = typer.Argument(..., help="An aira-dojo run's output directory, or a "
                                   "folder of them."),
    out: Path = OUT,
    task: str | None = typer.Option(None, "--task", help="Task id (default: from "
                                    "dojo_config.json, e.g. mlebench:<competition>)."),
    search_id: str | None = typer.Option(None, "--search-id", help="Search id (default: "
                                         "dojo__<run dir name>; one run only)."),
    regrade: bool = REGRADE, data_dir: Path | None = DATA_DIR, sandbox: str = SANDBOX,
    image: str | None = IMAGE, sandbox_python: str | None = PYTHON, workers: int = WORKERS,
    timeout: float = TIMEOUT, redo: bool = REDO, input_dir: str | None = INPUT_DIR,
    submission_path: str | None = SUBMISSION, as_json: bool = AS_JSON,
) -> None:
    """Import aira-dojo run directories (validation and test scores)."""
    from aira_eval.importers.batch import batch_search_id, find_dojo_runs
    from aira_eval.importers.dojo import parse_dojo_run

    runs = find_dojo_runs(run_dir)
    batch = len(runs) > 1 or runs[0] != run_dir
    if batch and search_id:
        raise UsageError("--search-id names one search; a folder of runs gets one id per run")
    sources = [(r, batch_search_id("dojo", run_dir, r) if batch else search_id) for r in runs]
    opts = _Options(out, data_dir, regrade, sandbox, image, sandbox_python, workers, timeout,
                    redo, input_dir, submission_path, as_json)
    _run(lambda p, sid: parse_dojo_run(p, task=task, search_id=sid), sources, opts)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
