"""CLI output is never hard-wrapped: messages stay whole lines whatever the path length."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from typer.testing import CliRunner

from aira_eval.cli._common import PlainConsole
from aira_eval.cli.main import app

runner = CliRunner()


def test_errors_stay_on_one_line_with_a_long_path(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 8), "nowhere")
    result = runner.invoke(app, ["select", str(deep)])
    assert result.exit_code == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == [f"error: study {deep} does not exist"]
    assert len(result.stderr.splitlines()) == 2  # the error and its hint, nothing wrapped


def test_plain_text_is_not_wrapped_but_tables_keep_their_width(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as fh:
        console = PlainConsole(file=fh, width=40)
        console.print("word " * 30)
        table = Table("name", "value")
        table.add_row("x" * 30, "y" * 30)
        console.print(table)
    lines = out.read_text().splitlines()
    assert lines[0].strip() == ("word " * 30).strip()
    assert all(len(line) <= 40 for line in lines[1:])  # the table is laid out in 40 columns
