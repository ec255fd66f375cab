"""Render a :class:`PipelineConfig` into a complete, standalone scikit-learn solution script.

The script follows the harness's script contract: it reads ``./input/``, cross-validates with
the task's own metric, prints ``FOLD_SCORES``/``VALIDATION_SCORE``, refits on all train rows and
writes ``./submission/submission.csv`` with the id columns and the target columns in the sample
submission's order. The template is ``templates/solution.py.j2`` (package data).
"""

from __future__ import annotations

import re
import textwrap
from functools import cache
from typing import Any

import jinja2

from aira_eval.search.operators.procedural import estimators as est
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.pycode import import_lines, py, py_list
from aira_eval.search.operators.procedural.space import Space

_ALWAYS: tuple[tuple[str, str], ...] = (
    ("sklearn.base", "clone"),
    ("sklearn.compose", "ColumnTransformer"),
    ("sklearn.exceptions", "ConvergenceWarning"),
    ("sklearn.pipeline", "Pipeline"),
)

_FAMILY_NAMES = {
    "linear": "a linear model", "random_forest": "a random forest", "extra_trees": "extra trees",
    "hist_gb": "histogram gradient boosting", "knn": "k-nearest neighbours",
    "svm": "a support vector machine", "mlp": "a multi-layer perceptron",
}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aira_eval.search.operators.procedural", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def family_title(config: PipelineConfig) -> str:
    return _FAMILY_NAMES.get(config.family, config.family)


def describe(config: PipelineConfig, space: Space) -> list[str]:
    """One line per pipeline part, for the script's docstring and plans."""
    lines = []
    knobs = {k.name for k in space.relevant_knobs(config)}
    numeric = []
    if "impute" in knobs:  # only where values are missing
        indicators = ", missing indicators" if config.missing_indicators else ""
        numeric.append(f"{config.impute} imputation{indicators}")
    if "scaling" in knobs:
        numeric.append("no scaling" if config.scaling == "none" else f"{config.scaling} scaling")
    if numeric:
        lines.append(f"numeric: {', '.join(numeric)}")
    if "encoding" in knobs:
        lines.append(
            f"categorical: {config.encoding} encoding, at most {config.max_categories} levels"
        )
    steps = [
        name for name, on in (
            ("compound columns split", config.split_compound and "split_compound" in knobs),
            ("log1p of skewed columns", config.log1p_skewed and "log1p_skewed" in knobs),
            ("row statistics", config.row_stats and "row_stats" in knobs),
            ("pairwise interactions", config.interactions and "interactions" in knobs),
        ) if on
    ]
    lines.append("features: " + (", ".join(steps) if steps else "as given"))
    if "text_analyzer" in knobs:
        svd = config.text_components
        lines.append(
            f"text: TF-IDF {config.text_analyzer} n-grams up to {config.text_ngram_max}, "
            f"{config.text_max_features} features" + (f", SVD to {svd}" if svd else "")
        )
    params = ", ".join(f"{k}={v}" for k, v in sorted(config.params.items()))
    lines.append(f"model: {family_title(config)} ({params})")
    if config.target_transform == "log1p":
        lines.append("targets: fitted as log1p(target)")
    if config.max_train_rows:
        lines.append(f"training rows: a random subsample of at most {config.max_train_rows}")
    return lines


def _columns(space: Space, config: PipelineConfig) -> dict[str, Any]:
    schema = space.schema
    categorical = list(schema.categorical)
    compound: dict[str, Any] = {}
    for c in schema.compound:
        if config.split_compound:
            compound[c.name] = (c.separator, list(c.parts))
        else:
            categorical.append(c.name)
    return {
        "has_compound": bool(compound),
        "numeric": py_list(schema.numeric, first_line=10),
        "categorical": py_list(categorical, first_line=14),
        "compound": py(compound),
        "text": py_list(schema.text, first_line=7),
    }


def _targets(space: Space) -> dict[str, Any]:
    problem = space.problem
    targets = list(problem.label_columns)
    submission = list(problem.submission_columns)
    out_columns = "TARGETS" if submission == targets else "SUBMISSION_TARGETS"
    return {
        "kind": problem.prediction,
        "targets": py_list(targets, first_line=10),
        "submission_columns": py_list(submission, first_line=21),
        "class_columns": py_list(submission, first_line=16),
        "out_columns": out_columns,
        "positive_label": py(space.schema.positive_label),
        "id_columns": py_list(problem.id_columns, first_line=13),
        "submission_order": py_list(space.schema.submission_order, first_line=19),
        "train_file": py(problem.train_file),
        "test_file": py(problem.test_file),
    }


