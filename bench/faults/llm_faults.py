"""The fault campaign's ``llm`` scenario: LLM operators against a model that misbehaves.

Studies with the ``aide`` and ``aira`` operator sets run in this process through litellm's real
code path, answered by the scripted provider (:mod:`aira_eval.search.operators.llm.scripted`,
a litellm ``CustomLLM``). :class:`FaultyModel` decides every reply from the prompt alone, never
from call order: a prompt (its system and user messages) is faulted when its hash falls under
``share``; a second hash picks the fault — a rate limit or a timeout (litellm's own exception
types), prose without code (code operators) or a malformed tool call (review calls) — and how
often it recurs: 1 to N times, where N (every attempt the client or the operator makes) means
the fault outlasts the retries. Rate limits and timeouts recur on resends of the same request
(counted per prompt: each study runs one worker, so no two requests race for one count, and
other prompts' calls never shift it), prose and malformed reviews on the operator's follow-up
turns. The client's backoff sleeps are skipped.

Figures: steps journaled vs budget (lost, duplicated), nodes per status, error nodes against
the prompts whose faults outlasted the retries (both ways), failed reviews likewise, tracebacks
(an exception out of ``run_study``, a logged exception, a harness-error node), and whether
every search ran to its budget.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.search.operators.llm.scripted import (
    MODEL,
    Call,
    Tool,
    fenced,
    scripted_llm,
)

#: the studies of the scenario: operator set -> (policy, its parameters)
STUDIES: dict[str, tuple[str, dict[str, Any]]] = {
    "aide": ("greedy", {"num_drafts": 2, "debug_prob": 1.0}),
    "aira": ("evolutionary", {"individuals_per_generation": 2,
                              "num_generations_till_crossover": 1, "crossover_prob": 1.0}),
}
#: a real solution of builtin:iris on the standard library alone (nearest centroid, 5-fold
#: accuracy as its validation score): the scenario is about the model, so scripts start fast
CODE = '''"""Nearest centroid on the four measurements; 5-fold validation accuracy."""
import csv
import os
import statistics

with open("input/train.csv") as fh:
    train = list(csv.DictReader(fh))
with open("input/test.csv") as fh:
    test = list(csv.DictReader(fh))
features = [c for c in train[0] if c not in ("id", "species")]


def fit(rows):
    classes = sorted({r["species"] for r in rows})
    return {c: [statistics.fmean(float(r[f]) for r in rows if r["species"] == c)
                for f in features] for c in classes}


def predict(model, row):
    x = [float(row[f]) for f in features]
    return min(model, key=lambda c: sum((a - b) ** 2 for a, b in zip(x, model[c])))


scores = []
for k in range(5):
    held = train[k::5]
    model = fit([r for i, r in enumerate(train) if i % 5 != k])
    scores.append(statistics.fmean(predict(model, r) == r["species"] for r in held))
print("FOLD_SCORES: " + ", ".join(f"{s:.6f}" for s in scores))
print(f"VALIDATION_SCORE: {statistics.fmean(scores):.6f}")
model = fit(train)
os.makedirs("submission", exist_ok=True)
with open("submission/submission.csv", "w", newline="") as fh:
    out = csv.writer(fh)
    out.writerow(["id", "species"])
    out.writerows([r["id"], predict(model, r)] for r in test)
'''
CRASH = CODE.replace("features = [",
                     "raise RuntimeError('scripted crash: no such column')\nfeatures = [")
TRANSIENT = ("rate_limit", "timeout")
RAISED = {"rate_limit": "litellm.RateLimitError", "timeout": "mock_timeout"}
MALFORMED = ["no tool call, just words", Tool("submit_review", "{not json"),
             Tool("submit_review", '{"is_bug": "no", "summary": "s", "metric": "x"}')]


def unit(*parts: str) -> float:
    """A number in [0, 1) from ``parts`` (sha256): the scenario's only source of chance."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return int(digest[:12], 16) / float(1 << 48)


