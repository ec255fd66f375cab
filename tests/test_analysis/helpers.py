"""Synthetic studies for the report's tests: several agents, planted effects, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
from aira_eval.study import Study
from aira_eval.study.manifest import TaskInfo


def agents_study(n_tasks: int = 3, n_seeds: int = 4, n_nodes: int = 20,
                 policies: tuple[str, ...] = ("greedy", "random"), seed: int = 0,
                 lower_every: int = 3) -> tuple[pd.DataFrame, dict[str, TaskInfo]]:
    """A node table with one block of searches per policy, the same tasks for each,
    and realistic timings (exec_time, started_at, finished_at)."""
    frames, tasks = [], {}
    for i, policy in enumerate(policies):
        spec = SyntheticSpec(n_tasks=n_tasks, n_seeds=n_seeds, n_nodes=n_nodes, policy=policy,
                             study_id=f"syn-{policy}", task_seed=99,
                             lower_is_better_every=lower_every)
        synth = generate_study(spec, seed=seed + i)
        frames.append(synth.frame)
        tasks.update(synth.tasks)
    frame = pd.concat(frames, ignore_index=True)
    rng = np.random.default_rng(seed)
    frame["exec_time"] = rng.uniform(1.0, 5.0, len(frame))
    start = frame.groupby("search_id")["exec_time"].cumsum() - frame["exec_time"]
    frame["started_at"] = 1.7e9 + start
    frame["finished_at"] = frame["started_at"] + frame["exec_time"]
    return frame, tasks


def make_study(**kwargs: object) -> Study:
    frame, tasks = agents_study(**kwargs)  # type: ignore[arg-type]
    return Study.from_nodes(frame, tasks)


def plant_gap(frame: pd.DataFrame, agent_effect: float, trend: float, seed: int = 0,
              noise: float = 0.01) -> pd.DataFrame:
    """Rewrite ``score_val`` so that the oriented gap ``test − val`` is
    ``task effect + agent_effect·[policy != first] + trend·step + noise``."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    first = str(out["policy"].iloc[0])
    tasks = pd.factorize(out["task"])[0]
    task_effect = rng.normal(0.0, 0.02, tasks.max() + 1)[tasks]
    gap = (task_effect + agent_effect * (out["policy"] != first).to_numpy()
           + trend * out["step"].to_numpy() + noise * rng.standard_normal(len(out)))
    sign = np.where(out["lower_is_better"].to_numpy(dtype=bool), -1.0, 1.0)
    out["score_val"] = out["score_test"] - sign * gap
    return out
