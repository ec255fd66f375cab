"""Errors meant for the user: each names what was wrong and how to fix it."""

from __future__ import annotations

import difflib
import errno
from collections.abc import Sequence


class AiraEvalError(Exception):
    """Base class of every error aira-eval reports to a user.

    The CLI prints ``str(err)`` (and ``err.hint`` when set) and exits with status 2 for
    usage errors, never a traceback.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(AiraEvalError):
    """Bad input from the user: an unknown task, a missing file, a bad option value."""


class TaskNotFoundError(UsageError):
    """A task id that no source knows."""


class DataError(AiraEvalError):
    """Data on disk is missing, malformed, or of a newer schema than this version reads."""


def unknown_name(kind: str, name: str, choices: Sequence[str]) -> UsageError:
    """``unknown <kind> 'name'``, with the closest choices suggested and every choice listed."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    listed = f"Choices: {', '.join(choices)}."
    hint = f"Did you mean {' or '.join(close)}? {listed}" if close else listed
    return UsageError(f"unknown {kind} {name!r}", hint=hint)


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")


def disk_full(err: BaseException) -> OSError | None:
    """The "no space left" (or "quota exceeded") :class:`OSError` behind ``err``, if any.

    Looks through the chain of causes, and also recognises libraries (pyarrow) that raise an
    :class:`OSError` without an errno but with the system's message.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
                current.errno in _FULL_ERRNOS or any(t in str(current) for t in _FULL_TEXTS)):
            return current
        current = current.__cause__ or current.__context__
    return None
