"""API keys never reach disk or logs: not the journal, the node table, MLflow (params, tags,
artifacts, its database), the LLM cache, saved prompts, nor anything logged or printed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from aira_eval.search.study_runner import run_study
from tests.test_search.conftest import small_config
from tests.test_search.llm_scripted import IRIS_CODE, MODEL, Call, fenced, scripted_llm

OPENAI_KEY = "sk-test-PLANTED-123"
OWN_KEY = "own-secret-PLANTED-456"


def _files_with(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.extend(f"{path}: {n!r}" for n in needles if n in data)
    return found


def test_api_keys_never_written_or_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    import litellm

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("AIRA_TEST_LLM_KEY", OWN_KEY)
    caplog.set_level(logging.DEBUG)
    calls = {"n": 0}

    def leaky(call: Call) -> Any:
        """A provider whose error echoes the key, then a model that repeats it."""
        calls["n"] += 1
        if calls["n"] == 1:
            return litellm.AuthenticationError(
                message=f"Incorrect API key provided: {call.api_key} ({OPENAI_KEY})",
                llm_provider="openai", model="x")
        plan = f"My key is {call.api_key} and {OPENAI_KEY}."
        return fenced(plan, IRIS_CODE + f"# {call.api_key}\n")

    study, cache = tmp_path / "study", tmp_path / "cache"
    config = small_config(operators="aira", model=MODEL, api_key_env="AIRA_TEST_LLM_KEY",
                          llm_cache=str(cache), steps=3, workers=1, mlflow=True)
    with scripted_llm(leaky) as handler:
        result = run_study(config, study)
    assert handler.calls[0].api_key == OWN_KEY  # the key did reach the provider call
    nodes = result.outcomes[0].nodes
    assert nodes[0].status == "error" and "AuthenticationError" in (nodes[0].reason or "")
    assert any(n.status == "ok" for n in nodes) and not result.mlflow_errors
    assert (study / "mlflow.db").exists() and list(cache.glob("*/*.json"))
    needles = [OPENAI_KEY.encode(), OWN_KEY.encode(), b"PLANTED"]
    assert _files_with(study, needles) == []
    assert _files_with(cache, needles) == []
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (out, err, logged):
        assert "PLANTED" not in text
