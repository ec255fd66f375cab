"""Statistical models (statsmodels): the generalization gap and the medal rate.

* **Gap** (mixed linear model, REML): ``gap ~ step + C(agent)`` with a random intercept per
  task, where ``gap`` is ``test − validation`` of every valid node on the report's scale,
  oriented (negative: the validation score over-estimated the test score).
* **Medal** (GEE, binomial, logit link, exchangeable working correlation, clusters = tasks):
  ``medal ~ C(strategy) + C(agent)`` over the per-search picks of the strategies that submit
  one node (a 0/1 outcome); coefficients are log-odds ratios vs the reference strategy and the
  first agent, with robust (sandwich) intervals.

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
    levels = data[column].nunique()
    if levels < 2:
        return ""
    ref = f", Treatment(reference={reference!r})" if reference is not None else ""
    return f" + C({column}{ref})"


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


def gap_model(data: pd.DataFrame, level: float = 0.95, seed: int = 0) -> ModelFit:
    """Mixed model of the gap (module docstring); ``data``: ``gap, step, agent, task``."""
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
    res, failed, kept = None, [], list(fit.notes)
    for method in ("lbfgs", "powell"):  # L-BFGS can stop at a degenerate point (NaN SEs)
        fit.notes, fit.skipped = list(kept), None
        res = _fit(fit, partial(_mixed_fit, model, method, level))
        if res is not None and res[0].converged and np.isfinite(res[1]["se"]).all():
            break
        failed.append(method)
    if failed and len(failed) < 2:
        fit.notes.append(f"fitted with Powell's method ({failed[0]} gave no usable fit)")
    if res is None:
        return fit
    fit.converged = bool(res[0].converged)
    if not fit.converged:
        fit.notes.insert(0, "the optimizer did not converge: read the estimates with care")
    fit.coefs = res[1]
    fit.n_obs, fit.n_groups = len(data), int(data["task"].nunique())
    return fit


def medal_model(data: pd.DataFrame, reference: str, level: float = 0.95) -> ModelFit:
    """GEE of the medal flag (module docstring); ``data``: ``medal, strategy, agent, task``."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    data = data[data["medal"].isin([0.0, 1.0])]
    formula = "medal ~ 1" + _terms(data, "strategy", reference) + _terms(data, "agent")
    fit = ModelFit("medal", formula + "  (GEE, binomial/logit, exchangeable within task)")
    if data.empty:
        fit.skipped = "no pick has a medal flag (no task has a leaderboard)"
        return fit
    if data["task"].nunique() < 2:
        fit.skipped = "clustering by task needs at least two tasks"
        return fit
    rate = float(data["medal"].mean())
    if rate in (0.0, 1.0):
        fit.skipped = f"every pick {'won' if rate else 'missed'} a medal: nothing to model"
        return fit
    model = smf.gee(formula, groups="task", data=data, family=sm.families.Binomial(),
                    cov_struct=sm.cov_struct.Exchangeable())
    res = _fit(fit, lambda: _with_coefs(model.fit(maxiter=100), list(model.exog_names),
                                        level))
    if res is None:
        return fit
    fit.converged = bool(getattr(res[0], "converged", True))
    if not fit.converged:
        fit.notes.insert(0, "GEE did not converge in 100 iterations: read the estimates with care")
    fit.coefs = res[1]
    fit.n_obs, fit.n_groups = len(data), int(data["task"].nunique())
    return fit
