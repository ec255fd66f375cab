"""The procedural pipeline configuration: a flat, JSON-serialisable record of every choice.

A :class:`PipelineConfig` is what a procedural node *is*: rendering it (with the task's
:class:`~aira_eval.search.operators.procedural.schema.DataSchema`) gives the script. Each field
belongs to one group (preprocessing, features, text, training) or to the model; its knob path
(``preprocessing.impute``, ``model.params.C``, ``model.family``) names it in plans and diffs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

SPACE_VERSION = "procedural-v1"
"""Marker stored in every config this space writes (other families' configs are ignored)."""

FAMILIES = ("linear", "random_forest", "extra_trees", "hist_gb", "knn", "svm", "mlp")
"""Model families, in a fixed order (sampling and tests rely on it)."""

HIST_GB_TEXT_SVD = 100
"""SVD components of each text column when the model needs dense input and none were set."""

GROUPS = ("preprocessing", "features", "text", "training", "model")
"""Crossover units: a child takes each group whole from one parent."""

FIELD_GROUPS: dict[str, str] = {
    "impute": "preprocessing",
    "missing_indicators": "preprocessing",
    "scaling": "preprocessing",
    "encoding": "preprocessing",
    "max_categories": "preprocessing",
    "split_compound": "features",
    "log1p_skewed": "features",
    "row_stats": "features",
    "interactions": "features",
    "text_analyzer": "text",
    "text_ngram_max": "text",
    "text_max_features": "text",
    "text_svd": "text",
    "target_transform": "training",
    "max_train_rows": "training",
    "family": "model",
    "params": "model",
}


@dataclass(frozen=True)
class PipelineConfig:
    """Every choice of one procedural solution.

    Attributes:
        impute: numeric imputation strategy (``median``, ``mean``, ``most_frequent``, ``zero``).
        missing_indicators: add a 0/1 column per numeric column with missing values.
        scaling: numeric scaling (``none``, ``standard``, ``robust``, ``minmax``).
        encoding: categorical encoding (``onehot`` or ``ordinal``, unknowns handled).
        max_categories: categorical columns with more distinct values are dropped.
        split_compound: split compound string columns (``"F/731/S"``) into parts.
        log1p_skewed: ``log1p`` of skewed non-negative numeric columns.
        row_stats: row sum, mean and missing count over the numeric columns.
        interactions: pairwise products of the numeric columns (few numeric columns only).
        text_analyzer: TF-IDF analyzer, ``word`` or ``char_wb``.
        text_ngram_max: longest n-gram: words ``(1, n)``, characters ``(2, n + 2)``.
        text_max_features: TF-IDF vocabulary size per text column.
        text_svd: reduce each text column's TF-IDF to this many SVD components (0: keep).
        target_transform: regression targets fitted as ``log1p`` (``none`` or ``log1p``).
        max_train_rows: fit on a random subsample of this many train rows (0: all).
        family: model family (:data:`FAMILIES`).
        params: the family's hyperparameters (JSON values).
    """

    impute: str = "median"
    missing_indicators: bool = False
    scaling: str = "standard"
    encoding: str = "onehot"
    max_categories: int = 30
    split_compound: bool = True
    log1p_skewed: bool = False
    row_stats: bool = False
    interactions: bool = False
    text_analyzer: str = "word"
    text_ngram_max: int = 2
    text_max_features: int = 5000
    text_svd: int = 0
    target_transform: str = "none"
    max_train_rows: int = 0
    family: str = "hist_gb"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_dense(self) -> bool:
        """Histogram gradient boosting takes no sparse input."""
        return self.family == "hist_gb"

    @property
    def text_components(self) -> int:
        """SVD components per text column in the script (0: sparse TF-IDF kept)."""
        if self.text_svd:
            return self.text_svd
        return HIST_GB_TEXT_SVD if self.needs_dense else 0

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON form: ``{"space", "preprocessing": {...}, ..., "model": {...}}``."""
        out: dict[str, Any] = {"space": SPACE_VERSION}
        for group in GROUPS[:-1]:
            out[group] = self.group_values(group)
        out["model"] = {"family": self.family, "params": dict(self.params)}
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> PipelineConfig | None:
        """The config stored in a node, or ``None`` when it is not one of this space's."""
        if not raw or raw.get("space") != SPACE_VERSION:
            return None
        flat: dict[str, Any] = {}
        for group in GROUPS[:-1]:
            flat.update(raw.get(group) or {})
        model = raw.get("model") or {}
        flat["family"] = model.get("family", "hist_gb")
        flat["params"] = dict(model.get("params") or {})
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in flat.items() if k in known})
        except TypeError:
            return None

    def key(self) -> str:
        """Canonical text of the config: equal keys mean the same script."""
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def get(self, path: str) -> Any:
        """The value at a knob path (``preprocessing.impute``, ``model.params.C``...)."""
        if path.startswith("model.params."):
            return self.params.get(path.removeprefix("model.params."))
        return getattr(self, path.split(".")[-1])

    def with_value(self, path: str, value: Any) -> PipelineConfig:
        """A copy with one knob changed (a family change resets nothing by itself)."""
        if path.startswith("model.params."):
            return replace(self, params={**self.params, path.removeprefix("model.params."): value})
        return replace(self, **{path.split(".")[-1]: value})

    def group_values(self, group: str) -> dict[str, Any]:
        """The fields of one group (``model`` gives family and params)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if FIELD_GROUPS[f.name] == group
        }

    def with_group(self, group: str, other: PipelineConfig) -> PipelineConfig:
        """A copy with ``group`` taken from ``other``."""
        return replace(self, **other.group_values(group))


def knob_path(name: str) -> str:
    """``impute`` -> ``preprocessing.impute``; ``family`` -> ``model.family``."""
    return f"{FIELD_GROUPS[name]}.{name}"


def diff(a: PipelineConfig, b: PipelineConfig) -> list[str]:
    """Knob paths where ``a`` and ``b`` differ; a family change counts once as ``model.family``."""
    changed = [
        knob_path(f.name)
        for f in fields(a)
        if f.name not in ("family", "params") and getattr(a, f.name) != getattr(b, f.name)
    ]
    if a.family != b.family:
        return [*changed, "model.family"]
    names = sorted(set(a.params) | set(b.params))
    return [*changed, *(f"model.params.{n}" for n in names if a.params.get(n) != b.params.get(n))]
