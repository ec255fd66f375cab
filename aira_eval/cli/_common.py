"""Shared CLI plumbing: one console, user-facing errors, JSON output.

Command modules import only typer/rich and this module at import time; heavy libraries are
imported inside the command functions so ``aira-eval --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from aira_eval.errors import AiraEvalError, UsageError


class PlainConsole(Console):
    """A rich console that never hard-wraps text.

    Strings (messages, hints, notes, paths) are printed in soft-wrap mode: rich inserts no line
    breaks, so a message stays one line whatever the terminal width, and logs or redirected
    output can be grepped. Tables, panels and other renderables keep rich's layout at the
    console's width (80 columns when the stream is not a terminal, unless ``COLUMNS`` says
    otherwise).
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if objects and all(isinstance(o, str) for o in objects):
            kwargs.setdefault("soft_wrap", True)
        super().print(*objects, **kwargs)


console = PlainConsole()
err_console = PlainConsole(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DATA_DIR = Path("~/.cache/mle-bench/data")


def fail(message: str, hint: str | None = None, code: int = 2) -> NoReturn:
    """Print a user-facing error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    if hint:
        err_console.print(f"[yellow]hint:[/] {hint}", highlight=False)
    raise typer.Exit(code)


def user_errors(func: F) -> F:
    """Turn :class:`AiraEvalError` raised by the library into a clean CLI error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import click

        try:
            return func(*args, **kwargs)
        except UsageError as err:
            fail(err.message, err.hint, code=2)
        except AiraEvalError as err:
            fail(err.message, err.hint, code=1)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException,
                click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # the CLI framework's own exits and usage errors
        except Exception as err:  # a bug: a short message, the traceback kept in a file
            where = _save_traceback()
            fail(f"internal error: {type(err).__name__}: {err}",
                 f"This is a bug in aira-eval; the traceback is in {where}. Please report it.",
                 code=1)

    return wrapper  # type: ignore[return-value]


def _save_traceback() -> Path:
    import tempfile
    import traceback

    fd, name = tempfile.mkstemp(prefix="aira-eval-error-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(traceback.format_exc())
    return Path(name)


def print_json(payload: Any) -> None:
    """Print JSON to stdout, plain (no rich markup), so it pipes into jq."""
    typer.echo(json.dumps(payload, indent=2, default=str, allow_nan=True))


def resolve_data_dir(data_dir: Path | None) -> Path:
    """``--data-dir``, else ``$AIRA_EVAL_DATA_DIR``, else ``~/.cache/mle-bench/data``."""
    if data_dir is not None:
        return data_dir.expanduser()
    env = os.environ.get("AIRA_EVAL_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR.expanduser()


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def require_file(path: Path, what: str, regular: bool = False) -> Path:
    """``path``, which must exist (and with ``regular``, be a regular file: a FIFO or a
    device such as /dev/zero would block or never end)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist",
                         hint="Check the path and try again.") from None
    except OSError as err:
        raise UsageError(f"{what} {path} cannot be read: {err.strerror}") from None
    if regular and not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise UsageError(f"{what} {path} is {kind}, not a regular file",
                         hint="Pass the path of a CSV file.")
    return path


def require_out_dir(path: Path) -> Path:
    """``--out``, which may be missing or a directory but never an existing file (or FIFO)."""
    from aira_eval.study.lock import require_study_dir

    return require_study_dir(path, "--out")
