"""Regenerate the MLflow screenshots of docs/mlflow.md (run by `nox -s docs` before mkdocs).

Writes a small study (two searches on one task), logs it with `aira-eval sync`, starts
`aira-eval ui` on it and screenshots the runs page, a search run's metrics and the compare view
with headless Chromium into docs/img/mlflow/ (not committed). Without Chromium it writes
placeholder images so that the strict docs build still passes.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "mlflow"
NAMES = ("runs", "metrics", "compare")
# a 1x1 grey PNG
PLACEHOLDER = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from aira_eval.search.mlflow_server import study_ui
    from aira_eval.search.mlflow_sync import default_tracking_uri, sync_study
    from tests.test_search.fake_study import write_fake_study

    OUT.mkdir(parents=True, exist_ok=True)
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)),
                    None)
    if chromium is None:
        for name in NAMES:
            (OUT / f"{name}.png").write_bytes(PLACEHOLDER)
        print("chromium not found: placeholder screenshots written")
        return
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "wine-study"
        write_fake_study(study)
        sync_study(study)
        client = MlflowClient(tracking_uri=default_tracking_uri(study))
        exp = client.get_experiment_by_name("aira-eval/wine-study").experiment_id
        ids = [r.info.run_id for r in client.search_runs(
            [exp], "tags.`aira_eval.kind` = 'search'")]
        server, url = study_ui(study)
        try:
            server.wait_ready()
            ml = "workflowType=machine_learning"
            pages = {"runs": f"{url}/runs?{ml}",
                     "metrics": f"{url}/runs/{ids[0]}/model-metrics?{ml}",
                     "compare": f"{server.url}/#/compare-runs?runs={json.dumps(ids)}"
                                f"&experiments={json.dumps([exp])}&{ml}"}
            for name, page in pages.items():
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--window-size=1600,1000", "--virtual-time-budget=30000",
                                f"--screenshot={OUT / f'{name}.png'}", page],
                               capture_output=True, timeout=300, check=False)
        finally:
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
