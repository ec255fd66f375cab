"""A rough wall-time estimate of a procedural script, from its config and the task's size.

The constants were fitted by timing single-threaded scikit-learn fits on the four MLE-bench
competitions in ``../shared/data`` (2 cores); the estimate is right to within a small factor,
which is all drafting (prefer cheap pipelines) and debugging (make a timeout cheaper) need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aira_eval.datasets.problem import ProblemSpec
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.schema import DataSchema

STARTUP_S = 1.5
"""Interpreter start, imports and reading the files."""

COMPOUND_PART_LEVELS = 10
"""Assumed distinct values of a categorical part of a compound column."""


@dataclass(frozen=True)
class TaskShape:
    """The sizes of a task that drive a pipeline's cost."""

    is_classification: bool
    n_rows: int
    n_classes: int
    n_models: int
    n_numeric: int
    n_compound_numeric: int
    cardinalities: tuple[int, ...]
    compound: tuple[tuple[int, int], ...]
    n_text: int
    n_folds: int
    probabilities: bool = False
    """The submission holds class probabilities (classifiers without them get calibrated)."""

    @classmethod
    def of(cls, problem: ProblemSpec, schema: DataSchema, n_folds: int) -> TaskShape:
        per_target = problem.prediction in ("probability", "regression")
        return cls(
            is_classification=problem.is_classification,
            n_rows=max(1, schema.n_rows),
            n_classes=schema.n_classes,
            n_models=len(problem.label_columns) if per_target else 1,
            n_numeric=len(schema.numeric),
            n_compound_numeric=schema.n_compound_numeric,
            cardinalities=tuple(schema.card(c) for c in schema.categorical),
            compound=tuple(
                (schema.card(c.name), sum(p == "categorical" for p in c.parts))
                for c in schema.compound
            ),
            n_text=len(schema.text),
            n_folds=n_folds,
            probabilities=problem.prediction in ("probability", "class_probabilities"),
        )

    @property
    def has_text(self) -> bool:
        return self.n_text > 0

    @property
    def has_categorical(self) -> bool:
        return bool(self.cardinalities) or bool(self.compound)


def _categorical_width(config: PipelineConfig, shape: TaskShape) -> float:
    levels = [c for c in shape.cardinalities if c <= config.max_categories]
    for card, n_cat_parts in shape.compound:
        if config.split_compound:
            levels += [COMPOUND_PART_LEVELS] * n_cat_parts
        elif card <= config.max_categories:
            levels.append(card)
    return float(sum(levels) if config.encoding == "onehot" else len(levels))


def _numeric_width(config: PipelineConfig, shape: TaskShape) -> float:
    num = float(shape.n_numeric + (shape.n_compound_numeric if config.split_compound else 0))
    num += 3 if config.row_stats and num >= 2 else 0
    if config.interactions:
        num += num * (num - 1) / 2
    return num * (1.3 if config.missing_indicators else 1.0)


def _text_width(config: PipelineConfig, shape: TaskShape, sparse: bool) -> float:
    """Text features per text column: the vocabulary, or the non-zeros a sparse model sees."""
    svd = config.text_components
    if svd:
        return float(svd)
    vocabulary = min(config.text_max_features, 20 * shape.n_rows)
    if sparse:
        per_row = 100.0 * config.text_ngram_max * (3 if config.text_analyzer == "char_wb" else 1)
        return min(float(vocabulary), per_row)
    return float(vocabulary)


def n_features(config: PipelineConfig, shape: TaskShape, sparse: bool = False) -> float:
    """Estimated width of the model's input matrix (``sparse``: non-zeros per row)."""
    width = _numeric_width(config, shape) + _categorical_width(config, shape)
    return max(1.0, width + shape.n_text * _text_width(config, shape, sparse))


def _mtry(value: Any, f: float) -> float:
    if value == "sqrt":
        return math.sqrt(f)
    return max(1.0, float(value) * f) if isinstance(value, int | float) else math.sqrt(f)


