"""A study whose model lacks its credentials stops before it starts, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.operators.llm.credentials import missing_credentials
from aira_eval.search.study_runner import run_study
from tests.test_search.conftest import small_config


def test_missing_key_is_a_usage_error_before_any_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "s"
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        run_study(small_config(operators="aide", model="gpt-4o-mini"), out)
    assert not out.exists()


def test_key_in_named_variable_or_self_hosted_base_satisfies_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert missing_credentials(["gpt-4o-mini"], None, None) == {"gpt-4o-mini": ["OPENAI_API_KEY"]}
    monkeypatch.setenv("MY_KEY", "sk-test")
    assert missing_credentials(["gpt-4o-mini"], "MY_KEY", None) == {}
    assert missing_credentials(["openai/qwen"], None, "http://127.0.0.1:8000/v1") == {}
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert missing_credentials(["anthropic/claude-3-5-sonnet-20240620"], None, None) == {}