def _validation(space: Space) -> dict[str, Any]:
    problem = space.problem
    kind = problem.prediction
    stratified = kind != "regression"
    direction = "lower" if problem.lower_is_better else "higher"
    folds = f"{space.n_folds}-fold {'stratified ' if stratified else ''}cross-validation"
    return {
        "stratified": stratified,
        "strata": "y[:, 0]" if kind == "probability" else "y",
        "metric": est.metric_name(problem),
        "n_folds": space.n_folds,
        "validation_line": f"{folds}, {est.metric_name(problem)} ({direction} is better).",
    }


def _pipeline(config: PipelineConfig, space: Space, imports: est.Imports) -> dict[str, Any]:
    svd = config.text_components if space.schema.text else 0
    if svd:
        imports.add(("sklearn.decomposition", "TruncatedSVD"))
    note = ""
    if svd and not config.text_svd:
        note = "the model needs dense input: keep the text's top SVD components"
    model = est.model_expression(config, space.problem, imports)
    schema = space.schema
    has_numeric = bool(schema.numeric) or (config.split_compound and schema.n_compound_numeric > 0)
    has_categorical = bool(schema.categorical or schema.compound)
    return {
        "has_numeric": has_numeric,
        "has_categorical": has_categorical,
        "numeric_steps": est.numeric_steps(config, imports) if has_numeric else [],
        "categorical_encoder": est.categorical_encoder(config, imports) if has_categorical else "",
        "text_vectorizer": est.text_vectorizer(config, imports) if space.schema.text else "",
        "has_text": bool(space.schema.text),
        "text_svd": svd,
        "text_svd_note": note,
        "sparse_threshold": 0.0 if config.needs_dense else 0.3,
        "model_expr": model,
        "max_categories": config.max_categories,
        "max_train_rows": config.max_train_rows,
        "read_rows": _read_rows(config, space),
        "row_stats": config.row_stats,
        "log1p_skewed": config.log1p_skewed,
        "log_target": config.target_transform == "log1p",
        "clip_nonnegative": est.metric_name(space.problem) in est.LOG_METRICS,
    }


READ_FACTOR = 5
"""A train file with more than this many times ``max_train_rows`` rows is read only that far."""


def _read_rows(config: PipelineConfig, space: Space) -> int:
    if not config.max_train_rows:
        return 0
    limit = READ_FACTOR * config.max_train_rows
    return limit if space.schema.n_rows > limit else 0


def render(config: PipelineConfig, space: Space, plan: str = "", title: str = "",
           seed: int = 0) -> str:
    """The complete script for ``config``; raises ``ValueError`` for an unsupported metric.

    ``seed`` (the search's) becomes the script's ``SEED``: its CV split, row subsampling and
    every model's ``random_state``, so the seeds of a study are replicates.
    """
    imports: est.Imports = set(_ALWAYS)
    imports.add(("sklearn.model_selection",
                 "KFold" if space.problem.prediction == "regression" else "StratifiedKFold"))
    score_doc, score_expr = est.score_code(space.problem, imports)
    context: dict[str, Any] = {
        "title": title or f"Solution: {family_title(config)} with cross-validated {{metric}}.",
        "plan_lines": textwrap.wrap(plan, 96) if plan else [],
        "pipeline_lines": [
            wrapped
            for line in describe(config, space)
            for wrapped in textwrap.wrap(line, 96, initial_indent="  ", subsequent_indent="    ")
        ],
        "score_doc": score_doc,
        "score_expr": score_expr,
        "seed": int(seed),
        **_columns(space, config),
        **_targets(space),
        **_validation(space),
        **_pipeline(config, space, imports),
    }
    context["title"] = context["title"].replace("{metric}", context["metric"])
    context["imports"] = import_lines(imports)
    code = _environment().get_template("solution.py.j2").render(**context)
    code = re.sub(r"\n{4,}", "\n\n\n", code)
    compile(code, "code.py", "exec")  # a template bug must fail here, not in the sandbox
    return code
