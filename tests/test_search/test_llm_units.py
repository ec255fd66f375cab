"""Units of the LLM family: parsing, the review tool, settings, redaction, the client (retries,
backoff, timeouts, concurrency, usage and cost, cache and replay), through litellm's real code
path with a scripted provider or litellm's ``mock_response``; no network, no keys."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.operators.llm.cache import ReplayMiss
from aira_eval.search.operators.llm.client import (
    ChatRequest,
    CostLedger,
    CostLimitReached,
    LLMCallError,
    LLMClient,
)
from aira_eval.search.operators.llm.parse import parse_reply, strip_think
from aira_eval.search.operators.llm.redact import redact, redact_obj
from aira_eval.search.operators.llm.review import parse_review
from aira_eval.search.operators.llm.settings import LLMSettings
from tests.test_search.llm_scripted import (
    MODEL,
    PRICED_AS,
    Call,
    Tool,
    Unpriced,
    fenced,
    scripted_llm,
)

MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "# Draft a solution"}]


def request(step: int = 0, text: str = "# Draft a solution", kind: str = "draft") -> ChatRequest:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]
    return ChatRequest(kind, messages, messages, step)


def client(sleeps: list[float] | None = None, **kw: Any) -> LLMClient:
    settings = LLMSettings(**{"model": MODEL, "backoff_base_s": 1.0, **kw}).validate()
    return LLMClient(settings, "task__greedy__s0", seed=0,
                     sleep=(sleeps.append if sleeps is not None else None))


# -- parsing ------------------------------------------------------------------------------
def test_parse_picks_longest_compiling_python_block_and_plan() -> None:
    reply = ("<think>maybe ```python\nx = 1\n```</think>I will fit a forest.\n\n"
             "```bash\npip install x\n```\n```python\ndef broken(:\n```\n"
             "```py\nimport os\nprint(os.sep)\n```\n```\ny = 2\n```\nThanks!")
    parsed = parse_reply(reply)
    assert parsed.code == "import os\nprint(os.sep)\n"
    assert parsed.plan == "I will fit a forest."
    assert parsed.problem is None


def test_parse_failures_say_what_was_wrong() -> None:
    prose = parse_reply("I would train a random forest on the features.")
    assert prose.code is None and "no fenced Python code block" in (prose.problem or "")
    broken = parse_reply("Plan\n```python\ndef f(:\n    pass\n```")
    assert broken.code is None and "does not compile" in (broken.problem or "")
    other = parse_reply("```bash\nls\n```")
    assert other.code is None and "other languages" in (other.problem or "")


def test_parse_accepts_unterminated_block_and_bare_code() -> None:
    assert parse_reply("Plan\n```python\nimport a\nprint(a)").code == "import a\nprint(a)\n"
    assert parse_reply("import sys\nprint(sys.argv)").code == "import sys\nprint(sys.argv)\n"
    assert parse_reply("hello").code is None  # compiles, but is not a script
    assert strip_think("<think>a</think>b<think>c") == "b"
    assert strip_think("reasoning...</think>answer") == "answer"


def test_review_validation() -> None:
    ok, problem = parse_review([{"name": "submit_review",
                                 "arguments": '{"is_bug": false, "summary": "s", "metric": 3}'}])
    assert ok is not None and ok.metric == 3.0 and problem is None
    null, _ = parse_review([{"name": "submit_review",
                             "arguments": '{"is_bug": true, "summary": "s", "metric": null}'}])
    assert null is not None and null.metric is None and null.is_bug
    cases = {
        "did not call": [],
        "not valid JSON": [{"name": "submit_review", "arguments": "{is_bug: no"}],
        "`is_bug` must be": [{"name": "submit_review",
                              "arguments": '{"is_bug": "no", "summary": "s", "metric": 1}'}],
        "`metric` must be": [{"name": "submit_review",
                              "arguments": '{"is_bug": false, "summary": "s", "metric": "0.9"}'}],
        "lacks summary": [{"name": "submit_review", "arguments": '{"is_bug": false}'}],
    }
    for words, calls in cases.items():
        review, problem = parse_review(calls)
        assert review is None and words in (problem or ""), (words, problem)


# -- settings and secrets -----------------------------------------------------------------
def test_settings_validation() -> None:
    with pytest.raises(UsageError, match="model"):
        LLMSettings(model="").validate()
    with pytest.raises(UsageError, match="NAME"):
        LLMSettings(model="m", api_key_env="sk-live-123").validate()
    with pytest.raises(UsageError, match="--llm-cache"):
        LLMSettings(model="m", replay=True).validate()
    with pytest.raises(UsageError, match="unknown operator"):
        LLMSettings(model="m", model_for={"deubg": "x"}).validate()
    with pytest.raises(UsageError, match="api-key-env"):
        LLMSettings(model="m", completion_kwargs={"api_key": "x"}).validate()
    settings = LLMSettings(model="big", model_for={"debug": "small"}, temperature=0.5)
    assert settings.model_of("debug") == "small" and settings.model_of("draft") == "big"
    assert settings.sampling() == {"temperature": 0.5}


def test_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "zz-secret-value-42")
    monkeypatch.setenv("MY_CUSTOM_VAR", "custom-secret-99")
    text = "key zz-secret-value-42, custom-secret-99 and sk-proj-ABCDEFGHIJKLMNOPQRST"
    out = redact(text, ("MY_CUSTOM_VAR",))
    assert "zz-secret" not in out and "custom-secret" not in out and "sk-proj" not in out
    assert redact_obj({"a": [text]}, ("MY_CUSTOM_VAR",))["a"][0] == out
    assert redact("import sklearn  # scikit-learn") == "import sklearn  # scikit-learn"


def test_cost_ledger() -> None:
    ledger = CostLedger(1.0)
    ledger.seed_once(0.4)
    ledger.seed_once(5.0)  # only the first seeding counts
    ledger.charge(0.5)
    assert not ledger.exhausted()
    ledger.charge(0.2)
    with pytest.raises(CostLimitReached, match="cost limit reached"):
        ledger.check()
    assert not CostLedger(None).exhausted()


# -- the client ---------------------------------------------------------------------------
def test_rate_limit_then_timeout_then_success_with_backoff() -> None:
    replies = iter(["litellm.RateLimitError", "mock_timeout", fenced("plan", "import os\n")])
    sleeps: list[float] = []
    with scripted_llm(lambda call: next(replies)) as handler:
        reply = client(sleeps, max_retries=5).chat(request())
    assert len(handler.calls) == 3
    assert reply.text.startswith("plan") and reply.usage.calls == 1
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # doubling, jittered


def test_retries_are_bounded_and_capped() -> None:
    sleeps: list[float] = []
    with scripted_llm(lambda call: "litellm.InternalServerError") as handler, \
            pytest.raises(LLMCallError, match="after 4 attempts"):
        client(sleeps, max_retries=3, backoff_base_s=10.0, backoff_cap_s=15.0).chat(request())
    assert len(handler.calls) == 4 and len(sleeps) == 3
    assert all(s <= 15.0 for s in sleeps) and sleeps[2] >= 7.5


def test_jitter_is_seeded() -> None:
    a, b = client(), client()
    assert [a.backoff(i) for i in range(4)] == [b.backoff(i) for i in range(4)]


def test_non_retryable_error_fails_at_once_without_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm

    monkeypatch.setenv("AIRA_TEST_KEY", "sk-test-PLANTED-unit-777")

    def deny(call: Call) -> Any:
        return litellm.AuthenticationError(
            message=f"Incorrect API key provided: {call.api_key}", llm_provider="openai",
            model="x")

    sleeps: list[float] = []
    with scripted_llm(deny) as handler, pytest.raises(LLMCallError) as err:
        client(sleeps, api_key_env="AIRA_TEST_KEY").chat(request())
    assert handler.calls[0].api_key == "sk-test-PLANTED-unit-777"  # the key reached the call
    assert "PLANTED" not in str(err.value) and "AuthenticationError" in str(err.value)
    assert sleeps == []


def test_usage_and_cost_from_litellm_price_table() -> None:
    import litellm

    with scripted_llm(lambda call: "hello there"):
        reply = client().chat(request())
    prompt, completion = litellm.cost_per_token(model=PRICED_AS, prompt_tokens=reply.usage
                                                .prompt_tokens, completion_tokens=reply.usage
                                                .completion_tokens)
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.cost_usd == pytest.approx(prompt + completion) and reply.usage.cost_usd > 0
    assert reply.notes == []
    with scripted_llm(lambda call: Unpriced("hi")):
        unpriced = client().chat(request())
    assert unpriced.usage.cost_usd == 0.0 and "price table" in unpriced.notes[0]


def test_plain_mock_response_path_and_cost_limit() -> None:
    """litellm's own mock_response (no custom provider): the real completion() mock path."""
    c = client(model=PRICED_AS, max_cost_usd=1e-9,
               completion_kwargs={"mock_response": fenced("p", "import os\n")})
    reply = c.chat(request())
    assert reply.usage.cost_usd > 0 and "import os" in reply.text
    with pytest.raises(CostLimitReached):
        c.chat(request(step=1))


