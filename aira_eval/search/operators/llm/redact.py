"""Keep secrets out of everything the LLM family writes: journals, caches, errors and logs.

API keys live only in the keyword arguments of one ``litellm.completion`` call. Anything else
that could carry one (a provider's error message, a prompt, a reply) passes through
:func:`redact` first, which masks the values of secret-looking environment variables and
strings shaped like provider keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_SECRET_NAME = re.compile(r"(API_KEY|APIKEY|_TOKEN|_SECRET|SECRET_KEY|_PASSWORD)$", re.I)
# Shapes of provider keys: OpenAI/Anthropic ``sk-...``, Google ``AIza...``, HF ``hf_...``.
_KEY_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9][A-Za-z0-9_\-]{15,}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{20,})"
)
_MIN_SECRET_LEN = 8


def secret_values(extra_env: Iterable[str | None] = ()) -> list[str]:
    """Values of secret-looking environment variables (and of ``extra_env``), longest first."""
    names = {n for n in os.environ if _SECRET_NAME.search(n)}
    names.update(n for n in extra_env if n)
    values = {os.environ.get(n, "") for n in names}
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def redact(text: str, extra_env: Iterable[str | None] = ()) -> str:
    """``text`` with every secret value and key-shaped string replaced by ``***``."""
    if not text:
        return text
    for value in secret_values(extra_env):
        if value in text:
            text = text.replace(value, MASK)
    return _KEY_SHAPES.sub(MASK, text)


def redact_obj(obj: Any, extra_env: Iterable[str | None] = ()) -> Any:
    """A copy of a JSON-like ``obj`` with :func:`redact` applied to every string."""
    env = tuple(extra_env)
    if isinstance(obj, str):
        return redact(obj, env)
    if isinstance(obj, dict):
        return {k: redact_obj(v, env) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v, env) for v in obj]
    return obj
