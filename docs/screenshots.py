"""Regenerate the MLflow screenshots of docs/mlflow.md (run by `nox -s docs` before mkdocs).

Writes a small study (two policies × three seeds on one task), logs it with `aira-eval sync`,
runs two selections on it (grouped by policy, and pooled), starts `aira-eval ui` on it and
screenshots the runs page, a search run's metrics, the compare view of two search runs and the
compare view of the two selection runs with headless Chromium into docs/img/mlflow/ (not
committed). Without Chromium it writes placeholder images so that the strict docs build still
passes.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "mlflow"
NAMES = ("runs", "metrics", "compare", "compare-selections")
# a 1x1 grey PNG
PLACEHOLDER = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from aira_eval.search.mlflow_server import study_ui
    from tests.test_search.mlflow_pages import (
        SELECTIONS,
        Browser,
        build_ui_study,
        chromium,
        pages,
    )

    OUT.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    if browser is None:
        for name in NAMES:
            (OUT / f"{name}.png").write_bytes(PLACEHOLDER)
        print("chromium not found: placeholder screenshots written")
        return
    with tempfile.TemporaryDirectory() as tmp:
        ui = build_ui_study(Path(tmp) / "wine-study")
        server, _ = study_ui(ui.study)
        page = None
        try:
            server.wait_ready()
            page = Browser(browser, Path(tmp) / "chromium-profile")
            ready = {"runs": ["matching runs", "study wine-study"], "metrics": ["best_val ("],
                     "compare": ["best_val/score_test"],
                     "compare-selections": ["Metrics", *SELECTIONS]}
            for name, url in pages(server.url, ui).items():
                page.goto(url)
                page.wait_for(*ready[name])
                page.screenshot(OUT / f"{name}.png")
        finally:
            if page is not None:
                page.close()
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
