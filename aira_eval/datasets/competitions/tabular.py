"""Tabular MLE-bench lite competitions: graders exact to MLE-bench, problem specs from the data."""

from __future__ import annotations

import pandas as pd

from aira_eval.datasets.competitions.base import CompetitionSpec, full_rows, require_train_columns
from aira_eval.datasets.competitions.classes import LEAF_CLASSES
from aira_eval.datasets.competitions.graders import (
    AccuracyGrader,
    AurocGrader,
    MeanRmsleGrader,
    OneHotLogLossGrader,
    SortedRmseGrader,
)
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.datasets.submission_checks import labels_to_one_hot

NOMAD_TARGETS = ("formation_energy_ev_natom", "bandgap_energy_ev")


def _leaf_answers(train: pd.DataFrame) -> pd.DataFrame:
    """Train rows (``id``, ``species``, features) -> ``id`` + 99 one-hot class columns."""
    require_train_columns(train, ["id", "species"], "leaf-classification")
    return labels_to_one_hot(train, "id", "species", LEAF_CLASSES)


SPACESHIP_TITANIC = CompetitionSpec(
    id="spaceship-titanic",
    grader=AccuracyGrader(
        "spaceship-titanic", id_column="PassengerId", target_column="Transported"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("PassengerId",),
        label_columns=("Transported",),
        submission_columns=("Transported",),
        prediction="label",
        metric="accuracy",
        lower_is_better=False,
        drop_columns=("Name",),
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular binary classification; accuracy of Transported (True/False), higher",
    answers_from_train=full_rows(["PassengerId", "Transported"], "spaceship-titanic"),
)

LEAF_CLASSIFICATION = CompetitionSpec(
    id="leaf-classification",
    grader=OneHotLogLossGrader(
        "leaf-classification", id_column="id", classes=LEAF_CLASSES, column_rule="exact"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("id",),
        label_columns=("species",),
        submission_columns=LEAF_CLASSES,
        prediction="class_probabilities",
        metric="multiclass_log_loss",
        lower_is_better=True,
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular 99-class classification (leaf shape features; images too); "
    "multi-class log loss over one-hot species columns, lower",
    answers_from_train=_leaf_answers,
)

NOMAD2018 = CompetitionSpec(
    id="nomad2018-predict-transparent-conductors",
    grader=MeanRmsleGrader(
        "nomad2018-predict-transparent-conductors", id_column="id", target_columns=NOMAD_TARGETS
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("id",),
        label_columns=NOMAD_TARGETS,
        submission_columns=NOMAD_TARGETS,
        prediction="regression",
        metric="mean_columnwise_rmsle",
        lower_is_better=True,
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular 2-target regression (geometry files too); mean column-wise RMSLE of "
    "formation_energy_ev_natom and bandgap_energy_ev, lower (rows matched on id)",
    answers_from_train=full_rows(
        ["id", *NOMAD_TARGETS], "nomad2018-predict-transparent-conductors"
    ),
)

TPS_MAY_2022 = CompetitionSpec(
    id="tabular-playground-series-may-2022",
    grader=AurocGrader(
        "tabular-playground-series-may-2022", id_column="id", target_column="target"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("id",),
        label_columns=("target",),
        submission_columns=("target",),
        prediction="probability",
        positive_label=1,
        metric="roc_auc",
        lower_is_better=False,
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular binary classification (f_27 is a 10-letter code); ROC AUC of target, "
    "higher",
    answers_from_train=full_rows(["id", "target"], "tabular-playground-series-may-2022"),
)

TPS_DEC_2021 = CompetitionSpec(
    id="tabular-playground-series-dec-2021",
    grader=AccuracyGrader(
        "tabular-playground-series-dec-2021", id_column="Id", target_column="Cover_Type"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("Id",),
        label_columns=("Cover_Type",),
        submission_columns=("Cover_Type",),
        prediction="label",
        metric="accuracy",
        lower_is_better=False,
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular 7-class classification (synthetic forest cover); accuracy of "
    "Cover_Type, higher",
    answers_from_train=full_rows(["Id", "Cover_Type"], "tabular-playground-series-dec-2021"),
)

NYC_TAXI_FARE = CompetitionSpec(
    id="new-york-city-taxi-fare-prediction",
    grader=SortedRmseGrader(
        "new-york-city-taxi-fare-prediction", id_column="key", target_column="fare_amount"
    ),
    problem=ProblemSpec(
        train_file="labels.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("key",),
        label_columns=("fare_amount",),
        submission_columns=("fare_amount",),
        prediction="regression",
        metric="rmse",
        lower_is_better=True,
        drop_columns=("pickup_datetime",),
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="tabular regression (~55M training rows); RMSE of fare_amount, lower "
    "(MLE-bench sorts by key and compares rows by position, no id check)",
    answers_from_train=full_rows(["key", "fare_amount"], "new-york-city-taxi-fare-prediction"),
)

TABULAR: tuple[CompetitionSpec, ...] = (
    SPACESHIP_TITANIC,
    LEAF_CLASSIFICATION,
    NOMAD2018,
    TPS_MAY_2022,
    TPS_DEC_2021,
    NYC_TAXI_FARE,
)
