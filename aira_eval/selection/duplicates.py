"""Byte-identical solutions: ``topk`` counts each distinct code once (the strategies module
docstring). Pure functions over a blinded node frame; the hash column is filled from the
study's code files before selection (never from test scores or predictions)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from aira_eval.study import Study

CODE_HASH = "code_sha"  # optional node column: SHA-256 of the node's code (code_hashes)


def code_duplicates(view: pd.DataFrame, key: np.ndarray, candidates: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per node (nodes,): rank among its search's candidates (best first: higher ``key``, then
    lower step; -1 for non-candidates) and whether an earlier-ranked candidate of the search
    has byte-identical code (same ``code_sha``; never true without that column)."""
    rank = np.full(len(view), -1, dtype=np.int64)
    idx = np.flatnonzero(candidates)
    codes = (view["_search"].to_numpy() if "_search" in view.columns
             else pd.factorize(view["search_id"])[0])
    order = idx[np.lexsort((view["step"].to_numpy()[idx], -key[idx], codes[idx]))]
    starts = np.r_[True, codes[order][1:] != codes[order][:-1]] if order.size else order
    first = np.maximum.accumulate(np.where(starts, np.arange(order.size), 0))
    rank[order] = np.arange(order.size) - first
    duplicate = np.zeros(len(view), dtype=bool)
    if CODE_HASH in view.columns and order.size:
        sha = view[CODE_HASH].to_numpy(dtype=object)[order]
        seen = pd.DataFrame({"s": codes[order], "h": sha}).duplicated().to_numpy()
        duplicate[order] = seen & pd.notna(sha)
    return rank, duplicate


def code_hashes(frame: pd.DataFrame, codes: dict[str, str]) -> pd.Series:
    """SHA-256 of each node's code (None without code), aligned with ``frame``: the
    :data:`CODE_HASH` column ``topk`` uses to count byte-identical solutions once."""
    digest = {n: hashlib.sha256(c.encode()).hexdigest() for n, c in codes.items()}
    return frame["node_id"].map(digest).astype(object)


def study_code_hashes(study: Study) -> pd.Series:
    """:func:`code_hashes` of every node of ``study``, each source's code matched to that
    source's rows only (by its searches): node ids may repeat across pooled studies (whose
    colliding search ids get a prefix; study ids may repeat too), so a node's hash is that
    of *its* search's code, as the pick keys candidates by search."""
    from aira_eval.study.code import read_codes

    frame = study.frame
    if len(study.sources) < 2:
        return code_hashes(frame, study.codes)
    out = pd.Series(None, index=frame.index, dtype=object)
    for source in study.sources:
        rows = study.rows_of(source)
        part = frame[rows]
        out[rows] = code_hashes(part, read_codes(source.study_dir, part)).to_numpy()
    return out
