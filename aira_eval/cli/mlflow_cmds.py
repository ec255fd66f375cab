"""``aira-eval sync`` and ``aira-eval ui``: a study's MLflow runs, backfilled and browsed."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape

from aira_eval.cli._common import console, err_console, fail, print_json, user_errors


@user_errors
def sync(
    study: Path = typer.Argument(..., help="Study directory (the --out of `aira-eval search`)."),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", "--mlflow-uri", help="MLflow tracking URI (default: the one "
        "the study was run with, else MLFLOW_TRACKING_URI, else sqlite:///STUDY/mlflow.db)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Log to MLflow every search and node of a study that the store lacks.

    The journals are the source of truth: this backfills nodes finished while a server was
    down, or a whole study moved from another machine. Running it twice logs nothing twice.
    """
    from aira_eval.search.mlflow_sync import sync_study

    _quiet_mlflow()
    try:
        report = sync_study(study, tracking_uri)
    except Exception as err:  # the store is unreachable or refuses: a clear message
        if type(err).__module__.startswith("aira_eval"):
            raise
        first = (str(err).strip().splitlines() or [""])[0][:300]  # not SQL and parameters
        fail(f"MLflow sync failed ({type(err).__name__}: {escape(first)})",
             hint="Check --tracking-uri and that the server is running; nothing was lost: "
             "run sync again.", code=1)
    if as_json:
        print_json(report.__dict__)
        return
    console.print(f"synced {study} to {report.tracking_uri} (experiment {report.experiment}): "
                  f"{report.searches} searches, {report.runs_created} new run(s), "
                  f"{report.nodes_logged} node(s) logged")


@user_errors
def ui(
    study: Path = typer.Argument(..., help="Study directory (its runs' store: the tracking "
                                 "URI it was run with, else MLFLOW_TRACKING_URI, else "
                                 "STUDY/mlflow.db)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(0, "--port", help="Port (default: a free one)."),
) -> None:
    """Start the MLflow UI on a study's store and print its URL (Ctrl-C stops it); a study
    tracked on an MLflow server: print that server's URL."""
    from aira_eval.search.mlflow_server import study_ui

    server, url = study_ui(study, host, port or None)
    if server is None:
        console.print(f"MLflow UI: {url}")
        return
    previous = _stop_on_signals()
    try:
        server.wait_ready()
        console.print(f"MLflow UI: {url}  (Ctrl-C stops it)")
        while server.process.poll() is None:
            time.sleep(1)
        err_console.print(f"[yellow]the MLflow UI exited[/]; see {server.log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()  # the server's whole process group (uvicorn workers too)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_on_signals() -> dict[signal.Signals, Any]:
    """SIGTERM and SIGHUP (``kill``, ``timeout``, a closed terminal) stop the UI as Ctrl-C
    does, so the server is never left running orphaned; returns the handlers replaced."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}


def _quiet_mlflow() -> None:
    import logging

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # a store that fails: one clean error line, not MLflow's own traceback before it
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("ui")(ui)
