"""The space of procedural pipelines for one task: which knobs apply, their values, sampling.

A :class:`Space` combines the task's :class:`ProblemSpec` and inferred
:class:`~aira_eval.search.operators.procedural.schema.DataSchema`: text knobs exist only for
tasks with text, interactions only for a few numeric columns, an RBF SVM only for moderate
row counts, a log target only for non-negative regression targets. Every option list starts
with its default; draft sampling weights favour cheap, sensible choices.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from aira_eval.datasets.problem import ProblemSpec
from aira_eval.search.operators.procedural.config import FAMILIES, PipelineConfig, knob_path
from aira_eval.search.operators.procedural.cost import TaskShape, estimate_cost
from aira_eval.search.operators.procedural.estimators import LOG_METRICS, metric_name
from aira_eval.search.operators.procedural.schema import DataSchema

MAX_INTERACTION_COLUMNS = 15
"""Pairwise interactions are offered only up to this many numeric columns."""

TREE_FAMILIES = ("random_forest", "extra_trees", "hist_gb")
"""Families whose splits ignore monotone transforms of a column."""

LARGE_ROWS = 100_000
"""Above this many train rows, pipelines fit on a random subsample (a knob of its own)."""

RBF_SVM_MAX_ROWS = 20_000
"""Kernel SVMs scale quadratically: above this many rows only the linear kernel is offered."""

RBF_SVM_DEFAULT_MAX_ROWS = 5_000
"""The SVM family defaults to the RBF kernel up to this many rows (without text)."""


@dataclass(frozen=True)
class Knob:
    """One non-model choice: its field name, options (default first) and draft weights."""

    name: str
    options: tuple[Any, ...]
    weights: tuple[float, ...]

    @property
    def path(self) -> str:
        return knob_path(self.name)


def _weights(n: int, first: float = 3.0) -> tuple[float, ...]:
    return (first,) + (1.0,) * (n - 1)


class Space:
    """The pipelines that make sense for one task."""

    def __init__(self, problem: ProblemSpec, schema: DataSchema, n_folds: int = 5) -> None:
        self.problem = problem
        self.schema = schema
        self.n_folds = n_folds
        self.shape = TaskShape.of(problem, schema, n_folds)

    # -- knobs ---------------------------------------------------------------------------
    def knobs(self) -> list[Knob]:
        """The non-model knobs that apply to this task (``max_train_rows`` only for large
        data; debugging may set it anywhere). Imputation choices exist only where numeric
        values are missing, ``log1p_skewed`` only where a column is skewed."""
        s, schema, out = self.shape, self.schema, []
        if s.n_numeric and schema.numeric_missing:
            out += [
                Knob("impute", ("median", "mean", "most_frequent", "zero"), (4, 2, 1, 1)),
                Knob("missing_indicators", (False, True), (3, 1)),
            ]
        if s.n_numeric:
            out.append(Knob("scaling", ("standard", "none", "robust", "minmax"), (4, 2, 1, 1)))
        if s.n_numeric and (schema.skewed is None or schema.skewed or schema.row_stats_skewed):
            out.append(Knob("log1p_skewed", (False, True), (2, 1)))
        if s.n_numeric >= 2:
            out.append(Knob("row_stats", (False, True), (3, 1)))
        if 2 <= s.n_numeric <= MAX_INTERACTION_COLUMNS:
            out.append(Knob("interactions", (False, True), (4, 1)))
        if s.has_categorical:
            out += [
                Knob("encoding", ("onehot", "ordinal"), (3, 2)),
                Knob("max_categories", (30, 10, 100), (3, 1, 1)),
            ]
        if schema.compound:
            out.append(Knob("split_compound", (True, False), (4, 1)))
        if s.has_text:
            out += [
                Knob("text_analyzer", ("word", "char_wb"), (3, 1)),
                Knob("text_ngram_max", (2, 1, 3), (3, 2, 1)),
                Knob("text_max_features", (5000, 2000, 20000, 50000), (3, 2, 2, 1)),
                Knob("text_svd", (0, 64, 128, 256), (4, 1, 1, 1)),
            ]
        if s.n_rows > LARGE_ROWS:
            out.append(Knob("max_train_rows", (100_000, 30_000, 300_000), (3, 1, 1)))
        if self.problem.prediction == "regression" and schema.targets_nonnegative:
            log_first = metric_name(self.problem) in LOG_METRICS  # aliases, any case
            options = ("log1p", "none") if log_first else ("none", "log1p")
            out.append(Knob("target_transform", options, (3, 1)))
        return out

    def relevant_knobs(self, config: PipelineConfig) -> list[Knob]:
        """The knobs that can change what ``config``'s model sees.

        Tree ensembles are invariant to monotone per-column transforms: scaling never
        matters to them, and ``log1p`` only through pairwise interactions. ``log1p`` of
        skewed columns does nothing when only the row statistics would be skewed and
        ``config`` has none; missing indicators nothing when nothing is imputed.
        """
        skip: set[str] = set()
        if config.family in TREE_FAMILIES:
            skip |= {"scaling"} if config.interactions else {"scaling", "log1p_skewed"}
        skewed = self.schema.skewed
        if skewed is not None and not skewed and not (
                config.row_stats and self.schema.row_stats_skewed):
            skip.add("log1p_skewed")
        return [k for k in self.knobs() if k.name not in skip]

    def effective_key(self, config: PipelineConfig) -> str:
        """Canonical text of what ``config`` changes in the fitted model on this task: equal
        keys fit the same model (knobs the task or model cannot notice and hyperparameter
        values capped by the data are folded together). Memory and duplicate avoidance
        compare these; an improve must change it."""
        values: dict[str, Any] = {k.name: getattr(config, k.name)
                                  for k in self.relevant_knobs(config)}
        if 0 < config.max_train_rows < self.shape.n_rows:  # a debugging subsample
            values["max_train_rows"] = config.max_train_rows
        values["family"] = config.family
        values["params"] = self.effective_params(config)
        return json.dumps(values, sort_keys=True, default=str)

    def effective_params(self, config: PipelineConfig) -> dict[str, Any]:
        """``config``'s hyperparameters as the fit uses them: histogram boosting grows at
        most ``rows // min_samples_leaf`` leaves; forests draw ``max_features`` as a count
        of the input columns (``sqrt`` and 0.5 agree on four columns)."""
        params = dict(config.params)
        rows = self.shape.n_rows
        if 0 < config.max_train_rows < rows:
            rows = config.max_train_rows
        if config.family == "hist_gb" and "max_leaf_nodes" in params:
            cap = max(2, rows // max(1, int(params.get("min_samples_leaf") or 1)))
            params["max_leaf_nodes"] = min(int(params["max_leaf_nodes"]), cap)
        width = self.input_width(config)
        if config.family in ("random_forest", "extra_trees") and width is not None:
            params["max_features"] = _split_features(params.get("max_features"), width)
        return params

    def input_width(self, config: PipelineConfig) -> int | None:
        """Columns of the model's input when they can be counted exactly (numeric columns
        only, no missing indicators to guess), else ``None``."""
        schema = self.schema
        if schema.categorical or schema.compound or schema.text:
            return None
        if config.missing_indicators and schema.numeric_missing:
            return None
        width = len(schema.numeric) + (3 if config.row_stats else 0)
        return width + width * (width - 1) // 2 if config.interactions else width

    def families(self) -> dict[str, float]:
        """Applicable model families and their draft weights."""
        if self.shape.has_text:
            weights = {"linear": 4.0, "svm": 2.0, "mlp": 1.0, "random_forest": 0.5,
                       "extra_trees": 0.5, "knn": 0.5, "hist_gb": 0.5}
        else:
            weights = {"linear": 3.0, "hist_gb": 3.0, "random_forest": 2.0,
                       "extra_trees": 1.5, "knn": 1.0, "svm": 1.0, "mlp": 1.0}
        return {f: weights[f] for f in FAMILIES}

    def param_grid(self, family: str) -> dict[str, tuple[Any, ...]]:
        """Hyperparameter options of ``family`` for this task, default first."""
        clf = self.shape.is_classification
        if family == "linear":
            return {"C": (1.0, 0.1, 0.3, 3.0, 10.0)} if clf else {"alpha": (1.0, 0.1, 10.0, 100.0)}
        if family in ("random_forest", "extra_trees"):
            max_features = ("sqrt", 0.5, 1.0) if clf else (0.5, "sqrt", 1.0)
            return {"n_estimators": (200, 100, 400), "max_depth": (None, 8, 16),
                    "min_samples_leaf": (1, 2, 5), "max_features": max_features}
        if family == "hist_gb":
            return {"learning_rate": (0.1, 0.05, 0.03, 0.2), "max_iter": (200, 100, 400),
                    "max_leaf_nodes": (31, 15, 63), "min_samples_leaf": (20, 10, 40),
                    "l2_regularization": (0.0, 0.1, 1.0)}
        if family == "knn":
            return {"n_neighbors": (15, 5, 31, 51), "weights": ("distance", "uniform")}
        if family == "svm":
            return {"C": (1.0, 0.3, 3.0, 10.0), "kernel": self._svm_kernels()}
        if family == "mlp":
            return {"hidden": ([128], [64], [256], [128, 64]), "alpha": (1e-4, 1e-3, 1e-2),
                    "learning_rate_init": (1e-3, 3e-3), "max_iter": (200, 100, 400)}
        raise ValueError(f"unknown model family {family!r}")

    def _svm_kernels(self) -> tuple[str, ...]:
        n = self.shape.n_rows
        if n > RBF_SVM_MAX_ROWS:
            return ("linear",)
        if self.shape.has_text or n > RBF_SVM_DEFAULT_MAX_ROWS:
            return ("linear", "rbf")
        return ("rbf", "linear")

    def default_params(self, family: str) -> dict[str, Any]:
        return {name: options[0] for name, options in self.param_grid(family).items()}

    # -- configs -------------------------------------------------------------------------
    def default_config(self, family: str = "hist_gb") -> PipelineConfig:
        """Every knob at its default, ``family`` with default hyperparameters."""
        base = PipelineConfig(family=family, params=self.default_params(family))
        return replace(base, **{k.name: k.options[0] for k in self.knobs()})

    def normalize(self, config: PipelineConfig) -> PipelineConfig:
        """``config`` made valid here: known family, every hyperparameter present."""
        if config.family not in FAMILIES:
            return self.default_config()
        grid = self.param_grid(config.family)
        params = {n: config.params.get(n, options[0]) for n, options in grid.items()}
        if config.family == "svm" and params["kernel"] not in grid["kernel"]:
            params["kernel"] = grid["kernel"][0]
        return replace(config, params=params)

    def sample(self, rng: np.random.Generator, default_weight: float = 3.0) -> PipelineConfig:
        """One pipeline drawn by the draft weights (family, hyperparameters, knobs).

        Each hyperparameter's default weighs ``default_weight`` against 1 for the others.
        """
        families = self.families()
        family = str(_choice(rng, list(families), list(families.values())))
        params = {
            name: _choice(rng, list(options), list(_weights(len(options), default_weight)))
            for name, options in self.param_grid(family).items()
        }
        config = PipelineConfig(family=family, params=params)
        knobs = self.knobs()
        values = {k.name: _choice(rng, list(k.options), list(k.weights)) for k in knobs}
        config = replace(config, **values)
        relevant = {k.name for k in self.relevant_knobs(config)}
        # knobs the model cannot notice stay at their defaults (no look-alike duplicates)
        return replace(config, **{k.name: k.options[0] for k in knobs if k.name not in relevant})

    def safe_config(self) -> PipelineConfig:
        """The most robust pipeline: plain imputation, ordinal codes, no feature steps.

        A linear model for text or many classes (cheap and always fits), else histogram
        gradient boosting (handles anything numeric).
        """
        family = "linear" if self.shape.has_text or self.shape.n_classes > 10 else "hist_gb"
        config = self.default_config(family)
        safe: dict[str, Any] = {
            "impute": "median", "missing_indicators": False, "scaling": "standard",
            "encoding": "ordinal", "max_categories": 30, "split_compound": False,
            "log1p_skewed": False, "row_stats": False, "interactions": False,
            "text_analyzer": "word", "text_ngram_max": 1, "text_max_features": 5000,
            "text_svd": 0, "target_transform": "none",
        }
        if family == "hist_gb":
            config = config.with_value("model.params.max_iter", 100)
        applicable = {k.name for k in self.knobs()}
        return replace(config, **{k: v for k, v in safe.items() if k in applicable})

    def cost(self, config: PipelineConfig) -> float:
        """Estimated wall time of the script in seconds (order of magnitude)."""
        return estimate_cost(config, self.shape)


def weighted_index(rng: np.random.Generator, weights: list[float]) -> int:
    """An index drawn with probability proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return int(rng.choice(len(p), p=p / p.sum()))


def _split_features(value: Any, width: int) -> Any:
    """scikit-learn's count of features tried per split for ``max_features=value``."""
    if value == "sqrt":
        return max(1, int(math.sqrt(width)))
    if isinstance(value, float):
        return max(1, int(value * width))
    return value


def _choice(rng: np.random.Generator, options: list[Any], weights: list[float]) -> Any:
    return options[weighted_index(rng, weights)]
