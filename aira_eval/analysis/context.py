"""What every section builder reads: the study, its grouping, selection, scale, options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aira_eval.analysis.scale import Scale
from aira_eval.analysis.selection_view import GroupedSelection
from aira_eval.study import Study


@dataclass
class ReportOptions:
    """Options of a report (the ``aira-eval report`` flags)."""

    by: list[str] = field(default_factory=list)  # empty: as select (by agent if they differ)
    formats: list[str] = field(default_factory=lambda: ["md", "html", "tex"])
    trees: int | None = 4  # None: every search
    resamples: int = 10_000
    band_resamples: int = 200
    seed: int = 0
    level: float = 0.95
    strategies: list[str] = field(default_factory=list)
    reference: str = "best-val"
    k: int = 3
    argv: list[str] | None = None


@dataclass
class Context:
    """Shared inputs of the section builders."""

    study: Study
    options: ReportOptions
    out: Path
    groups: dict[str, str]  # search id -> group label
    scale: Scale
    selection: GroupedSelection | None = None
    selection_empty: str | None = None  # why there is no selection
    cache: dict[str, Any] = field(default_factory=dict)  # results shared between sections

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    def no_test(self) -> str | None:
        """Why test-based sections are empty, or None when test scores exist."""
        nodes = self.study.nodes
        if not nodes["valid"].to_numpy(dtype=bool).any():
            return "every node failed (no valid submission in any search): nothing to judge"
        if not np.isfinite(nodes["score_test"].to_numpy(dtype=float)).any():
            return ("no node has a test score (e.g. imported logs without held-out answers): "
                    "re-grade the study to fill this section")
        return None
