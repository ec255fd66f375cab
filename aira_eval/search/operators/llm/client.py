"""The one place every LLM call goes through: ``litellm.completion`` with retries and limits.

Per call: the model (per operator), the API base, the key (read from ``api_key_env`` or left
to litellm, which reads the provider's usual variable; never stored), sampling, a request
timeout, bounded retries with exponential backoff and seeded jitter on rate limits,
timeouts, connection and server errors, a process-wide limit on requests in flight per
endpoint, the response cache, and usage: tokens, cost from litellm's price table read
offline (0, with a note, for a model the table lacks) and latency. A :class:`CostLedger`
charges every response to the search, so a spend limit stops the search cleanly.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aira_eval.search.node import Usage
from aira_eval.search.operators.llm.cache import CallId, LLMCache, cache_key
from aira_eval.search.operators.llm.redact import redact, redact_obj
from aira_eval.search.operators.llm.settings import LLMSettings

log = logging.getLogger(__name__)

_RETRYABLE_NAMES = ("RateLimitError", "Timeout", "APIConnectionError", "InternalServerError",
                    "ServiceUnavailableError", "BadGatewayError")
_SEMAPHORES: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()
_UNPRICED: set[str] = set()


class LLMCallError(Exception):
    """A call that failed for good (a non-retryable error, or retries exhausted)."""


class CostLimitReached(Exception):
    """The search's spend limit is reached: no further calls are made."""

    def __init__(self, spent: float, limit: float) -> None:
        super().__init__(f"cost limit reached: ${spent:.4f} spent of ${limit:.4f}")


def _sleep(seconds: float) -> None:
    """Backoff sleep (module-level so tests can replace it)."""
    time.sleep(seconds)


def load_litellm() -> ModuleType:
    """Import litellm with its price table read offline and its debug output off."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    return litellm


def is_retryable(err: BaseException) -> bool:
    """Rate limits, timeouts, connection errors and 5xx server errors."""
    litellm = load_litellm()
    kinds = tuple(getattr(litellm, n) for n in _RETRYABLE_NAMES if hasattr(litellm, n))
    if isinstance(err, kinds):
        return True
    status = getattr(err, "status_code", None)
    return isinstance(err, litellm.APIError) and isinstance(status, int) and status >= 500


def shared_semaphore(api_base: str | None, limit: int) -> threading.BoundedSemaphore:
    """The process-wide limit of requests in flight to one endpoint."""
    key = (api_base or "<provider>", limit)
    with _SEMAPHORES_LOCK:
        if key not in _SEMAPHORES:
            _SEMAPHORES[key] = threading.BoundedSemaphore(limit)
        return _SEMAPHORES[key]


class CostLedger:
    """What a search has spent, thread-safe; ``limit`` None means unlimited."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.spent = 0.0
        self._seeded = False
        self._lock = threading.Lock()

    def seed_once(self, prior: float) -> None:
        """Count what earlier runs of a resumed search spent (first call only)."""
        with self._lock:
            if not self._seeded:
                self.spent += prior
                self._seeded = True

    def charge(self, cost: float) -> None:
        with self._lock:
            self.spent += cost

    def exhausted(self) -> bool:
        with self._lock:
            return self.limit is not None and self.spent >= self.limit

    def check(self) -> None:
        """Raise :class:`CostLimitReached` when the limit is spent."""
        if self.exhausted() and self.limit is not None:
            raise CostLimitReached(self.spent, self.limit)


@dataclass
class ChatRequest:
    """One request: ``messages`` are sent; ``key_messages`` (volatile parts masked) are hashed."""

    kind: str  # draft | improve | debug | crossover | analyze
    messages: list[dict[str, Any]]
    key_messages: list[dict[str, Any]]
    step: int
    attempt: int = 0
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None


@dataclass
class ChatReply:
    """A response: text, tool calls ``{"name", "arguments"}``, usage and where it came from."""

    text: str
    tool_calls: list[dict[str, str]]
    usage: Usage
    key: str
    model: str
    cached: bool = False
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """A small JSON record of this call (for the node's config)."""
        return {"key": self.key, "model": self.model, "cached": self.cached,
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cost_usd": self.usage.cost_usd, "latency_s": round(self.usage.latency_s, 3),
                **({"notes": self.notes} if self.notes else {})}


