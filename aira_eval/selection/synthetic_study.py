"""Synthetic studies with known truth, for tests, coverage simulations and benchmarks.

Model (on an accuracy-like scale, higher is better; a lower-is-better task reports ``1 - x``
for every score ``x``), for task ``t``, search ``s`` and node ``i`` at step ``j`` of ``n``:

* true quality ``q = base_t + b_s + drift·(1 - exp(-3 j / n)) + node_sd·e``, with
  ``base_t = 0.75 + task_sd·N(0,1)`` and a search effect ``b_s = search_sd·N(0,1)``;
* validation: folds ``q + overfit + fold noise`` with a node-specific fold spread
  (``fold_sd·exp(N(0, 0.5²))``) and ``overfit = overfit_sd·|N(0,1)|`` (optimism that
  validation-based picks select for); ``score_val`` is the fold mean;
* hidden holdouts ``search``/``select``: ``q`` plus binomial-size noise; ``test``:
  ``q + test_noise·N(0,1)``;
* a node is valid with probability ``p_valid``, independently of everything else.

With ``task_seed`` set, the tasks (bases, leaderboards) are the same for every ``seed``: a
fixed set of tasks with fresh searches, the design the seed-level bootstrap assumes.

The known truth per task (:attr:`SyntheticStudy.truth`): ``random_mean``, the expected test
score of a uniformly random valid node (what the ``random`` strategy estimates), exactly
``base_t + drift·mean_j(1 - exp(-3 j / n))`` (mirrored for lower-is-better tasks), because
validity is exchangeable across steps and every noise term has mean 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from aira_eval.datasets.leaderboard import Leaderboard
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.table import NODE_SCHEMA, SCHEMA_VERSION, write_nodes

HELDOUT_SIZES = {"val": 800, "search": 500, "select": 500, "test": 2000}


@dataclass(frozen=True)
class SyntheticSpec:
    """Sizes and noise levels of a synthetic study (module docstring)."""

    n_tasks: int = 4
    n_seeds: int = 5
    n_nodes: int = 50
    n_folds: int = 5
    p_valid: float = 0.85
    lower_is_better_every: int = 3  # every k-th task is lower-is-better; 0 for none
    task_sd: float = 0.05
    search_sd: float = 0.02
    node_sd: float = 0.03
    drift: float = 0.05
    overfit_sd: float = 0.02
    fold_sd: float = 0.02
    test_noise: float = 0.005
    holdouts: bool = True
    leaderboard_teams: int = 200
    study_id: str = "synthetic"
    task_prefix: str = "synthetic:task"
    policy: str = "greedy"
    task_seed: int | None = None  # fixes the tasks (bases, leaderboards) across study seeds


@dataclass
class SyntheticStudy:
    """A generated node frame, its tasks' info and the known truth per task."""

    frame: pd.DataFrame
    tasks: dict[str, TaskInfo]
    truth: pd.DataFrame  # index task; columns lower_is_better, base, random_mean
    spec: SyntheticSpec = field(default_factory=SyntheticSpec)

    def write(self, study_dir: Path, seed: int = 0) -> Path:
        """Write ``nodes.parquet`` and ``study.json`` into ``study_dir``; returns the dir."""
        write_nodes(self.frame, study_dir / "nodes.parquet")
        manifest = StudyManifest(
            study_id=self.spec.study_id, seed=seed, tasks=self.tasks,
            config={"synthetic": True}, created_at="1970-01-01T00:00:00+00:00",
        )
        manifest.write(study_dir)
        return study_dir


def _thresholds(board: np.ndarray) -> dict[str, float]:
    """Medal thresholds of a leaderboard (best first), as :class:`TaskInfo` keeps them."""
    th = Leaderboard.from_scores(board).thresholds()
    return {"gold": th.gold, "silver": th.silver, "bronze": th.bronze, "median": th.median}


def _drift_curve(n_nodes: int, drift: float) -> np.ndarray:
    """Expected improvement per step, shape (n_nodes,)."""
    return drift * (1.0 - np.exp(-3.0 * np.arange(n_nodes) / n_nodes))


