"""Bad inputs still give a report, whose affected sections say why they are empty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis.context import ReportOptions
from aira_eval.analysis.report import report
from aira_eval.study import Study
from tests.test_analysis.helpers import agents_study

CHEAP = ReportOptions(formats=["md", "html", "tex"], trees=1, resamples=100,
                      band_resamples=30)


def _no_test(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(score_test=np.nan, n_test=0)


def _all_failed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(valid=False, status="buggy", score_val=np.nan, score_test=np.nan,
                        score_search=np.nan, score_select=np.nan)


CASES = {
    "no_test_scores": ({}, _no_test, {"main": "no node has a test score",
                                      "dynamics": "no node has a test score",
                                      "models": "no node has a test score"}),
    "all_failed": ({}, _all_failed, {"main": "every node failed",
                                     "topk": "every node failed"}),
    "single_seed": ({"n_seeds": 1}, None, {"seeds": "one seed per task"}),
    "single_task": ({"n_tasks": 1}, None, {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_renders_with_reasons(case: str, tmp_path: Path) -> None:
    sizes, change, expected = CASES[case]
    frame, tasks = agents_study(**{"n_tasks": 2, "n_seeds": 2, "n_nodes": 8, **sizes})
    if change is not None:
        frame = change(frame)
    result = report(Study.from_nodes(frame, tasks), tmp_path, CHEAP)
    assert result.errors == {}
    by_key = {s.key: s for s in result.sections}
    for key, reason in expected.items():
        assert reason in (by_key[key].empty or ""), (key, by_key[key].empty)
    md = (tmp_path / "report.md").read_text()
    assert "# Study report" in md and "Reproducibility manifest" in md
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.tex").exists()
    assert by_key["manifest"].empty is None and by_key["trees"].figures
    if case == "single_task":
        assert any("two tasks" in n for n in by_key["models"].notes)
        assert by_key["main"].empty is None
    if case == "single_seed":
        assert any("One seed per task" in n for n in by_key["main"].notes)
        _no_p_without_interval(tmp_path, by_key["main"].tables[0].display)


def _no_p_without_interval(out: Path, display: pd.DataFrame) -> None:
    """One seed per task: no interval, hence no p-value and no share favouring either."""
    main = pd.read_csv(out / "data" / "main.csv")
    assert main["delta_lo"].isna().all() and main["p_value"].isna().all()
    assert main["p_holm"].isna().all() and main["share_resamples_favouring"].isna().all()
    assert set(display["p (Holm)"]) <= {"", "—"}
    between = pd.read_csv(out / "data" / "between_agents.csv")
    assert between["p_value"].isna().all() and between["p_holm"].isna().all()
    assert between["share_resamples_favouring"].isna().all()
