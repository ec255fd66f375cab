"""The mixed model recovers a planted agent effect and gap trend; with none, covers 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aira_eval.analysis import models
from aira_eval.analysis.builders_extra import _gap_data
from aira_eval.analysis.context import Context, ReportOptions
from aira_eval.analysis.report import ReportResult
from aira_eval.analysis.scale import study_scale
from aira_eval.study import Study
from tests.test_analysis.helpers import agents_study, plant_gap


def _fit(agent_effect: float, trend: float, seed: int) -> pd.DataFrame:
    frame, tasks = agents_study(n_tasks=4, n_seeds=3, n_nodes=30, seed=seed, lower_every=0)
    frame = plant_gap(frame, agent_effect, trend, seed=seed)
    for info in tasks.values():  # raw scale: the planted values are the model's units
        info.sample_score = None
    study = Study.from_nodes(frame, tasks)
    groups = dict(zip(study.searches["search_id"], study.searches["agent"], strict=True))
    ctx = Context(study, ReportOptions(), Path("."), groups, study_scale(study))
    assert ctx.scale.name == "raw"
    fit = models.gap_model(_gap_data(ctx))
    assert fit.skipped is None and fit.converged, fit.notes
    return fit.coefs.set_index("term")


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_effects_are_recovered(seed: int) -> None:
    coefs = _fit(agent_effect=-0.03, trend=-0.001, seed=seed)
    agent = coefs.loc["C(agent)[T.random]"]
    step = coefs.loc["step"]
    assert agent["lo"] <= -0.03 <= agent["hi"] and agent["hi"] < 0
    assert step["lo"] <= -0.001 <= step["hi"] and step["hi"] < 0


@pytest.mark.parametrize("seed", [0, 1])
def test_no_effect_intervals_cover_zero(seed: int) -> None:
    coefs = _fit(agent_effect=0.0, trend=0.0, seed=seed)
    for term in ("C(agent)[T.random]", "step"):
        assert coefs.loc[term, "lo"] <= 0.0 <= coefs.loc[term, "hi"], term


ORACLE = "C(strategy, Treatment(reference='best-val'))[T.oracle]"


def _medals(n_tasks: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    strategy = rng.choice(["best-val", "oracle"], n)
    task = rng.choice([f"t{i}" for i in range(n_tasks)], n)
    p = np.where(strategy == "oracle", 0.8, 0.4)
    return pd.DataFrame({"medal": (rng.random(n) < p).astype(float), "strategy": strategy,
                         "agent": "greedy", "task": task})


def test_medal_model_finds_a_better_strategy() -> None:
    fit = models.medal_model(_medals(12), "best-val")
    assert fit.skipped is None and fit.n_groups == 12
    row = fit.coefs.set_index("term").loc[ORACLE]
    assert row["lo"] > 0  # log-odds ratio log(0.8/0.2 / (0.4/0.6)) ≈ 1.79
    assert row["lo"] <= np.log(4 / (0.4 / 0.6)) <= row["hi"]


def test_medal_model_with_few_tasks_is_descriptive_only() -> None:
    """Two clusters: no sandwich SE, interval or p (the audit's 'p < 0.001' with 2 tasks)."""
    fit = models.medal_model(_medals(2), "best-val")
    assert fit.skipped is None
    row = fit.coefs.set_index("term").loc[ORACLE]
    assert 1.0 < row["coef"] < 2.6  # the estimate is still given
    assert fit.coefs[["se", "lo", "hi", "p"]].isna().all().all()
    assert "descriptive only" in fit.notes[0] and "Mancl" in fit.notes[0]


def test_medal_model_drops_strategies_identical_to_the_reference() -> None:
    data = _medals(12, 300)
    data["search_id"] = [f"s{i // 2}" for i in range(len(data))]
    data["strategy"] = np.tile(["best-val", "oracle"], len(data) // 2)
    data["node_id"] = [f"{s}-{k}" for s, k in zip(data["search_id"], data["strategy"],
                                                  strict=True)]
    same = data[data["strategy"] == "best-val"].assign(strategy="lcb")
    fit = models.medal_model(pd.concat([data, same], ignore_index=True), "best-val")
    assert not any("lcb" in t for t in fit.coefs["term"])
    assert ORACLE in set(fit.coefs["term"])
    assert any("lcb" in n and "left out" in n for n in fit.notes)
    assert np.isfinite(fit.coefs["se"]).all()


def test_models_say_why_they_are_not_fitted() -> None:
    one_task = pd.DataFrame({"gap": np.arange(20.0), "step": np.arange(20.0), "agent": "a",
                             "task": "t"})
    assert "two tasks" in (models.gap_model(one_task).skipped or "")
    no_medal = pd.DataFrame({"medal": [0.0] * 10, "strategy": "best-val", "agent": "a",
                             "task": ["t", "u"] * 5})
    assert "missed a medal" in (models.medal_model(no_medal, "best-val").skipped or "")


def test_models_section_prints_only_fitted_formulas(tmp_path: Path) -> None:
    """N3: no leaderboard, so no medal flag: the GEE is said not fitted and why, and no
    formula is printed for it (not a ``medal ~ 1`` that was never fitted)."""
    from aira_eval.analysis.builders_extra import models_section
    from aira_eval.analysis.selection_view import select_grouped
    from aira_eval.selection.summary import SelectionOptions

    frame, tasks = agents_study(n_tasks=2, n_seeds=2, n_nodes=6)
    for info in tasks.values():
        info.thresholds = {}
    study = Study.from_nodes(frame, tasks)
    groups = dict(zip(study.searches["search_id"], study.searches["agent"], strict=True))
    ctx = Context(study, ReportOptions(), tmp_path, groups, study_scale(study))
    ctx.selection = select_grouped(study, [], SelectionOptions(n_resamples=50, seed=0))
    section = models_section(ctx)
    assert "GEE of the medal rate: not fitted — no pick has a medal flag (no task has a " \
        "leaderboard)." in section.notes
    assert not any(line.startswith("medal") or "medal ~" in line for line in section.code)


def test_medal_formula_is_the_one_fitted(small_report: ReportResult) -> None:
    """N3: the printed formula is the fitted one (no stray ``1 +``); the terms that do not
    vary are left out."""
    fit = models.medal_model(_medals(2), "best-val")
    assert fit.formula.startswith("medal ~ C(strategy, Treatment(reference='best-val'))  (GEE")
    assert models.medal_formula(_medals(2).assign(strategy="oracle"), "best-val") == \
        "medal ~ 1"
    section = next(s for s in small_report.sections if s.key == "models")
    assert "medal: medal ~ C(strategy, Treatment(reference='best-val')) + C(agent)  (GEE, " \
        "binomial/logit, exchangeable within task)" in section.code


def _two_tasks_no_task_effect(seed: int = 0) -> pd.DataFrame:
    """Two tasks, no task effect: the task variance's REML estimate is 0 and L-BFGS stops at a
    degenerate point (intercept ~1e-18 with SE ~1e6, Hessian not positive definite)."""
    rng = np.random.default_rng(seed)
    n = 84
    return pd.DataFrame({"task": rng.choice(["a", "b"], n), "agent": rng.choice(["g", "r"], n),
                         "step": rng.integers(0, 6, n).astype(float),
                         "gap": rng.normal(0.0, 0.16, n)})


def test_degenerate_mixed_fit_is_never_printed() -> None:
    import statsmodels.formula.api as smf

    data = _two_tasks_no_task_effect()
    fit = models.gap_model(data)
    assert fit.skipped is None and fit.converged
    coefs = fit.coefs.set_index("term")
    assert (coefs["se"] < 1.0).all(), coefs  # the L-BFGS fit had SE ~1e6 on the intercept
    ols = smf.ols("gap ~ step + C(agent)", data).fit()
    np.testing.assert_allclose(coefs["coef"], ols.params[coefs.index], atol=1e-3)
    np.testing.assert_allclose(coefs["se"], ols.bse[coefs.index], rtol=0.05)
    assert any("estimated at 0" in n for n in fit.notes) and "OLS" in fit.formula


def test_no_usable_mixed_fit_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ABSURD_SE", 1e-9)  # every fit, OLS aside, now "absurd"
    monkeypatch.setattr(models, "_ols_fallback", lambda *a: None)
    fit = models.gap_model(_two_tasks_no_task_effect(1))
    assert fit.coefs.empty
    assert "no usable fit" in (fit.skipped or "") and "lbfgs" in (fit.skipped or "")
