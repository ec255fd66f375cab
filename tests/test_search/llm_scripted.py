"""A scripted LLM behind litellm's real code path, for the LLM operator tests.

:class:`ScriptedLLM` is a litellm ``CustomLLM`` registered as provider ``scripted`` (model
``scripted/coder``): every call goes through ``litellm.completion`` (parameter mapping,
exception types, response objects), and a test-side *responder* decides each reply from the
prompt alone (never from call order), so searches stay deterministic with parallel workers.
Replies name ``gpt-4o-mini`` as their model, so litellm's offline price table prices them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

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


@dataclass
class Scenario:
    """The default behaviour: a first draft (empty memory) crashes, debug fixes it, every other
    operator returns working code; analyze returns a valid review."""

    good: str
    crash: str = CRASH_CODE
    review_metric: float = 0.5
    seen: set[str] = field(default_factory=set)

    def __call__(self, call: Call) -> str | Tool | Unpriced | Exception:
        if call.op == "draft":
            first = "(no previous solutions)" in call.user
            code = self.crash if first else self.good
            return fenced("Plan: a gradient boosting model on the raw features.", code)
        if call.op == "debug":
            return fenced("The column name was wrong; read the right one.", self.good)
        if call.op in ("improve", "crossover"):
            return fenced(f"One change ({call.op}).", f"{self.good}\n# {call.op} {call.digest}\n")
        if call.op == "analyze":
            args = ('{"is_bug": false, "summary": "cross-validation ran", '
                    f'"metric": {self.review_metric}}}')
            return Tool("submit_review", args)
        return "I do not know this operator."


def procedural_code(task_id: str, data_dir: Path | None = None, seed: int = 0) -> str:
    """A real solution script for ``task_id`` following the contract (from the procedural
    family), to serve as the scripted model's "good" code."""
    from aira_eval.datasets.registry import resolve_task
    from aira_eval.search.journal import JournalView
    from aira_eval.search.operators.base import OperatorContext, TaskBrief
    from aira_eval.search.operators.procedural.operators import ProceduralOperators

    task = resolve_task(task_id, data_dir=data_dir, heldouts=None)
    ctx = OperatorContext(brief=TaskBrief.from_task(task, 60.0),
                          rng=np.random.default_rng(seed), step=0,
                          journal=JournalView([]))
    return ProceduralOperators(bug_rate=0).draft(ctx).code
