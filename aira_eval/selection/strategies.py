"""Final-pick strategies: which node(s) of a search would be submitted.

A strategy is a small pure function ``(view, params) -> picks`` over a *blinded* node frame
(:func:`aira_eval.selection.views.selection_view`: no ``score_test``/``n_test``; only the
``oracle``, marked ``uses_test``, gets them). The frame may hold one search or many: every
built-in works per search (grouped by ``search_id``) and is vectorized across searches, so a
single search's frame gives that search's pick. The result is a frame with columns
``search_id, node_id`` (and, optionally, the view's ``_row`` of the node, which built-ins
return to spare string joins): one row per picked node, none for a search without a candidate
(a failed submission).

How a strategy's picks count is its ``combine``: ``"best"`` (the best test score among the
picks, as when a competitor may make k final submissions; one pick is the common case) or
``"mean"`` (the expected result of submitting one of them uniformly at random).

Only valid nodes (a graded submission) are candidates; rankings by validation additionally need
a finite validation score. Ties go to the earliest step (for ``shrinkage`` and ``lcb``, first to
the better raw validation score).

Duplicates (``topk``): byte-identical solutions count once. Two candidates of a search are
duplicates when their code has the same SHA-256 (column ``code_sha``, filled from the study's
code files by :func:`~aira_eval.selection.duplicates.study_code_hashes`; without it no node is a
duplicate). Only the best-ranked of them can take a slot; the picks carry
``duplicates_skipped``, the number of duplicates passed over before the search's last pick.
Predictions are not compared: the study stores no test-free prediction signature, and test
predictions must not steer a pick.

Estimates (``shrinkage``, ``lcb``; :func:`node_estimates`), per node in a search:

* mean ``m``: the reported validation score (the mean of its folds when it reports none);
* standard error ``se``: with two or more folds, ``sd(folds, ddof=1) / sqrt(n_folds)``; else,
  for a score in [0, 1] with a known validation size ``n`` (column ``n_val``), the
  Agresti–Coull binomial proxy ``sqrt(p~(1-p~)/(n+4))`` with ``p~ = (m·n+2)/(n+4)`` (exact in
  spirit for accuracy-like metrics, never 0); else the median fold-based ``se`` of the search's
  other candidates; else 0 (no information: the node is taken at face value);
* normal–normal prior by method of moments across the search's candidates, on the oriented
  scale (higher is better): ``mu = mean(m)``, ``tau2 = max(0, var(m, ddof=1) - mean(se²))``;
  posterior mean ``mu + B (m - mu)`` with ``B = tau2 / (tau2 + se²)`` (``B = 1`` when
  ``se = 0``);
* lower confidence bound ``m - z·se`` on the oriented scale (an upper bound ``m + z·se`` for a
  lower-is-better metric); ``z`` defaults to 1.0, a one-standard-error rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from aira_eval.errors import UsageError
from aira_eval.selection.duplicates import code_duplicates
from aira_eval.selection.views import FOLD_COLUMNS, fold_stats, order_nodes, selection_view

PICK_COLUMNS: tuple[str, str] = ("search_id", "node_id")
Combine = Literal["best", "mean"]


@dataclass(frozen=True)
class StrategyParams:
    """Options of the parameterized strategies: ``k`` for ``topk``, ``z`` for ``lcb``."""

    k: int = 3
    z: float = 1.0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise UsageError(f"k (--k) must be at least 1, got {self.k}")
        if not np.isfinite(self.z):
            raise UsageError(f"z (--z) must be a finite number, got {self.z}")


StrategyFunc = Callable[[pd.DataFrame, StrategyParams], pd.DataFrame]


@dataclass(frozen=True)
class Strategy:
    """A registered final-pick strategy.

    Attributes:
        name: the name the CLI takes (``best-val``).
        func: ``(view, params) -> picks`` (see the module docstring).
        description: one line for help and reports.
        combine: ``"best"`` or ``"mean"`` (how several picks count).
        uses_test: reads test scores (an upper bound, never a real strategy).
        requires: a score column that must hold data somewhere in the study.
    """

    name: str
    func: StrategyFunc
    description: str
    combine: Combine = "best"
    uses_test: bool = False
    requires: str | None = None


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add (or replace) a strategy in the registry."""
    STRATEGIES[strategy.name] = strategy
    return strategy


