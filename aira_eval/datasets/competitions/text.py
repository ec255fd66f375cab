"""Text MLE-bench lite competitions: graders exact to MLE-bench, problem specs from the data."""

from __future__ import annotations

import pandas as pd

from aira_eval.datasets.competitions.base import (
    CompetitionSpec,
    require_train_columns,
    selected_columns,
)
from aira_eval.datasets.competitions.classes import JIGSAW_CLASSES, SPOOKY_CLASSES
from aira_eval.datasets.competitions.graders import (
    AccuracyGrader,
    AurocGrader,
    OneHotLogLossGrader,
)
from aira_eval.datasets.competitions.graders_multi import ColumnwiseAurocGrader
from aira_eval.datasets.problem import ProblemSpec
from aira_eval.datasets.submission_checks import labels_to_one_hot

PIZZA_TRAIN_ONLY_FIELDS = (
    "number_of_downvotes_of_request_at_retrieval",
    "number_of_upvotes_of_request_at_retrieval",
    "post_was_edited",
    "request_number_of_comments_at_retrieval",
    "request_text",
    "requester_account_age_in_days_at_retrieval",
    "requester_days_since_first_post_on_raop_at_retrieval",
    "requester_number_of_comments_at_retrieval",
    "requester_number_of_comments_in_raop_at_retrieval",
    "requester_number_of_posts_at_retrieval",
    "requester_number_of_posts_on_raop_at_retrieval",
    "requester_upvotes_minus_downvotes_at_retrieval",
    "requester_upvotes_plus_downvotes_at_retrieval",
    "requester_user_flair",
)
"""random-acts-of-pizza fields present in train.json only (known after the outcome: leaks)."""


def _insults_answers(train: pd.DataFrame) -> pd.DataFrame:
    """Train rows (``Insult, Date, Comment``) -> the private format ``Insult, Date, Comment,
    Usage``; ``Usage`` (Kaggle's public/private split marker, unused by the grader) is set to
    ``"PrivateTest"``."""
    require_train_columns(train, ["Insult", "Date", "Comment"], "detecting-insults")
    answers = train[["Insult", "Date", "Comment"]].reset_index(drop=True).copy()
    answers["Usage"] = "PrivateTest"
    return answers


def _spooky_answers(train: pd.DataFrame) -> pd.DataFrame:
    """Train rows (``id, text, author``) -> ``id, EAP, HPL, MWS`` one-hot (int)."""
    require_train_columns(train, ["id", "author"], "spooky-author-identification")
    return labels_to_one_hot(train, "id", "author", SPOOKY_CLASSES)


def _pizza_answers(train: pd.DataFrame) -> pd.DataFrame:
    """Train records -> ``request_id, requester_received_pizza`` with the label as int 0/1."""
    target = "requester_received_pizza"
    require_train_columns(train, ["request_id", target], "random-acts-of-pizza")
    answers = train[["request_id", target]].reset_index(drop=True).copy()
    answers[target] = answers[target].astype(bool).astype(int)
    return answers


def _text_normalization_answers(train: pd.DataFrame) -> pd.DataFrame:
    """Train tokens (``sentence_id, token_id, class, before, after``) -> ``id, after`` with
    ``id = "<sentence_id>_<token_id>"``."""
    require_train_columns(train, ["sentence_id", "token_id", "after"], "text-normalization")
    ids = train["sentence_id"].astype(str) + "_" + train["token_id"].astype(str)
    return pd.DataFrame({"id": ids.to_numpy(), "after": train["after"].to_numpy()})


