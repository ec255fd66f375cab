"""The MLflow UI over a small study, loaded in headless Chromium: run names, group-by tags and
best-so-far curves are in the rendered DOM. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from aira_eval.search.mlflow_server import study_ui
from aira_eval.search.mlflow_sync import default_tracking_uri, sync_study
from tests.test_search.fake_study import write_fake_study

pytest.importorskip("mlflow")
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")]
ML = "workflowType=machine_learning"  # the UI's classic-ML mode, not its GenAI pages


def _chromium(url: str, *action: str) -> str:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--window-size=1600,1000", "--virtual-time-budget=30000", *action, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False).stdout


def _text(url: str, shot: Path) -> str:
    """The page's rendered text (from ``--dump-dom``); a screenshot of it at ``shot``."""
    dom = _chromium(url, "--dump-dom")
    _chromium(url, f"--screenshot={shot}")
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", dom, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_runs_metrics_and_compare_pages_show_the_study(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    study = tmp_path / "wine-study"
    write_fake_study(study)
    sync_study(study)
    client = MlflowClient(tracking_uri=default_tracking_uri(study))
    exp = client.get_experiment_by_name("aira-eval/wine-study").experiment_id
    runs = client.search_runs([exp], "tags.`aira_eval.kind` = 'search'")
    ids = [r.info.run_id for r in runs]
    server, url = study_ui(study)
    try:
        server.wait_ready()
        assert url == f"{server.url}/#/experiments/{exp}"
        page = _text(f"{url}/runs?{ML}", tmp_path / "runs.png")
        # the study run on top, its two search runs nested under it (expanded by a click)
        assert "study wine-study" in page and "3 matching runs" in page, page[:2000]
        assert "Group by" in page and "wine (" in page  # grouping; the task's dataset input
        page = _text(f"{url}/runs/{ids[0]}/model-metrics?{ML}", tmp_path / "metrics.png")
        for section in ("best_val (2)", "oracle (1)", "count (3)", "node (3)"):
            assert section in page, (section, page[:2000])
        compare = (f"{server.url}/#/compare-runs?runs={json.dumps(ids)}"
                   f"&experiments={json.dumps([exp])}&{ML}")
        page = _text(compare, tmp_path / "compare.png")
        for text in ("wine · greedy · s0", "wine · mcts · s0", "aira_eval.policy",
                     "aira_eval.agent", "best_val/score_val", "best_val/score_test",
                     "oracle/score_test", "count/buggy"):
            assert text in page, (text, page[:2000])
    finally:
        server.stop()
    assert (tmp_path / "compare.png").stat().st_size > 10_000  # for a person to look at
