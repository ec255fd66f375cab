"""Statistical models (statsmodels): the generalization gap and the medal rate.

* **Gap** (mixed linear model, REML): ``gap ~ step + C(agent)`` with a random intercept per
  task, where ``gap`` is ``test − validation`` of every valid node on the report's scale,
  oriented (negative: the validation score over-estimated the test score). A degenerate fit
  (non-positive-definite Hessian, absurd or non-finite SEs, no convergence) is never shown:
  L-BFGS, then Powell, then — when both stopped at a zero task variance — OLS, else the reason
  (:func:`gap_model`).
* **Medal** (GEE, binomial, logit link, exchangeable working correlation, clusters = tasks):
  ``medal ~ C(strategy) + C(agent)`` over the per-search picks of the strategies that submit
  one node (a 0/1 outcome); coefficients are log-odds ratios vs the reference strategy and the
  first agent, with Mancl–DeRouen bias-reduced sandwich SEs and t intervals on (tasks − 1) df
  from :data:`MIN_CLUSTERS` tasks, descriptive only (no SE, interval or p) below.

Large studies are fitted on a deterministic sample of at most :data:`MAX_ROWS` nodes (said in
the result). A model that does not converge, or cannot be fitted, is reported with the reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

MAX_ROWS = 60_000
COEF_COLUMNS = ["term", "coef", "se", "lo", "hi", "p"]


@dataclass
class ModelFit:
    """One fitted model: formula, coefficients with intervals, size, convergence notes."""

    name: str
    formula: str
    coefs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COEF_COLUMNS))
    n_obs: int = 0
    n_groups: int = 0
    converged: bool = False
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


def _coefs(res: Any, names: list[str], level: float) -> pd.DataFrame:
    ci = np.asarray(res.conf_int(alpha=1 - level))
    params, bse, pv = np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues)
    n = len(names)
    return pd.DataFrame({"term": names, "coef": params[:n], "se": bse[:n], "lo": ci[:n, 0],
                         "hi": ci[:n, 1], "p": pv[:n]})


def _terms(data: pd.DataFrame, column: str, reference: str | None = None) -> str:
    """`` + C(column)`` when ``column`` varies in ``data``, else nothing."""
    levels = data[column].nunique()
    if levels < 2:
        return ""
    ref = f", Treatment(reference={reference!r})" if reference is not None else ""
    return f" + C({column}{ref})"


def medal_formula(data: pd.DataFrame, reference: str) -> str:
    """The medal GEE's formula as fitted: ``medal ~ C(strategy, …) + C(agent)`` with only the
    terms that vary in ``data`` (``medal ~ 1`` when none does)."""
    terms = _terms(data, "strategy", reference) + _terms(data, "agent")
    return "medal ~ " + (terms.removeprefix(" + ") or "1")


def _mixed_fit(model: Any, method: str, level: float) -> tuple[Any, pd.DataFrame]:
    return _with_coefs(model.fit(reml=True, method=[method]), list(model.exog_names), level)


def _with_coefs(res: Any, names: list[str], level: float) -> tuple[Any, pd.DataFrame]:
    return res, _coefs(res, names, level)


def _fit(fit: ModelFit, run: Callable[[], tuple[Any, pd.DataFrame]]
         ) -> tuple[Any, pd.DataFrame] | None:
    """Run a fit, turning warnings into notes; None (and ``skipped``) on failure."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = run()
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as err:
            fit.skipped = f"the model could not be fitted ({type(err).__name__}: {err})"
            return None
    for w in caught:
        if issubclass(w.category, ConvergenceWarning | RuntimeWarning):
            fit.notes.append(str(w.message).splitlines()[0])
    fit.notes = list(dict.fromkeys(fit.notes))[:3]
    return res


#: A coefficient's SE times its regressor's standard deviation above this many outcome
#: standard deviations is not an estimate but a degenerate optimum (the audit's L-BFGS fit:
#: intercept 1e-18, SE 1.5e6 for a gap of SD 0.16).
ABSURD_SE = 100.0
NOT_PD = "not positive definite"
BOUNDARY = "boundary of the parameter space"


