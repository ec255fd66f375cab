"""A small study in MLflow with two selection runs, and the UI pages a person looks at: shared by
the browser test and ``docs/screenshots.py``."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_eval.search.mlflow_server import CLASSIC_ML_VIEW
from aira_eval.search.mlflow_sync import default_tracking_uri, sync_study
from tests.test_search.fake_study import write_fake_study

#: the two selections: grouped by policy (greedy and mcts side by side) and pooled
SELECTIONS = {"best-val-oracle.by-policy": ["--by", "policy"],
              "best-val-oracle.pooled": ["--pool"]}
STRATEGIES = ("best-val", "oracle")
GROUPS = ("greedy", "mcts")
SEEDS = (0, 1, 2)


@dataclass
class UiStudy:
    study: Path
    experiment_id: str
    #: run name -> run id
    search_runs: dict[str, str]
    #: selection label -> run id
    selection_runs: dict[str, str]


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


def build_ui_study(study: Path) -> UiStudy:
    """``wine`` × greedy, mcts × 3 seeds, synced to its store, with the two selections."""
    from mlflow.tracking import MlflowClient
    from typer.testing import CliRunner

    from aira_eval.cli.main import app

    write_fake_study(study, seeds=SEEDS)
    sync_study(study)
    selections = {}
    for label, options in SELECTIONS.items():
        args = ["select", str(study), "--resamples", "200", "--json", *options]
        for strategy in STRATEGIES:
            args += ["-s", strategy]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        tracking = json.loads(result.stdout)["mlflow"]
        assert tracking["warning"] is None, tracking
        selections[label] = str(tracking["run_id"])
    client = MlflowClient(tracking_uri=default_tracking_uri(study))
    exp = client.get_experiment_by_name(f"aira-eval/{study.name}").experiment_id
    runs = client.search_runs([exp], "tags.`aira_eval.kind` = 'search'")
    return UiStudy(study, str(exp), {r.info.run_name: r.info.run_id for r in runs}, selections)


def pages(server_url: str, ui: UiStudy) -> dict[str, str]:
    """The pages to load: runs, a search run's metrics, the compare views of two search runs
    (greedy and mcts, seed 0) and of the selection runs."""
    def compare(runs: list[str]) -> str:
        return (f"{server_url}/#/compare-runs?runs={json.dumps(runs)}"
                f"&experiments={json.dumps([ui.experiment_id])}&{CLASSIC_ML_VIEW}")

    base = f"{server_url}/#/experiments/{ui.experiment_id}"
    first = ui.search_runs["wine · greedy · s0"]
    return {"runs": f"{base}/runs?{CLASSIC_ML_VIEW}",
            "metrics": f"{base}/runs/{first}/model-metrics?{CLASSIC_ML_VIEW}",
            "compare": compare([first, ui.search_runs["wine · mcts · s0"]]),
            "compare-selections": compare(list(ui.selection_runs.values()))}


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
    JSON messages ending in NUL on fds 3 and 4; no port, no extra package). One page at a time:
    :meth:`goto`, :meth:`wait_for` text, :meth:`text`, :meth:`evaluate`, :meth:`screenshot`."""

    def __init__(self, binary: str, profile: Path, width: int = 1600, height: int = 1000) -> None:
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        to_child, from_child = (_above(fd, 10) for fd in (to_child, from_child))  # not 3 or 4

        def fds() -> None:  # runs in the child before exec; fds 3 and 4 are passed on
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--remote-debugging-pipe", f"--user-data-dir={profile}",
               f"--window-size={width},{height}", "about:blank"]
        self.process = subprocess.Popen(cmd, pass_fds=(3, 4), preexec_fn=fds,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id = b"", 0
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]
        self._call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True)

    def _call(self, method: str, params: dict[str, Any] | None = None, session: bool = False,
              timeout_s: float = 120.0) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\0" not in self._buffer:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"chromium did not answer {method}")
                ready, _, _ = select.select([self._in], [], [], 1.0)
                if ready:
                    self._buffer += os.read(self._in, 1 << 20)
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:  # other messages are events: not used
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def goto(self, url: str) -> None:
        """Load ``url`` as a new document (a hash change alone may keep the last page's data)."""
        self._call("Page.navigate", {"url": "about:blank"}, session=True)
        self._call("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = self._call("Runtime.evaluate", {"expression": expression,
                                                 "returnByValue": True, "awaitPromise": True},
                            session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        """The page's rendered text (``document.body.innerText``), whitespace collapsed."""
        return " ".join(str(self.evaluate("document.body ? document.body.innerText : ''")
                            ).split())

    def wait_for(self, *needles: str, timeout_s: float = 120.0) -> str:
        """The page's text once it holds every needle (the UI renders asynchronously), or the
        text at the timeout: the caller's assertions then say what is missing."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.text()
            if all(n in text for n in needles) or time.monotonic() > deadline:
                time.sleep(1.0)  # let the last requests land (charts, counts)
                return self.text()
            time.sleep(0.5)

    def screenshot(self, path: Path) -> None:
        data = self._call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._out)
        with contextlib.suppress(OSError):
            os.close(self._in)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(20)


def _above(fd: int, low: int) -> int:
    """``fd`` moved to a number >= ``low``."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, low)
    os.close(fd)
    return moved


#: Scrolls the compare view's virtualized metrics table (two ReactVirtualized grids: metric
#: names, and one value column per run) to its end and returns every row it rendered.
COLLECT_METRIC_ROWS = """(async () => {
  const grids = [...document.querySelectorAll('.ReactVirtualized__Grid')];
  if (grids.length < 2) return null;
  const [names, values] = grids;
  const rows = {};
  const take = () => {
    for (const c of names.querySelectorAll('.ReactVirtualized__Grid__innerScrollContainer > div'))
      (rows[c.style.top] ||= {cells: {}}).name = c.innerText.trim();
    for (const c of values.querySelectorAll('.ReactVirtualized__Grid__innerScrollContainer > div'))
      (rows[c.style.top] ||= {cells: {}}).cells[parseFloat(c.style.left)] = c.innerText.trim();
  };
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)));
  const end = values.firstElementChild.scrollHeight;
  const first = names.querySelector('.ReactVirtualized__Grid__innerScrollContainer > div');
  const rowHeight = first ? first.offsetHeight : 1;
  for (let y = 0; y <= end; y += Math.max(rowHeight, values.clientHeight - rowHeight)) {
    values.scrollTop = y;
    await frame();
    await frame();
    take();
  }
  return {expected: Math.round(end / rowHeight), rows: Object.values(rows).filter(
    r => r.name).map(r => [r.name, Object.keys(r.cells).sort((a, b) => a - b).map(
    k => r.cells[k])])};
})()"""


def metric_rows(browser: Browser) -> dict[str, list[str]]:
    """The compare view's metrics table: metric -> its displayed value per run (in the order
    of the page's ``runs``); every row of the table, or an AssertionError."""
    found = browser.evaluate(COLLECT_METRIC_ROWS)
    assert found is not None, "no metrics table on the page"
    rows = {str(name): [str(v) for v in values] for name, values in found["rows"]}
    assert len(rows) == found["expected"], (len(rows), found["expected"])
    return rows