def prompt_key(messages: list[dict[str, Any]]) -> str:
    """A prompt's identity: its system and user messages (follow-up turns excluded)."""
    return hashlib.sha256("\x1f".join(str(m.get("content") or "") for m in messages[:2])
                          .encode()).hexdigest()[:16]


def quiet(code: str) -> str:
    """The script printing its score in prose, not the contract's line: a review call reads it."""
    return code.replace('print(f"VALIDATION_SCORE: {statistics.fmean(scores):.6f}")',
                        'print(f"cv accuracy = {statistics.fmean(scores):.4f}")').replace(
        'print("FOLD_SCORES: " + ", ".join(f"{s:.6f}" for s in scores))\n', "")


@dataclass
class FaultyModel:
    """The scripted model's responder (see the module docstring); records what it injected."""

    share: float
    transport_attempts: int  # the client's max_retries + 1
    parse_attempts: int  # the operators' max_parse_retries + 1
    injected: Counter[str] = field(default_factory=Counter)
    #: prompts whose fault outlasted every attempt: key -> operator
    exhausted: dict[str, str] = field(default_factory=dict)
    faulted: set[str] = field(default_factory=set)
    #: faults that outlasted every attempt, by kind
    exhausted_kinds: Counter[str] = field(default_factory=Counter)
    _sent: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fault_of(self, key: str, op: str) -> tuple[str, int] | None:
        """The prompt's fault and how many times it recurs (None: none)."""
        if unit(key, "share") >= self.share:
            return None
        kinds = (*TRANSIENT, "malformed" if op == "analyze" else "prose")
        kind = kinds[int(unit(key, "kind") * len(kinds))]
        limit = self.transport_attempts if kind in TRANSIENT else self.parse_attempts
        return kind, 1 + int(unit(key, "times") * limit)

    def __call__(self, call: Call) -> Any:
        key = prompt_key(call.messages)
        fault = self.fault_of(key, call.op)
        with self._lock:
            if call.attempt == 0:
                self._sent[key] += 1
            sent = self._sent[key]
        if fault is not None:
            kind, times = fault
            transient = kind in TRANSIENT
            nth = sent if transient else call.attempt + 1  # this fault's occurrence, 1-based
            limit = self.transport_attempts if transient else self.parse_attempts
            if (call.attempt == 0 or not transient) and nth <= times:
                with self._lock:
                    self.injected[kind] += 1
                    self.faulted.add(key)
                    if nth == limit:
                        self.exhausted[key] = call.op
                        self.exhausted_kinds[kind] += 1
                return RAISED[kind] if transient else self._bad(call, kind)
        return self._good(call, key)

    def _bad(self, call: Call, kind: str) -> Any:
        if kind == "prose":
            return "I would train a gradient boosting model on the raw features."
        return MALFORMED[int(unit(prompt_key(call.messages), "how") * len(MALFORMED))]

    def _good(self, call: Call, key: str) -> Any:
        if call.op == "analyze":
            metric = round(0.5 + unit(key, "metric") / 2, 4)
            return Tool("submit_review", '{"is_bug": false, "summary": "cross-validation ran",'
                                         f' "metric": {metric}}}')
        roll = unit(key, "code")
        code = CRASH if roll < 0.15 else quiet(CODE) if roll < 0.55 else CODE
        return fenced(f"Plan ({call.op}).", f"{code}\n# variant {key}\n")