def _insane(res: tuple[Any, pd.DataFrame] | None, notes: list[str], data: pd.DataFrame,
            model: Any) -> str | None:
    """Why a mixed-model fit is not usable, or None when it is."""
    if res is None:
        return "no fit"
    if not res[0].converged:
        return "did not converge"
    se = res[1]["se"].to_numpy(dtype=float)
    if not (np.isfinite(se).all() and (se > 0).all()):
        return "non-finite standard errors"
    spread = np.asarray(model.exog, dtype=float).std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # the intercept's column
    scale = max(float(data["gap"].std()), np.finfo(float).tiny)
    if np.any(se * spread > ABSURD_SE * scale):
        return f"absurd standard errors (up to {float(se.max()):.3g} for a gap of SD {scale:.3g})"
    if any(NOT_PD in n for n in notes):
        return "Hessian not positive definite"
    return None


def _ols_fallback(fit: ModelFit, data: pd.DataFrame, formula: str, level: float
                  ) -> tuple[Any, pd.DataFrame] | None:
    """Both optimizers stopped at a zero task variance: the model is OLS (said in notes)."""
    import statsmodels.formula.api as smf

    def run() -> tuple[Any, pd.DataFrame]:
        res = smf.ols(formula, data).fit()
        return res, _coefs(res, list(res.model.exog_names), level)

    fit.notes = []
    res = _fit(fit, run)
    if res is None:
        return None
    fit.formula = formula + "  (OLS: the task variance is estimated at 0)"
    fit.notes.append("the random-intercept variance is estimated at 0 (boundary of the "
                     "parameter space; every optimizer's Hessian not positive definite): the "
                     "mixed model reduces to OLS, fitted as such; Wald t intervals")
    return res


def gap_model(data: pd.DataFrame, level: float = 0.95, seed: int = 0) -> ModelFit:
    """Mixed model of the gap (module docstring); ``data``: ``gap, step, agent, task``.

    L-BFGS first, then Powell; a fit is kept only when it converged with finite, non-absurd
    standard errors (:data:`ABSURD_SE`) and a positive-definite Hessian. When every optimizer
    stopped on the boundary (task variance 0) the model is OLS and is fitted as such; when no
    fit is usable, ``skipped`` says why for each optimizer.
    """
    import statsmodels.formula.api as smf

    data = data[np.isfinite(data["gap"].to_numpy(float))]
    formula = "gap ~ step" + _terms(data, "agent")
    fit = ModelFit("gap", formula + "  (random intercept: 1 | task)")
    if data["task"].nunique() < 2:
        fit.skipped = "a random intercept per task needs at least two tasks"
        return fit
    if len(data) < 10:
        fit.skipped = f"too few nodes with both scores ({len(data)})"
        return fit
    if len(data) > MAX_ROWS:
        fit.notes.append(f"fitted on a random sample of {MAX_ROWS:,} of {len(data):,} nodes")
        data = data.sample(MAX_ROWS, random_state=seed)
    model = smf.mixedlm(formula, data, groups=data["task"])
    res, failed, kept, boundary = None, [], list(fit.notes), True
    for method in ("lbfgs", "powell"):
        fit.notes, fit.skipped = list(kept), None
        res = _fit(fit, partial(_mixed_fit, model, method, level))
        problem = _insane(res, fit.notes, data, model) if res is not None else \
            (fit.skipped or "no fit")
        if problem is None:
            break
        boundary = boundary and any(BOUNDARY in n for n in fit.notes)
        failed.append(f"{method}: {problem}")
        res = None
    if res is None and boundary:
        res = _ols_fallback(fit, data, formula, level)
    if res is None:
        fit.skipped = fit.skipped or ("no usable fit (" + "; ".join(failed) + ")")
        fit.notes = kept
        return fit
    if failed and "OLS" not in fit.formula:
        fit.notes.append(f"fitted with Powell's method ({failed[0]})")
    fit.converged = True
    fit.coefs = res[1]
    fit.n_obs, fit.n_groups = len(data), int(data["task"].nunique())
    return fit


