"""Tables of ``aira-eval select``: one block per group, the between-group comparison and the
generalization view (VAL/VAL, VAL/TEST, TEST/TEST, top-k)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich import box
from rich.table import Table

from aira_eval.cli._common import console

if TYPE_CHECKING:
    from aira_eval.selection.result import SelectionResult

_SHORT = {"normalized_score": "norm.", "test_score": "test", "win_rate": "win",
          "any_medal": "medal", "valid_submission": "valid"}
_CI_NAMES = {"hall": "skew-corrected t (Hall)", "t": "Welch t",
             "expanded": "expanded percentile", "percentile": "percentile", "bca": "BCa"}
NORM_NOTE = ("norm. = (test score − the sample submission's) / (the task's reference − the "
             "sample's), the reference fixed per task: the one study.json records, else the "
             "leaderboard's best, else the best test score in the loaded studies; a failed "
             "submission counts 0")


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.{digits + 1}g}"


def _with_ci(stats: dict[str, Any], digits: int = 3) -> str:
    """Estimate over its interval (bounds to ``digits`` decimals), two lines, so that 80
    columns fit the table."""
    if stats["estimate"] is None or pd.isna(stats["estimate"]):
        return "—"
    low, high = stats["ci_low"], stats["ci_high"]
    if (low is None or pd.isna(low)) and (high is None or pd.isna(high)):  # no variance
        return f"{_fmt(stats['estimate'])}\n—"
    if digits < 3:  # rounded outwards: the interval shown contains the one computed
        low, high = _outward(low, digits, math.floor), _outward(high, digits, math.ceil)
    return f"{_fmt(stats['estimate'])}\n{_fmt(low, digits)}…{_fmt(high, digits)}"


def _outward(value: float | None, digits: int, how: Callable[[float], int]) -> float | None:
    if value is None or pd.isna(value) or abs(value) >= 1000:
        return value
    return how(round(value * 10**digits, 9)) / 10**digits  # 0.93 * 100 is 93.000…01


def _table(title: str, caption: str | None = None) -> Table:
    return Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True,
                 title=title, caption=caption)


def _group_table(summary: dict[str, Any], label: str, block: dict[str, Any], mixed: bool,
                 grouped: bool) -> Table:
    """One group's strategies (:func:`_strategy_table`), with two decimals in the intervals
    and ``fav.`` when three do not fit the console (rich would cut every cell short)."""
    table = _strategy_table(summary, label, block, mixed, grouped, 3)
    unbounded = console.options.update_width(10_000)
    if console.measure(table, options=unbounded).maximum <= console.width:
        return table
    return _strategy_table(summary, label, block, mixed, grouped, 2)


def _strategy_table(summary: dict[str, Any], label: str, block: dict[str, Any], mixed: bool,
                    grouped: bool, digits: int) -> Table:
    """One group's strategies; raw-score columns only when the tasks share a metric, the medal
    column only when some task has medals; ``digits`` decimals in intervals and ``fav.``."""
    head, ref, opts = summary["headline_metric"], summary["reference"], summary["options"]
    counts = block["counts"]
    where = f"{' · '.join(summary['by'])} {label}: " if grouped else ""
    table = _table(f"{where}{counts['tasks']} task(s) × {counts['searches']} search(es)")
    strategies = block["strategies"]
    medals = any(b["metrics"]["any_medal"]["estimate"] is not None for b in strategies.values())
    cells: list[tuple[str, Any]] = []
    if not mixed:
        cells += [("test", lambda m: _with_ci(m["test_score"], digits)),
                  ("val", lambda m: _fmt(m["val_score"]["estimate"])),
                  ("optim.", lambda m: _fmt(m["optimism"]["estimate"]))]
    if medals:
        cells.append(("medal", lambda m: _fmt(m["any_medal"]["estimate"])))
    cells.append(("norm.", lambda m: _with_ci(m["normalized_score"], digits)))
    table.add_column("strategy", no_wrap=True)
    for col, _ in cells:
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("Δ " + _SHORT.get(head, head[:6]), justify="right", no_wrap=True)
    table.add_column("fav.", justify="right", no_wrap=True)
    for name, strat in strategies.items():
        m = strat["metrics"]
        label_ = name + ("\n(test!)" if strat["uses_test"] else "")
        label_ += f"\n(k={opts['k']})" if name == "topk" else ""
        table.add_row(label_, *(cell(m) for _, cell in cells),
                      "ref" if name == ref else _with_ci(m[head]["delta"], digits),
                      "—" if name == ref else
                      _fmt(m[head]["delta"].get("share_resamples_favouring"), digits))
    return table


def _compare_table(result: SelectionResult, head: str, by: str) -> Table:
    rows = result.compare[(result.compare["metric"] == head) & (result.compare["tasks"] > 0)]
    table = _table(f"between {by}s: Δ {_SHORT.get(head, head)} = A − B, same strategy")
    for col, justify in (("strategy", "left"), ("A − B", "left"), ("Δ", "right"),
                         ("fav.", "right"), ("tasks", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows.to_dict(orient="records"):
        table.add_row(str(row["strategy"]), f"{row['group_a']}\n− {row['group_b']}",
                      _with_ci({"estimate": row["delta"], "ci_low": row["lo"],
                                "ci_high": row["hi"]}),
                      _fmt(row["share_resamples_favouring"]), str(row["tasks"]))
    return table


def _generalization_table(result: SelectionResult, mixed: bool) -> Table:
    gen = result.generalization
    if mixed:
        gen = gen[~gen["metric"].isin(["test_score", "val_score", "oracle_score"])]
    views = [v for v in ("VAL/VAL", "VAL/TEST", "TEST/TEST", "top-k") if v in set(gen["view"])]
    table = _table("generalization (selection / judged on)")
    table.add_column("group", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for view in views:
        table.add_column(view, justify="right", no_wrap=True)
    raw = gen["metric"].isin(["test_score", "val_score", "oracle_score"]).to_numpy()
    gen = gen.assign(metric=gen["metric"].map(lambda m: _SHORT.get(str(m), str(m))).where(
        ~raw, "score"))
    for (group, metric), rows in gen.groupby(["group", "metric"], sort=False):
        cells = {r.view: _with_ci({"estimate": r.estimate, "ci_low": r.lo, "ci_high": r.hi})
                 for r in rows.itertuples(index=False)}
        table.add_row(str(group), str(metric), *(cells.get(v, "—") for v in views))
    return table


def _missing_pairs(result: SelectionResult) -> None:
    pairs = result.compare.drop_duplicates(["group_a", "group_b"])
    disjoint = pairs["tasks"].to_numpy() == 0
    if disjoint.any():
        console.print(f"{int(disjoint.sum())} pair(s) of groups share no task: not compared.",
                      highlight=False)
    for row in pairs[~disjoint].to_dict(orient="records"):
        a, b = str(row["group_a"]), str(row["group_b"])
        for group, only in ((a, row["only_a"]), (b, row["only_b"])):
            if only:
                console.print(f"{a} vs {b}: left out task(s) only {group} has: {only}",
                              highlight=False)


def render(result: SelectionResult, mixed: bool = False) -> None:
    """Print every table of a selection run."""
    summary = result.summary
    grouped = len(result.groups) > 1 or bool(result.by)
    if result.note:
        console.print(result.note, highlight=False)
    for label, block in summary["groups"].items():
        console.print(_group_table(summary, label, block, mixed, grouped))
        if block["missing_tasks"]:
            console.print(f"{label} has no search on: {', '.join(block['missing_tasks'])}",
                          highlight=False)
    head = summary["headline_metric"]
    console.print(f"{summary['resampling']} Δ = {head} − {summary['reference']}'s. "
                  + ("" if mixed else "val = the pick's own validation score, optim. = val − "
                     "test (oriented: > 0 over-estimated); ") + f"{NORM_NOTE}.", highlight=False)
    if mixed:
        console.print("No test, val or optim. columns: the tasks use different metrics, so "
                      "compare normalized scores (or --json for per-task values).")
    if len(result.groups) > 1 and (result.compare["tasks"] > 0).any():
        console.print(_compare_table(result, head, " · ".join(result.by)))
        method = str(result.compare["ci_method"].iloc[0])
        console.print(f"Δ: {_CI_NAMES.get(method, method)} interval of A − B (independent "
                      "groups: Welch over both groups' per-task variances for hall and t); "
                      "fav. = share of resamples where Δ favours A (searches resampled within "
                      "task × group; tasks both groups have).", highlight=False)
    if len(result.groups) > 1:
        _missing_pairs(result)
    console.print(_generalization_table(result, mixed))
    console.print("VAL/VAL: the best-val pick's own validation score; VAL/TEST: its test score; "
                  "TEST/TEST: the best test score in the search; top-k: the best of the "
                  "top-k picks on test.", highlight=False)
    failures = [f"{label}: {name} {b['failures']}/{b['searches']}"
                for label, block in summary["groups"].items()
                for name, b in block["strategies"].items() if b["failures"]]
    if failures:
        console.print("failed submissions (no medal, normalized score 0): " + ", ".join(failures))
    _duplicates_note(result)


def _duplicates_note(result: SelectionResult) -> None:
    """One line when topk passed over byte-identical solutions (they take one slot)."""
    picks = result.picks
    if "duplicates_skipped" not in picks.columns:
        return
    skipped = picks[picks["duplicates_skipped"] > 0]
    for name, rows in skipped.groupby("strategy", sort=False):
        console.print(f"{name}: skipped {int(rows['duplicates_skipped'].sum())} duplicate "
                      f"node(s) (identical code) in {len(rows)} search(es); each solution "
                      "takes one slot.", highlight=False)