class LLMClient:
    """Calls for one search (``search_id`` and ``seed`` feed the cache nonce and the jitter)."""

    def __init__(self, settings: LLMSettings, search_id: str, seed: int = 0,
                 sleep: Callable[[float], None] | None = None,
                 ledger: CostLedger | None = None) -> None:
        self.settings = settings
        self.search_id = search_id
        self.cache = LLMCache(Path(settings.cache_dir)) if settings.cache_dir else None
        self.ledger = ledger or CostLedger(settings.max_cost_usd)
        self._sleep = sleep
        self._jitter = random.Random(f"{search_id}:{seed}")
        self._jitter_lock = threading.Lock()
        self._slots = shared_semaphore(settings.api_base, settings.max_concurrent_calls)

    # -- public ---------------------------------------------------------------------------
    def chat(self, req: ChatRequest) -> ChatReply:
        """One response for ``req``: from the cache, else from the model (unless replaying).

        Raises:
            CostLimitReached: the search's spend limit is reached.
            ReplayMiss: replaying and the cache lacks this call.
            LLMCallError: the call failed for good.
        """
        self.ledger.check()
        call = CallId(self.settings.model_of(req.kind), req.kind, self.search_id, req.step,
                      req.attempt)
        params = self._params(req)
        key = cache_key(call, req.key_messages, req.tools, params)
        reply = self._cached(key, call)
        if reply is None:
            if self.settings.replay and self.cache is not None:
                raise self.cache.miss(call, key)
            reply = self._live(call, key, req)
            self._store(call, key, req, params, reply)
        self.ledger.charge(reply.usage.cost_usd)
        return reply

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry ``retry`` (0-based): doubling, capped, jittered."""
        s = self.settings
        base = min(s.backoff_cap_s, s.backoff_base_s * (2.0 ** retry))
        with self._jitter_lock:
            return base * (0.5 + 0.5 * self._jitter.random())

    # -- internals ------------------------------------------------------------------------
    def _params(self, req: ChatRequest) -> dict[str, Any]:
        """Everything besides messages and tools that shapes the reply (hashed, stored)."""
        params: dict[str, Any] = {**self.settings.sampling(), **self.settings.completion_kwargs}
        if req.tool_choice is not None:
            params["tool_choice"] = req.tool_choice
        if self.settings.api_base:
            params["api_base"] = self.settings.api_base
        return dict(redact_obj(params))

    def _cached(self, key: str, call: CallId) -> ChatReply | None:
        if self.cache is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        resp = entry.get("response", {})
        usage = Usage(int(resp.get("prompt_tokens", 0)), int(resp.get("completion_tokens", 0)),
                      float(resp.get("cost_usd", 0.0)), 1, float(resp.get("latency_s", 0.0)))
        return ChatReply(str(resp.get("text", "")), list(resp.get("tool_calls", [])), usage,
                         key, call.model, cached=True, notes=list(resp.get("notes", [])))

    def _store(self, call: CallId, key: str, req: ChatRequest, params: dict[str, Any],
               reply: ChatReply) -> None:
        if self.cache is None:
            return
        env = (self.settings.api_key_env,)
        request = redact_obj({"messages": req.messages, "tools": req.tools or [],
                              "params": params}, env)
        response = redact_obj({"text": reply.text, "tool_calls": reply.tool_calls,
                               "prompt_tokens": reply.usage.prompt_tokens,
                               "completion_tokens": reply.usage.completion_tokens,
                               "cost_usd": reply.usage.cost_usd,
                               "latency_s": reply.usage.latency_s, "notes": reply.notes}, env)
        try:
            self.cache.put(key, call, request, response)
        except OSError as err:  # a full disk must not lose the reply already paid for
            log.warning("could not write the LLM cache entry %s: %s", key[:12], err)

    def _kwargs(self, call: CallId, req: ChatRequest) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            **s.completion_kwargs, **s.sampling(), "model": call.model,
            "messages": req.messages, "timeout": s.request_timeout_s,
            "num_retries": 0, "max_retries": 0, "drop_params": True,
        }
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if req.tools:
            kwargs["tools"] = req.tools
            if req.tool_choice is not None:
                kwargs["tool_choice"] = req.tool_choice
        if s.api_key_env:
            kwargs["api_key"] = os.environ.get(s.api_key_env, "")
        return kwargs

    def _live(self, call: CallId, key: str, req: ChatRequest) -> ChatReply:
        litellm = load_litellm()
        retries = self.settings.max_retries
        for retry in range(retries + 1):
            try:
                with self._slots:
                    start = time.monotonic()
                    response = litellm.completion(**self._kwargs(call, req))
                    latency = time.monotonic() - start
                return self._reply(response, call, key, latency)
            except Exception as err:
                message = redact(f"{type(err).__name__}: {err}", (self.settings.api_key_env,))
                if not is_retryable(err):
                    raise LLMCallError(f"LLM call failed ({call.describe()}): {message}") from None
                if retry == retries:
                    raise LLMCallError(f"LLM call failed after {retries + 1} attempts "
                                       f"({call.describe()}): {message}") from None
                delay = self.backoff(retry)
                log.warning("LLM call %s: %s; retry %d/%d in %.1fs", call.describe(),
                            message[:300], retry + 1, retries, delay)
                (self._sleep or _sleep)(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _reply(self, response: Any, call: CallId, key: str, latency: float) -> ChatReply:
        message = response.choices[0].message
        text = message.content or ""
        calls = [{"name": str(tc.function.name or ""), "arguments": str(tc.function.arguments
                                                                        or "")}
                 for tc in (getattr(message, "tool_calls", None) or [])]
        usage_raw = getattr(response, "usage", None)
        prompt = int(getattr(usage_raw, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage_raw, "completion_tokens", 0) or 0)
        cost, notes = response_cost(response, call.model)
        usage = Usage(prompt, completion, cost, 1, latency)
        return ChatReply(text, calls, usage, key, call.model, cached=False, notes=notes)


def response_cost(response: Any, model: str) -> tuple[float, list[str]]:
    """Cost of ``response`` from litellm's price table; 0 with a note when it is not priced."""
    litellm = load_litellm()
    for kwargs in ({"completion_response": response},
                   {"completion_response": response, "model": model}):
        try:
            return float(litellm.completion_cost(**kwargs) or 0.0), []
        except Exception:  # litellm raises several kinds for an unknown model
            continue
    if model not in _UNPRICED:
        _UNPRICED.add(model)
        log.info("model %r is not in litellm's price table: its cost is counted as 0", model)
    return 0.0, [f"model {model!r} is not in litellm's price table: cost counted as 0"]
