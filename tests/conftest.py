"""Shared fixtures: the real competition data in ../shared/data, skipped cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """``$AIRA_EVAL_TEST_DATA`` or ``../shared/data`` relative to the project root."""
    env = os.environ.get("AIRA_EVAL_TEST_DATA")
    return Path(env) if env else (ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session", autouse=True)
def _isolated_task_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prepared builtin/synthetic tasks and held-out sets go to a per-session temp cache,
    never to the user's ~/.cache (tests may still override AIRA_EVAL_CACHE_DIR themselves)."""
    os.environ["AIRA_EVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("aira-eval-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real competition data not found at {path} (set AIRA_EVAL_TEST_DATA)")
    return path


@pytest.fixture(scope="session")
def mlebench_data(shared_data: Path) -> Path:
    """The data dir holding the four prepared MLE-bench competitions."""
    path = shared_data / "mlebench"
    if not path.is_dir():
        pytest.skip(f"no prepared MLE-bench competitions at {path}")
    return path
