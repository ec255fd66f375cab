"""A throwaway multi-node Ray cluster on loopback, for tests and benchmarks.

``ray start --head`` plus ``ray start --address`` for each further node, every node with its
own ``--temp-dir`` and its own ports, all on 127.0.0.1. :meth:`LoopbackCluster.stop` ends
exactly the processes of this cluster (found by their temp dirs and GCS port, plus their
descendants), never another Ray instance of the machine, so it is safe where ``ray stop``
(which ends every Ray process of the user) is not.

Its nodes use token authentication with the user's default token (``~/.ray/auth_token``,
created once, atomically, when missing), the mode every ``ray.init()`` of a new local
instance turns on: a Ray driver process keeps the authentication it first started with (its
gRPC server demands the token from then on), so a process that has run Ray on this machine
and then joins an unauthenticated cluster sees every task on another node fail fetching its
arguments from the driver (``OwnerDiedError``). Its workers run at their raylet's priority
(``RAY_worker_niceness=0``), as a study's local run does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAST_FAILURE = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3,
                "health_check_initial_delay_ms": 1000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _ppids() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(f"/proc/{entry.name}/stat").read_bytes()
                out[int(entry.name)] = int(raw[raw.rfind(b")") + 2 :].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


def ensure_auth_token() -> None:
    """Create the user's default Ray token file when missing, atomically (a link, which fails
    when another process created it first), so concurrent clusters all read one token."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = Path.home() / ".ray" / "auth_token"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(fh.name, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(fh.name)


class LoopbackCluster:
    """``nodes`` Ray nodes of ``cpus`` CPUs each on 127.0.0.1 (see the module docstring)."""

    def __init__(self, nodes: int = 2, cpus: int = 1, dashboard: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aira-ray-"))  # short: socket paths < 108
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes, self.cpus, self.dashboard = nodes, cpus, dashboard
        self.temp_dirs: list[Path] = []
        self._auth: str | None = None
        repo = str(Path(__file__).resolve().parents[3])  # holds the aira_eval package
        path = os.environ.get("PYTHONPATH", "")
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_NUM_REDIS_GET_RETRIES": "120",  # a loaded machine's GCS is slow
                    "RAY_raylet_start_wait_time_s": "120",
                    # as this process's drivers (module doc): token unless told otherwise
                    "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE") or "token",
                    "RAY_worker_niceness": "0",
                    "PYTHONPATH": repo + (os.pathsep + path if path else "")}

    def __enter__(self) -> LoopbackCluster:
        self._auth = os.environ.get("RAY_AUTH_MODE")
        os.environ["RAY_AUTH_MODE"] = self.env["RAY_AUTH_MODE"]  # this process's driver
        if self.env["RAY_AUTH_MODE"] == "token":
            ensure_auth_token()
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = self._auth

    def _ray(self) -> str:
        here = Path(sys.executable).parent / "ray"
        return str(here) if here.exists() else (shutil.which("ray") or "ray")

    def _node_args(self, index: int) -> list[str]:
        temp = self.root / f"n{index}-{len(os.listdir(self.root))}"
        self.temp_dirs.append(temp)
        args = ["--num-cpus", str(self.cpus), "--node-ip-address", "127.0.0.1",
                "--temp-dir", str(temp), "--disable-usage-stats",
                "--resources", json.dumps({f"loopback_node_{index}": 1}),
                "--node-manager-port", str(free_port()),
                "--object-manager-port", str(free_port()),
                "--dashboard-agent-listen-port", str(free_port()),
                "--dashboard-agent-grpc-port", str(free_port()),
                "--runtime-env-agent-port", str(free_port()),
                "--metrics-export-port", str(free_port()),
                "--object-store-memory", str(100 * 2**20)]
        if index == 0:
            args = ["--head", "--port", str(self.port),
                    "--ray-client-server-port", str(free_port()),
                    "--include-dashboard", "true" if self.dashboard else "false",
                    "--dashboard-port", str(free_port()),
                    f"--system-config={json.dumps(FAST_FAILURE)}", *args]
        else:
            args = ["--address", self.address, *args]
        return args

    def start(self, attempts: int = 3) -> None:
        """Start the head, then the other nodes (a node that times out starting on a loaded
        machine is tried again); raise with ray's output when one fails for good."""
        for index in range(self.nodes):
            for attempt in range(attempts):
                args = self._node_args(index)
                proc = subprocess.run([self._ray(), "start", *args], env=self.env,
                                      capture_output=True, text=True, timeout=300, check=False)
                if proc.returncode == 0:
                    break
                self._kill_marked(str(self.temp_dirs.pop()) + "/")
                if attempt == attempts - 1:
                    raise RuntimeError(f"ray start failed for node {index}: "
                                       f"{(proc.stdout + proc.stderr)[-2000:]}")
                if index == 0:  # a new head: a new GCS port
                    self._kill_marked(f":{self.port} ")
                    self.port = free_port()
                    self.address = f"127.0.0.1:{self.port}"

    def raylet_pid(self, index: int) -> int | None:
        """The raylet process of node ``index`` (None when it is gone)."""
        marker = str(self.temp_dirs[index]) + "/"
        for pid in _ppids():
            line = _cmdline(pid)
            if "raylet/raylet" in line.split(" ", 1)[0] and marker in line:
                return pid
        return None

    def kill_node(self, index: int) -> int:
        """SIGKILL node ``index``'s raylet (its workers follow); the pid killed."""
        pid = self.raylet_pid(index)
        if pid is None:
            raise RuntimeError(f"no raylet found for node {index}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def _kill_marked(self, mark: str) -> None:
        for pid in self.pids([mark]):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def pids(self, marks: list[str] | None = None) -> set[int]:
        """Every live process of this cluster (or whose command line holds one of ``marks``)
        and their descendants."""
        table = _ppids()
        if marks is None:
            marks = [str(self.root) + "/", f":{self.port} "]  # temp dirs; the GCS address
        roots = {pid for pid in table if pid != os.getpid()
                 and any(m in _cmdline(pid) + " " for m in marks)}
        children: dict[int, list[int]] = {}
        for pid, ppid in table.items():
            children.setdefault(ppid, []).append(pid)
        found, stack = set(), list(roots)
        while stack:
            pid = stack.pop()
            if pid not in found and pid != os.getpid():
                found.add(pid)
                stack.extend(children.get(pid, ()))
        return found

    def stop(self) -> None:
        """End every process of this cluster (TERM, then KILL) and remove its temp dirs."""
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 1.0)):
            targets = self.pids()
            for pid in targets:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            end = time.monotonic() + wait
            while targets and time.monotonic() < end:
                targets = {p for p in targets if _alive(p)}
                time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] != b"Z"