def strategy_names() -> list[str]:
    return list(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The registered strategy called ``name``; a :class:`UsageError` suggesting close names."""
    if name in STRATEGIES:
        return STRATEGIES[name]
    close = difflib.get_close_matches(name, list(STRATEGIES), n=3, cutoff=0.5)
    hint = f"Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"unknown strategy {name!r}",
        hint=(hint + " " if hint else "") + f"Known strategies: {', '.join(STRATEGIES)}.",
    )


def not_applicable_reason(strategy: Strategy, frame: pd.DataFrame) -> str | None:
    """Why ``strategy`` cannot run on ``frame`` (a missing held-out set), or None."""
    col = strategy.requires
    if col is None:
        return None
    if col not in frame.columns or not np.isfinite(frame[col].to_numpy(dtype=float)).any():
        held = col.removeprefix("score_")
        return (
            f"{strategy.name} needs the hidden '{held}' held-out set, and no node has a score on it"
        )
    return None


# ---------------------------------------------------------------------------- helpers


def _sign(view: pd.DataFrame) -> np.ndarray:
    """+1 where higher is better, -1 where lower is better; shape (nodes,)."""
    return np.where(view["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)


def _oriented(view: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` on the higher-is-better scale; shape (nodes,), NaN where absent."""
    return view[column].to_numpy(dtype=float) * _sign(view)


def _valid(view: pd.DataFrame) -> np.ndarray:
    return view["valid"].to_numpy(dtype=bool)


def _search_codes(view: pd.DataFrame) -> np.ndarray:
    """Integer code per row's search, shape (nodes,)."""
    if "_search" in view.columns:
        return view["_search"].to_numpy()
    return pd.factorize(view["search_id"])[0]


def _empty_picks() -> pd.DataFrame:
    return pd.DataFrame({"search_id": pd.Series([], dtype=object),
                         "node_id": pd.Series([], dtype=object),
                         "_row": pd.Series([], dtype=np.int64)})


def picks_at(view: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Picks frame for the rows of ``view`` at ``positions`` (integer positions)."""
    rows = view["_row"].to_numpy()[positions] if "_row" in view.columns else positions
    return pd.DataFrame({
        "search_id": view["search_id"].iloc[positions].reset_index(drop=True),
        "node_id": view["node_id"].iloc[positions].reset_index(drop=True),
        "_row": np.asarray(rows, dtype=np.int64),
    })


def _first_best_sorted(codes: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
    """Per group of equal ``codes`` (contiguous, rows in step order), the position of the
    first row that is best by ``keys`` (lexicographic, descending); shape (groups,)."""
    n = codes.size
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    alive = np.ones(n, dtype=bool)
    for key in keys:
        value = np.where(alive, np.nan_to_num(key, nan=-np.inf), -np.inf)
        alive &= value == np.repeat(np.maximum.reduceat(value, starts), sizes)
    return np.minimum.reduceat(np.where(alive, np.arange(n), n), starts)


def top_per_search(
    view: pd.DataFrame, keys: list[np.ndarray], candidates: np.ndarray, k: int = 1
) -> pd.DataFrame:
    """The ``k`` best candidates of every search, ranked by ``keys`` (each descending).

    Args:
        view: node frame; rows in any order.
        keys: arrays of shape (nodes,), primary first; higher ranks first; ties fall through
            to the next key, finally to the lowest ``step``.
        candidates: bool mask (nodes,); rows with a non-finite primary key are dropped too.
        k: picks per search.

    Returns:
        Picks frame (``search_id, node_id, _row``), best first within each search.
    """
    mask = candidates & np.isfinite(keys[0])
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return _empty_picks()
    codes = _search_codes(view)[idx]
    if k == 1 and "_row" in view.columns:  # prepared views are in (search, step) order
        return picks_at(view, idx[_first_best_sorted(codes, [key[idx] for key in keys])])
    sort_keys = [view["step"].to_numpy()[idx]]
    sort_keys += [-np.nan_to_num(key[idx], nan=-np.inf) for key in reversed(keys)]
    order = np.lexsort([*sort_keys, codes])
    sorted_codes = codes[order]
    new_group = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    starts = np.maximum.accumulate(np.where(new_group, np.arange(order.size), 0))
    return picks_at(view, idx[order[(np.arange(order.size) - starts) < k]])


# ---------------------------------------------------------------------------- estimates


ESTIMATE_COLUMNS = ("_est_mean", "_est_se", "_shrunk_oriented")


def prepare_nodes(frame: pd.DataFrame) -> pd.DataFrame:
    """Order ``frame`` for selection once: (search, step) order, helper columns, fold stats
    and validation estimates (all derived from blinded columns only).

    Every strategy and the evaluation can share the result; blinded views drop only the
    test columns from it.
    """
    prepared = frame if "_row" in frame.columns else order_nodes(frame)
    if not all(c in prepared.columns for c in FOLD_COLUMNS):
        for name, values in zip(FOLD_COLUMNS, fold_stats(prepared), strict=True):
            prepared[name] = values
    if not all(c in prepared.columns for c in ESTIMATE_COLUMNS):
        for name, values in zip(ESTIMATE_COLUMNS, _estimates(prepared), strict=True):
            prepared[name] = values
    return prepared


def _group_transform(
    values: np.ndarray, codes: np.ndarray, how: Literal["mean", "var", "median"]
) -> np.ndarray:
    """Per-group ``how`` of the finite values (NaN skipped), broadcast back to rows (n,)."""
    series = pd.Series(values).groupby(codes)
    return series.transform(how).to_numpy(dtype=float)


def _estimates(view: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node (nodes,): mean, SE, oriented posterior mean; NaN for non-candidates."""
    n_folds, fold_mean, fold_sd = fold_stats(view)
    val = view["score_val"].to_numpy(dtype=float)
    mean = np.where(np.isfinite(val), val, fold_mean)
    cand = _valid(view) & np.isfinite(mean)
    codes = _search_codes(view)
    se = fold_sd / np.sqrt(np.maximum(n_folds, 1))
    n_val = view["n_val"].to_numpy(dtype=float) if "n_val" in view.columns else np.zeros(len(view))
    use_binom = ~np.isfinite(se) & (n_val > 0) & (mean >= 0.0) & (mean <= 1.0)
    p_tilde = np.where(use_binom, (mean * n_val + 2.0) / (n_val + 4.0), 0.5)
    se = np.where(use_binom, np.sqrt(p_tilde * (1.0 - p_tilde) / (n_val + 4.0)), se)
    fold_only = np.where(cand & (n_folds >= 2), se, np.nan)
    if not np.isfinite(se[cand]).all():
        se = np.where(np.isfinite(se), se, _group_transform(fold_only, codes, "median"))
    se = np.where(cand, np.nan_to_num(se, nan=0.0), np.nan)
    o = np.where(cand, mean * _sign(view), np.nan)
    mu = _group_transform(o, codes, "mean")
    var = np.nan_to_num(_group_transform(o, codes, "var"), nan=0.0)
    tau2 = np.maximum(0.0, var - _group_transform(se * se, codes, "mean"))
    with np.errstate(invalid="ignore", divide="ignore"):
        shrink = np.where(se > 0, tau2 / (tau2 + se * se), 1.0)
    return np.where(cand, mean, np.nan), se, mu + shrink * (o - mu)


def node_estimates(view: pd.DataFrame, z: float = 1.0) -> pd.DataFrame:
    """Per-node validation estimates used by ``shrinkage`` and ``lcb`` (module docstring).

    Args:
        view: blinded node frame, any number of searches (uses the estimates cached by
            :func:`prepare_nodes` when present).
        z: the ``lcb`` multiplier.

    Returns:
        Frame aligned with ``view`` (same index) with columns ``est_mean``, ``est_se``,
        ``shrunk`` (posterior mean) and ``lcb`` in the metric's own direction, plus
        ``shrunk_oriented`` and ``lcb_oriented`` (higher is better); NaN for non-candidates.
    """
    if all(c in view.columns for c in ESTIMATE_COLUMNS):
        mean, se, post = (view[c].to_numpy(dtype=float) for c in ESTIMATE_COLUMNS)
    else:
        mean, se, post = _estimates(view)
    sign = _sign(view)
    lcb = mean * sign - z * se
    return pd.DataFrame(
        {"est_mean": mean, "est_se": se, "shrunk": post * sign, "lcb": lcb * sign,
         "shrunk_oriented": post, "lcb_oriented": lcb},
        index=view.index,
    )


# ---------------------------------------------------------------------------- strategies


def _by_column(column: str) -> StrategyFunc:
    def pick(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        return top_per_search(view, [_oriented(view, column)], _valid(view))

    return pick


def _topk(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    """The k best *distinct* solutions by validation (module docstring: duplicates)."""
    key = _oriented(view, "score_val")
    candidates = _valid(view) & np.isfinite(key)
    rank, duplicate = code_duplicates(view, key, candidates)
    picks = top_per_search(view, [key], candidates & ~duplicate, k=params.k)
    codes = _search_codes(view)
    rows = view["_row"].to_numpy() if "_row" in view.columns else np.arange(len(view))
    position = np.empty(len(view), dtype=np.int64)
    position[rows] = np.arange(len(view))
    picked = position[picks["_row"].to_numpy(dtype=np.int64)]
    last = np.full(int(codes.max()) + 1 if codes.size else 0, -1)
    np.maximum.at(last, codes[picked], rank[picked])
    skipped = duplicate & (rank < last[codes])
    picks["duplicates_skipped"] = np.bincount(codes[skipped], minlength=last.size)[codes[picked]]
    return picks


def _shrinkage(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    est = node_estimates(view, params.z)
    keys = [est["shrunk_oriented"].to_numpy(), _oriented(view, "score_val")]
    return top_per_search(view, keys, _valid(view))


def _lcb(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    est = node_estimates(view, params.z)
    keys = [est["lcb_oriented"].to_numpy(), _oriented(view, "score_val")]
    return top_per_search(view, keys, _valid(view))


def _last(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    step = view["step"].to_numpy(dtype=float)
    return top_per_search(view, [step], _valid(view))


def _random(view: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
    return picks_at(view, np.flatnonzero(_valid(view)))


for _strategy in (
    Strategy("best-val", _by_column("score_val"), "best node by its own validation score"),
    Strategy("oracle", _by_column("score_test"), "best node by test score (upper bound)",
             uses_test=True),
    Strategy("topk", _topk, "k best distinct solutions by validation; counts the best test "
             "score among them"),
    Strategy("shrinkage", _shrinkage, "highest empirical-Bayes posterior mean of validation"),
    Strategy("lcb", _lcb, "highest lower confidence bound of validation (mean - z·SE)"),
    Strategy("best-search", _by_column("score_search"), "best by the hidden 'search' holdout",
             requires="score_search"),
    Strategy("best-select", _by_column("score_select"), "best by the hidden 'select' holdout",
             requires="score_select"),
    Strategy("last", _last, "the last valid node"),
    Strategy("random", _random, "expected result of a uniformly random valid node",
             combine="mean"),
):
    register(_strategy)


def run_strategy(
    strategy: Strategy, frame: pd.DataFrame, params: StrategyParams | None = None
) -> pd.DataFrame:
    """Run ``strategy`` on the right view of ``frame`` and check its picks.

    Args:
        strategy: a registered strategy.
        frame: full node frame (with test columns); the strategy gets a blinded view of it.
        params: strategy options (defaults if None).

    Returns:
        Picks (``search_id, node_id, _row``; ``_row`` indexes :func:`prepare_nodes`'s
        frame); every picked node is a valid node of its search.
    """
    return run_strategies([strategy], frame, params)[strategy.name]


def run_strategies(
    strategies: list[Strategy], frame: pd.DataFrame, params: StrategyParams | None = None
) -> dict[str, pd.DataFrame]:
    """Picks of every strategy; the blinded and the test view are built once and shared.

    Strategies must not modify the view they get (they are pure functions).
    """
    params = params or StrategyParams()
    prepared = prepare_nodes(frame)
    flags = {s.uses_test for s in strategies}
    views = {flag: selection_view(prepared, with_test=flag) for flag in flags}
    out: dict[str, pd.DataFrame] = {}
    for strategy in strategies:
        picks = strategy.func(views[strategy.uses_test], params)
        out[strategy.name] = check_picks(strategy.name, picks, prepared)
    return out


def check_picks(name: str, picks: pd.DataFrame, prepared: pd.DataFrame) -> pd.DataFrame:
    """Validate a strategy's output against the prepared frame; add ``_row`` if missing.

    Raises:
        TypeError: the pick columns are missing.
        ValueError: a pick is not a valid node of its search.
    """
    missing = [c for c in PICK_COLUMNS if c not in picks.columns]
    if missing:
        raise TypeError(f"strategy {name!r} returned picks without columns {missing}")
    if "_row" not in picks.columns:
        keys = prepared[[*PICK_COLUMNS, "_row"]]
        picks = picks[list(PICK_COLUMNS)].merge(keys, on=list(PICK_COLUMNS), how="left")
        picks["_row"] = picks["_row"].fillna(-1).astype(np.int64)
    rows = picks["_row"].to_numpy(dtype=np.int64)
    known = (rows >= 0) & (rows < len(prepared))
    ok = known & prepared["valid"].to_numpy(dtype=bool)[np.where(known, rows, 0)]
    if not ok.all():
        bad = picks.loc[~ok, list(PICK_COLUMNS)].head(3).to_dict(orient="records")
        raise ValueError(f"strategy {name!r} picked nodes that are not valid nodes: {bad}")
    extra = ["duplicates_skipped"] if "duplicates_skipped" in picks.columns else []
    return picks[[*PICK_COLUMNS, "_row", *extra]].reset_index(drop=True)


def pick_one(name: str, search: pd.DataFrame, params: StrategyParams | None = None) -> list[str]:
    """The node ids strategy ``name`` picks in one search's frame (empty: failed)."""
    picks = run_strategy(get_strategy(name), search, params)
    return [str(n) for n in picks["node_id"]]
