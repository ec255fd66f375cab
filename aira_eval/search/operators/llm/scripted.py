"""A scripted LLM behind litellm's real code path: a testing aid, never a model.

:func:`scripted_llm` registers :func:`make_handler`'s litellm ``CustomLLM`` as provider
``scripted`` (model ``scripted/coder``): every call goes through ``litellm.completion``
(parameter mapping, exception types, response objects), and a *responder* decides each reply
from the prompt alone (never from call order), so searches stay deterministic with parallel
workers. Replies name ``gpt-4o-mini`` as their model, so litellm's offline price table prices
them. Used by the test suite (``tests/test_search``) and the fault campaign
(``bench/faults``, which injects rate limits, timeouts, prose and malformed tool calls);
nothing in a study run imports it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MODEL = "scripted/coder"
PRICED_AS = "gpt-4o-mini"
HEADINGS = {
    "# Draft a solution": "draft", "# Improve a solution": "improve",
    "# Debug a solution": "debug", "# Combine two solutions": "crossover",
    "# Review a run": "analyze",
}
IRIS_CODE = '''"""Logistic regression on the four measurements, 5-fold stratified CV (f1_macro)."""
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

train = pd.read_csv("input/train.csv")
test = pd.read_csv("input/test.csv")
features = [c for c in train.columns if c not in ("id", "species")]
X, y = train[features].to_numpy(), train["species"].to_numpy()
scores = []
for fit, val in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
    model = LogisticRegression(max_iter=500).fit(X[fit], y[fit])
    scores.append(f1_score(y[val], model.predict(X[val]), average="macro"))
print("FOLD_SCORES: " + ", ".join(f"{s:.6f}" for s in scores))
print(f"VALIDATION_SCORE: {np.mean(scores):.6f}")
model = LogisticRegression(max_iter=500).fit(X, y)
Path("submission").mkdir(exist_ok=True)
predictions = model.predict(test[features].to_numpy())
pd.DataFrame({"id": test["id"], "species": predictions}).to_csv(
    "submission/submission.csv", index=False)
'''
"""A small real solution of ``builtin:iris`` following the script contract (fast to run)."""

CRASH_CODE = (
    "import pandas as pd\n\n"
    "train = pd.read_csv('input/train.csv')\n"
    "print('rows', len(train))\n"
    "raise RuntimeError('scripted crash: no such column')\n"
)


@dataclass
class Call:
    """One request as the scripted model sees it."""

    op: str
    attempt: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    api_key: str | None

    @property
    def user(self) -> str:
        return str(self.messages[1]["content"])

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.user.encode()).hexdigest()[:10]


@dataclass
class Tool:
    """A tool call reply: ``arguments`` is sent verbatim (may be malformed on purpose)."""

    name: str
    arguments: str


@dataclass
class Unpriced:
    """A text reply naming a model litellm's price table does not know."""

    text: str


Responder = Callable[[Call], "str | Tool | Unpriced | Exception"]


def op_of(messages: list[dict[str, Any]]) -> str:
    first = str(messages[1]["content"]).splitlines()[0].strip()
    return HEADINGS.get(first, "unknown")


def fenced(plan: str, code: str) -> str:
    return f"{plan}\n\n```python\n{code}```\n"


def _usage(messages: list[dict[str, Any]], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4
    completion = max(1, len(text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _response(messages: list[dict[str, Any]], out: str | Tool | Unpriced) -> Any:
    import litellm

    model: str | None = PRICED_AS
    if isinstance(out, Unpriced):
        out, model = out.text, "in-house-model-v0"
    if isinstance(out, Tool):
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": out.name, "arguments": out.arguments}}]}
        text = out.arguments
    else:
        message, text = {"role": "assistant", "content": out}, out
    return litellm.ModelResponse(
        choices=[{"index": 0, "message": message, "finish_reason": "stop"}],
        usage=_usage(messages, text), model=model)


def make_handler(responder: Responder) -> Any:
    """A ``CustomLLM`` that answers with ``responder`` and records every call."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline prices
    import litellm
    from litellm import CustomLLM

    class ScriptedLLM(CustomLLM):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[Call] = []
            self.lock = threading.Lock()

        def completion(self, *args: Any, **kwargs: Any) -> Any:
            messages = kwargs["messages"]
            tools = (kwargs.get("optional_params") or {}).get("tools")
            attempt = sum(1 for m in messages if m["role"] == "assistant")
            call = Call(op_of(messages), attempt, messages, tools, kwargs.get("api_key"))
            with self.lock:
                self.calls.append(call)
            out = responder(call)
            if isinstance(out, Exception):
                raise out
            if out in ("litellm.RateLimitError", "litellm.InternalServerError"):
                # litellm's own mock path raises the genuine exception type
                return litellm.completion(model=PRICED_AS, messages=messages, mock_response=out)
            if out == "mock_timeout":
                return litellm.completion(model=PRICED_AS, messages=messages,
                                          mock_response="-", mock_timeout=True, timeout=0.01)
            return _response(messages, out)

    return ScriptedLLM()


@contextmanager
def scripted_llm(responder: Responder) -> Iterator[Any]:
    """Register the scripted provider for the duration of the block."""
    import litellm

    handler = make_handler(responder)
    previous = list(litellm.custom_provider_map or [])
    litellm.custom_provider_map = [{"provider": "scripted", "custom_handler": handler}]
    try:
        yield handler
    finally:
        litellm.custom_provider_map = previous
