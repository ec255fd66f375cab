"""Turn a model's reply into a plan and one complete script.

Rules, in order:

1. ``<think>...</think>`` sections are removed (an unclosed ``<think>`` drops the rest of the
   reply; a stray ``</think>`` drops everything before it).
2. Fenced blocks tagged ``python``, ``py``, ``python3`` or untagged are the candidates; blocks
   tagged with another language (``bash``, ``text``...) are ignored. A final block whose
   closing fence is missing (a reply cut off by the token limit) is a candidate too.
3. Candidates that do not ``compile()`` are dropped; of the rest the **longest** is the
   script. The prompts ask for exactly one block; when a model adds snippets (an example
   call, a helper shown twice) the complete script is the longest block, whereas joining
   blocks would duplicate code.
4. A reply with no fenced block at all is taken as bare code if it compiles and imports
   something (models sometimes drop the fences); prose never compiles that way.
5. The plan is the text before the first fence.

When no script comes out, :attr:`ParsedReply.problem` says why, in words meant as the
follow-up message to the model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)",
                    re.S | re.M)
_PYTHON_TAGS = {"", "python", "py", "python3"}
_FORMAT = ("Reply with a short plan in plain text followed by exactly one fenced code block "
           "(```python ... ```) holding the complete script.")


@dataclass(frozen=True)
class ParsedReply:
    """``code`` is None when the reply held no usable script; ``problem`` then says why."""

    code: str | None
    plan: str
    problem: str | None = None


def strip_think(text: str) -> str:
    """The reply without its reasoning sections."""
    text = _THINK.sub("", text)
    lower = text.lower()
    if "</think>" in lower:
        text = text[lower.rindex("</think>") + len("</think>"):]
    lower = text.lower()
    if "<think>" in lower:
        text = text[: lower.index("<think>")]
    return text.strip()


def _compile_error(code: str) -> str | None:
    try:
        compile(code, "<solution>", "exec")
    except SyntaxError as err:
        return f"SyntaxError: {err.msg} (line {err.lineno})"
    except ValueError as err:  # e.g. null bytes
        return f"ValueError: {err}"
    return None


def _bare_code(text: str) -> str | None:
    if _compile_error(text) is not None:
        return None
    tree = ast.parse(text)
    imports = any(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body)
    return text if imports else None


def parse_reply(reply: str) -> ParsedReply:
    """The plan and script of ``reply`` (see the module docstring for the rules)."""
    text = strip_think(reply)
    blocks = [(m.start(), m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    python = [(start, body) for start, tag, body in blocks if tag in _PYTHON_TAGS]
    plan = text[: blocks[0][0]].strip() if blocks else ""
    if not blocks:
        bare = _bare_code(text)
        if bare is not None:
            return ParsedReply(code=bare.strip() + "\n", plan="")
        return ParsedReply(None, text[:2000], "Your reply contained no fenced Python code "
                           f"block. {_FORMAT}")
    if not python:
        return ParsedReply(None, plan, "Your reply contained no Python code block (only "
                           f"blocks in other languages). {_FORMAT}")
    good = [body for _, body in python if body.strip() and _compile_error(body) is None]
    if not good:
        errors = [_compile_error(body) or "the block is empty" for _, body in python]
        return ParsedReply(None, plan, f"The code block does not compile: {errors[-1]}. "
                           f"Fix it and reply again. {_FORMAT}")
    code = max(good, key=len)
    return ParsedReply(code=code.strip("\n") + "\n", plan=plan)
