"""The report's formats: LaTeX compiles (pdflatex) to non-blank pages; the HTML opens in
headless Chromium with every image loaded; tables and text escape correctly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis.render_tex import escape, table_tex
from aira_eval.analysis.report import ReportResult
from aira_eval.analysis.sections import Table
from aira_eval.study import Study

CHROMIUM = next((c for c in ("chromium", "chromium-browser", "google-chrome") if
                 shutil.which(c)), None)


def test_escape_and_interval_cells() -> None:
    assert escape("a_b & 50% #1 Δ ≥ −1 <0.001") == \
        r"a\_b \& 50\% \#1 $\Delta$ $\geq$ $-$1 $<$0.001"
    tex = table_tex(Table("t", "T", "c", pd.DataFrame(), pd.DataFrame(
        {"agent": ["greedy · aide"], "x": ["0.610 [0.550, 0.670]"]})))
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\begin{tabular}{lr}" in tex
    assert r"0.610\\{\scriptsize [0.550, 0.670]}" in tex
    assert r"greedy $\cdot$ aide" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX installation")
def test_latex_compiles_to_non_blank_pages(small_report: ReportResult, tmp_path: Path) -> None:
    build = tmp_path / "tex"
    shutil.copytree(small_report.out, build)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "report.tex"], cwd=build, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    pdf = build / "report.pdf"
    assert pdf.stat().st_size > 10_000
    if shutil.which("pdftoppm") is None:
        pytest.skip("no pdftoppm to render the pages")
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(build / "page")],
                   check=True, timeout=300)
    pages = sorted(build.glob("page-*.png"))
    assert len(pages) >= 3
    import matplotlib.image as mpimg

    for page in pages:
        pixels = mpimg.imread(page)[..., :3]
        assert float(np.mean(pixels < 0.9)) > 0.005, f"{page.name} is blank"


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium")
def test_html_opens_in_chromium_without_broken_images(small_report: ReportResult,
                                                      tmp_path: Path) -> None:
    html = (small_report.out / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images];"
             " const bad = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;"
             " document.title = 'IMAGES ' + imgs.length + ' BROKEN ' + bad; });</script>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"))
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--virtual-time-budget=10000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    n_figures = sum(len(s.figures) for s in small_report.sections)
    assert f"<title>IMAGES {n_figures} BROKEN 0</title>" in done.stdout
    assert "http://" not in html and "https://" not in html  # nothing to fetch: offline


def test_latex_minus_signs_arrows_and_required_packages() -> None:
    assert escape("f1 (↑), rmse (↓)") == r"f1 ($\uparrow$), rmse ($\downarrow$)"
    tex = table_tex(Table("t", "T", "c", pd.DataFrame(), pd.DataFrame(
        {"agent": ["run-2026-12"], "x": ["-0.021 [-0.083, 0.128]"], "y": ["-3.5"]})))
    assert r"$-$0.021\\{\scriptsize [$-$0.083, 0.128]}" in tex
    assert r"$-$3.5" in tex and "run-2026-12" in tex  # a hyphen in a name stays
    assert tex.startswith(r"% needs \usepackage{booktabs,float}")


def test_tree_depth_axis_has_whole_number_ticks(small_study: Study, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aira_eval.analysis.figures import trees

    ticks: list[float] = []

    def capture(fig: Any, out: Path, name: str) -> dict[str, Path]:
        ax = fig.axes[0]
        lo, hi = ax.get_ylim()
        ticks.extend(t for t in ax.get_yticks() if lo <= t <= hi)
        return {}

    monkeypatch.setattr(trees, "save", capture)
    nodes = small_study.nodes
    one = nodes[nodes["search_id"] == nodes["search_id"].iloc[0]]
    one = one.assign(depth=np.minimum(one["depth"].to_numpy(), 1))  # 0 and 1: few ticks
    trees.tree_figure(one, {}, "score", tmp_path, "tree")
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_topk_and_manifest_captions_say_their_limits(small_report: ReportResult) -> None:
    by_key = {s.key: s for s in small_report.sections}
    topk = next(f for f in by_key["topk"].figures if f.name == "topk")
    assert "k is capped at a search's valid nodes" in topk.caption
    manifest = next(t for t in by_key["manifest"].tables if t.name == "manifest")
    assert "first 16 hex digits" in manifest.caption