def _task_infos(spec: SyntheticSpec, base: np.ndarray, lower: np.ndarray,
                rng: np.random.Generator) -> dict[str, TaskInfo]:
    tasks: dict[str, TaskInfo] = {}
    for t in range(spec.n_tasks):
        name = f"{spec.task_prefix}{t:02d}"
        acc = np.sort(base[t] + spec.drift + 0.03 * rng.standard_normal(spec.leaderboard_teams))
        acc = acc[::-1]  # best first on the accuracy scale
        board = 1.0 - acc if lower[t] else acc
        tasks[name] = TaskInfo(
            task=name, lower_is_better=bool(lower[t]), metric="error" if lower[t] else "accuracy",
            thresholds=_thresholds(board) if len(board) else {},
            leaderboard_scores=[float(x) for x in board],
            sample_score=float(1.0 - (base[t] - 0.25)) if lower[t] else float(base[t] - 0.25),
            heldout_sizes=dict(HELDOUT_SIZES) if spec.holdouts else {"val": 800, "test": 2000},
        )
    return tasks


def _node_scores(spec: SyntheticSpec, base: np.ndarray, rng: np.random.Generator) -> dict[str,
                                                                                        np.ndarray]:
    """Accuracy-scale scores, arrays shaped (tasks, seeds, nodes) or (..., folds)."""
    shape = (spec.n_tasks, spec.n_seeds, spec.n_nodes)
    b = spec.search_sd * rng.standard_normal(shape[:2])[..., None]
    q = base[:, None, None] + b + _drift_curve(spec.n_nodes, spec.drift)
    q = q + spec.node_sd * rng.standard_normal(shape)
    overfit = spec.overfit_sd * np.abs(rng.standard_normal(shape))
    spread = spec.fold_sd * np.exp(0.5 * rng.standard_normal(shape))
    folds = (q + overfit)[..., None] + spread[..., None] * rng.standard_normal(
        (*shape, spec.n_folds))
    out = {"q": q, "folds": folds, "val": folds.mean(axis=-1),
           "test": q + spec.test_noise * rng.standard_normal(shape)}
    for held in ("search", "select"):
        n = HELDOUT_SIZES[held]
        sd = np.sqrt(np.clip(q * (1 - q), 1e-4, None) / n)
        out[held] = q + sd * rng.standard_normal(shape) if spec.holdouts else np.full(shape, np.nan)
    return out


def _list_column(values: np.ndarray, lengths: np.ndarray) -> pa.Array:
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def generate_study(spec: SyntheticSpec | None = None, seed: int = 0) -> SyntheticStudy:
    """Generate a synthetic study; deterministic given ``spec`` and ``seed``.

    Returns:
        :class:`SyntheticStudy` with ``n_tasks·n_seeds·n_nodes`` node rows in node-table
        dtypes (as :func:`aira_eval.study.table.read_nodes` returns them).
    """
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(seed)
    task_rng = rng if spec.task_seed is None else np.random.default_rng(spec.task_seed)
    base = 0.75 + spec.task_sd * task_rng.standard_normal(spec.n_tasks)
    every = spec.lower_is_better_every
    lower = np.array([every > 0 and (t + 1) % every == 0 for t in range(spec.n_tasks)])
    tasks = _task_infos(spec, base, lower, task_rng)
    scores = _node_scores(spec, base, rng)
    valid = rng.random((spec.n_tasks, spec.n_seeds, spec.n_nodes)) < spec.p_valid
    flip = lower[:, None, None]
    frame = _assemble(spec, list(tasks), scores, valid, flip)
    mean_drift = float(_drift_curve(spec.n_nodes, spec.drift).mean())
    random_mean = np.where(lower, 1.0 - (base + mean_drift), base + mean_drift)
    truth = pd.DataFrame(
        {"lower_is_better": lower, "base": base, "random_mean": random_mean},
        index=pd.Index(list(tasks), name="task"),
    )
    return SyntheticStudy(frame=frame, tasks=tasks, truth=truth, spec=spec)