#: Fewest clusters (tasks) for sandwich inference in the medal GEE. The robust (sandwich)
#: variance is biased downward with few clusters and its Wald tests are anti-conservative
#: below ~40 (Mancl & DeRouen 2001, Biometrics 57:126–134); their bias-reduced estimator
#: (statsmodels ``cov_type="bias_reduced"``) with a t reference on G − 1 df holds its size
#: from about 10–20 clusters. Below this the coefficients are descriptive only.
MIN_CLUSTERS = 10


def identical_to_reference(data: pd.DataFrame, reference: str) -> list[str]:
    """Strategies whose pick is the reference's pick on every search (``search_id``,
    ``node_id`` columns): collinear, duplicated rows in the GEE."""
    if not {"search_id", "node_id"} <= set(data.columns):
        return []
    picks = data.pivot_table(index="search_id", columns="strategy", values="node_id",
                             aggfunc="first")
    if reference not in picks.columns:
        return []
    ref = picks[reference].astype(str)
    return [str(s) for s in picks.columns if s != reference
            and bool((picks[s].astype(str) == ref).all())]


def _small_sample(res: Any, names: list[str], level: float, clusters: int) -> pd.DataFrame:
    """Coefficients with bias-reduced SEs and a t reference on ``clusters − 1`` df."""
    from scipy.special import stdtr, stdtrit

    coefs = _coefs(res, names, level)
    df = clusters - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stdtrit(df, 1.0 - (1.0 - level) / 2.0) * coefs["se"]
        p = 2.0 * stdtr(df, -np.abs(coefs["coef"] / coefs["se"]))
    return coefs.assign(lo=coefs["coef"] - half, hi=coefs["coef"] + half, p=p)


def medal_model(data: pd.DataFrame, reference: str, level: float = 0.95) -> ModelFit:
    """GEE of the medal flag (module docstring); ``data``: ``medal, strategy, agent, task``
    (and ``search_id``, ``node_id`` to drop strategies identical to the reference).

    Strategies whose pick is the reference's on every search are left out (said in notes).
    From :data:`MIN_CLUSTERS` tasks: Mancl–DeRouen bias-reduced sandwich SEs, t intervals and
    p-values on (tasks − 1) df; below, the coefficients only (descriptive, no SE/interval/p).
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    data = data[data["medal"].isin([0.0, 1.0])]
    same = identical_to_reference(data, reference)
    data = data[~data["strategy"].isin(same)]
    formula = medal_formula(data, reference)
    fit = ModelFit("medal", formula + "  (GEE, binomial/logit, exchangeable within task)")
    if data.empty:
        fit.skipped = "no pick has a medal flag (no task has a leaderboard)"
        return fit
    clusters = int(data["task"].nunique())
    if clusters < 2:
        fit.skipped = "clustering by task needs at least two tasks"
        return fit
    rate = float(data["medal"].mean())
    if rate in (0.0, 1.0):
        fit.skipped = f"every pick {'won' if rate else 'missed'} a medal: nothing to model"
        return fit
    model = smf.gee(formula, groups="task", data=data, family=sm.families.Binomial(),
                    cov_struct=sm.cov_struct.Exchangeable())
    def run() -> tuple[Any, pd.DataFrame]:
        res = model.fit(maxiter=100, cov_type="bias_reduced")
        return res, _small_sample(res, list(model.exog_names), level, clusters)

    res = _fit(fit, run)
    if res is None:
        return fit
    fit.converged = bool(getattr(res[0], "converged", True))
    if not fit.converged:
        fit.notes.insert(0, "GEE did not converge in 100 iterations: read the estimates with care")
    fit.coefs = res[1]
    if clusters < MIN_CLUSTERS:
        fit.coefs = fit.coefs.assign(se=np.nan, lo=np.nan, hi=np.nan, p=np.nan)
        fit.notes.insert(0, f"descriptive only: {clusters} tasks (clusters) are too few for "
                         f"sandwich standard errors (fewer than {MIN_CLUSTERS}; Mancl & DeRouen "
                         "2001), so no SE, interval or p-value is given")
    if same:
        fit.notes.append(f"left out (same pick as {reference} on every search): "
                         + ", ".join(same))
    fit.n_obs, fit.n_groups = len(data), clusters
    return fit
