"""Small helpers to write readable Python source: literals, calls and import blocks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

LINE_LIMIT = 100


class Raw(str):
    """Source text inserted as is (a name such as ``SEED``, or a nested call)."""

    __slots__ = ()


def py(value: Any) -> str:
    """A Python literal for ``value``; strings in double quotes."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    return repr(value)


def py_list(values: Sequence[Any], indent: int = 0, first_line: int = 0) -> str:
    """A list literal, wrapped over several lines when it is long."""
    flat = py(list(values))
    if first_line + len(flat) <= LINE_LIMIT:
        return flat
    pad = " " * (indent + 4)
    lines, current = [], ""
    for item in (py(v) + "," for v in values):
        if current and len(pad) + len(current) + 1 + len(item) > LINE_LIMIT:
            lines.append(pad + current)
            current = item
        else:
            current = f"{current} {item}" if current else item
    lines.append(pad + current)
    return "[\n" + "\n".join(lines) + "\n" + " " * indent + "]"


def call(name: str, args: dict[str, Any] | None = None, indent: int = 0, prefix: int = 0) -> str:
    """``Name(a=1, b="x")``; one argument per line when the call would be too long.

    A key starting with ``*`` is positional (its value is inserted without a name).
    """
    parts = [py(v) if k.startswith("*") else f"{k}={py(v)}" for k, v in (args or {}).items()]
    flat = f"{name}({', '.join(parts)})"
    if indent + prefix + len(flat) <= LINE_LIMIT:
        return flat
    pad = " " * (indent + 4)
    body = ",\n".join(pad + p for p in parts)
    return f"{name}(\n{body},\n{' ' * indent})"


def import_lines(names: Iterable[tuple[str, str]]) -> list[str]:
    """``from module import a, b`` lines, sorted by module then name."""
    by_module: dict[str, set[str]] = {}
    for module, name in names:
        by_module.setdefault(module, set()).add(name)
    return [
        f"from {module} import {', '.join(sorted(by_module[module]))}"
        for module in sorted(by_module)
    ]