def _assemble(spec: SyntheticSpec, task_names: list[str], scores: dict[str, np.ndarray],
              valid: np.ndarray, flip: np.ndarray) -> pd.DataFrame:
    """Node-table frame from score arrays shaped (tasks, seeds, nodes)."""
    n_t, n_s, n_n = valid.shape
    total = valid.size

    def oriented(x: np.ndarray) -> np.ndarray:
        x = np.where(flip, 1.0 - x, x) if x.ndim == 3 else np.where(flip[..., None], 1.0 - x, x)
        return x

    def flat(x: np.ndarray) -> np.ndarray:
        return np.where(valid, oriented(x), np.nan).reshape(total)

    task_idx = np.repeat(np.arange(n_t), n_s * n_n)
    seed_idx = np.tile(np.repeat(np.arange(n_s), n_n), n_t)
    step = np.tile(np.arange(n_n), n_t * n_s)
    search_ids = np.array([f"{spec.study_id}-t{t:02d}-s{s:02d}" for t in range(n_t)
                           for s in range(n_s)], dtype=object)
    search = search_ids[task_idx * n_s + seed_idx]
    node_ids = np.char.add(np.char.add(search.astype(str), "-n"),
                           np.char.zfill(step.astype(str), 4)).astype(object)
    parents = np.roll(node_ids, 1)[step > 0].astype(str)
    vflat = valid.reshape(total)
    folds = oriented(scores["folds"]).reshape(total, -1)[vflat].ravel()
    lower = flip.reshape(n_t)[task_idx]
    n_holdout = {h: np.where(vflat & spec.holdouts, HELDOUT_SIZES[h], 0) for h in
                 ("search", "select")}
    columns: dict[str, object] = {
        "schema_version": np.full(total, SCHEMA_VERSION, dtype=np.int32),
        "study_id": np.full(total, spec.study_id, dtype=object),
        "search_id": search,
        "task": np.array(task_names, dtype=object)[task_idx],
        "policy": np.full(total, spec.policy, dtype=object),
        "operators": np.full(total, "procedural", dtype=object),
        "seed": seed_idx.astype(np.int64),
        "fitness": np.full(total, "val", dtype=object),
        "oracle_run": np.zeros(total, dtype=bool),
        "node_id": node_ids,
        "parent_ids": _list_column(parents, (step > 0).astype(int)),
        "step": step.astype(np.int64),
        "operator": np.where(step == 0, "draft", "improve").astype(object),
        "depth": step.astype(np.int64),
        "debug_depth": np.zeros(total, dtype=np.int64),
        "status": np.where(vflat, "ok", "buggy").astype(object),
        "reason": np.full(total, None, dtype=object),
        "valid": vflat,
        "lower_is_better": lower,
        "score_val": flat(scores["val"]),
        "val_folds": _list_column(folds, np.where(vflat, spec.n_folds, 0)),
        "score_search": flat(scores["search"]),
        "score_select": flat(scores["select"]),
        "score_test": flat(scores["test"]),
        "n_search": n_holdout["search"].astype(np.int64),
        "n_select": n_holdout["select"].astype(np.int64),
        "n_test": np.where(vflat, HELDOUT_SIZES["test"], 0).astype(np.int64),
    }
    return _to_frame(columns, total)


def _to_frame(columns: dict[str, object], total: int) -> pd.DataFrame:
    arrays = []
    for fld in NODE_SCHEMA:
        value = columns.get(fld.name)
        if value is None:
            value = _default_column(fld.name, total)
        arrays.append(value if isinstance(value, pa.Array) else pa.array(value, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=NODE_SCHEMA).to_pandas()


def _default_column(name: str, total: int) -> np.ndarray:
    if name in ("exec_time", "started_at", "finished_at"):
        return np.full(total, np.nan)
    if name == "cost_usd":
        return np.zeros(total)
    if name in ("prompt_tokens", "completion_tokens"):
        return np.zeros(total, dtype=np.int64)
    if name == "isolation":
        return np.full(total, "none", dtype=object)
    if name in ("code_path", "injected_bug", "duplicate_of"):
        return np.full(total, None, dtype=object)
    if name == "description":
        return np.full(total, "original", dtype=object)
    raise KeyError(name)
