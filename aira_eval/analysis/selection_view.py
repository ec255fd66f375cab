"""The report's one view of selection: grouped results as tidy frames.

This module is the only place the analysis package calls selection. It runs the grouped
:func:`~aira_eval.selection.summary.run_selection` (what ``ae.select`` and ``aira-eval
select`` run; grouping as ``select``: by agent when the searches' agents differ, or ``by``)
and keeps what the report shows: ``table`` (one row per group × strategy × metric: estimate,
se, interval, paired Δ vs the reference strategy, the share of resamples favouring it and a
two-sided bootstrap p-value), ``picks`` (per search and strategy, with ``group``) and
``compare`` (Δ between groups for the same strategy and metric, over the tasks both ran).

Two-sided bootstrap p-value of a Δ: ``min(1, 2·min(P*, 1 − P*))`` with ``P*`` the share of
resamples favouring the strategy (ties half) — the percentile-bootstrap test of Δ = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from aira_eval.selection.grouping import GROUP_LABEL, resolve_grouping
from aira_eval.selection.summary import SelectionOptions, run_selection
from aira_eval.study import Study

TABLE_COLUMNS = ("strategy", "metric", "estimate", "se", "lo", "hi", "delta", "delta_se",
                 "delta_lo", "delta_hi", "share_resamples_favouring", "p_value")
FAVOURING = "share_resamples_favouring"


@dataclass
class GroupedSelection:
    """Selection results per group, as tidy frames (module docstring)."""

    by: list[str]
    table: pd.DataFrame
    picks: pd.DataFrame
    compare: pd.DataFrame
    headline: str
    reference: str
    options: SelectionOptions
    level: float
    skipped: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    @property
    def groups(self) -> list[str]:
        return [str(g) for g in pd.unique(self.table["group"])]


def two_sided(share_favouring: pd.Series) -> np.ndarray:
    """Two-sided bootstrap p-values from the share of resamples favouring (module docstring)."""
    p = share_favouring.to_numpy(dtype=float)
    return np.minimum(1.0, 2.0 * np.minimum(p, 1.0 - p))


def search_groups(study: Study, by: Sequence[str]) -> dict[str, list[str]]:
    """Group label -> search ids, grouped as ``select`` groups them."""
    grouping = resolve_grouping(study, list(by))
    frame = grouping.searches
    return {str(g): [str(s) for s in frame.loc[frame[GROUP_LABEL] == g, "search_id"]]
            for g in grouping.labels}


def select_grouped(study: Study, by: Sequence[str] = (),
                   options: SelectionOptions | None = None) -> GroupedSelection:
    """Grouped selection on ``study`` (module docstring)."""
    options = replace(options or SelectionOptions(), by=list(by))
    result = run_selection(study, options)
    headline = str(result.summary["headline_metric"])
    table = result.table.copy()
    table["p_value"] = np.where(table["strategy"] == options.reference, np.nan,
                                two_sided(table[FAVOURING]))
    compare = result.compare.copy()
    compare["p_value"] = two_sided(compare[FAVOURING])
    compare = compare.rename(columns={"tasks": "tasks_shared"})
    compare["tasks_missing"] = [", ".join(x for x in (a, b) if x) for a, b in
                                zip(compare["only_a"], compare["only_b"], strict=True)]
    return GroupedSelection(by=list(result.by), table=table[["group", *TABLE_COLUMNS]],
                            picks=result.picks, compare=compare, headline=headline,
                            reference=options.reference, options=options, level=options.level,
                            skipped=dict(result.skipped), note=result.note)
