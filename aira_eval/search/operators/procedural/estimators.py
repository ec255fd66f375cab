"""Source text of the scikit-learn objects a procedural script builds, and of its metric.

Each function returns a Python expression and records the imports it needs in ``imports``
(a set of ``(module, name)`` pairs) so the script's import block lists exactly what it uses.
"""

from __future__ import annotations

from typing import Any

from aira_eval.datasets.metrics import get_metric
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.search.operators.procedural.config import PipelineConfig
from aira_eval.search.operators.procedural.pycode import Raw, call

Imports = set[tuple[str, str]]

_SCALERS = {"standard": "StandardScaler", "robust": "RobustScaler", "minmax": "MinMaxScaler"}
_SKLEARN_CLASSES = {
    "LogisticRegression": "sklearn.linear_model", "Ridge": "sklearn.linear_model",
    "RandomForestClassifier": "sklearn.ensemble", "RandomForestRegressor": "sklearn.ensemble",
    "ExtraTreesClassifier": "sklearn.ensemble", "ExtraTreesRegressor": "sklearn.ensemble",
    "HistGradientBoostingClassifier": "sklearn.ensemble",
    "HistGradientBoostingRegressor": "sklearn.ensemble",
    "KNeighborsClassifier": "sklearn.neighbors", "KNeighborsRegressor": "sklearn.neighbors",
    "SVC": "sklearn.svm", "SVR": "sklearn.svm", "LinearSVC": "sklearn.svm",
    "LinearSVR": "sklearn.svm", "MLPClassifier": "sklearn.neural_network",
    "MLPRegressor": "sklearn.neural_network", "CalibratedClassifierCV": "sklearn.calibration",
    "TransformedTargetRegressor": "sklearn.compose", "StandardScaler": "sklearn.preprocessing",
    "RobustScaler": "sklearn.preprocessing", "MinMaxScaler": "sklearn.preprocessing",
    "PolynomialFeatures": "sklearn.preprocessing", "OneHotEncoder": "sklearn.preprocessing",
    "OrdinalEncoder": "sklearn.preprocessing", "SimpleImputer": "sklearn.impute",
    "TfidfVectorizer": "sklearn.feature_extraction.text",
    "TruncatedSVD": "sklearn.decomposition",
}


def new(name: str, imports: Imports, args: dict[str, Any] | None = None, indent: int = 4,
        prefix: int = 0) -> str:
    """``Name(args)`` with ``Name`` imported from scikit-learn."""
    imports.add((_SKLEARN_CLASSES[name], name))
    return call(name, args, indent=indent, prefix=prefix)


def numeric_steps(config: PipelineConfig, imports: Imports) -> list[tuple[str, str]]:
    """``(step name, expression)`` of the numeric sub-pipeline."""
    if config.impute == "zero":
        impute: dict[str, Any] = {"strategy": "constant", "fill_value": 0.0}
    else:
        impute = {"strategy": config.impute}
    if config.missing_indicators:
        impute["add_indicator"] = True
    steps = [('"impute"', new("SimpleImputer", imports, impute, indent=8, prefix=20))]
    if config.interactions:
        args = {"degree": 2, "interaction_only": True, "include_bias": False}
        steps.append(('"interactions"', new("PolynomialFeatures", imports, args, 8, 20)))
    if config.scaling in _SCALERS:
        steps.append(('"scale"', new(_SCALERS[config.scaling], imports)))
    return steps


def categorical_encoder(config: PipelineConfig, imports: Imports) -> str:
    if config.encoding == "ordinal":
        args: dict[str, Any] = {"handle_unknown": "use_encoded_value", "unknown_value": -1}
        return new("OrdinalEncoder", imports, args, indent=8, prefix=10)
    args = {"handle_unknown": "ignore"}
    if config.needs_dense:
        args["sparse_output"] = False
    return new("OneHotEncoder", imports, args, indent=8, prefix=10)


