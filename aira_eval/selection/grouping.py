"""Which searches count as seeds of one agent: group columns, group labels and the default.

A *group* is a set of searches compared as one unit (one agent, usually): the selection
statistics are computed per group, and groups are compared with each other. Groups are defined
by search attributes (``--by``): a column of the search table
(:func:`~aira_eval.study.searches.search_table`: ``policy``, ``operators``, ``model``,
``task``, ``agent``, ``param.<name>``; a parameter may be given by its last dotted part,
``uct_c`` for ``param.policy.uct_c``, when that is unambiguous)
or a column of the node table that is constant within a search.

Default: when the loaded searches differ in agent configuration (policy, operators, model,
policy parameters), they are grouped by ``agent`` (one label per configuration) and the
:attr:`Grouping.note` says so; ``pool`` pools every search into one group on purpose.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.study import Study
from aira_eval.study.searches import agent_columns

POOLED = "all"
GROUP_LABEL = "group"


@dataclass(frozen=True)
class Grouping:
    """How searches are grouped.

    Attributes:
        columns: the group columns (empty when pooled).
        searches: one row per search: ``search_id``, ``task``, the group columns (as text) and
            ``group`` (the label: the values joined by `` · ``; ``all`` when pooled).
        labels: group labels in order of first appearance.
        note: one line saying why searches were grouped by default (None otherwise).
    """

    columns: list[str]
    searches: pd.DataFrame
    labels: list[str]
    note: str | None = None

    @property
    def grouped(self) -> bool:
        return bool(self.columns)

    def codes(self, search_ids: pd.Series | Sequence[str]) -> np.ndarray:
        """``(n,)`` group code (index into :attr:`labels`) of each search id."""
        label = self.searches.set_index("search_id")[GROUP_LABEL]
        mapped = pd.Series(list(search_ids)).map(label)
        return pd.Categorical(mapped, categories=self.labels).codes.astype(np.int64)

    def keys(self) -> list[dict[str, str]]:
        """Per label, its group columns' values."""
        first = self.searches.drop_duplicates(GROUP_LABEL).set_index(GROUP_LABEL)
        return [{c: str(first.at[label, c]) for c in self.columns} for label in self.labels]

    def annotate(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (with ``search_id``) plus ``group`` and the group columns, after
        ``strategy`` when it has one."""
        extra = [GROUP_LABEL, *[c for c in self.columns if c not in table.columns]]
        add = self.searches.set_index("search_id")[extra]
        joined = table.join(add, on="search_id")
        front = [c for c in ("strategy",) if c in joined.columns]
        rest = [c for c in joined.columns if c not in front and c not in extra]
        return joined[[*front, *extra, *rest]]


def attribute_names(study: Study) -> list[str]:
    """Every name ``--by`` accepts (search-table and node-table columns)."""
    names = list(study.searches.columns)
    params = [c for c in names if c.startswith("param.")]
    names += [c.removeprefix("param.") for c in params] + [c.rsplit(".", 1)[1] for c in params]
    names += [c for c in study.nodes.columns if c not in names]
    return list(dict.fromkeys(names))


def _column(study: Study, name: str) -> tuple[str, pd.Series]:
    """(column name, its value per search in ``study.searches`` order) for ``--by name``."""
    searches = study.searches
    for col in (name, f"param.{name}", f"param.policy.{name}"):
        if col in searches.columns:
            return col, searches[col]
    ending = [c for c in searches.columns if c.startswith("param.") and c.endswith(f".{name}")]
    if len(ending) == 1:
        return ending[0], searches[ending[0]]
    if name in study.nodes.columns and name != "search_id":
        first = study.nodes.groupby("search_id", sort=False)[name].first()
        return name, searches["search_id"].map(first)
    close = difflib.get_close_matches(name, attribute_names(study), n=3, cutoff=0.5)
    hint = f"Did you mean {', '.join(close)}? " if close else ""
    known = ", ".join(c for c in searches.columns if c not in ("search_id", "n_nodes"))
    raise UsageError(f"unknown by (--by) {name!r}: no search attribute or node column has "
                     "that name",
                     hint=f"{hint}Search attributes: {known}.")


MISSING = "none"


def _text(values: pd.Series) -> list[str]:
    """Group values as text; a missing value (a parameter a search does not have) is
    :data:`MISSING`."""
    return [MISSING if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v)
            for v in values]


def default_note(study: Study) -> str | None:
    """The line saying searches are grouped by agent, or None when they share one agent."""
    searches = study.searches
    if "agent" not in searches.columns or searches["agent"].nunique() < 2:
        return None
    parts = [c for c in agent_columns(searches) if not c.startswith("param.policy.")]
    differ = [c for c in parts if searches[c].astype(str).nunique() > 1]
    params = [c for c in agent_columns(searches) if c.startswith("param.policy.")]
    differ += [c.removeprefix("param.") for c in params  # a policy's own parameters
               if (searches.groupby("policy")[c].nunique(dropna=False) > 1).any()]
    n = searches["agent"].nunique()
    return (f"grouped by agent: the searches come from {n} agent configurations (they differ in "
            f"{', '.join(differ)}); --pool pools them, --by chooses the grouping.")


def resolve_grouping(study: Study, by: Sequence[str] = (), pool: bool = False) -> Grouping:
    """The grouping of ``study``'s searches (module docstring).

    Raises:
        UsageError: ``by`` together with ``pool``, or a ``by`` name that is no attribute.
    """
    if pool and by:
        raise UsageError("--by and --pool contradict each other",
                         hint="--pool compares every search as one group; drop one of them.")
    note = None
    if not by and not pool:
        note = default_note(study)
        by = ["agent"] if note else []
    base = study.searches[["search_id", "task"]].copy()
    columns: list[str] = []
    for name in dict.fromkeys(by):
        col, values = _column(study, name)
        if col not in columns:
            columns.append(col)
            base[col] = _text(values)
    if columns:
        base[GROUP_LABEL] = [" · ".join(parts) for parts in
                             zip(*(base[c] for c in columns), strict=True)]
    else:
        base[GROUP_LABEL] = POOLED
    labels = [str(x) for x in pd.unique(base[GROUP_LABEL])]
    return Grouping(columns=columns, searches=base, labels=labels, note=note)
