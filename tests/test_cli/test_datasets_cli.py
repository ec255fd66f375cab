"""``aira-eval datasets list|show|prepare`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from aira_eval.cli.main import app
from aira_eval.datasets.prepare import compute_checksums

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, cache: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRA_EVAL_CACHE_DIR", str(cache))
    monkeypatch.setenv("AIRA_EVAL_DATA_DIR", str(tmp_path / "no-data"))


def test_datasets_help() -> None:
    result = runner.invoke(app, ["datasets", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "prepare"):
        assert command in result.stdout


def test_list_json_with_data_dir(mlebench_data: Path) -> None:
    result = runner.invoke(app, ["datasets", "list", "--data-dir", str(mlebench_data), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["task_id"]: r for r in json.loads(result.stdout)}
    assert rows["mlebench:spaceship-titanic"]["status"] == "prepared"
    assert rows["mlebench:spaceship-titanic"]["location"] == str(
        mlebench_data / "spaceship-titanic")
    assert rows["builtin:digits"]["source"] == "builtin"
    assert {"synthetic:binary", "builtin:wine"} <= set(rows)


def test_list_table() -> None:
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "builtin:iris" in out and "absent" in out


def test_show_builtin_json() -> None:
    result = runner.invoke(app, ["datasets", "show", "builtin:breast-cancer", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["metric"] == "roc_auc" and info["lower_is_better"] is False
    assert set(info["heldouts"]) == {"search", "select", "test"}
    files = {f["file"]: f["rows"] for f in info["files"]}
    assert files["test.csv"] == sum(info["heldouts"].values())
    assert info["description_head"].startswith("# Breast cancer")
    assert info["thresholds"] is None and info["problem"]["prediction"] == "probability"


def test_show_mlebench_panel(mlebench_data: Path) -> None:
    result = runner.invoke(app, ["datasets", "show", "mlebench:spaceship-titanic",
                                 "--data-dir", str(mlebench_data)])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "accuracy (higher is better)" in out and "gold 0.82066" in out
    assert "test: 870 rows" in out and "train.csv (7823 rows)" in out


def test_show_no_heldouts_flag() -> None:
    result = runner.invoke(app, ["datasets", "show", "builtin:iris", "--no-heldouts", "--json"])
    assert result.exit_code == 0 and set(json.loads(result.stdout)["heldouts"]) == {"test"}


def test_show_unknown_task() -> None:
    result = runner.invoke(app, ["datasets", "show", "builtin:irs"])
    assert result.exit_code == 2
    assert "builtin:iris" in flat(result.stderr) and "Traceback" not in result.output


def test_show_task_that_cannot_build_heldouts(mlebench_data: Path) -> None:
    result = runner.invoke(app, ["datasets", "show", "mlebench:nomad2018-predict-transparent-"
                                 "conductors", "--data-dir", str(mlebench_data), "--heldouts"])
    assert result.exit_code == 1
    err = flat(result.stderr)
    assert "cannot build held-out sets" in err and "--no-heldouts" in err


def _raw(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    raw = tmp_path / "raw"
    raw.mkdir()
    n = 120
    pd.DataFrame({"id": np.arange(n), "a": rng.normal(size=n).round(3),
                  "price": rng.uniform(1, 9, size=n).round(2)}).to_csv(raw / "data.csv",
                                                                       index=False)
    (raw / "task.yaml").write_text(yaml.safe_dump({
        "name": "prices", "files": {"train": "data.csv"}, "id_column": "id",
        "target_columns": ["price"], "metric": "rmsle"}))
    return raw


def test_prepare_then_use(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["datasets", "prepare", str(raw), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["checksums"]["public"]) >= {"train.csv", "test.csv"}
    assert payload["checksums"] == compute_checksums(out / "prepared")
    assert (out / "checksums.yaml").is_file() and (out / "task.yaml").is_file()
    result = runner.invoke(app, ["datasets", "show", str(out / "task.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metric"] == "rmsle"
    sample = out / "prepared" / "public" / "sample_submission.csv"
    result = runner.invoke(app, ["grade", str(sample), "--task", str(out / "task.yaml"),
                                 "--no-heldouts", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["valid_submission"]
    again = runner.invoke(app, ["datasets", "prepare", str(raw / "task.yaml"), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in flat(again.stderr)
    again = runner.invoke(app, ["datasets", "prepare", str(raw / "task.yaml"), "--out", str(out),
                                "--overwrite"])
    assert again.exit_code == 0 and "prepared prices" in flat(again.stdout)


def test_prepare_bad_yaml_names_field(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    spec = yaml.safe_load((raw / "task.yaml").read_text())
    spec["metric"] = "rmsel"
    (raw / "task.yaml").write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["datasets", "prepare", str(raw), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "field `metric`" in err and "rmsle" in err


def test_prepare_missing_yaml_and_missing_out(tmp_path: Path) -> None:
    result = runner.invoke(app, ["datasets", "prepare", str(tmp_path / "x.yaml"), "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2 and "does not exist" in flat(result.stderr)
    result = runner.invoke(app, ["datasets", "prepare", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2