def text_vectorizer(config: PipelineConfig, imports: Imports) -> str:
    n = config.text_ngram_max
    ngrams = (1, n) if config.text_analyzer == "word" else (2, n + 2)
    args = {"analyzer": config.text_analyzer, "ngram_range": ngrams,
            "max_features": config.text_max_features, "min_df": 2, "sublinear_tf": True}
    return new("TfidfVectorizer", imports, args, indent=12, prefix=22)


def _trees(config: PipelineConfig, clf: bool, imports: Imports) -> str:
    base = "RandomForest" if config.family == "random_forest" else "ExtraTrees"
    name = base + ("Classifier" if clf else "Regressor")
    p = config.params
    args = {k: p[k] for k in ("n_estimators", "max_depth", "min_samples_leaf", "max_features")}
    return new(name, imports, {**args, "n_jobs": Raw("N_JOBS"), "random_state": Raw("SEED")})


def _hist_gb(config: PipelineConfig, clf: bool, imports: Imports) -> str:
    name = "HistGradientBoosting" + ("Classifier" if clf else "Regressor")
    keys = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
    args = {k: config.params[k] for k in keys}
    return new(name, imports, {**args, "random_state": Raw("SEED")})


def _svm(config: PipelineConfig, clf: bool, proba: bool, imports: Imports) -> str:
    c, rbf = config.params["C"], config.params["kernel"] == "rbf"
    if clf:
        base = (new("SVC", imports, {"C": c, "kernel": "rbf", "gamma": "scale"}) if rbf
                else new("LinearSVC", imports, {"C": c, "max_iter": 5000}))
        if not proba:
            return base
        return new("CalibratedClassifierCV", imports,
                   {"*": Raw(base), "ensemble": False, "cv": 3})
    base = (new("SVR", imports, {"C": c, "kernel": "rbf", "gamma": "scale"}) if rbf
            else new("LinearSVR", imports, {"C": c, "max_iter": 5000}))
    return _scaled_target(base, imports)


def _scaled_target(regressor: str, imports: Imports) -> str:
    scaler = new("StandardScaler", imports)
    return new("TransformedTargetRegressor", imports,
               {"regressor": Raw(regressor), "transformer": Raw(scaler)})


def _mlp(config: PipelineConfig, clf: bool, imports: Imports) -> str:
    p = config.params
    args = {"hidden_layer_sizes": tuple(p["hidden"]), "alpha": p["alpha"],
            "learning_rate_init": p["learning_rate_init"], "max_iter": p["max_iter"]}
    if clf:
        return new("MLPClassifier", imports, {**args, "random_state": Raw("SEED")})
    args["early_stopping"] = True
    mlp = new("MLPRegressor", imports, {**args, "random_state": Raw("SEED")}, indent=8)
    return _scaled_target(mlp, imports)


def model_expression(config: PipelineConfig, problem: ProblemSpec, imports: Imports) -> str:
    """The estimator constructor for ``config`` on ``problem``."""
    clf, p = problem.is_classification, config.params
    proba = problem.prediction in ("probability", "class_probabilities")
    family = config.family
    if family == "linear":
        if clf:
            return new("LogisticRegression", imports, {"C": p["C"], "max_iter": 1000})
        return new("Ridge", imports, {"alpha": p["alpha"]})
    if family in ("random_forest", "extra_trees"):
        return _trees(config, clf, imports)
    if family == "hist_gb":
        return _hist_gb(config, clf, imports)
    if family == "knn":
        name = "KNeighborsClassifier" if clf else "KNeighborsRegressor"
        args = {"n_neighbors": p["n_neighbors"], "weights": p["weights"], "n_jobs": Raw("N_JOBS")}
        return new(name, imports, args)
    if family == "svm":
        return _svm(config, clf, proba, imports)
    if family == "mlp":
        return _mlp(config, clf, imports)
    raise ValueError(f"unknown model family {family!r}")


