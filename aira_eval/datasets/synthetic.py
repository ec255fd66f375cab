"""``synthetic:`` tasks: generated from a seed, with a test set of 100,000 rows.

The test set is so large that a node's test score is its true generalization almost exactly,
while the train set is small (2,000 rows) so that overfitting to a validation signal is real:
the material for studying selection bias. Generation takes about a second and is cached in
``<cache>/synthetic/<kind>-seed<s>-v<N>/`` in the usual prepared layout.

- ``synthetic:binary``: ``make_classification`` (20 features, 6 informative, 4 redundant)
  with 10 % flipped labels; ROC AUC of P(target = 1).
- ``synthetic:multiclass``: ``make_classification`` with 5 classes, 10 % flipped labels;
  accuracy of the label.
- ``synthetic:regression``: ``make_friedman1`` (10 features, 5 relevant) with Gaussian noise
  (sd 1); RMSE.

A seed other than 0 is chosen with a suffix: ``synthetic:binary@3``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aira_eval.datasets.problem import PredictionKind, ProblemSpec
from aira_eval.datasets.table_task import (
    answers_frame,
    prepared_table_task,
    render_description,
    table_problem,
    write_prepared,
)
from aira_eval.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aira_eval.datasets.task import Task

GEN_VERSION = 1
N_TRAIN = 2_000
N_TEST = 100_000
DECIMALS = 5


@dataclass(frozen=True)
class SyntheticKind:
    """One generator and how its task is scored."""

    name: str
    prediction: PredictionKind
    metric: str
    intro: str
    generate: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    positive_label: int | None = None


def _binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n, n_features=20, n_informative=6, n_redundant=4, n_classes=2,
        flip_y=0.1, class_sep=0.8, random_state=seed,
    )


def _multiclass(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n, n_features=20, n_informative=8, n_redundant=4, n_classes=5,
        n_clusters_per_class=2, flip_y=0.1, class_sep=1.0, random_state=seed,
    )


def _regression(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_friedman1

    return make_friedman1(
        n_samples=n, n_features=10, noise=1.0, random_state=seed
    )


KINDS: dict[str, SyntheticKind] = {
    k.name: k
    for k in (
        SyntheticKind(
            "binary", "probability", "roc_auc",
            "Synthetic binary classification: 20 numeric features (6 informative, 4 linear "
            "combinations of those, 10 noise), classes drawn from Gaussian clusters, 10% of "
            "the labels flipped at random. `target` is 0 or 1.",
            _binary, positive_label=1,
        ),
        SyntheticKind(
            "multiclass", "label", "accuracy",
            "Synthetic 5-class classification: 20 numeric features (8 informative, 4 linear "
            "combinations of those, 8 noise), two Gaussian clusters per class, 10% of the "
            "labels flipped at random. `target` is the class, 0 to 4.",
            _multiclass,
        ),
        SyntheticKind(
            "regression", "regression", "rmse",
            "Synthetic regression (Friedman #1): `target` = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 "
            "+ 10 x3 + 5 x4 + Gaussian noise (sd 1); x5-x9 are irrelevant. Features are "
            "uniform on [0, 1].",
            _regression,
        ),
    )
}


def synthetic_names() -> list[str]:
    """Names of every synthetic kind, sorted."""
    return sorted(KINDS)


def parse_name(name: str) -> tuple[str, int]:
    """``binary`` -> ("binary", 0); ``binary@3`` -> ("binary", 3).

    Raises:
        KeyError: unknown kind. UsageError: a seed that is not a non-negative integer.
    """
    kind, _, seed_text = name.partition("@")
    if kind not in KINDS:
        raise KeyError(kind)
    if not seed_text:
        return kind, 0
    if not seed_text.isdigit():
        raise UsageError(
            f"synthetic task seed {seed_text!r} is not a non-negative integer",
            hint=f"write e.g. synthetic:{kind}@3",
        )
    return kind, int(seed_text)


def synthetic_root(kind: str, seed: int, cache_dir: Path) -> Path:
    return cache_dir / "synthetic" / f"{kind}-seed{seed}-v{GEN_VERSION}"


def problem_spec(kind: SyntheticKind) -> ProblemSpec:
    return table_problem(kind.prediction, kind.metric, "target",
                         positive_label=kind.positive_label)


def load_synthetic(name: str, cache_dir: Path, task_id: str | None = None) -> Task:
    """The task ``synthetic:<name>``, generated into ``cache_dir`` on first use."""
    kind_name, seed = parse_name(name)
    kind = KINDS[kind_name]
    problem = problem_spec(kind)
    return prepared_table_task(
        task_id or f"synthetic:{name}", "synthetic", name,
        synthetic_root(kind_name, seed, cache_dir), problem,
        lambda tmp: _prepare(kind, seed, problem, tmp),
    )


def generate_frame(kind: SyntheticKind, seed: int) -> pd.DataFrame:
    """All ``N_TRAIN + N_TEST`` rows: ``id``, features ``x0..``, ``target``."""
    import numpy as np
    import pandas as pd

    x, y = kind.generate(N_TRAIN + N_TEST, seed)
    frame = pd.DataFrame(np.round(x, DECIMALS), columns=[f"x{i}" for i in range(x.shape[1])])
    ids = np.random.default_rng([seed, GEN_VERSION]).permutation(len(frame)) + 1
    frame.insert(0, "id", ids.astype(np.int64))
    frame["target"] = np.round(y, DECIMALS) if kind.prediction == "regression" else y
    return frame


def _prepare(kind: SyntheticKind, seed: int, problem: ProblemSpec, root: Path) -> None:
    frame = generate_frame(kind, seed)
    train, test = frame.iloc[:N_TRAIN], frame.iloc[N_TRAIN:].reset_index(drop=True)
    intro = (
        f"{kind.intro}\n\nGenerated with seed {seed}: {N_TRAIN:,} labelled rows in train.csv, "
        f"{N_TEST:,} rows in test.csv, all from the same distribution."
    )
    write_prepared(
        root,
        problem,
        train,
        test.drop(columns=["target"]),
        answers_frame(problem, test),
        render_description(f"synthetic:{kind.name}", intro, problem),
        fast=True,
    )
