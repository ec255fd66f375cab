"""The MLflow UI over a small study, driven in headless Chromium over the DevTools protocol: the
URL `aira-eval ui` prints opens the classic-ML runs page; run names, group-by tags and
best-so-far curves are on the pages; the compare view of two selection runs (grouped by policy,
and pooled) shows every (group, strategy, metric) estimate with its bounds, side by side.
Screenshots go to the test's tmp dir."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aira_eval.search.mlflow_server import CLASSIC_ML_VIEW, study_ui
from tests.test_search.mlflow_pages import (
    GROUPS,
    STRATEGIES,
    Browser,
    UiStudy,
    build_ui_study,
    chromium,
    metric_rows,
    pages,
)

pytest.importorskip("mlflow")
CHROMIUM = chromium()
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")]
SHOTS = ("runs", "metrics", "compare", "compare-selections")


def test_runs_metrics_and_compare_pages_show_the_study(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    ui = build_ui_study(tmp_path / "wine-study")
    server, url = study_ui(ui.study)
    browser = None
    try:
        server.wait_ready()
        assert url == f"{server.url}/#/experiments/{ui.experiment_id}/runs?{CLASSIC_ML_VIEW}"
        urls = pages(server.url, ui)
        assert urls["runs"] == url
        browser = Browser(CHROMIUM, tmp_path / "chromium-profile")
        _check_runs_and_search_pages(browser, urls, tmp_path)
        _check_selection_compare(browser, ui, urls["compare-selections"], tmp_path)
    finally:
        if browser is not None:
            browser.close()
        server.stop()
    for name in SHOTS:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000  # for a person to look at


def _check_runs_and_search_pages(browser: Browser, urls: dict[str, str], tmp_path: Path
                                 ) -> None:
    browser.goto(urls["runs"])  # what `aira-eval ui` prints
    page = browser.wait_for("9 matching runs", "study wine-study", "wine (")
    browser.screenshot(tmp_path / "runs.png")
    # the classic-ML view (its sidebar has the model registry, the GenAI one has sessions)
    assert "Model registry" in page and "Sessions" not in page, page[:2000]
    # the study run on top, its 6 search runs and 2 selection runs nested under it
    assert "study wine-study" in page and "9 matching runs" in page, page[:2000]
    assert "Group by" in page and "wine (" in page  # grouping; the task's dataset input
    sections = ("best_val (2)", "oracle (1)", "count (6)", "node (3)")
    browser.goto(urls["metrics"])
    page = browser.wait_for(*sections)
    browser.screenshot(tmp_path / "metrics.png")
    for section in sections:
        assert section in page, (section, page[:2000])
    texts = ("wine · greedy · s0", "wine · mcts · s0", "aira_eval.policy", "aira_eval.agent",
             "best_val/score_val", "best_val/score_test", "oracle/score_test", "count/buggy")
    browser.goto(urls["compare"])
    page = browser.wait_for(*texts)
    browser.screenshot(tmp_path / "compare.png")
    for text in texts:
        assert text in page, (text, page[:2000])


def _check_selection_compare(browser: Browser, ui: UiStudy, url: str, tmp_path: Path) -> None:
    """Both selection runs side by side (one column each, in the URL's order): their names,
    each policy's estimate of every strategy with its bounds from the grouped run, the pooled
    estimates with theirs from the other, as MLflow holds them."""
    from mlflow.tracking import MlflowClient

    from aira_eval.search.mlflow_sync import default_tracking_uri

    client = MlflowClient(tracking_uri=default_tracking_uri(ui.study))
    runs = [client.get_run(run_id) for run_id in ui.selection_runs.values()]
    browser.goto(url)
    page = browser.wait_for("Metrics", *(r.info.run_name for r in runs))
    for run in runs:
        assert run.info.run_name in page, (run.info.run_name, page[:2000])
    assert "aira_eval.grouping" in page and "aira_eval.study_ids" in page
    rows = metric_rows(browser)
    browser.screenshot(tmp_path / "compare-selections.png")
    grouped, pooled = runs  # SELECTIONS' order: by policy, then pooled
    wide = 0
    for column, run, prefixes in ((0, grouped, [f"{g}/" for g in GROUPS]), (1, pooled, [""])):
        metrics = run.data.metrics
        for prefix in prefixes:
            for strategy in STRATEGIES:
                key = f"{prefix}test_score/{strategy}"
                for bound in ("", ".lo", ".hi"):
                    shown = rows[key + bound][column]  # KeyError: a row missing on the page
                    assert math.isclose(float(shown), metrics[key + bound], abs_tol=0.0051), (
                        key + bound, shown, metrics[key + bound])
                assert metrics[key + ".lo"] <= metrics[key] <= metrics[key + ".hi"]
                wide += metrics[key + ".lo"] < metrics[key + ".hi"]
    assert wide, "every interval is a point: the study's seeds should differ"
