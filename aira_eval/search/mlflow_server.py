"""Start an MLflow server (the UI over a study's store, or a tracking server) as a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aira_eval.errors import UsageError

#: The UI's query parameter for its classic-ML pages (runs table, charts, compare): MLflow 3's
#: UI opens on its GenAI pages (traces, sessions) unless the URL or a sidebar toggle says so.
CLASSIC_ML_VIEW = "workflowType=machine_learning"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """A running ``mlflow server``; :meth:`stop` ends it (and only it: its process group)."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    stopped: bool = False

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UsageError(f"mlflow server exited ({self.process.returncode})",
                                 hint=f"See its log: {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise UsageError(f"mlflow server at {self.url} not ready after {timeout_s:.0f} s",
                         hint=f"See its log: {self.log_path}")

    def stop(self) -> None:
        if self.stopped:
            return  # never signal a process group twice: its id may be reused
        self.stopped = True
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(20)
        with contextlib.suppress(ProcessLookupError):  # workers left behind by uvicorn
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(20)


def start_server(backend_uri: str, log_path: Path, host: str = "127.0.0.1",
                 port: int | None = None, artifacts_dir: Path | None = None) -> MlflowServer:
    """Start ``mlflow server`` on ``backend_uri`` (not yet ready: call ``wait_ready``).

    Args:
        backend_uri: the store (``sqlite:///…/mlflow.db``).
        log_path: where the server's output goes.
        host, port: where it listens (a free port by default).
        artifacts_dir: the root of the artifacts it serves for new experiments (a tracking
            server); None for the UI over a study, whose experiments name their own.
    """
    port = port or free_port(host)
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
           "--host", host, "--port", str(port), "--workers", "1"]
    if artifacts_dir is not None:
        cmd += ["--artifacts-destination", str(artifacts_dir.resolve())]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # no background job runner (a dozen worker processes this needs none of)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    return MlflowServer(process, f"http://{host}:{port}", log_path)


def study_ui(study_dir: Path, host: str = "127.0.0.1", port: int | None = None
             ) -> tuple[MlflowServer | None, str]:
    """Start the MLflow UI on a study's store
    (:func:`~aira_eval.study.tracking.study_tracking_uri`); returns the server and the URL of
    the study's experiment, on its runs page in the classic-ML view (:data:`CLASSIC_ML_VIEW`).
    A study tracked on an MLflow server needs no new one: the server is None and the URL is
    that server's."""
    from aira_eval.study.manifest import StudyManifest, mlflow_experiment
    from aira_eval.study.tracking import study_tracking_uri

    if not study_dir.is_dir():
        raise UsageError(f"study {study_dir} does not exist",
                         hint="Pass a study directory (the --out of `aira-eval search`).")
    uri = study_tracking_uri(study_dir)
    remote = uri.startswith(("http://", "https://"))
    db = sqlite_path(uri)
    if not remote and (db is None or not db.exists()):
        raise UsageError(f"{study_dir} has no MLflow store ({db or uri} does not exist)",
                         hint=f"Run `aira-eval sync {study_dir}` to log the study to it.")
    manifest = StudyManifest.read(study_dir)
    from mlflow.tracking import MlflowClient

    exp = MlflowClient(tracking_uri=uri).get_experiment_by_name(
        mlflow_experiment(manifest.study_id))
    where = f"/#/experiments/{exp.experiment_id}/runs" if exp is not None else "/#/experiments"
    if remote:
        return None, f"{uri.rstrip('/')}{where}?{CLASSIC_ML_VIEW}"
    server = start_server(uri, study_dir / "mlflow-ui.log", host, port)
    return server, f"{server.url}{where}?{CLASSIC_ML_VIEW}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for any other store)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.endswith(":memory:"):
        return None
    return Path(uri[len(prefix):].split("?", 1)[0])