DETECTING_INSULTS = CompetitionSpec(
    id="detecting-insults-in-social-commentary",
    grader=AurocGrader(
        "detecting-insults-in-social-commentary", id_column="Comment", target_column="Insult"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission_null.csv",
        id_columns=("Date", "Comment"),
        label_columns=("Insult",),
        submission_columns=("Insult",),
        prediction="probability",
        positive_label=1,
        metric="roc_auc",
        lower_is_better=False,
        text_columns=("Comment",),
        drop_columns=("Date",),
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission_null.csv",
    description="text binary classification; ROC AUC of Insult, higher (rows matched on the "
    "Comment text: there is no id column)",
    answers_from_train=_insults_answers,
)

SPOOKY_AUTHOR = CompetitionSpec(
    id="spooky-author-identification",
    grader=OneHotLogLossGrader(
        "spooky-author-identification", id_column="id", classes=SPOOKY_CLASSES, column_rule="shape"
    ),
    problem=ProblemSpec(
        train_file="train.csv",
        test_file="test.csv",
        sample_submission_file="sample_submission.csv",
        id_columns=("id",),
        label_columns=("author",),
        submission_columns=SPOOKY_CLASSES,
        prediction="class_probabilities",
        metric="multiclass_log_loss",
        lower_is_better=True,
        text_columns=("text",),
    ),
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="text 3-class classification (author of a sentence); multi-class log loss "
    "over EAP, HPL, MWS, lower",
    answers_from_train=_spooky_answers,
)

RANDOM_ACTS_OF_PIZZA = CompetitionSpec(
    id="random-acts-of-pizza",
    grader=AurocGrader(
        "random-acts-of-pizza", id_column="request_id", target_column="requester_received_pizza"
    ),
    problem=ProblemSpec(
        train_file="train.json",
        test_file="test.json",
        sample_submission_file="sampleSubmission.csv",
        id_columns=("request_id",),
        label_columns=("requester_received_pizza",),
        submission_columns=("requester_received_pizza",),
        prediction="probability",
        positive_label=True,
        metric="roc_auc",
        lower_is_better=False,
        text_columns=("request_title", "request_text_edit_aware"),
        drop_columns=(
            *PIZZA_TRAIN_ONLY_FIELDS,
            "giver_username_if_known",
            "requester_username",
            "requester_subreddits_at_request",
        ),
    ),
    answers_file="test.csv",
    sample_submission_file="sampleSubmission.csv",
    description="text + tabular binary classification (JSON records); ROC AUC of "
    "requester_received_pizza, higher",
    answers_from_train=_pizza_answers,
)

JIGSAW_TOXIC = CompetitionSpec(
    id="jigsaw-toxic-comment-classification-challenge",
    grader=ColumnwiseAurocGrader(
        "jigsaw-toxic-comment-classification-challenge",
        id_column="id",
        classes=JIGSAW_CLASSES,
        rule="skip_unlabelled",
    ),
    problem=None,  # six independent binary labels: no ProblemSpec prediction kind fits
    answers_file="test.csv",
    sample_submission_file="sample_submission.csv",
    description="text multi-label classification (6 labels); mean column-wise ROC AUC, higher "
    "(answer rows labelled -1 are not scored)",
    answers_from_train=selected_columns(["id", *JIGSAW_CLASSES], "jigsaw"),
)


def _text_normalization(language: str) -> CompetitionSpec:
    prefix = language[:2]
    competition_id = f"text-normalization-challenge-{language}-language"
    return CompetitionSpec(
        id=competition_id,
        grader=AccuracyGrader(competition_id, id_column="id", target_column="after", as_text=True),
        problem=None,  # the submission id "<sentence_id>_<token_id>" is derived, not copied
        answers_file="answers.csv",
        sample_submission_file=f"{prefix}_sample_submission_2.csv.zip",
        description=f"text normalization ({language}); accuracy of the normalized token "
        "'after' compared as strings, higher",
        answers_from_train=_text_normalization_answers,
    )


TEXT_NORMALIZATION_EN = _text_normalization("english")
TEXT_NORMALIZATION_RU = _text_normalization("russian")

TEXT: tuple[CompetitionSpec, ...] = (
    DETECTING_INSULTS,
    SPOOKY_AUTHOR,
    RANDOM_ACTS_OF_PIZZA,
    JIGSAW_TOXIC,
    TEXT_NORMALIZATION_EN,
    TEXT_NORMALIZATION_RU,
)