_SCORES: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    ("label", "accuracy"): ("Accuracy.", "accuracy_score(y_true, predictions)",
                            ("accuracy_score",)),
    ("label", "f1"): ("Binary F1 of the positive label.",
                      "f1_score(y_true, predictions, pos_label=POSITIVE_LABEL)", ("f1_score",)),
    ("label", "f1_macro"): ("Unweighted mean F1 over classes.",
                            'f1_score(y_true, predictions, average="macro")', ("f1_score",)),
    ("label", "quadratic_weighted_kappa"): (
        "Cohen's kappa with quadratic weights.",
        'cohen_kappa_score(y_true, predictions, weights="quadratic")', ("cohen_kappa_score",)),
    ("probability", "roc_auc"): (
        "ROC AUC (averaged over target columns when there are several).",
        "roc_auc_score(Y_true[:, j], predictions[:, j])",
        ("roc_auc_score",)),
    ("probability", "log_loss"): (
        "Binary log loss (averaged over target columns when there are several).",
        "log_loss(Y_true[:, j], predictions[:, j])",
        ("log_loss",)),
    ("class_probabilities", "multiclass_log_loss"): (
        "Multi-class log loss against the one-hot class columns.",
        "log_loss(one_hot, predictions)", ("log_loss",)),
    ("class_probabilities", "accuracy"): (
        "Accuracy of the most probable class.",
        "np.mean(one_hot.argmax(axis=1) == predictions.argmax(axis=1))", ()),
    ("regression", "rmse"): ("Root mean squared error (mean over target columns).",
                             "root_mean_squared_error(Y_true, predictions)",
                             ("root_mean_squared_error",)),
    ("regression", "rmsle"): ("Root mean squared log error (mean over target columns).",
                              "root_mean_squared_log_error(Y_true, predictions)",
                              ("root_mean_squared_log_error",)),
    ("regression", "mae"): ("Mean absolute error.", "mean_absolute_error(Y_true, predictions)",
                            ("mean_absolute_error",)),
    ("regression", "mse"): ("Mean squared error.", "mean_squared_error(Y_true, predictions)",
                            ("mean_squared_error",)),
    ("regression", "r2"): ("Coefficient of determination.", "r2_score(Y_true, predictions)",
                           ("r2_score",)),
    ("regression", "mape"): ("Mean absolute percentage error.",
                             "mean_absolute_percentage_error(Y_true, predictions)",
                             ("mean_absolute_percentage_error",)),
}
_SCORES[("regression", "mean_columnwise_rmsle")] = (
    "Mean over target columns of the root mean squared log error.",
    "root_mean_squared_log_error(Y_true[:, j], predictions[:, j])",
    ("root_mean_squared_log_error",),
)
_SCORES[("probability", "mean_columnwise_roc_auc")] = _SCORES[("probability", "roc_auc")]
_SCORES[("class_probabilities", "log_loss")] = _SCORES[("class_probabilities",
                                                        "multiclass_log_loss")]

LOG_METRICS = ("rmsle", "mean_columnwise_rmsle")
"""Metrics that take logs of predictions (so predictions are clipped at zero)."""


def metric_name(problem: ProblemSpec) -> str:
    return get_metric(problem.metric).name


def supported(problem: ProblemSpec) -> bool:
    """Whether procedural scripts can compute ``problem``'s metric for its prediction kind."""
    return (problem.prediction, metric_name(problem)) in _SCORES


def score_code(problem: ProblemSpec, imports: Imports) -> tuple[str, str]:
    """``(docstring, expression)`` of the script's ``score`` function; an expression using
    ``[:, j]`` is computed per target column and averaged."""
    key = (problem.prediction, metric_name(problem))
    if key not in _SCORES:
        raise ValueError(
            f"procedural scripts cannot compute {key[1]!r} for {key[0]!r} predictions"
        )
    doc, expr, names = _SCORES[key]
    imports.update(("sklearn.metrics", n) for n in names)
    return doc, expr
