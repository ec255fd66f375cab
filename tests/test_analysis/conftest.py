"""Shared fixtures: one small two-agent study and its report, built once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_eval.analysis.context import ReportOptions
from aira_eval.analysis.report import ReportResult, report
from aira_eval.study import Study
from tests.test_analysis.helpers import make_study

FAST = {"resamples": 300, "band_resamples": 50, "trees": 2}


@pytest.fixture(scope="package")
def small_study() -> Study:
    return make_study(n_tasks=3, n_seeds=4, n_nodes=15)


@pytest.fixture(scope="package")
def small_report(small_study: Study, tmp_path_factory: pytest.TempPathFactory
                 ) -> ReportResult:
    out: Path = tmp_path_factory.mktemp("report")
    return report(small_study, out, ReportOptions(**FAST))  # type: ignore[arg-type]
