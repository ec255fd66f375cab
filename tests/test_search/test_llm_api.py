"""One tiny search against a real provider: runs only with an API key (marker ``api``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aira_eval.search.study_runner import run_study
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import small_config

PROVIDERS = (("OPENAI_API_KEY", "gpt-4o-mini"),
             ("ANTHROPIC_API_KEY", "anthropic/claude-3-5-haiku-latest"))


@pytest.mark.api
def test_real_provider_search(tmp_path: Path) -> None:
    found = [(env, model) for env, model in PROVIDERS if os.environ.get(env)]
    if not found:
        pytest.skip("no OPENAI_API_KEY or ANTHROPIC_API_KEY in the environment")
    env, model = found[0]
    out = tmp_path / "real"
    run_study(small_config(operators="aide", model=model, steps=2, workers=1,
                           max_cost_usd=0.5, request_timeout_s=120.0), out)
    frame = read_nodes(out / "nodes.parquet")
    assert len(frame) >= 1 and (frame["prompt_tokens"] > 0).all()
    assert frame["status"].isin(["ok", "buggy", "timeout", "invalid_submission", "error"]).all()
    key = os.environ[env].encode()
    assert not [p for p in out.rglob("*") if p.is_file() and key in p.read_bytes()]
