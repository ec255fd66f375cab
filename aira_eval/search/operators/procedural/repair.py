"""Debugging procedural pipelines: read the failure, move to a cheaper or safer config.

- ``timeout`` → a cheaper pipeline: smaller model (fewer trees or iterations, linear instead
  of RBF kernel), lighter features, a train subsample (large data only), finally a linear
  model; the estimated cost at least halves where it can (a pipeline that is already the
  cheapest known is retried as is);
- ``memory`` → the same moves, data-side first (features, then subsample, then model);
- ``exception`` → safer preprocessing (median imputation, ordinal codes with unknown handling,
  no feature steps, plain text features, no target transform); the model also falls back to
  the safe family when the error names it, or when the parent was itself a failed repair;
- ``invalid`` (invalid submission, no report, no submission, operator error) → the safest
  known-valid pipeline (:meth:`Space.safe_config`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.space import Space

Failure = Literal["timeout", "memory", "exception", "invalid"]
Step = Callable[[Space, PipelineConfig], tuple[PipelineConfig, str] | None]

MIN_TRAIN_ROWS = 5000
"""Debugging a timeout never subsamples the train file below this many rows (small data sets
lose too much from subsampling: a simpler model is the better repair there)."""

_MEMORY = re.compile(r"memory|MemoryError|out of memory|\boom\b|Killed|Cannot allocate", re.I)
_CONTRACT = re.compile(r"no VALIDATION_SCORE|no \./submission|wrote no|invalid submission", re.I)
_MODEL_WORDS: dict[str, tuple[str, ...]] = {
    "linear": ("LogisticRegression", "Ridge", "lbfgs"),
    "random_forest": ("RandomForest",),
    "extra_trees": ("ExtraTrees",),
    "hist_gb": ("HistGradientBoosting", "sparse"),
    "knn": ("KNeighbors", "n_neighbors", "n_samples_fit"),
    "svm": ("SVC", "SVR", "Calibrated", "libsvm"),
    "mlp": ("MLP", "hidden_layer", "early_stopping"),
}


def classify_failure(status: str, reason: str | None, stdout_tail: str) -> Failure:
    """What went wrong with a node, from its status, reason and output tail."""
    text = f"{reason or ''}\n{stdout_tail[-4000:]}"
    if status == "timeout":
        return "timeout"
    if _MEMORY.search(text):
        return "memory"
    if status in ("invalid_submission", "error") or _CONTRACT.search(reason or ""):
        return "invalid"
    return "exception"


def _shrink_model(space: Space, config: PipelineConfig) -> tuple[PipelineConfig, str] | None:
    p, family = dict(config.params), config.family
    for key, families in (("n_estimators", ("random_forest", "extra_trees")),
                          ("max_iter", ("hist_gb", "mlp"))):
        if family in families and int(p.get(key) or 0) > 25:
            p[key] = max(25, int(p[key]) // 2)
            return replace(config, params=p), f"{key} {config.params[key]} -> {p[key]}"
    if family == "svm" and p.get("kernel") == "rbf":
        return replace(config, params={**p, "kernel": "linear"}), "a linear instead of RBF kernel"
    if family == "svm":  # liblinear's passes grow with C
        lower = [c for c in space.param_grid("svm")["C"] if c < float(p.get("C", 1.0))]
        if lower:
            return replace(config, params={**p, "C": max(lower)}), f"C {p['C']} -> {max(lower)}"
    if family == "mlp" and sum(p.get("hidden") or []) > 64:
        return replace(config, params={**p, "hidden": [64]}), "one hidden layer of 64 units"
    return None


def _lighter_features(space: Space, config: PipelineConfig) -> tuple[PipelineConfig, str] | None:
    if config.interactions:
        return replace(config, interactions=False), "no pairwise interactions"
    if space.shape.has_text and config.text_analyzer == "char_wb":
        return replace(config, text_analyzer="word"), "word instead of character n-grams"
    if space.shape.has_text and config.text_max_features > 2000:
        n = max(2000, config.text_max_features // 4)
        return replace(config, text_max_features=n), f"text_max_features {n}"
    if space.shape.has_categorical and config.encoding == "onehot" and config.max_categories > 10:
        return replace(config, max_categories=10), "at most 10 levels per categorical column"
    return None


def _subsample(space: Space, config: PipelineConfig) -> tuple[PipelineConfig, str] | None:
    rows = min(config.max_train_rows or space.shape.n_rows, space.shape.n_rows)
    if rows < 2 * MIN_TRAIN_ROWS:
        return None
    n = max(MIN_TRAIN_ROWS, rows // 2)
    return replace(config, max_train_rows=n), f"train on a random subsample of {n} rows"


def cheaper(
    space: Space, config: PipelineConfig, failure: Failure
) -> tuple[PipelineConfig, list[str]]:
    """Edits until the estimated cost is at most half the original; a linear model last."""
    target = 0.5 * space.cost(config)
    order: list[Step] = (
        [_lighter_features, _subsample, _shrink_model] if failure == "memory"
        else [_shrink_model, _lighter_features, _subsample]
    )
    current, notes = config, []
    while space.cost(current) > target:
        step = next((r for fn in order if (r := fn(space, current)) is not None
                     and space.cost(r[0]) < space.cost(current)), None)
        if step is None:
            break
        current, note = step
        notes.append(note)
    linear = replace(current, family="linear", params=space.default_params("linear"))
    if space.cost(current) > target and space.cost(linear) < space.cost(current):
        current = linear
        notes.append("a linear model")
    return current, notes


def safer(space: Space, config: PipelineConfig, error_text: str, fallback_model: bool
          ) -> tuple[PipelineConfig, list[str]]:
    """Safe preprocessing (keeping the model unless it is implicated or ``fallback_model``)."""
    safe = space.safe_config()
    current = config.with_group("preprocessing", safe).with_group("features", safe)
    current = current.with_group("text", safe)
    current = replace(current, target_transform=safe.target_transform)
    notes = [] if current == config else [_safe_note(space)]
    implicated = any(w.lower() in error_text.lower() for w in _MODEL_WORDS.get(config.family, ()))
    if (fallback_model or implicated) and config.family != safe.family:
        current = current.with_group("model", safe)
        notes.append(f"the fallback model ({safe.family})")
    return current, notes


def _safe_note(space: Space) -> str:
    parts = ["median imputation"] if space.shape.n_numeric else []
    if space.shape.has_categorical:
        parts.append("ordinal codes")
    parts.append("no feature steps")
    if space.shape.has_text:
        parts.append("plain word TF-IDF")
    return f"safe preprocessing ({', '.join(parts)})"


def safest(space: Space, config: PipelineConfig) -> tuple[PipelineConfig, list[str]]:
    """The safest known-valid pipeline (a linear one if the parent already was that)."""
    safe = space.safe_config()
    if safe.key() != config.key():
        return safe, ["the safest known-valid pipeline"]
    linear = space.default_config("linear").with_group("preprocessing", safe)
    return linear, ["a plain linear pipeline"]


def debug(space: Space, config: PipelineConfig, failure: Failure, error_text: str,
          debug_depth: int) -> tuple[PipelineConfig, list[str]]:
    """The repaired config for ``failure`` and what was changed, in words."""
    if failure in ("timeout", "memory"):
        child, notes = cheaper(space, config, failure)
        if child.key() == config.key():  # already the cheapest pipeline known: retry it
            return child, ["no cheaper pipeline is known, so the same pipeline is retried"]
    elif failure == "exception":
        child, notes = safer(space, config, error_text, fallback_model=debug_depth >= 1)
    else:
        child, notes = safest(space, config)
    if child.key() == config.key():
        child, notes = safest(space, config)
    return child, notes