def _trees_cost(config: PipelineConfig, shape: TaskShape, n: float, f: float) -> float:
    p, k = config.params, shape.n_classes
    depth = {None: 1.0, 8: 0.6, 16: 0.9}.get(p.get("max_depth"), 1.0)
    leaf = max(0.5, 1.0 / math.sqrt(float(p.get("min_samples_leaf", 1))))
    per_tree = n * math.log2(max(n, 2)) * _mtry(p.get("max_features", "sqrt"), f)
    scale = 3e-8 * (1 + k / 25 if shape.is_classification else 2.0)
    return scale * float(p.get("n_estimators", 100)) * per_tree * depth * leaf


def _fit_cost(config: PipelineConfig, shape: TaskShape, n: float) -> float:
    """Seconds for one fit (and prediction) on ``n`` rows."""
    p, family = config.params, config.family
    k = shape.n_classes if shape.n_classes > 2 else 1
    f = n_features(config, shape)
    fs = n_features(config, shape, sparse=True)
    if family == "linear":
        return 0.01 + (6e-8 * n * fs * k if shape.is_classification else 1e-8 * n * fs)
    if family in ("random_forest", "extra_trees"):
        dense = fs + 0.3 * (f - fs)
        return _trees_cost(config, shape, n, dense)
    if family == "hist_gb":
        return float(p.get("max_iter", 100)) * k * (3e-8 * n * f + 3e-4)
    if family == "knn":
        return 2e-10 * n * n * fs
    if family == "svm":
        return _svm_cost(config, shape, n, fs)
    if family == "mlp":
        width = sum(p.get("hidden") or [100])
        forward = 6e-10 * n * (fs + k) * width
        updates = 3e-8 * (n / 200) * f * width  # Adam updates every weight per batch of 200
        return float(p.get("max_iter", 200)) * (forward + updates)
    raise ValueError(f"unknown model family {family!r}")


def _linear_svm_fit(config: PipelineConfig, shape: TaskShape, n: float, fs: float) -> float:
    """One ``LinearSVC`` / ``LinearSVR`` fit: liblinear's dual coordinate descent.

    Its passes over the data grow with ``C``: for classifiers the more so the nearer the
    one-vs-rest problems are to separable (as many dense features as rows: 76 s at C=10 on
    leaf-classification's 504 × 192 × 99 classes, 1.8 s on digits), for the
    epsilon-insensitive regression also with the rows. Fitted on the MLE-bench tasks in
    ``../shared/data``, digits, diabetes and synthetic tasks (bench/cost_model).
    """
    c = float(config.params.get("C", 1.0))
    k = shape.n_classes if shape.n_classes > 2 else 1
    one_pass = 2e-8 * n * fs * k
    if shape.is_classification:
        dense = _numeric_width(config, shape) + _categorical_width(config, shape)
        separable = min(1.0, 2.0 * dense / max(n, 1.0))
        return one_pass * (4.0 + c * (3.0 + 40.0 * separable))
    return one_pass * (20.0 + 25.0 * c) * (n / 500.0) ** 0.6


def _svm_cost(config: PipelineConfig, shape: TaskShape, n: float, fs: float) -> float:
    """An SVM fit; with probabilities, ``CalibratedClassifierCV(cv=3, ensemble=False)``.

    The calibrated classifier fits three times on 2/3 of the rows and once on all of them,
    then one sigmoid per class.
    """
    def one(rows: float) -> float:
        if config.params.get("kernel") == "rbf":
            return 2e-9 * rows * rows * fs
        return _linear_svm_fit(config, shape, rows, fs)

    if not (shape.is_classification and shape.probabilities):
        return one(n)
    return one(n) + 3.0 * one(2.0 * n / 3.0) + 0.015 * shape.n_classes


def estimate_cost(config: PipelineConfig, shape: TaskShape) -> float:
    """Estimated wall time (seconds) of the whole script: CV fits, the final fit, startup."""
    n = float(shape.n_rows)
    if config.max_train_rows:
        n = min(n, float(config.max_train_rows))
    fits = (shape.n_folds + 1) * shape.n_models
    text = 4e-5 * n * shape.n_text * (3.0 if config.text_analyzer == "char_wb" else 1.0)
    return STARTUP_S + fits * (_fit_cost(config, shape, 0.85 * n) + text)
