"""Errors meant for the user: each names what was wrong and how to fix it."""

from __future__ import annotations

import difflib
import errno
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any


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


_EXPECTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a mapping"}
_PLURAL = {int: "integers", float: "numbers", str: "strings"}


def check_field_types(options: Any, labels: Mapping[str, str] | None = None,
                      hint: Callable[[str], str] | None = None) -> None:
    """Every field of the dataclass ``options`` has its declared type (a YAML ``steps: two``,
    a Python ``resamples="100"``), else a usage error naming the field (``labels[field]``,
    e.g. ``"resamples (--resamples)"``), the type expected and the value given. A path object
    (``pathlib.Path``) given for a field becomes its string."""
    for key, annotation in typing.get_type_hints(type(options)).items():
        value = getattr(options, key)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
            setattr(options, key, value)
        expected = _expected(annotation, value)
        if expected is not None:
            name = (labels or {}).get(key, key)
            raise UsageError(f"{name} must be {expected}, got {value!r}",
                             hint=hint(key) if hint else None)


def _expected(annotation: Any, value: Any) -> str | None:
    """What ``value`` should be, or None when it fits ``annotation``."""
    optional = False
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        if value is None:
            return None
        optional = True
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:  # its values are checked elsewhere
        annotation = type(typing.get_args(annotation)[0])
    base = typing.get_origin(annotation) or annotation
    items = typing.get_args(annotation)
    fits = _fits(value, base) and not (
        base is list and items and not all(_fits(v, items[0]) for v in value))
    if fits:
        return None
    what = _EXPECTED.get(base, str(base))
    if base is list and items:
        what = f"a list of {_PLURAL.get(items[0], str(items[0]))}"
    return what + (" or null" if optional else "")


def _fits(value: Any, base: Any) -> bool:
    if isinstance(value, bool):
        return base is bool
    if base is float:
        return isinstance(value, int | float)
    if base is list:
        return isinstance(value, list | tuple)
    return isinstance(value, base)
