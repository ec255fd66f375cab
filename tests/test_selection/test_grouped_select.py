"""Grouped selection: per-agent statistics and between-agent differences (API and CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import aira_eval as ae
from aira_eval.cli.main import app
from aira_eval.errors import UsageError
from aira_eval.selection.tracking import summary_metrics
from tests.test_selection.conftest import agent_study

runner = CliRunner()
FAST = ["--resamples", "2000", "--no-mlflow"]


def _select(*args: str) -> Any:
    result = runner.invoke(app, ["select", *args])
    assert result.exit_code == 0, result.output
    return result


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    rows = frame
    for col, value in where.items():
        rows = rows[rows[col] == value]
    assert len(rows) == 1, where
    return rows.iloc[0]


@pytest.fixture(scope="module")
def better(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 tasks × 2 policies × 5 seeds; greedy better than mcts by construction."""
    return agent_study(tmp_path_factory.mktemp("better") / "study", effect=0.05)


@pytest.fixture(scope="module")
def same(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same design with the two policies identical in distribution."""
    return agent_study(tmp_path_factory.mktemp("same") / "study", effect=0.0)


def test_default_select_groups_by_agent_and_finds_the_better_policy(better: Path) -> None:
    result = _select(str(better), *FAST)
    out = result.stdout
    assert out.splitlines()[0].startswith("grouped by agent")
    assert "agent greedy: 2 task(s) × 10 search(es)" in out
    assert "agent mcts: 2 task(s) × 10 search(es)" in out
    assert "between agents" in out
    summary = json.loads((better / "selection" / "all" / "summary.json").read_text())
    assert summary["by"] == ["agent"] and list(summary["groups"]) == ["greedy", "mcts"]
    rows = {r["strategy"]: r for r in summary["comparison"]}  # the headline metric
    assert len(rows) == 9 and {(r["group_a"], r["group_b"]) for r in rows.values()} == \
        {("greedy", "mcts")}
    for name in ("best-val", "topk", "oracle", "shrinkage", "best-search"):
        assert rows[name]["lo"] > 0, rows[name]
        assert rows[name]["share_resamples_favouring"] >= 0.95, rows[name]
    compare = pd.read_parquet(better / "selection" / "all" / "compare.parquet")
    test = _row(compare, strategy="best-val", metric="test_score")
    assert 0 < test["lo"] < 0.05 < test["hi"]  # the built-in effect is inside the interval


def test_identical_policies_interval_covers_zero(same: Path) -> None:
    res = ae.select(ae.load_study(same), resamples=2000, seed=0)
    assert res.groups == ["greedy", "mcts"]
    for strategy in ("best-val", "topk", "oracle"):
        for metric in ("test_score", "normalized_score"):
            row = _row(res.compare, strategy=strategy, metric=metric)
            assert row["lo"] <= 0 <= row["hi"], (strategy, metric)
            assert 0.05 < row["share_resamples_favouring"] < 0.95


def test_pool_gives_one_group(better: Path, tmp_path: Path) -> None:
    _select(str(better), *FAST, "--pool", "--json", "--out", str(tmp_path / "pooled"))
    summary = json.loads((tmp_path / "pooled" / "summary.json").read_text())
    assert summary["counts"]["groups"] == 1 and summary["grouping_note"] is None
    assert summary["strategies"]["best-val"]["searches"] == 20
    assert summary["comparison"] == [] and not (tmp_path / "pooled" / "compare.parquet").exists()


def test_topk_by_policy_keeps_the_full_run(better: Path) -> None:
    _select(str(better), *FAST)
    result = _select(str(better), *FAST, "--strategy", "topk", "--by", "policy")
    assert "policy greedy" in result.stdout and "topk" in result.stdout
    run = better / "selection" / "topk.by-policy"
    picks = pd.read_parquet(run / "picks.parquet")
    assert set(picks["strategy"]) == {"best-val", "topk"}
    assert set(picks["policy"]) == {"greedy", "mcts"} and "group" in picks.columns
    table = pd.read_parquet(run / "summary.parquet")
    assert len(table) == 2 * 2 * 17  # groups × strategies × metrics
    assert (better / "selection" / "all" / "summary.json").exists()  # not overwritten
    index = json.loads((better / "selection" / "index.json").read_text())
    assert index["latest"] == "topk.by-policy" and index["latest_full"] == "all"


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "polcy"], "Did you mean policy"),
    (["--by", "uct"], "Did you mean"),
    (["--by", "policy", "--pool"], "contradict"),
    (["--baseline-group", "greddy"], "Did you mean greedy"),
])
def test_bad_grouping_options_exit_2(better: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["select", str(better), *FAST, *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_by_a_parameter_and_a_baseline_group(better: Path) -> None:
    res = ae.select(better, by="uct_c", resamples=300, strategies=["best-val"])
    assert res.by == ["param.policy.uct_c"] and res.groups == ["none", "1.0"]
    base = ae.select(better, by=["policy"], baseline_group="greedy", resamples=300,
                     strategies=["best-val"])
    assert set(zip(base.compare["group_a"], base.compare["group_b"], strict=True)) == \
        {("mcts", "greedy")}
    assert (base.compare["delta"][base.compare["metric"] == "test_score"] < 0).all()


def test_a_task_one_group_lacks_is_reported(tmp_path: Path) -> None:
    study = agent_study(tmp_path / "study", effect=0.05, n_tasks=3,
                        drop_task="synthetic:task02")
    res = ae.select(study, resamples=300, strategies=["best-val"])
    assert res.missing_tasks == {"mcts": ["synthetic:task02"]}
    row = _row(res.compare, strategy="best-val", metric="test_score")
    assert row["tasks"] == 2 and row["only_a"] == "synthetic:task02" and row["only_b"] == ""
    greedy = _row(res.table, group="greedy", strategy="best-val", metric="test_score")
    assert greedy["tasks"] == 3
    result = _select(str(study), *FAST)
    assert "mcts has no search on: synthetic:task02" in result.stdout
    assert "left out task(s) only greedy has: synthetic:task02" in result.stdout


def test_api_result_shapes(better: Path) -> None:
    res = ae.select(ae.load_study(better), strategies=["best-val", "topk"], resamples=500)
    assert res.strategies == ["best-val", "topk"]
    draws = res.draws("test_score")
    assert draws.shape == (500, 2, 2)
    row = _row(res.table, group="greedy", strategy="topk", metric="test_score")
    assert row["percentile_lo"] == pytest.approx(np.quantile(draws[:, 0, 1], 0.025))
    deltas = res.draws("test_score", delta=True)
    assert np.all(deltas[:, :, 0] == 0)
    views = res.generalization[res.generalization["group"] == "greedy"]
    assert list(views["view"]) == ["VAL/VAL", "VAL/TEST", "TEST/TEST", "top-k", "VAL/TEST",
                                   "top-k"]
    assert set(views["metric"]) == {"val_score", "test_score", "oracle_score", "any_medal"}
    with pytest.raises(UsageError, match="unknown option"):
        ae.select(better, bogus=1)
    with pytest.raises(UsageError, match="unknown metric"):
        res.draws("nope")


def test_mlflow_metric_keys_name_the_group(better: Path) -> None:
    res = ae.select(better, resamples=200, strategies=["best-val"])
    keys = summary_metrics(res.summary)
    assert "greedy/test_score/best-val" in keys and "mcts/test_score/best-val.lo" in keys
    assert any(k.startswith("compare:greedy - mcts/delta/") and k.endswith("/best-val")
               for k in keys)


def test_grouped_select_logs_its_mlflow_run(better: Path, tmp_path: Path) -> None:
    """A grouped summary has no top-level ``strategies``: the run's tags come from options."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["select", str(better), "--resamples", "200", "--strategy",
                                 "topk", "--out", str(tmp_path / "sel"), "--mlflow-uri", uri])
    assert result.exit_code == 0, result.output
    assert "MLflow logging" not in result.output, result.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.`aira_eval.kind` = 'selection'")
    assert [r.data.tags["aira_eval.strategies"] for r in runs] == ["best-val,topk"]


def test_import_is_light_and_exports_the_api() -> None:
    import subprocess
    import sys

    code = ("import sys, aira_eval as ae; heavy = [m for m in ('pandas', 'numpy', 'mlflow') "
            "if m in sys.modules]; print(heavy, callable(ae.select))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] True"
    assert {"load_study", "select", "run_study", "SelectionResult", "StudyConfig"} <= set(dir(ae))
    import aira_eval.search.config  # noqa: F401  (the subpackage shadows no API name)

    assert callable(ae.run_study) and callable(ae.select)
    with pytest.raises(AttributeError):
        ae.nothing  # noqa: B018
