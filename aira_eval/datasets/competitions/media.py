"""Image, audio and pixel MLE-bench lite competitions: graders only (``problem=None``).

A procedural tabular solver cannot solve these, but their graders are exact to MLE-bench,
so submissions produced elsewhere (an LLM agent, a baseline) can be graded without the
``mlebench`` package.
"""

from __future__ import annotations

from aira_eval.datasets.competitions.base import CompetitionSpec
from aira_eval.datasets.competitions.classes import (
    DOG_BREEDS,
    PLANT_PATHOLOGY_CLASSES,
    RANZCR_CLASSES,
)
from aira_eval.datasets.competitions.graders import (
    AurocGrader,
    BinaryLogLossGrader,
    OneHotLogLossGrader,
    SortedRmseGrader,
)
from aira_eval.datasets.competitions.graders_multi import (
    ColumnwiseAurocGrader,
    QuadraticKappaGrader,
)
from aira_eval.datasets.grader import Grader


def _spec(
    competition_id: str, grader: Grader, answers: str, sample: str, description: str
) -> CompetitionSpec:
    return CompetitionSpec(
        id=competition_id,
        grader=grader,
        problem=None,
        answers_file=answers,
        sample_submission_file=sample,
        description=description,
    )


def _auroc(competition_id: str, id_column: str, target: str) -> AurocGrader:
    return AurocGrader(competition_id, id_column=id_column, target_column=target)


MEDIA: tuple[CompetitionSpec, ...] = (
    _spec(
        "aerial-cactus-identification",
        _auroc("aerial-cactus-identification", "id", "has_cactus"),
        "test.csv",
        "sample_submission.csv",
        "image binary classification; ROC AUC of has_cactus, higher",
    ),
    _spec(
        "aptos2019-blindness-detection",
        QuadraticKappaGrader("aptos2019-blindness-detection", "id_code", "diagnosis"),
        "test.csv",
        "sample_submission.csv",
        "image ordinal classification (0-4); quadratic weighted kappa of diagnosis, higher",
    ),
    _spec(
        "denoising-dirty-documents",
        SortedRmseGrader("denoising-dirty-documents", "id", "value", check_ids=True),
        "answers.csv",
        "sampleSubmission.csv",
        "image denoising, one row per pixel; RMSE of value, lower",
    ),
    _spec(
        "dog-breed-identification",
        OneHotLogLossGrader(
            "dog-breed-identification", id_column="id", classes=DOG_BREEDS, column_rule="superset"
        ),
        "test.csv",
        "sample_submission.csv",
        "image 120-class classification; multi-class log loss over breed columns, lower",
    ),
    _spec(
        "dogs-vs-cats-redux-kernels-edition",
        BinaryLogLossGrader("dogs-vs-cats-redux-kernels-edition", "id", "label"),
        "answers.csv",
        "sample_submission.csv",
        "image binary classification; log loss of P(dog) in label, lower",
    ),
    _spec(
        "histopathologic-cancer-detection",
        _auroc("histopathologic-cancer-detection", "id", "label"),
        "answers.csv",
        "sample_submission.csv",
        "image binary classification; ROC AUC of label, higher",
    ),
    _spec(
        "mlsp-2013-birds",
        _auroc("mlsp-2013-birds", "Id", "Probability"),
        "answers.csv",
        "sample_submission.csv",
        "audio multi-label (one row per recording x species); ROC AUC of Probability, higher",
    ),
    _spec(
        "plant-pathology-2020-fgvc7",
        ColumnwiseAurocGrader(
            "plant-pathology-2020-fgvc7",
            id_column="image_id",
            classes=PLANT_PATHOLOGY_CLASSES,
            rule="exact_columns",
        ),
        "test.csv",
        "sample_submission.csv",
        "image 4-label classification; mean column-wise ROC AUC, higher",
    ),
    _spec(
        "ranzcr-clip-catheter-line-classification",
        ColumnwiseAurocGrader(
            "ranzcr-clip-catheter-line-classification",
            id_column="StudyInstanceUID",
            classes=RANZCR_CLASSES,
            rule="per_column_checks",
        ),
        "test.csv",
        "sample_submission.csv",
        "image 11-label classification; mean column-wise ROC AUC, higher",
    ),
    _spec(
        "siim-isic-melanoma-classification",
        _auroc("siim-isic-melanoma-classification", "image_name", "target"),
        "test.csv",
        "sample_submission.csv",
        "image binary classification (with patient metadata); ROC AUC of target, higher",
    ),
    _spec(
        "the-icml-2013-whale-challenge-right-whale-redux",
        _auroc("the-icml-2013-whale-challenge-right-whale-redux", "clip", "probability"),
        "test.csv",
        "sampleSubmission.csv",
        "audio binary classification; ROC AUC of probability, higher",
    ),
)
