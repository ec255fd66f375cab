"""Coverage simulation: 95% intervals on synthetic studies with known truth.

The estimand is the ``random`` strategy's study-level test score, whose truth the synthetic
model gives exactly. The full pipeline (strategies, evaluation, bootstrap) runs on every
replicate; the replicates' node tables are evaluated in one pass (searches are independent)
and bootstrapped one by one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aira_eval.selection.bootstrap import draw_resamples, paired_bootstrap
from aira_eval.selection.evaluate import evaluate_strategies
from aira_eval.selection.strategies import get_strategy
from aira_eval.selection.synthetic_study import SyntheticSpec, SyntheticStudy, generate_study

pytestmark = pytest.mark.slow


def _replicates(spec: SyntheticSpec, n: int) -> tuple[list[SyntheticStudy], pd.DataFrame]:
    studies = [generate_study(SyntheticSpec(**{**spec.__dict__, "study_id": f"r{i}"}),
                              seed=1000 + i) for i in range(n)]
    tasks = {}
    for i, study in enumerate(studies):  # task names per replicate, so tasks never mix
        for name, info in study.tasks.items():
            tasks[f"r{i}/{name}"] = info
    frames = []
    for i, study in enumerate(studies):
        frame = study.frame.copy()
        frame["task"] = f"r{i}/" + frame["task"].astype(str)
        frames.append(frame)
    table = evaluate_strategies(pd.concat(frames, ignore_index=True), tasks,
                                [get_strategy("random")])
    return studies, table


def _coverage(spec: SyntheticSpec, n_rep: int, task_level: bool,
              truth_of: object) -> tuple[float, float]:
    studies, table = _replicates(spec, n_rep)
    table["rep"] = table["study_id"].astype(str)
    hits = np.zeros((n_rep, 2))
    for i, (study, (_, rows)) in enumerate(zip(studies, table.groupby("rep", sort=False),
                                               strict=True)):
        assert rows["study_id"].iloc[0] == study.spec.study_id
        strata = pd.factorize(rows["task"])[0]
        values = rows["test_score"].to_numpy()[:, None, None]
        result = paired_bootstrap(values, draw_resamples(strata, 1000, i, task_level), 0,
                                  np.ones(1))
        truth = truth_of(study)  # type: ignore[operator]
        for j, ci in enumerate((result.percentile[0, 0], result.bca[0, 0])):
            hits[i, j] = ci[0] <= truth <= ci[1]
    pct, bca = hits.mean(axis=0)
    return float(pct), float(bca)


def test_seed_bootstrap_covers_the_truth_93_to_97_percent() -> None:
    spec = SyntheticSpec(n_tasks=4, n_seeds=40, n_nodes=6, p_valid=0.8, holdouts=False,
                         leaderboard_teams=0, task_seed=7, search_sd=0.02, node_sd=0.03)
    pct, bca = _coverage(spec, 1500, False,
                         lambda study: float(study.truth["random_mean"].mean()))
    assert 0.93 <= pct <= 0.97, pct
    assert 0.93 <= bca <= 0.97, bca


def test_task_bootstrap_covers_the_population_mean_93_to_97_percent() -> None:
    spec = SyntheticSpec(n_tasks=40, n_seeds=3, n_nodes=4, p_valid=0.9, holdouts=False,
                         leaderboard_teams=0, lower_is_better_every=0, task_sd=0.05,
                         search_sd=0.01, node_sd=0.01)
    mean_drift = float(np.mean(spec.drift * (1 - np.exp(-3 * np.arange(4) / 4))))
    pct, bca = _coverage(spec, 800, True, lambda study: 0.75 + mean_drift)
    assert 0.93 <= pct <= 0.97, pct
    assert 0.93 <= bca <= 0.97, bca
