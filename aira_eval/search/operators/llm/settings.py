"""What an LLM operator family needs to know about its model and its calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aira_eval.errors import UsageError

LLM_OPERATOR_SETS = ("aide", "aira")
CALL_KINDS = ("draft", "improve", "debug", "crossover", "analyze")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LLMSettings:
    """Model and call settings of one search's LLM operators.

    Attributes:
        model: any litellm model string (``gpt-4o``, ``anthropic/claude-3-5-sonnet-latest``,
            ``openai/<served-name>`` with ``api_base`` for vLLM, ``ollama/llama3``...).
        model_for: per-operator overrides, ``{"debug": "gpt-4o-mini"}`` (keys from
            :data:`CALL_KINDS`).
        api_base: base URL of an OpenAI-compatible server (vLLM, Ollama, a proxy).
        api_key_env: name of the environment variable holding the key; without it litellm
            reads the provider's usual variable (``OPENAI_API_KEY``...). The key itself is
            read at call time and never stored.
        temperature, top_p: sampling (None: the provider's default).
        request_timeout_s: timeout of one request.
        max_retries: retries of a request on rate limits, timeouts, connection and server
            errors, with exponential backoff (``backoff_base_s`` doubling, capped at
            ``backoff_cap_s``, with seeded jitter).
        max_concurrent_calls: requests in flight at once, per endpoint, across the process.
        max_cost_usd: spend limit of the search (None: unlimited).
        cache_dir: response cache (``--llm-cache``); replay: serve from the cache only.
        max_parse_retries: follow-up requests when a reply holds no usable code or review.
        completion_kwargs: extra keyword arguments for ``litellm.completion`` (e.g.
            ``max_tokens``); never put a key here, use ``api_key_env``.
    """

    model: str
    model_for: Mapping[str, str] = field(default_factory=dict)
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    request_timeout_s: float = 600.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    max_concurrent_calls: int = 4
    max_cost_usd: float | None = None
    cache_dir: str | None = None
    replay: bool = False
    max_parse_retries: int = 3
    completion_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def model_of(self, kind: str) -> str:
        """The model that serves ``kind`` (an operator or ``analyze``)."""
        return self.model_for.get(kind, self.model)

    def sampling(self) -> dict[str, float]:
        """The sampling parameters that are set."""
        out = {"temperature": self.temperature, "top_p": self.top_p}
        return {k: float(v) for k, v in out.items() if v is not None}

    def validate(self) -> LLMSettings:
        check_llm_options(
            model=self.model, model_for=dict(self.model_for), api_key_env=self.api_key_env,
            temperature=self.temperature, top_p=self.top_p,
            request_timeout_s=self.request_timeout_s, max_retries=self.max_retries,
            max_concurrent_calls=self.max_concurrent_calls, max_cost_usd=self.max_cost_usd,
            cache_dir=self.cache_dir, replay=self.replay,
        )
        if "api_key" in self.completion_kwargs:
            raise UsageError("an API key cannot be passed in the operator parameters",
                             hint="Put it in an environment variable and pass --api-key-env.")
        return self


def check_llm_options(
    *, model: str | None, model_for: dict[str, str], api_key_env: str | None,
    temperature: float | None, top_p: float | None, request_timeout_s: float,
    max_retries: int, max_concurrent_calls: int, max_cost_usd: float | None,
    cache_dir: str | None, replay: bool,
) -> None:
    """Raise :class:`UsageError` for the first bad LLM option (shared with ``StudyConfig``)."""
    if not model:
        raise UsageError("the aide/aira operators need a model",
                         hint="Pass --model MODEL (any litellm model string, e.g. gpt-4o).")
    unknown = sorted(set(model_for) - set(CALL_KINDS))
    if unknown:
        raise UsageError(f"model_for (--model-for) names unknown operator(s): {', '.join(unknown)}",
                         hint=f"Use {', '.join(CALL_KINDS)}, e.g. --model-for debug=gpt-4o-mini.")
    if api_key_env is not None and not _ENV_NAME.match(api_key_env):
        raise UsageError("api_key_env (--api-key-env) takes the NAME of an environment "
                         "variable, not a key",
                         hint="e.g. export MY_KEY=...; then pass --api-key-env MY_KEY.")
    if temperature is not None and temperature < 0:
        raise UsageError(f"temperature (--temperature) must be >= 0, got {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise UsageError(f"top_p (--top-p) must be in (0, 1], got {top_p}")
    if request_timeout_s <= 0:
        raise UsageError(f"request_timeout_s (--request-timeout) must be positive, got "
                         f"{request_timeout_s}")
    if max_retries < 0:
        raise UsageError(f"max_retries must be >= 0, got {max_retries}")
    if max_concurrent_calls < 1:
        raise UsageError(f"max_concurrent_calls must be at least 1, got {max_concurrent_calls}")
    if max_cost_usd is not None and max_cost_usd <= 0:
        raise UsageError(f"max_cost_usd (--max-cost) must be positive, got {max_cost_usd}")
    if replay and not cache_dir:
        raise UsageError("replay (--replay) needs the cache to replay from (llm_cache, "
                         "--llm-cache)",
                         hint="Pass --llm-cache DIR (the cache a previous study wrote).")
