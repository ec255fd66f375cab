"""Blinded views of a node frame: what a selection strategy is allowed to see.

A selection strategy sees every column of the node table except the test set's (``score_test``
and ``n_test``): the agent that submits never saw its test score, and neither may the rule
that picks its submission. Only the ``oracle`` strategy (marked ``uses_test``) gets a view with
them. Views are new frames (columns dropped), so a strategy cannot reach test scores through
the frame it was given.

Views are in ``(search, step)`` order and carry two helper columns: ``_row`` (the row's
position in the prepared frame, so picks map back to nodes without string joins) and
``_search`` (an integer code per ``search_id``); prepared frames also carry per-node fold
statistics (:func:`fold_stats`), derived from blinded columns only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aira_eval.study.folds import FOLD_COLUMNS, fold_stats

__all__ = ["FOLD_COLUMNS", "HELPER_COLUMNS", "TEST_COLUMNS", "fold_stats", "order_nodes",
           "selection_view"]

TEST_COLUMNS: tuple[str, ...] = ("score_test", "n_test")
HELPER_COLUMNS: tuple[str, ...] = ("_row", "_search")


def order_nodes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by (search, step) with ``_row``/``_search`` helper columns (a copy).

    Searches keep the order of their first appearance; ``_row`` is ``0..n-1``.
    """
    codes = pd.factorize(frame["search_id"])[0]
    step = frame["step"].to_numpy()
    in_order = bool(np.all((np.diff(codes) > 0) | ((np.diff(codes) == 0) & (np.diff(step) >= 0))))
    if in_order:  # the usual case: a node table is written search by search, step by step
        out = frame.reset_index(drop=True).copy(deep=False)
        out["_search"] = codes
    else:
        order = np.lexsort((step, codes))
        out = frame.take(order).reset_index(drop=True)
        out["_search"] = codes[order]
    out["_row"] = np.arange(len(out))
    return out


def selection_view(frame: pd.DataFrame, *, with_test: bool = False) -> pd.DataFrame:
    """The frame a strategy receives: without test columns unless ``with_test``.

    Args:
        frame: node frame (any number of searches); ordered by :func:`order_nodes` when it
            lacks the helper columns.
        with_test: keep ``score_test``/``n_test`` (the oracle only).
    """
    ordered = frame if "_row" in frame.columns else order_nodes(frame)
    if with_test:
        return ordered.copy(deep=False)
    return ordered.drop(columns=[c for c in TEST_COLUMNS if c in ordered.columns])
