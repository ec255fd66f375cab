"""``aira-eval clean``: remove what a killed study left running (its sandbox containers)."""

from __future__ import annotations

from pathlib import Path

import typer

from aira_eval.cli._common import console, user_errors


def clean(
    study: Path = typer.Argument(..., help="Study directory (holding study.json)."),
) -> None:
    """Remove the docker containers labelled with STUDY (left by a killed `aira-eval search`)."""
    from aira_eval.errors import UsageError
    from aira_eval.search.config import StudyConfig
    from aira_eval.study.manifest import StudyManifest

    if not (study / "study.json").is_file():
        raise UsageError(f"{study} holds no study.json", hint="Pass a study directory.")
    config = StudyConfig.from_dict(StudyManifest.read(study).config)
    if config.sandbox != "docker":
        console.print(f"{study}: sandbox {config.sandbox!r} leaves nothing running; "
                      "nothing to clean")
        return
    from aira_eval.search.sandbox.docker import reap

    removed = reap(study)
    console.print(f"{study}: removed {removed} container(s)")


def register(app: typer.Typer) -> None:
    app.command("clean")(user_errors(clean))
