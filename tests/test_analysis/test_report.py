"""The full report on a small two-agent study: every section, every format, every number."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis.report import ReportResult
from aira_eval.analysis.sections import fmt_ci

SECTIONS = ["main", "generalization", "dynamics", "val_vs_test", "topk", "models", "seeds",
            "trees", "manifest"]


def test_every_section_renders(small_report: ReportResult) -> None:
    assert [s.key for s in small_report.sections] == SECTIONS
    assert small_report.errors == {}
    for s in small_report.sections:
        assert s.empty is None, (s.key, s.empty)
        assert s.tables or s.figures, s.key
        for f in s.figures:
            assert f.files["pdf"].stat().st_size > 1000 and f.files["png"].stat().st_size > 1000
            assert "%" in f.caption or "mean" in f.caption or f.name.startswith(("tree",
                                                                                  "val_vs"))
    trees = next(s for s in small_report.sections if s.key == "trees")
    assert len(trees.figures) == 2 and "of 24 searches" in trees.notes[0]


def test_outputs_on_disk(small_report: ReportResult) -> None:
    out = small_report.out
    for name in ("report.md", "report.html", "report.tex", "report.json"):
        assert (out / name).stat().st_size > 0
    md = (out / "report.md").read_text()
    for s in small_report.sections:
        assert s.title in md
        for t in s.tables:
            assert (out / "tables" / f"{t.name}.tex").exists()
            assert (out / "data" / f"{t.name}.csv").exists()
            assert (out / "data" / f"{t.name}.parquet").exists()
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"figures/" not in html
    meta = json.loads((out / "report.json").read_text())
    assert set(meta["timings_s"]) >= {*SECTIONS, "selection", "total"}


def test_main_table_numbers_are_select_numbers(small_report: ReportResult) -> None:
    """Every number of the main table (data, display, CSV) is the selection result's."""
    main = next(s for s in small_report.sections if s.key == "main")
    table = next(t for t in main.tables if t.name == "main")
    sel = main.data["selection"]
    merged = table.data.merge(sel, on=["group", "strategy", "metric"], suffixes=("", "_sel"))
    assert len(merged) == len(table.data) > 0
    for col in ("estimate", "lo", "hi", "delta", "delta_lo", "delta_hi", "p_value"):
        np.testing.assert_array_equal(merged[col].to_numpy(float),
                                      merged[f"{col}_sel"].to_numpy(float))
    shown = table.display.set_index(["agent", "strategy"])
    for row in table.data.itertuples():
        label = {"normalized_score": "normalized score", "any_medal": "medal rate",
                 "valid_submission": "valid submission"}.get(row.metric, row.metric)
        assert shown.loc[(row.group, row.strategy), label] == fmt_ci(row.estimate, row.lo,
                                                                      row.hi)
    csv = pd.read_csv(small_report.out / "data" / "main.csv")
    np.testing.assert_allclose(csv["estimate"].to_numpy(float),
                               table.data["estimate"].to_numpy(float), rtol=1e-12)
    p = table.data["p_holm"].dropna().to_numpy()
    raw = table.data.loc[table.data["p_holm"].notna(), "p_value"].to_numpy()
    assert p.size and np.all(p >= raw - 1e-12) and np.all(p <= 1.0)


def test_topk_curve_at_one_is_best_val(small_report: ReportResult) -> None:
    """The top-k curve at k = 1 is the best-val pick's normalized score from selection."""
    main = next(s for s in small_report.sections if s.key == "main")
    topk = next(s for s in small_report.sections if s.key == "topk").tables[0].data
    sel = main.data["selection"]
    for group in ("greedy", "random"):
        at1 = topk[(topk["group"] == group) & (topk["k"] == 1) & (topk["curve"] == "topk")]
        bv = sel[(sel["group"] == group) & (sel["strategy"] == "best-val")
                 & (sel["metric"] == "normalized_score")]
        assert math.isclose(float(at1["mean"].iloc[0]), float(bv["estimate"].iloc[0]),
                            abs_tol=1e-9)
        rnd = topk[(topk["group"] == group) & (topk["k"] == 1) & (topk["curve"] == "random-k")]
        sel_rnd = sel[(sel["group"] == group) & (sel["strategy"] == "random")
                      & (sel["metric"] == "normalized_score")]
        assert math.isclose(float(rnd["mean"].iloc[0]), float(sel_rnd["estimate"].iloc[0]),
                            abs_tol=1e-9)


