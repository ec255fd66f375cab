"""The Ray executor on a real two-node Ray cluster on loopback.

The cluster (``ray start --head`` + ``ray start --address``, one CPU each) is started once
for the module and stopped on every exit path, after a study has run on a Ray instance this
process started itself (as bench/scale does); the second node's raylet is killed during a
study, which must still complete with no ``error`` node and the same node table as a local run
(and as the run on Ray here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.executors.loopback import LoopbackCluster, free_port
from aira_eval.search.executors.ray import ATTEMPTS_FILE
from aira_eval.search.study_runner import StudyEvents, plan_searches, run_study
from aira_eval.study.journal import JournalFile
from aira_eval.study.table import read_nodes
from tests.test_search.conftest import comparable, small_config

pytestmark = pytest.mark.ray
STUDY = {"tasks": ["builtin:iris"], "policies": ["greedy"], "steps": 3,
         "workers": 2, "memory_mb": 1024}


@pytest.fixture(scope="module")
def ray_here(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study run first on a Ray instance this process starts (``ray.init()``), as
    bench/scale does before it joins the loopback cluster: the driver keeps the token
    authentication that instance turned on, which once made every task on the cluster's
    second node fail (``OwnerDiedError``: its arguments unreachable from the driver)."""
    pytest.importorskip("ray")
    out = tmp_path_factory.mktemp("ray-here") / "study"
    result = run_study(small_config(**STUDY, executor="ray"), out)
    nodes = [n for o in result.outcomes for n in o.nodes]
    assert nodes and all(n.status != "error" for n in nodes), [n.reason for n in nodes]
    assert all(n.meta.get("ray_node") for n in nodes)  # really ran as Ray tasks
    return out


@pytest.fixture(scope="module")
def cluster(ray_here: Path) -> Iterator[LoopbackCluster]:
    with LoopbackCluster(nodes=2, cpus=1) as running:
        yield running


def test_unreachable_cluster_is_one_usage_error_naming_the_address(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    address = f"127.0.0.1:{free_port()}"
    config = small_config(executor="ray", ray_address=address)
    with pytest.raises(UsageError) as info:
        run_study(config, tmp_path / "study")
    assert address in info.value.message and info.value.hint
    assert not (tmp_path / "study" / "study.json").exists()


def _kill_when_busy(cluster: LoopbackCluster, out: Path, done: threading.Event,
                    killed: list[str]) -> None:
    """Kill node 1's raylet as soon as it has started a search node (a task in flight)."""
    import ray

    victim = next(n["NodeID"] for n in ray.nodes() if "loopback_node_1" in n["Resources"])
    while not done.wait(0.1):
        for log in out.glob(f"searches/*/nodes/*/{ATTEMPTS_FILE}"):
            if log.read_text().split()[:1] == [victim]:
                cluster.kill_node(1)
                killed.append(log.parent.name)
                return


def test_study_survives_a_killed_node_and_equals_the_local_run(
    cluster: LoopbackCluster, ray_here: Path, tmp_path: Path
) -> None:
    ray_out, killed, done = tmp_path / "ray", [], threading.Event()
    config = small_config(**STUDY, executor="ray", ray_address=cluster.address)
    watcher: threading.Thread | None = None

    def on_start(_config: object, _n: int) -> None:  # Ray is connected from here on
        nonlocal watcher
        watcher = threading.Thread(target=_kill_when_busy, args=(cluster, ray_out, done, killed))
        watcher.start()

    try:
        result = run_study(config, ray_out, events=StudyEvents(on_study_start=on_start))
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    nodes = {n.node_id: n for o in result.outcomes for n in o.nodes}
    assert all(n.status != "error" for n in nodes.values()), [n.reason for n in nodes.values()]
    assert killed and cluster.raylet_pid(1) is None and not result.interrupted
    for plan in plan_searches(config):
        journal = JournalFile(ray_out / "searches" / plan.search_id / "journal.jsonl").read()
        assert sorted(n.step for n in journal) == list(range(3))  # none lost, none duplicated
        assert all(n.status != "error" for n in journal), [n.reason for n in journal]
    attempts = nodes[killed[0]].meta["ray_attempts"]
    assert len(attempts) >= 2 and attempts[-1] != attempts[0]  # re-run on the other node

    local = run_study(small_config(**STUDY), tmp_path / "local").study_dir
    got = comparable(read_nodes(ray_out / "nodes.parquet"))
    want = comparable(read_nodes(local / "nodes.parquet"))
    assert got.equals(want), got.compare(want)
    here = comparable(read_nodes(ray_here / "nodes.parquet"))
    assert here.equals(want), here.compare(want)


def test_executor_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown executor"):
        small_config(executor="slurm")
    with pytest.raises(UsageError, match="cpus-per-node"):
        small_config(executor="ray", cpus_per_node=0)
