"""Pre-flight check: does every configured model have its credentials before a study starts?

Without it a study with a missing key would retry every call and record every node as an
error. litellm knows which variables each provider needs (``validate_environment``).
"""

from __future__ import annotations

import os

from aira_eval.errors import UsageError


def missing_credentials(
    models: list[str], api_key_env: str | None, api_base: str | None
) -> dict[str, list[str]]:
    """Model -> environment variables litellm says it needs and that are not set.

    A key named by ``api_key_env`` (and set) satisfies every key requirement; ``api_base``
    satisfies base-URL requirements (self-hosted OpenAI-compatible servers need no real key,
    so with ``api_base`` only base requirements are checked).
    """
    from aira_eval.search.operators.llm.client import load_litellm

    litellm = load_litellm()
    explicit_key = bool(api_key_env and os.environ.get(api_key_env))
    out: dict[str, list[str]] = {}
    for model in dict.fromkeys(models):
        try:
            needed = litellm.validate_environment(model=model).get("missing_keys", [])
        except Exception:  # unknown provider: let the first call report it
            continue
        missing = [
            var for var in needed
            if not (var.endswith("_API_BASE") and api_base)
            and not (not var.endswith("_API_BASE") and (explicit_key or api_base))
        ]
        if missing:
            out[model] = missing
    return out


def require_credentials(
    models: list[str], api_key_env: str | None, api_base: str | None
) -> None:
    """Raise :class:`UsageError` naming the missing variables, before any node runs."""
    missing = missing_credentials(models, api_key_env, api_base)
    if not missing:
        return
    first, names = next(iter(missing.items()))
    raise UsageError(
        f"model {first!r} needs {', '.join(names)}, which is not set"
        + (f" (also: {', '.join(m for m in missing if m != first)})" if len(missing) > 1 else ""),
        hint=f"export {names[0]}=... (or pass --api-key-env NAME for a key in another "
        "variable; --api-base URL for a self-hosted endpoint; --replay with --llm-cache to run "
        "from a cache alone).",
    )