def test_p_values_agree_with_the_intervals_printed_beside_them(
        small_report: ReportResult) -> None:
    """t intervals (the report's): p < 0.05 exactly when the 95 % interval excludes 0, in the
    data CSVs the report writes; the captions say where p comes from."""
    out = small_report.out / "data"
    main = pd.read_csv(out / "main.csv")
    rows = main[main["p_value"].notna()]
    assert len(rows) > 10
    excludes = (rows["delta_lo"] > 0) | (rows["delta_hi"] < 0)
    assert ((rows["p_value"] < 0.05) == excludes).all()
    assert excludes.any() and (~excludes).any()
    between = pd.read_csv(out / "between_agents.csv")
    rows = between[between["p_value"].notna()]
    assert len(rows) > 3
    assert ((rows["p_value"] < 0.05) == ((rows["lo"] > 0) | (rows["hi"] < 0))).all()
    md = (small_report.out / "report.md").read_text()
    assert "p-values from the two-sided t-test of Δ with Hall's skewness correction" in md
    assert "p-values from the two-sided Welch t-test of Δ with Hall's skewness correction" in md


def test_seed_projection_is_the_main_tables_interval(small_report: ReportResult) -> None:
    """At the study's own seed count (4 per task) the "how many seeds" half-width is the main
    table's (skew-corrected t) half-width for the reference strategy; it shrinks with every
    added seed."""
    main = next(s for s in small_report.sections if s.key == "main")
    sel = main.tables[0].data
    seeds = pd.read_csv(small_report.out / "data" / "seeds.csv")
    assert "skew-corrected t interval" in next(s for s in small_report.sections
                                               if s.key == "seeds").tables[0].caption
    headline = sel.loc[sel["p_holm"].notna(), "metric"].iloc[0]
    for group, curve in seeds.groupby("group"):
        ref = sel[(sel["group"] == group) & (sel["strategy"] == "best-val")
                  & (sel["metric"] == headline)].iloc[0]
        own = curve.loc[curve["n_seeds"] == 4, "half_width"].iloc[0]
        assert own == pytest.approx((ref["hi"] - ref["lo"]) / 2, rel=1e-9)
        widths = curve.sort_values("n_seeds")["half_width"].to_numpy()
        assert np.all(np.diff(widths) < 0) and len(widths) == 5


def test_seeds_table_has_its_own_caption(small_report: ReportResult) -> None:
    """N2: the table has no dotted line; its caption says what "seeds in study" is."""
    seeds = next(s for s in small_report.sections if s.key == "seeds")
    assert "dotted: the study's own seed count" in seeds.figures[0].caption
    table = seeds.tables[0]
    assert "dotted" not in table.caption
    assert "“seeds in study”: the study's own count" in table.caption
    assert table.caption.startswith(seeds.figures[0].caption.split("; dotted")[0])
    assert list(table.display.columns[:2]) == ["agent", "seeds in study"]


def test_figure_captions_name_the_percentile_bootstrap(small_report: ReportResult) -> None:
    by_key = {s.key: s for s in small_report.sections}
    captions = [f.caption for f in by_key["topk"].figures] + \
        [t.caption for t in by_key["topk"].tables] + \
        [f.caption for f in by_key["val_vs_test"].figures if f.name == "optimism"] + \
        [f.caption for f in by_key["dynamics"].figures]
    assert len(captions) == 4
    assert all("percentile bootstrap" in c for c in captions), captions


def test_manifest_lists_each_task_s_reference(small_report: ReportResult) -> None:
    section = next(s for s in small_report.sections if s.key == "manifest")
    refs = next(t for t in section.tables if t.name == "references")
    tasks = {str(t) for t in refs.data["task"]}
    assert tasks and all(r for r in refs.data["reference_rule"])
    assert "reference (= 1)" in refs.display.columns and "sample (= 0)" in refs.display.columns
    main = next(s for s in small_report.sections if s.key == "main").tables[0]
    assert "in the manifest's references table" in main.caption
