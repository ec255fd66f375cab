"""``--help`` reads like a click CLI: ``--seeds TEXT``, ``STUDY...``, defaults shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from aira_eval.cli.main import app

runner = CliRunner()


def _help(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], prog_name="aira-eval")
    assert result.exit_code == 0, result.output
    return result.output


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(command, "commands", {})
    found = [path]
    for name, sub in subs.items():
        found += _commands(sub, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(typer.main.get_command(app)), ids=" ".join)
def test_no_python_types_in_any_help(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert not re.search(r"<(list\[|str>|int>|float>|path>|bool>)", text), text
    assert not re.search(r"\{\w+\}", text), text  # typer's `{studies}...` usage


def test_search_help_shows_click_metavars_and_the_config_defaults() -> None:
    from aira_eval.search.config import StudyConfig

    text = " ".join(_help("search").split())  # unwrap
    for option in ("--seeds TEXT", "--steps INTEGER", "--time-budget FLOAT", "--out PATH"):
        assert option in text
    defaults = StudyConfig()
    shown = {"--steps": defaults.steps, "--workers": defaults.workers,
             "--operators": defaults.operators, "--fitness": defaults.fitness,
             "--sandbox": defaults.sandbox, "--memory-mb": defaults.memory_mb,
             "--node-timeout": f"{defaults.node_timeout_s:g}",
             "--request-timeout": f"{defaults.request_timeout_s:g}",
             "--seeds": ",".join(map(str, defaults.seeds)),
             "--task": defaults.tasks[0], "--policy": defaults.policies[0],
             "--description": defaults.description}
    for option, value in shown.items():
        match = re.search(re.escape(option) + r" [A-Z]+ .*?\[default: ([^\]]+)\]", text)
        assert match is not None, option
        assert match.group(1) == str(value), option


def test_bug_rate_default_matches_the_operators() -> None:
    from aira_eval.search.operators.procedural.bugs import DEFAULT_BUG_RATE

    text = " ".join(_help("search").split())
    assert f"--bug-rate FLOAT Procedural operators: share of drafts/improves given a realistic " \
        f"bug (0: scripts never fail by design). {DEFAULT_BUG_RATE} is not a published rate: " \
        "the AIDE, AIRA-dojo and MLE-bench papers give none per node (see docs/search.md). " \
        f"[default: {DEFAULT_BUG_RATE}]" in text


@pytest.mark.parametrize("command", ["select", "check", "report"])
def test_study_arguments_read_study_dots(command: str) -> None:
    text = _help(command)
    assert f"Usage: aira-eval {command} [OPTIONS] STUDY..." in text
    assert "\n  STUDY...  " in text


def test_missing_argument_names_it_plainly() -> None:
    result = runner.invoke(app, ["select"], prog_name="aira-eval")
    assert result.exit_code == 2
    assert "Missing argument 'STUDY'" in result.output


def test_main_uses_the_plain_help(capsys: pytest.CaptureFixture[str]) -> None:
    from aira_eval.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        import sys
        argv, sys.argv = sys.argv, ["aira-eval", "select", "--help"]
        try:
            main()
        finally:
            sys.argv = argv
    assert exit_info.value.code == 0
    assert "--k INTEGER" in capsys.readouterr().out
