"""``--llm-cache`` then ``--replay``: a study re-run from its cache reproduces its node table;
a replay that meets a call the cache lacks records an error node naming the call. Driven
through the CLI in-process (the scripted provider is registered in this process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import comparable
from tests.test_search.llm_scripted import IRIS_CODE, MODEL, Call, Scenario, scripted_llm

runner = CliRunner()


def _search(out: Path, *extra: str) -> Any:
    args = ["search", "--task", "builtin:iris", "--policy", "greedy", "--policy", "mcts",
            "--seeds", "0", "--steps", "4", "--workers", "2", "--no-mlflow",
            "--operators", "aira", "--model", MODEL, "--model-for", "debug=scripted/fixer",
            "--temperature", "0.7", "--node-timeout", "60", "--out", str(out), *extra]
    return runner.invoke(app, args)


def _codes(out: Path) -> pd.DataFrame:
    rows = [(n.node_id, n.code, n.plan) for d in sorted((out / "searches").iterdir())
            for n in JournalFile(d / "journal.jsonl").read()]
    frame = pd.DataFrame(rows, columns=["node_id", "code", "plan"])
    return frame.sort_values("node_id").reset_index(drop=True)


def _never(call: Call) -> Any:
    raise AssertionError("a replayed study must not call the model")


def test_replay_reproduces_the_study(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # the script's log changes from run to run (a timestamp): prompts that show it still
    # meet their recorded keys, because run logs are masked in the cache key
    good = IRIS_CODE + 'import time\nprint(f"finished at {time.time()}")\n'
    with scripted_llm(Scenario(good)) as handler:
        first = _search(tmp_path / "recorded", "--llm-cache", str(cache))
    assert first.exit_code == 0, first.output
    assert {c.op for c in handler.calls} >= {"draft", "debug"}
    with scripted_llm(_never):
        second = _search(tmp_path / "replayed", "--llm-cache", str(cache), "--replay")
    assert second.exit_code == 0, second.output
    a = read_nodes(tmp_path / "recorded" / "nodes.parquet")
    b = read_nodes(tmp_path / "replayed" / "nodes.parquet")
    assert len(a) == 8 and (a["status"] != "error").all()
    assert comparable(a).equals(comparable(b))
    tokens = ["prompt_tokens", "completion_tokens", "cost_usd"]
    assert a.sort_values("node_id")[tokens].reset_index(drop=True).equals(
        b.sort_values("node_id")[tokens].reset_index(drop=True))
    assert _codes(tmp_path / "recorded").equals(_codes(tmp_path / "replayed"))
    manifest = StudyManifest.read(tmp_path / "replayed").config
    assert manifest["replay"] is True and manifest["model_for"] == {"debug": "scripted/fixer"}
    assert manifest["temperature"] == 0.7


def test_replay_miss_names_the_call(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with scripted_llm(_never):
        result = _search(tmp_path / "missing", "--llm-cache", str(cache), "--replay",
                         "--steps", "2")
    assert result.exit_code == 0, result.output
    frame = read_nodes(tmp_path / "missing" / "nodes.parquet")
    assert (frame["status"] == "error").all() and len(frame) == 4
    reason = frame.sort_values("node_id")["reason"].iloc[0]
    assert reason.startswith("replay miss: model 'scripted/coder', operator draft")
    assert "step 0" in reason and "key " in reason and "no response was recorded" in reason


def test_cli_usage_errors(tmp_path: Path) -> None:
    no_model = runner.invoke(app, ["search", "--operators", "aide", "--out", str(tmp_path / "a")])
    assert no_model.exit_code == 2 and "--model" in no_model.output
    no_cache = runner.invoke(app, ["search", "--operators", "aide", "--model", "m", "--replay",
                                   "--out", str(tmp_path / "b")])
    assert no_cache.exit_code == 2 and "--llm-cache" in no_cache.output
    bad_pair = runner.invoke(app, ["search", "--operators", "aide", "--model", "m",
                                   "--model-for", "debug", "--out", str(tmp_path / "c")])
    assert bad_pair.exit_code == 2 and "OPERATOR=MODEL" in bad_pair.output
    a_key = runner.invoke(app, ["search", "--operators", "aide", "--model", "m",
                                "--api-key-env", "sk-abc-123", "--out", str(tmp_path / "d")])
    assert a_key.exit_code == 2 and "NAME" in a_key.output
    assert "--model-for" in runner.invoke(app, ["search", "--help"]).output