class _Tracebacks(logging.Handler):
    """Counts logged exceptions (records carrying exc_info) at warning level and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.retry_warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += bool(record.exc_info)
        self.retry_warnings += "retry" in record.getMessage()


def _config(operators: str, steps: int, max_retries: int) -> Any:
    from aira_eval.search.config import StudyConfig

    policy, params = STUDIES[operators]
    return StudyConfig.from_dict({
        "tasks": ["builtin:iris"], "policies": [policy], "seeds": [0], "steps": steps,
        "workers": 1, "node_timeout_s": 60.0, "memory_mb": 4096, "mlflow": False,
        "operators": operators, "model": MODEL, "max_retries": max_retries,
        "policy_params": {policy: params}}).validate()


def llm(work: Path, steps: int = 8, share: float = 0.4, max_retries: int = 2,
        operator_sets: tuple[str, ...] = ("aide", "aira")) -> dict[str, Any]:
    """Run one study per operator set against :class:`FaultyModel`; the figures."""
    from aira_eval.search.operators.llm import client as client_module
    from aira_eval.search.operators.llm.settings import LLMSettings

    parse_attempts = LLMSettings(model=MODEL).max_parse_retries + 1
    model = FaultyModel(share, max_retries + 1, parse_attempts)
    counter, sleeps = _Tracebacks(), list[float]()
    real_sleep, root = client_module._sleep, logging.getLogger()
    setattr(client_module, "_sleep", sleeps.append)  # noqa: B010 (a module function)
    started = time.perf_counter()
    root.addHandler(counter)
    nodes: list[Any] = []
    outcomes: dict[str, str] = {}
    raised: list[str] = []
    try:
        with scripted_llm(model):
            for operators in operator_sets:
                try:
                    result = _run(work / f"llm-{operators}", _config(operators, steps,
                                                                     max_retries))
                except Exception as err:  # the point: a study must not fail on LLM faults
                    raised.append(f"{operators}: {type(err).__name__}: {err}")
                    continue
                outcomes.update({o.search_id: o.stopped for o in result.outcomes})
                nodes.extend(n for o in result.outcomes for n in o.nodes)
    finally:
        setattr(client_module, "_sleep", real_sleep)  # noqa: B010
        root.removeHandler(counter)
    return _figures(model, nodes, outcomes, steps * len(operator_sets), {
        "raised": raised, "logged_exceptions": counter.count, "sleeps": len(sleeps),
        "retry_warnings": counter.retry_warnings,
        "seconds": round(time.perf_counter() - started, 1)})


def _run(out: Path, config: Any) -> Any:
    from aira_eval.search.study_runner import run_study

    return run_study(config, out)


def _figures(model: FaultyModel, nodes: list[Any], outcomes: dict[str, str], budget: int,
             extra: dict[str, Any]) -> dict[str, Any]:
    steps = Counter((n.search_id, n.step) for n in nodes)
    exhausted_code = {k for k, op in model.exhausted.items() if op != "analyze"}
    errors = {prompt_key(n.config.get("llm", {}).get("messages") or []): n
              for n in nodes if n.status == "error"}
    failed_reviews = sum(n.analysis.startswith("analysis failed") for n in nodes)
    harness = sum("traceback" in n.meta for n in nodes)
    return {
        "budget": budget, "nodes_journaled": len(nodes),
        "lost": budget - len(steps), "duplicated": sum(c - 1 for c in steps.values()),
        "nodes_by_status": dict(sorted(Counter(n.status for n in nodes).items())),
        "searches_stopped": sorted(set(outcomes.values())),
        "faults_injected": dict(sorted(model.injected.items())),
        "prompts_faulted": len(model.faulted),
        "prompts_exhausted_code": len(exhausted_code),
        "transport_exhausted": sum(model.exhausted_kinds[k] for k in TRANSIENT),
        "error_nodes": sum(n.status == "error" for n in nodes),
        "error_nodes_not_exhausted": len(set(errors) - exhausted_code),
        "exhausted_without_error_node": len(exhausted_code - set(errors)),
        "reviews_exhausted": sum(op == "analyze" for op in model.exhausted.values()),
        "failed_reviews": failed_reviews,
        "backoff_sleeps_skipped": extra["sleeps"], "retry_warnings": extra["retry_warnings"],
        "tracebacks": len(extra["raised"]) + extra["logged_exceptions"] + harness,
        "raised": extra["raised"][:3], "seconds": extra["seconds"],
    }
