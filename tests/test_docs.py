"""The docs' commands exist as written, and the docs hold no path of one machine.

Every ``aira-eval ...`` line in a fenced code block of README.md and docs/*.md (continuation
lines joined, ``$ `` prompts stripped) must name an existing command, only options that command
has, and parse (click's ``make_context``, resilient: no file is touched, nothing runs).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from aira_eval.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# Absolute paths of the machine the docs were written on; container paths (`-w /work`,
# `--tmpfs /tmp`) and the sandbox's own `/tmp` are not host paths.
MACHINE_PATH = re.compile(r"/work/(shared|main|wt|venv|\.library)\b|/tmp/[\w.-]+")


def _code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)[^\n]*\n(.*?)^```", text, flags=re.M | re.S)


def _commands(path: Path) -> list[str]:
    found = []
    for lang, block in _code_blocks(path.read_text()):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if lang == "text" and not line.startswith("$ "):
                continue  # output, e.g. `aira-eval 0.1.0` printed by --version
            line = line.removeprefix("$ ")
            if line.startswith("aira-eval "):
                line = re.split(r"\s*(?:\||&&|;|2?>)\s*", line)[0]
                line = line.split(" #")[0]
                found.append(line)
    return found


CASES = [(path, line) for path in DOCS for line in _commands(path)]


def _leaf(root: Any, args: list[str]) -> tuple[Any, list[str], list[str]]:
    command, names = root, ["aira-eval"]
    while getattr(command, "commands", None) and args and not args[0].startswith("-"):
        name = args.pop(0)
        assert name in command.commands, f"no command {' '.join([*names, name])}"
        command = command.commands[name]
        names.append(name)
    return command, names, args


def test_the_docs_show_commands() -> None:
    assert len(CASES) > 30  # the extraction finds the docs' commands (cli.md alone has dozens)


@pytest.mark.parametrize(("path", "line"), CASES,
                         ids=[f"{p.name}:{line[:60]}" for p, line in CASES])
def test_doc_command_exists_and_parses(path: Path, line: str) -> None:
    assert "../shared" not in line, "a path next to one checkout: use $DATA_DIR"
    root = typer.main.get_command(app)
    command, names, args = _leaf(root, shlex.split(line)[1:])
    if "--help" in args or "--version" in args:
        return
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for arg in args:
        if arg.startswith("-") and arg != "-" and not re.fullmatch(r"-\d.*", arg):
            assert arg.split("=")[0] in known, f"{path.name}: {' '.join(names)} has no {arg}"
    command.make_context(" ".join(names), list(args), resilient_parsing=True)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_hold_no_absolute_path_of_this_machine(path: Path) -> None:
    hits = [f"{n}: {line}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if MACHINE_PATH.search(line)]
    assert not hits, "\n".join(hits)


def test_files_the_docs_name_exist() -> None:
    for path in DOCS:
        for name in re.findall(r"\bexamples/[\w./-]+\.\w+", path.read_text()):
            assert (ROOT / name).is_file(), f"{path.name} names {name}, which the repo lacks"
