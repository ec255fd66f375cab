"""Metric registry: name -> :class:`MetricSpec` (function, direction, what predictions it needs).

Every metric function takes ``(y_true, y_pred)`` as NumPy arrays and returns a float, using
scikit-learn's implementation (the one MLE-bench's graders call), so a score computed here is
the score MLE-bench would compute from the same aligned arrays.

Shapes:

- ``labels`` metrics: ``y_true`` and ``y_pred`` of shape ``(n,)`` holding class labels;
- ``scores`` metrics: ``(n,)`` real values, or ``(n, k)`` for the ``mean_columnwise_*`` ones;
- ``probas`` metrics: ``y_pred`` holds probabilities in [0, 1]: ``(n,)`` for the positive class
  of a binary task (``roc_auc``, ``log_loss``), ``(n, k)`` for one column per class
  (``multiclass_log_loss``, whose ``y_true`` is the ``(n, k)`` one-hot matrix) or per label
  (``mean_columnwise_roc_auc``, whose ``y_true`` is the ``(n, k)`` 0/1 matrix).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn import metrics as skm

from aira_eval.errors import UsageError

MetricNeeds = Literal["labels", "scores", "probas"]
MetricColumns = Literal["one", "many", "any"]
MetricFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class MetricSpec:
    """A metric and what it needs.

    Attributes:
        name: registry name.
        fn: ``fn(y_true, y_pred) -> float`` on aligned arrays (see the module docstring).
        lower_is_better: direction.
        needs: ``labels`` (``predict``), ``scores`` (real-valued predictions, ``predict`` of a
            regressor) or ``probas`` (probabilities in [0, 1], ``predict_proba``).
        columns: how many target columns the metric scores: ``one``, ``many`` (two or
            more) or ``any``.
        simplex: each row of a multi-column prediction is a distribution over the columns
            (values sum to one), as for ``multiclass_log_loss``.
        positive_class: the metric scores one positive label against the rest (``f1``): the
            grader turns labels into 1 (the task's positive label) and 0 before calling ``fn``.
        description: one line for humans.
    """

    name: str
    fn: MetricFn
    lower_is_better: bool
    needs: MetricNeeds
    columns: MetricColumns = "one"
    simplex: bool = False
    positive_class: bool = False
    description: str = ""

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(self.fn(y_true, y_pred))


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.accuracy_score(y_true, y_pred))


def _roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return float(skm.roc_auc_score(y_true, y_score))


def _mean_columnwise_roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if y_true.ndim == 1 and y_score.ndim == 1:
        return _roc_auc(y_true, y_score)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            f"mean_columnwise_roc_auc needs two (n, k) arrays, got {y_true.shape} "
            f"and {y_score.shape}"
        )
    aucs = [skm.roc_auc_score(y_true[:, j], y_score[:, j]) for j in range(y_true.shape[1])]
    return float(np.mean(aucs))


def _log_loss(y_true: np.ndarray, y_proba: np.ndarray) -> float:
    return float(skm.log_loss(y_true, y_proba))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.root_mean_squared_error(y_true, y_pred))


def _rmsle(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.root_mean_squared_log_error(y_true, y_pred))


def _mean_columnwise_rmsle(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 1:
        return _rmsle(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} vs {y_pred.shape}")
    per_column = [_rmsle(y_true[:, j], y_pred[:, j]) for j in range(y_true.shape[1])]
    return float(np.mean(per_column))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.mean_absolute_error(y_true, y_pred))


def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.mean_squared_error(y_true, y_pred))


def _mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.mean_absolute_percentage_error(y_true, y_pred))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.r2_score(y_true, y_pred))


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.f1_score(y_true, y_pred))


def _f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.f1_score(y_true, y_pred, average="macro"))


def _qwk(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    # MLE-bench (aptos2019) passes (y_pred, y_true); kappa is symmetric in its arguments.
    return float(skm.cohen_kappa_score(y_pred, y_true, weights="quadratic"))


_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", _accuracy, False, "labels", description="fraction of exact labels"),
    MetricSpec("roc_auc", _roc_auc, False, "probas", description="binary ROC AUC"),
    MetricSpec(
        "mean_columnwise_roc_auc",
        _mean_columnwise_roc_auc,
        False,
        "probas",
        columns="any",
        description="mean over target columns of the binary ROC AUC",
    ),
    MetricSpec("log_loss", _log_loss, True, "probas", description="binary log loss"),
    MetricSpec(
        "multiclass_log_loss",
        _log_loss,
        True,
        "probas",
        columns="many",
        simplex=True,
        description="multi-class log loss over one probability column per class",
    ),
    MetricSpec("rmse", _rmse, True, "scores", columns="any", description="root mean squared error"),
    MetricSpec(
        "rmsle", _rmsle, True, "scores", columns="any", description="root mean squared log error"
    ),
    MetricSpec(
        "mean_columnwise_rmsle",
        _mean_columnwise_rmsle,
        True,
        "scores",
        columns="any",
        description="mean over target columns of the RMSLE",
    ),
    MetricSpec("mae", _mae, True, "scores", columns="any", description="mean absolute error"),
    MetricSpec("mse", _mse, True, "scores", columns="any", description="mean squared error"),
    MetricSpec(
        "mape", _mape, True, "scores", columns="any", description="mean absolute percentage error"
    ),
    MetricSpec(
        "r2", _r2, False, "scores", columns="any", description="coefficient of determination"
    ),
    MetricSpec(
        "f1",
        _f1,
        False,
        "labels",
        positive_class=True,
        description="F1 of the positive label against the rest",
    ),
    MetricSpec("f1_macro", _f1_macro, False, "labels", description="unweighted mean F1"),
    MetricSpec(
        "quadratic_weighted_kappa",
        _qwk,
        False,
        "labels",
        description="Cohen's kappa with quadratic weights",
    ),
)

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}
"""Every registered metric by name."""

ALIASES: dict[str, str] = {
    "auc": "roc_auc",
    "auc-roc": "roc_auc",
    "roc-auc": "roc_auc",
    "logloss": "log_loss",
    "log-loss": "log_loss",
    "multi-class-log-loss": "multiclass_log_loss",
    "mlogloss": "multiclass_log_loss",
    "column-wise-roc-auc": "mean_columnwise_roc_auc",
    "mean-column-wise-roc-auc": "mean_columnwise_roc_auc",
    "root-mean-squared-error": "rmse",
    "root_mean_squared_error": "rmse",
    "qwk": "quadratic_weighted_kappa",
    "quadratic-weighted-kappa": "quadratic_weighted_kappa",
    "multi-class-classification-accuracy": "accuracy",
}
"""Other spellings (several are MLE-bench's grader names) accepted by :func:`get_metric`."""


def metric_names() -> list[str]:
    """Names of all registered metrics, sorted."""
    return sorted(METRICS)


def get_metric(name: str) -> MetricSpec:
    """The metric registered as ``name`` (or one of its :data:`ALIASES`).

    Raises:
        UsageError: unknown name; the message lists the closest registered names.
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in METRICS:
        return METRICS[key]
    candidates = [*METRICS, *ALIASES]
    close = difflib.get_close_matches(key, candidates, n=4, cutoff=0.5)
    suggestions = sorted({ALIASES.get(c, c) for c in close})
    hint = (
        f"did you mean: {', '.join(suggestions)}?"
        if suggestions
        else f"known metrics: {', '.join(metric_names())}"
    )
    raise UsageError(f"unknown metric {name!r}", hint=hint)
