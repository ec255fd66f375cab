"""``LLMOperators``: the operator protocol driven by a language model (AIDE and AIRA sets).

Memory is chosen here, per operator set, from ``ctx.journal`` (``ctx.memory``, chosen by the
engine from the study's ``memory_scope``, is ignored):

- ``aide``: draft and improve see every good node (plan and validation score), AIDE's
  journal summary; debug and crossover see only their parents;
- ``aira``: draft and improve see their siblings (the other drafts; the parent's other
  children), debug sees its ancestors' failed attempts (ancestral scope, the unbroken run of
  buggy nodes above the parent), crossover only its two parents.

``memory_scopes`` overrides that per operator. The complexity cue goes into AIRA's draft and
improve prompts. Each proposal's ``config["llm"]`` holds the transcript (messages sent and
replies, keys redacted), the call records and the model. Any failure to get code (no
parsable reply within the retries, a failed call, a replay miss, the spend limit) returns a
proposal with ``error`` set, which the runner records as an ``error`` node.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aira_eval.errors import AiraEvalError, UsageError
from aira_eval.search.node import Node, NodeView, Usage
from aira_eval.search.operators.base import (
    MEMORY_SCOPES,
    Analysis,
    OperatorContext,
    Proposal,
    RunOutcome,
    find_duplicate,
    memory_for,
)
from aira_eval.search.operators.llm import prompts
from aira_eval.search.operators.llm.client import (
    ChatRequest,
    CostLimitReached,
    LLMCallError,
    LLMClient,
)
from aira_eval.search.operators.llm.parse import parse_reply
from aira_eval.search.operators.llm.redact import redact, redact_obj
from aira_eval.search.operators.llm.settings import LLM_OPERATOR_SETS, LLMSettings

DEFAULT_MEMORY: dict[str, dict[str, str]] = {
    "aide": {"draft": "good", "improve": "good", "debug": "none", "crossover": "none"},
    "aira": {"draft": "sibling", "improve": "sibling", "debug": "ancestral",
             "crossover": "none"},
}
_SCOPES = (*MEMORY_SCOPES, "good")  # the LLM sets add AIDE's "every good node"
_CALL_FAILURES = (LLMCallError, CostLimitReached, AiraEvalError)


class LLMOperators:
    """AIDE's or AIRA's operators over any litellm model.

    Args:
        operator_set: ``aide`` or ``aira``.
        settings: model and call settings (see :class:`LLMSettings`).
        search_id, seed: identify the search (cache nonce, retry jitter).
        memory_scopes: per-operator memory override (``none``, ``simple`` = every node,
            ``good`` = every good node, ``sibling``, ``ancestral``).
        packages: the installed-packages line of the prompts (default: read from this
            environment); fixed in tests so prompts do not depend on the machine.
        sleep: backoff sleep (tests pass a fake).
    """

    def __init__(self, operator_set: str, settings: LLMSettings, search_id: str = "search",
                 seed: int = 0, memory_scopes: Mapping[str, str] | None = None,
                 packages: str | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if operator_set not in LLM_OPERATOR_SETS:
            raise UsageError(f"unknown LLM operator set {operator_set!r}",
                             hint=f"Use one of {', '.join(LLM_OPERATOR_SETS)}.")
        self.name = operator_set
        self.settings = settings.validate()
        env = settings.api_key_env
        if env and not settings.replay and not os.environ.get(env):
            raise UsageError(f"the environment variable {env} (--api-key-env) is not set",
                             hint=f"export {env}=<your API key> before running the search.")
        self.memory_scopes = {**DEFAULT_MEMORY[operator_set], **(memory_scopes or {})}
        bad = {k: v for k, v in self.memory_scopes.items() if v not in _SCOPES}
        if bad:
            raise UsageError(f"unknown memory scope(s) {bad}", hint=f"Use {', '.join(_SCOPES)}.")
        self.packages = packages
        self.client = LLMClient(settings, search_id, seed, sleep=sleep)

    @classmethod
    def from_study(cls, operator_set: str, study: Any, params: Mapping[str, Any] | None,
                   search_id: str, seed: int = 0) -> LLMOperators:
        """Operators for one search of ``study`` (a :class:`StudyConfig`); ``params`` (the
        study's ``operator_params``) may add ``memory_scopes``, ``max_parse_retries``,
        ``backoff_base_s``, ``backoff_cap_s``, ``completion_kwargs`` and override the rest."""
        fields = dict(
            model=study.model or "", model_for=dict(study.model_for), api_base=study.api_base,
            api_key_env=study.api_key_env, temperature=study.temperature, top_p=study.top_p,
            request_timeout_s=study.request_timeout_s, max_retries=study.max_retries,
            max_concurrent_calls=study.max_concurrent_calls, max_cost_usd=study.max_cost_usd,
            cache_dir=study.llm_cache, replay=study.replay,
        )
        return cls.from_params(operator_set, {**fields, **(params or {})}, search_id, seed)

    @classmethod
    def from_params(cls, operator_set: str, params: Mapping[str, Any], search_id: str = "search",
                    seed: int = 0) -> LLMOperators:
        """Operators from one flat mapping of settings and operator options."""
        options = dict(params)
        own = {k: options.pop(k) for k in ("memory_scopes", "packages") if k in options}
        if "llm_cache" in options:
            options["cache_dir"] = options.pop("llm_cache")
        known = set(LLMSettings.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"unknown operator parameter(s) for {operator_set}: "
                             f"{', '.join(unknown)}", hint=f"Known: {', '.join(sorted(known))}.")
        return cls(operator_set, LLMSettings(**options), search_id, seed, **own)

    # -- engine hook -------------------------------------------------------------------------
    def budget_exhausted(self, nodes: Sequence[Node] = ()) -> bool:
        """True once the search's spend limit is reached. The engine calls this before each
        batch with the journaled nodes; the first call counts what they spent (a resumed
        search keeps its earlier spending)."""
        self.client.ledger.seed_once(sum(float(n.usage.cost_usd) for n in nodes))
        return self.client.ledger.exhausted()

    # -- operators -----------------------------------------------------------------------
    def draft(self, ctx: OperatorContext) -> Proposal:
        return self._propose(ctx, "draft", ())

    def improve(self, ctx: OperatorContext, parent: NodeView) -> Proposal:
        return self._propose(ctx, "improve", (parent,))

    def debug(self, ctx: OperatorContext, parent: NodeView) -> Proposal:
        return self._propose(ctx, "debug", (parent,))

    def crossover(self, ctx: OperatorContext, a: NodeView, b: NodeView) -> Proposal:
        return self._propose(ctx, "crossover", (a, b))

    def analyze(self, ctx: OperatorContext, node: NodeView, outcome: RunOutcome) -> Analysis:
        from aira_eval.search.operators.llm.analysis import analyze

        return analyze(self, ctx, node, outcome)

    # -- internals -----------------------------------------------------------------------
    def memory(self, ctx: OperatorContext, kind: str,
               parents: Sequence[NodeView]) -> list[NodeView]:
        """The nodes ``kind`` remembers under this set's scope (see the module docstring)."""
        scope = self.memory_scopes.get(kind, "none")
        parent = parents[0] if parents else None
        if scope == "good":
            return list(ctx.journal.good_nodes)
        if scope == "ancestral":
            chain = memory_for(ctx.journal, "ancestral", parent)[1:]  # the parent is shown
            out: list[NodeView] = []
            for node in chain:  # the earlier attempts: the buggy run right above the parent
                if not node.is_buggy:
                    break
                out.append(node)
            return out
        mine = {p.node_id for p in parents}
        nodes = memory_for(ctx.journal, scope, parent)  # type: ignore[arg-type]
        return [n for n in nodes if n.node_id not in mine]

    def _prompt(self, ctx: OperatorContext, kind: str,
                parents: Sequence[NodeView]) -> tuple[prompts.Prompt, list[NodeView]]:
        memory = self.memory(ctx, kind, parents)
        cue = ctx.complexity if self.name == "aira" and kind in ("draft", "improve") else None
        prompt = prompts.render(self.name, kind, ctx.brief, parents=parents, memory=memory,
                                complexity=cue, packages=self.packages)
        return prompt, memory

    def _propose(self, ctx: OperatorContext, kind: str,
                 parents: Sequence[NodeView]) -> Proposal:
        prompt, memory = self._prompt(ctx, kind, parents)
        messages, keyed = list(prompt.messages), list(prompt.key_messages)
        usage, calls = Usage(), list[dict[str, Any]]()
        record: dict[str, Any] = {
            "operator_set": self.name, "operator": kind, "model": self.settings.model_of(kind),
            "memory": [n.node_id for n in memory], "calls": calls,
        }
        if self.name == "aira" and kind in ("draft", "improve"):
            record["complexity"] = ctx.complexity
        problem = "no reply"
        for attempt in range(self.settings.max_parse_retries + 1):
            try:
                reply = self.client.chat(ChatRequest(kind, messages, keyed, ctx.step, attempt))
            except _CALL_FAILURES as err:
                return self._failed(str(err), messages, record, usage)
            usage.add(reply.usage)
            calls.append(reply.record())
            parsed = parse_reply(reply.text)
            turn = {"role": "assistant", "content": reply.text}
            if parsed.code is not None:
                env = (self.settings.api_key_env,)
                record["messages"] = redact_obj([*messages, turn], env)
                code = redact(parsed.code, env)
                return Proposal(code=code, plan=redact(parsed.plan, env), config={"llm": record},
                                usage=usage, duplicate_of=find_duplicate(ctx, code))
            problem = parsed.problem or "no code"
            follow = {"role": "user", "content": problem}
            messages, keyed = [*messages, turn, follow], [*keyed, turn, follow]
        tries = self.settings.max_parse_retries + 1
        return self._failed(f"no usable code in {tries} replies: {problem}", messages[:-1],
                            record, usage)  # the last follow-up was never sent

    def _failed(self, why: str, messages: list[dict[str, str]], record: dict[str, Any],
                usage: Usage) -> Proposal:
        why = redact(why, (self.settings.api_key_env,))
        record["messages"] = redact_obj(messages, (self.settings.api_key_env,))
        record["error"] = why
        return Proposal(code="", plan="", config={"llm": record}, usage=usage, error=why)