def test_concurrent_calls_are_limited() -> None:
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(call: Call) -> str:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return "ok"

    c = client(max_concurrent_calls=2, api_base="http://limit-test.invalid/v1")
    with scripted_llm(slow):
        threads = [threading.Thread(target=c.chat, args=(request(step=i),)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert state["max"] == 2


def test_cache_then_replay_and_a_named_miss(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with scripted_llm(lambda call: f"reply {call.digest}") as handler:
        first = client(cache_dir=str(cache)).chat(request())
        again = client(cache_dir=str(cache)).chat(request())  # read-through: a hit
    assert len(handler.calls) == 1 and again.cached and again.text == first.text
    entries = list(cache.glob("*/*.json"))
    assert len(entries) == 1
    entry = json.loads(entries[0].read_text())
    assert entry["call"]["step"] == 0 and entry["response"]["text"] == first.text

    def never(call: Call) -> Any:
        raise AssertionError("replay must not call the model")

    with scripted_llm(never):
        replayed = client(cache_dir=str(cache), replay=True).chat(request())
        assert replayed.text == first.text and replayed.usage.cost_usd == first.usage.cost_usd
        with pytest.raises(ReplayMiss) as miss:
            client(cache_dir=str(cache), replay=True).chat(request(step=3))
        message = str(miss.value)
        assert "step 3" in message and "operator draft" in message and MODEL in message
        assert "no response was recorded" in message
        with pytest.raises(ReplayMiss, match="different prompt"):
            client(cache_dir=str(cache), replay=True).chat(request(text="# Draft a solution!"))


def test_identical_prompts_at_other_steps_do_not_collide(tmp_path: Path) -> None:
    with scripted_llm(lambda call: "same") as handler:
        c = client(cache_dir=str(tmp_path))
        a, b = c.chat(request(step=0)), c.chat(request(step=1))
    assert a.key != b.key and len(handler.calls) == 2


def test_tool_calls_come_back() -> None:
    with scripted_llm(lambda call: Tool("submit_review", '{"is_bug": false}')) as handler:
        req = request(kind="analyze", text="# Review a run")
        req.tools = [{"type": "function", "function": {"name": "submit_review",
                                                       "parameters": {"type": "object"}}}]
        reply = client().chat(req)
    assert reply.tool_calls == [{"name": "submit_review", "arguments": '{"is_bug": false}'}]
    assert handler.calls[0].tools is not None


# -- operators without a search -----------------------------------------------------------
def test_make_operators_for_llm_sets() -> None:
    from aira_eval.search.config import StudyConfig
    from aira_eval.search.operators.registry import make_operators

    study = StudyConfig(operators="aira", model="gpt-4o", model_for={"debug": "gpt-4o-mini"},
                        temperature=0.2).validate()
    ops = make_operators("aira", {"max_parse_retries": 1}, study=study, search_id="x", seed=3)
    assert ops.name == "aira"
    settings = ops.settings  # type: ignore[attr-defined]
    assert settings.model_of("debug") == "gpt-4o-mini" and settings.max_parse_retries == 1
    assert make_operators("aide", {"model": "m"}).name == "aide"
    with pytest.raises(UsageError, match="unknown operator parameter"):
        make_operators("aide", {"model": "m", "colour": "red"})
    with pytest.raises(UsageError, match="--model"):
        StudyConfig(operators="aide").validate()
    with pytest.raises(UsageError, match="--max-cost"):
        StudyConfig(operators="aide", model="m", max_cost_usd=0).validate()


def test_analysis_without_a_call() -> None:
    from aira_eval.search.operators.base import RunOutcome
    from aira_eval.search.operators.llm.analysis import needs_review, summarize

    reported = RunOutcome(0, False, False, "VALIDATION_SCORE: 0.9", "", 0.9, True, 2.0)
    crashed = RunOutcome(1, False, False, "", "Traceback\nKeyError: 'x'", None, False, 1.0)
    silent = RunOutcome(0, False, False, "acc 0.9", "", None, True, 1.0)
    assert not needs_review(reported) and not needs_review(crashed) and needs_review(silent)
    ok = summarize(reported, "accuracy", (0.8, 1.0))
    assert not ok.is_bug and ok.metric == 0.9 and "over 2 folds" in ok.summary
    bug = summarize(crashed, "accuracy")
    assert bug.is_bug and "exited with code 1" in bug.summary and "KeyError" in bug.summary


def test_missing_key_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from aira_eval.search.operators.llm.operators import LLMOperators

    monkeypatch.delenv("AIRA_NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match="AIRA_NO_SUCH_KEY"):
        LLMOperators("aide", LLMSettings(model="m", api_key_env="AIRA_NO_SUCH_KEY"))
