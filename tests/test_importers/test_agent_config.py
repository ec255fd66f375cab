"""Imported searches record the agent configuration their run config names (model, operators),
so imported runs of different LLMs are different agents (audit-d F7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aira_eval.importers import parse_aide_journal, parse_dojo_run, write_imported_study
from aira_eval.study.load import load_study


def _dojo_config(models: dict[str, str]) -> dict[str, Any]:
    return {"task": {"name": "spaceship-titanic", "benchmark": "mlebench"},
            "metadata": {"seed": 1},
            "solver": {"operators": {op: {"llm": {"client": {"model_id": m}}}
                                     for op, m in models.items()}}}


def _dojo_run(root: Path, name: str, models: dict[str, str]) -> Path:
    run = root / name
    run.mkdir(parents=True)
    node = {"step": 1, "id": f"{name}-1", "code": "x = 1", "metric": 0.7, "is_buggy": False,
            "parents": [], "operators_used": ["draft"], "metric_maximize": True}
    (run / "JOURNAL.jsonl").write_text(json.dumps({"timestamp": "t", "step": 1, "data": node})
                                       + "\n")
    (run / "dojo_config.json").write_text(json.dumps(_dojo_config(models)))
    return run


def test_dojo_runs_of_different_llms_are_different_agents(tmp_path: Path) -> None:
    ops = ("analyze", "debug", "draft", "improve")
    study = tmp_path / "study"
    for name, model in (("run_4o", "gpt-4o"), ("run_o3", "o3-mini")):
        search = parse_dojo_run(_dojo_run(tmp_path / "logs", name, dict.fromkeys(ops, model)))
        assert search.params["model"] == model
        assert search.params["operator_set"] == "analyze,debug,draft,improve"
        write_imported_study(search, study)
    searches = load_study(study).searches.set_index("search_id")
    assert searches.loc["dojo__run_4o", "model"] == "gpt-4o"
    assert searches.loc["dojo__run_o3", "model"] == "o3-mini"
    assert searches.loc["dojo__run_o3", "param.model_for.debug"] == "o3-mini"
    assert set(searches["agent"]) == {"dojo-search · gpt-4o", "dojo-search · o3-mini"}


def test_dojo_operators_with_different_models(tmp_path: Path) -> None:
    run = _dojo_run(tmp_path, "mixed", {"draft": "gpt-4o", "debug": "o3-mini"})
    params = parse_dojo_run(run).params
    assert params["model"] == "debug=o3-mini,draft=gpt-4o"
    assert (params["model_for.draft"], params["model_for.debug"]) == ("gpt-4o", "o3-mini")


def test_dojo_fixture_model(shared_data: Path, tmp_path: Path) -> None:
    runs = shared_data / "agent-logs" / "aira-dojo"
    if not runs.is_dir():
        pytest.skip(f"no agent logs at {runs}")
    run = next(p for p in sorted(runs.iterdir()) if p.is_dir())
    search = parse_dojo_run(run)
    assert search.params["model"] == "gpt-4o"  # dojo_config.json: every operator's model_id
    write_imported_study(search, tmp_path / "study")
    searches = load_study(tmp_path / "study").searches
    assert searches["model"].tolist() == ["gpt-4o"]


AIDE_CONFIG = """\
data_dir: !!python/object/apply:pathlib.PosixPath
- /
- data
agent:
  steps: 2
  code:
    model: gpt-4o-mini
    temp: 0.5
  feedback:
    model: gpt-4o-mini
    temp: 0.5
report:
  model: o1
"""


def test_aide_config_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.json").write_text(json.dumps({"nodes": [
        {"id": "a", "step": 0, "code": "print(1)", "is_buggy": True, "metric": None}]}))
    assert "model" not in parse_aide_journal(run / "journal.json", task="t").params
    (run / "config.yaml").write_text(AIDE_CONFIG)
    search = parse_aide_journal(run / "journal.json", task="t")
    assert search.params["model"] == "gpt-4o-mini"  # the report's model is not the search's
    write_imported_study(search, tmp_path / "study")
    assert load_study(tmp_path / "study").searches["model"].tolist() == ["gpt-4o-mini"]
    (run / "config.yaml").write_text(AIDE_CONFIG.replace("model: gpt-4o-mini\n    temp: 0.5\n"
                                                         "  feedback", "model: o3\n    temp: 0.5\n"
                                                         "  feedback"))
    params = parse_aide_journal(run / "journal.json", task="t").params
    assert params["model"] == "code=o3,feedback=gpt-4o-mini"
