"""Click-style ``--help``: ``--seeds TEXT``, ``--steps INTEGER``, ``STUDY...``.

Typer 0.29 prints Python types (``<int>``, ``<list[str]>``) and wraps required arguments in
braces (``{studies}...``). :func:`plain_help` walks the click command tree once after every
command is registered and gives each parameter the metavar click itself would print, so every
command module gets the same help without repeating metavars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

from typer.core import TyperArgument, TyperGroup, TyperOption

_TYPE_NAMES: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH",
                               bool: "BOOLEAN"}


class _PlainArgument(TyperArgument):
    """A typer argument shown as click shows one: ``STUDY...`` / ``[NAME]``."""

    def _plain_name(self) -> str:
        name = self.metavar or (self.name or "").upper()
        return name + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._plain_name()
        return name if self.required else f"[{name}]"

    def _rich_display_name(self) -> str:
        return self._plain_name()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the name says it all: no ``<list[Path]>`` after it


class _PlainOption(TyperOption):
    """A typer option whose ``show_default="20"`` reads ``[default: 20]`` (not ``(20)``)."""

    def _get_default_string(self, *, ctx: Any, show_default_is_str: bool,
                            default_value: Any) -> str:
        if show_default_is_str:
            return str(self.show_default)
        return super()._get_default_string(ctx=ctx, show_default_is_str=False,
                                           default_value=default_value)


def _option_metavar(param: TyperOption) -> str | None:
    """``TEXT``, ``INTEGER``, ``FLOAT``, ``PATH``, ``[a|b]``; None for flags."""
    if param.is_flag or param.count:
        return None
    desc = param.type_descriptor
    if desc.choices is not None:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    annotation = desc.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if desc.is_path:
        return "PATH"
    name = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", "VALUE"))
    return name.upper()


def plain_help(command: Any) -> Any:
    """Give every parameter of ``command`` (and its subcommands) a click-style metavar.

    Metavars set explicitly (``typer.Argument(..., metavar="STUDY")``) are kept. Returns
    ``command`` for chaining.
    """
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = _PlainArgument
        elif isinstance(param, TyperOption):
            param.__class__ = _PlainOption
            if param.metavar is None:
                param.metavar = _option_metavar(param)
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


class PlainHelpGroup(TyperGroup):
    """The app's root group (``typer.Typer(cls=PlainHelpGroup)``): :func:`plain_help` on build.

    Typer builds the click tree on every invocation (``main()``, ``CliRunner``), subcommands
    and sub-apps first, so the walk in ``__init__`` reaches every command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)
