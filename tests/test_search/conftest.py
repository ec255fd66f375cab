"""Helpers for end-to-end search tests: run studies in-process or as a killable subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from aira_eval.search.config import StudyConfig
from aira_eval.search.study_runner import StudyResult, run_study

ROOT = Path(__file__).resolve().parents[2]


def small_config(**overrides: object) -> StudyConfig:
    base: dict[str, object] = {
        "tasks": ["builtin:iris"], "policies": ["greedy"], "seeds": [0], "steps": 4,
        "workers": 2, "node_timeout_s": 60.0, "memory_mb": 4096, "mlflow": False,
    }
    base.update(overrides)
    if base.get("operators", "procedural") == "procedural":
        base.setdefault("operator_params", {"bug_rate": 0.0})  # scripts fail only on their own
    return StudyConfig.from_dict(base).validate()


def run_small(out: Path, **overrides: object) -> StudyResult:
    return run_study(small_config(**overrides), out)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return env


def start_cli(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "aira_eval", *args],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The deterministic part of a node table (no timings, paths or isolation details)."""
    cols = ["node_id", "step", "operator", "status", "score_val", "score_search",
            "score_select", "score_test"]
    out = frame[cols].sort_values("node_id").reset_index(drop=True)
    out["parents"] = [",".join(p) for p in frame.sort_values("node_id")["parent_ids"]]
    return out
