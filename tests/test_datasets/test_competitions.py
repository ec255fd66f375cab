"""Built-in MLE-bench graders on the real prepared competitions in ../shared/data.

Each score is checked against a reference written here with scikit-learn on frames aligned
the way MLE-bench's grader aligns them (to 1e-9); malformed submissions must be invalid with
a reason naming the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from aira_eval.datasets.competitions import LEAF_CLASSES, get_competition
from aira_eval.datasets.grader import InvalidSubmission
from aira_eval.datasets.grading import grade_csv, read_answers, read_submission
from aira_eval.datasets.leaderboard import Leaderboard

NOMAD_TARGETS = ["formation_energy_ev_natom", "bandgap_energy_ev"]


def ref_spaceship(sub: pd.DataFrame, ans: pd.DataFrame) -> float:
    merged = ans[["PassengerId", "Transported"]].merge(
        sub[["PassengerId", "Transported"]], on="PassengerId", suffixes=("_true", "_pred")
    )
    assert len(merged) == len(ans)
    return float(skm.accuracy_score(merged["Transported_true"], merged["Transported_pred"]))


def ref_leaf(sub: pd.DataFrame, ans: pd.DataFrame) -> float:
    classes = list(LEAF_CLASSES)
    pred = sub.set_index("id").loc[ans["id"], classes].to_numpy()
    return float(skm.log_loss(ans[classes].to_numpy(), pred))


def ref_insults(sub: pd.DataFrame, ans: pd.DataFrame) -> float:
    # MLE-bench: both sorted by the Comment text (pandas' default sort), then row by row.
    sub_sorted, ans_sorted = sub.sort_values("Comment"), ans.sort_values("Comment")
    assert sub_sorted["Comment"].tolist() == ans_sorted["Comment"].tolist()
    return float(skm.roc_auc_score(ans_sorted["Insult"], sub_sorted["Insult"]))


def ref_nomad(sub: pd.DataFrame, ans: pd.DataFrame) -> float:
    pred = sub.set_index("id").loc[ans["id"]]
    errors = [skm.root_mean_squared_log_error(ans[c], pred[c]) for c in NOMAD_TARGETS]
    return float((errors[0] + errors[1]) / 2)


def perturb_spaceship(ans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    flip = rng.random(len(ans)) < 0.25
    return ans[["PassengerId"]].assign(
        Transported=np.where(flip, ~ans["Transported"], ans["Transported"])
    )


def perturb_leaf(ans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    classes = list(LEAF_CLASSES)
    noise = rng.dirichlet(np.ones(len(classes)), len(ans))
    probas = 0.6 * ans[classes].to_numpy() + 0.4 * noise
    return pd.DataFrame(probas, columns=classes).assign(id=ans["id"].to_numpy())[["id", *classes]]


def perturb_insults(ans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    score = np.clip(0.35 * ans["Insult"].to_numpy() + 0.65 * rng.random(len(ans)), 0, 1)
    return ans[["Date", "Comment"]].assign(Insult=score)


def perturb_nomad(ans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    noisy = ans[["id", *NOMAD_TARGETS]].copy()
    for column in NOMAD_TARGETS:
        noisy[column] = noisy[column] * np.exp(0.2 * rng.standard_normal(len(ans)))
    return noisy


@dataclass(frozen=True)
class Case:
    competition_id: str
    reference: Callable[[pd.DataFrame, pd.DataFrame], float]
    perturb: Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]
    id_column: str
    target: str


CASES = {
    "spaceship-titanic": Case(
        "spaceship-titanic", ref_spaceship, perturb_spaceship, "PassengerId", "Transported"
    ),
    "leaf-classification": Case(
        "leaf-classification", ref_leaf, perturb_leaf, "id", LEAF_CLASSES[0]
    ),
    "detecting-insults-in-social-commentary": Case(
        "detecting-insults-in-social-commentary", ref_insults, perturb_insults, "Comment", "Insult"
    ),
    "nomad2018-predict-transparent-conductors": Case(
        "nomad2018-predict-transparent-conductors", ref_nomad, perturb_nomad, "id", NOMAD_TARGETS[0]
    ),
}


@dataclass(frozen=True)
class Real:
    case: Case
    root: Path
    answers: pd.DataFrame
    sample: pd.DataFrame


@pytest.fixture(scope="module", params=sorted(CASES))
def real(request: pytest.FixtureRequest, mlebench_data: Path) -> Real:
    case = CASES[request.param]
    spec = get_competition(case.competition_id)
    assert spec is not None
    root = mlebench_data / case.competition_id
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    answers = read_answers(root / "prepared" / "private" / spec.answers_file)
    sample = read_submission(root / "prepared" / "public" / spec.sample_submission_file)
    return Real(case, root, answers, sample)


def _grade(real: Real, submission: pd.DataFrame) -> float:
    spec = get_competition(real.case.competition_id)
    assert spec is not None
    return spec.grader.grade(submission, real.answers)


def test_sample_submission(real: Real) -> None:
    expected = real.case.reference(real.sample, real.answers)
    assert _grade(real, real.sample) == pytest.approx(expected, abs=1e-9)


def test_answers_score_perfectly(real: Real) -> None:
    spec = get_competition(real.case.competition_id)
    assert spec is not None
    perfect = 0.0 if spec.grader.lower_is_better else 1.0
    score = _grade(real, real.answers.copy())
    assert score == pytest.approx(perfect, abs=1e-9)
    assert score == pytest.approx(real.case.reference(real.answers, real.answers), abs=1e-9)


def test_perturbed_and_shuffled(real: Real) -> None:
    rng = np.random.default_rng(0)
    noisy = real.case.perturb(real.answers, rng)
    expected = real.case.reference(noisy, real.answers)
    assert _grade(real, noisy) == pytest.approx(expected, abs=1e-9)
    shuffled = noisy.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert _grade(real, shuffled) == pytest.approx(expected, abs=1e-9)


def test_csv_roundtrip_report(real: Real, tmp_path: Path) -> None:
    spec = get_competition(real.case.competition_id)
    assert spec is not None
    noisy = real.case.perturb(real.answers, np.random.default_rng(5))
    path = tmp_path / "submission.csv"
    noisy.to_csv(path, index=False)
    expected = real.case.reference(read_submission(path), real.answers)
    thresholds = Leaderboard.from_csv(real.root / "leaderboard.csv").thresholds()
    report = grade_csv(path, real.answers, spec.grader, thresholds)
    assert report.valid_submission and report.reason is None
    assert report.raw_score == pytest.approx(expected, abs=1e-9)
    assert report.score == round(report.raw_score or 0.0, 5)
    assert report.is_lower_better == spec.grader.lower_is_better
    assert report.gold_medal == thresholds.medals(report.score).gold


def _malformed(real: Real, kind: str) -> pd.DataFrame:
    case, sub = real.case, real.case.perturb(real.answers, np.random.default_rng(1))
    if kind == "missing column":
        return sub.drop(columns=[case.target])
    if kind == "row count":
        return sub.iloc[:-1]
    if kind == "unknown":
        unknown = "NOT A COMMENT" if sub[case.id_column].dtype != np.int64 else 10**9
        return sub.assign(**{case.id_column: sub[case.id_column].where(sub.index != 0, unknown)})
    if kind == "nan":
        return sub.assign(**{case.target: sub[case.target].where(sub.index != 0, np.nan)})
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing column", "row count", "unknown", "nan"])
def test_malformed_submissions(real: Real, kind: str) -> None:
    with pytest.raises(InvalidSubmission) as info:
        _grade(real, _malformed(real, kind))
    assert kind in info.value.reason.lower()


def test_empty_file_is_invalid(real: Real, tmp_path: Path) -> None:
    spec = get_competition(real.case.competition_id)
    assert spec is not None
    path = tmp_path / "submission.csv"
    path.write_text("")
    report = grade_csv(path, real.answers, spec.grader)
    assert report.submission_exists and not report.valid_submission
    assert "empty" in (report.reason or "")


def test_leaf_rows_not_summing_to_one(mlebench_data: Path) -> None:
    real = _load(mlebench_data, "leaf-classification")
    sub = perturb_leaf(real.answers, np.random.default_rng(2))
    sub.loc[3, list(LEAF_CLASSES)] *= 0.5
    with pytest.raises(InvalidSubmission, match="sum to one"):
        _grade(real, sub)
    # MLE-bench's tolerance: np.isclose(sum, 1, atol=1e-6) (plus numpy's rtol=1e-5)
    ok = perturb_leaf(real.answers, np.random.default_rng(2))
    ok.loc[3, LEAF_CLASSES[0]] += 5e-6
    assert np.isfinite(_grade(real, ok))


def test_leaf_requires_exact_columns(mlebench_data: Path) -> None:
    real = _load(mlebench_data, "leaf-classification")
    sub = perturb_leaf(real.answers, np.random.default_rng(2)).assign(extra=0.0)
    with pytest.raises(InvalidSubmission, match="unexpected column"):
        _grade(real, sub)


@pytest.mark.parametrize(
    ("value", "reason"), [("abc", "numeric"), (1.5, "[0, 1]"), (-0.1, "[0, 1]")]
)
def test_insults_auc_values_checked(mlebench_data: Path, value: object, reason: str) -> None:
    real = _load(mlebench_data, "detecting-insults-in-social-commentary")
    sub = perturb_insults(real.answers, np.random.default_rng(3))
    sub["Insult"] = sub["Insult"].astype(object)
    sub.loc[0, "Insult"] = value
    with pytest.raises(InvalidSubmission) as info:
        _grade(real, sub)
    assert reason in info.value.reason


def test_spaceship_integer_labels_score_like_booleans(mlebench_data: Path) -> None:
    # sklearn compares True with 1, so MLE-bench accepts 0/1 labels; so do we.
    real = _load(mlebench_data, "spaceship-titanic")
    noisy = perturb_spaceship(real.answers, np.random.default_rng(4))
    as_int = noisy.assign(Transported=noisy["Transported"].astype(int))
    assert _grade(real, as_int) == pytest.approx(ref_spaceship(noisy, real.answers), abs=1e-12)
    as_text = noisy.assign(Transported=noisy["Transported"].map({True: "yes", False: "no"}))
    with pytest.raises(InvalidSubmission, match="accuracy"):
        _grade(real, as_text)


def test_spaceship_unknown_label_is_a_mismatch_as_in_mlebench(mlebench_data: Path) -> None:
    # MLE-bench's accuracy only counts mismatches: a label outside True/False (but of a type
    # sklearn can compare) is simply wrong, not invalid; the built-in grader must agree.
    real = _load(mlebench_data, "spaceship-titanic")
    unknown = real.answers[["PassengerId"]].assign(Transported=real.answers.Transported.astype(int))
    unknown.loc[[0, 3], "Transported"] = 7
    expected = ref_spaceship(unknown, real.answers)
    assert expected == pytest.approx(1 - 2 / len(real.answers))
    assert _grade(real, unknown) == pytest.approx(expected, abs=1e-12)


def test_nomad_positional_equivalence_with_mlebench(mlebench_data: Path) -> None:
    real = _load(mlebench_data, "nomad2018-predict-transparent-conductors")
    noisy = perturb_nomad(real.answers, np.random.default_rng(6))
    # MLE-bench's formula compares rows by position: equal when the order is the answers'.
    positional = np.mean(
        [skm.root_mean_squared_log_error(real.answers[c], noisy[c]) for c in NOMAD_TARGETS]
    )
    assert _grade(real, noisy) == pytest.approx(positional, abs=1e-12)
    with pytest.raises(InvalidSubmission, match="missing column"):
        _grade(real, noisy.drop(columns=["id"]))


def _load(mlebench_data: Path, competition_id: str) -> Real:
    spec = get_competition(competition_id)
    assert spec is not None
    root = mlebench_data / competition_id
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    answers = read_answers(root / "prepared" / "private" / spec.answers_file)
    sample = read_submission(root / "prepared" / "public" / spec.sample_submission_file)
    return Real(CASES[competition_id], root, answers, sample)


# -- problem specs and holdout answers against the real public files -----------------------


def test_problem_spec_matches_public_files(real: Real) -> None:
    spec = get_competition(real.case.competition_id)
    assert spec is not None and spec.problem is not None
    problem, public = spec.problem, real.root / "prepared" / "public"
    train = pd.read_csv(public / problem.train_file, nrows=50)
    test = pd.read_csv(public / problem.test_file, nrows=50)
    assert set(problem.id_columns) <= set(test.columns)
    assert set(problem.label_columns) <= set(train.columns)
    assert set(problem.text_columns) | set(problem.drop_columns) <= set(train.columns)
    assert set(real.sample.columns) == set(problem.id_columns) | set(problem.submission_columns)
    assert problem.metric == spec.grader.metric
    assert problem.lower_is_better == spec.grader.lower_is_better


def test_answers_from_train_match_private_format(real: Real) -> None:
    spec = get_competition(real.case.competition_id)
    assert spec is not None and spec.answers_from_train is not None and spec.problem
    train = read_answers(real.root / "prepared" / "public" / spec.problem.train_file)
    rows = train.sample(n=120, random_state=0)
    answers = spec.answers_from_train(rows)
    assert list(answers.columns) == list(real.answers.columns)
    assert len(answers) == len(rows)
    for column in answers.columns:
        assert pd.api.types.is_numeric_dtype(answers[column]) == pd.api.types.is_numeric_dtype(
            real.answers[column]
        ), column
    # the holdout answers grade a perfect submission perfectly with the same grader
    perfect = 0.0 if spec.grader.lower_is_better else 1.0
    assert spec.grader.grade(answers.copy(), answers) == pytest.approx(perfect, abs=1e-9)


def test_leaf_class_list_is_the_answers_column_order(mlebench_data: Path) -> None:
    real = _load(mlebench_data, "leaf-classification")
    assert list(real.answers.columns) == ["id", *LEAF_CLASSES]
    assert len(LEAF_CLASSES) == 99


# -- competitions without data here: realistic frames built in the test --------------------


def _spooky_frames(n: int = 90) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    ids = [f"id{rng.integers(10000, 99999)}{i:03d}" for i in range(n)]
    authors = rng.integers(0, 3, n)
    one_hot = np.eye(3, dtype=np.int64)[authors]
    answers = pd.DataFrame(
        {"id": ids, "EAP": one_hot[:, 0], "HPL": one_hot[:, 1], "MWS": one_hot[:, 2]}
    )
    probas = 0.5 * one_hot + 0.5 * rng.dirichlet(np.ones(3), n)
    sub = pd.DataFrame({"id": ids, "EAP": probas[:, 0], "HPL": probas[:, 1], "MWS": probas[:, 2]})
    return sub, answers


def _spooky_reference(sub: pd.DataFrame, ans: pd.DataFrame) -> float:
    pred = sub.set_index("id").loc[ans["id"], ["EAP", "HPL", "MWS"]]
    return float(skm.log_loss(ans[["EAP", "HPL", "MWS"]].to_numpy(), pred.to_numpy()))


def test_spooky_scores_and_shuffles() -> None:
    grader = get_competition("spooky-author-identification").grader  # type: ignore[union-attr]
    sub, ans = _spooky_frames()
    expected = _spooky_reference(sub, ans)
    assert grader.grade(sub, ans) == pytest.approx(expected, abs=1e-9)
    shuffled = sub.sample(frac=1.0, random_state=2)
    assert grader.grade(shuffled, ans) == pytest.approx(expected, abs=1e-9)
    uniform = sub.assign(EAP=1 / 3, HPL=1 / 3, MWS=1 / 3)
    assert grader.grade(uniform, ans) == pytest.approx(np.log(3), abs=1e-9)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.drop(columns=["MWS"]), "shape"),
        (lambda s: s.iloc[:-1], "shape"),
        (lambda s: s.assign(extra=0), "shape"),
        (lambda s: s.assign(id=s["id"].where(s.index != 0, "id_unknown")), "unknown"),
        (lambda s: s.assign(EAP=s["EAP"].where(s.index != 0, np.nan)), "nan"),
        (lambda s: s.assign(EAP=s["EAP"] * 0.5), "sum to one"),
        (lambda s: s[["EAP", "HPL", "MWS", "id"]], "not numeric"),  # MLE-bench: id first
    ],
)
def test_spooky_malformed(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    grader = get_competition("spooky-author-identification").grader  # type: ignore[union-attr]
    sub, ans = _spooky_frames()
    with pytest.raises(InvalidSubmission) as info:
        grader.grade(mutate(sub), ans)
    assert reason in info.value.reason.lower()


def test_spooky_answers_from_train() -> None:
    spec = get_competition("spooky-author-identification")
    assert spec is not None and spec.answers_from_train is not None
    train = pd.DataFrame(
        {"id": ["id1", "id2", "id3"], "text": ["a", "b", "c"], "author": ["HPL", "EAP", "MWS"]}
    )
    answers = spec.answers_from_train(train)
    assert list(answers.columns) == ["id", "EAP", "HPL", "MWS"]
    assert answers[["EAP", "HPL", "MWS"]].to_numpy().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]


def _pizza_frames(n: int = 120) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(12)
    ids = [f"t3_{rng.integers(10**5, 10**6):x}{i}" for i in range(n)]
    received = (rng.random(n) < 0.25).astype(int)
    answers = pd.DataFrame({"request_id": ids, "requester_received_pizza": received})
    score = np.clip(0.3 * received + 0.7 * rng.random(n), 0, 1)
    return answers.assign(requester_received_pizza=score), answers


def test_pizza_scores_match_sklearn() -> None:
    grader = get_competition("random-acts-of-pizza").grader  # type: ignore[union-attr]
    sub, ans = _pizza_frames()
    merged = ans.merge(sub, on="request_id", suffixes=("_true", "_pred"))
    expected = skm.roc_auc_score(
        merged["requester_received_pizza_true"], merged["requester_received_pizza_pred"]
    )
    assert grader.grade(sub, ans) == pytest.approx(expected, abs=1e-9)
    assert grader.grade(sub.sample(frac=1.0, random_state=3), ans) == pytest.approx(expected)
    sample = ans.assign(requester_received_pizza=0)  # MLE-bench's sample submission
    assert grader.grade(sample, ans) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.drop(columns=["requester_received_pizza"]), "missing column"),
        (lambda s: s.rename(columns={"request_id": "id"}), "missing column"),
        (lambda s: s.iloc[1:], "row count"),
        (lambda s: s.assign(request_id=s["request_id"].where(s.index != 0, "t3_x")), "unknown"),
        (lambda s: s.assign(requester_received_pizza="yes"), "numeric"),
        (lambda s: s.assign(requester_received_pizza=s.requester_received_pizza * 2), "[0, 1]"),
        (
            lambda s: s.assign(
                requester_received_pizza=s.requester_received_pizza.where(s.index != 5, np.nan)
            ),
            "nan",
        ),
    ],
)
def test_pizza_malformed(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    grader = get_competition("random-acts-of-pizza").grader  # type: ignore[union-attr]
    sub, ans = _pizza_frames()
    with pytest.raises(InvalidSubmission) as info:
        grader.grade(mutate(sub), ans)
    assert reason in info.value.reason.lower()


def test_pizza_answers_from_json_records() -> None:
    spec = get_competition("random-acts-of-pizza")
    assert spec is not None and spec.answers_from_train is not None and spec.problem
    records = [
        {"request_id": "t3_a", "request_title": "x", "requester_received_pizza": True},
        {"request_id": "t3_b", "request_title": "y", "requester_received_pizza": False},
    ]
    answers = spec.answers_from_train(pd.DataFrame(records))
    assert answers.to_dict("list") == {
        "request_id": ["t3_a", "t3_b"],
        "requester_received_pizza": [1, 0],
    }
    assert spec.problem.train_file == "train.json"
    assert spec.problem.sample_submission_file == "sampleSubmission.csv"
    assert "requester_user_flair" in spec.problem.drop_columns


# -- every built-in competition: consistent spec, perfect and shuffled toy submissions -----


def _toy_answers(grader: object, n: int = 40) -> pd.DataFrame:
    """Answers in the format of ``grader``'s competition, with every class present."""
    rng = np.random.default_rng(21)
    key = grader.id_column  # type: ignore[attr-defined]
    ids = [f"k{i:04d}" for i in range(n)]
    kind = type(grader).__name__
    if kind == "OneHotLogLossGrader":
        classes = list(grader.classes)  # type: ignore[attr-defined]
        labels = np.arange(n) % len(classes)
        one_hot = np.eye(len(classes), dtype=np.int64)[labels]
        return pd.DataFrame(one_hot, columns=classes).assign(**{key: ids})[[key, *classes]]
    if kind == "ColumnwiseAurocGrader":
        classes = list(grader.classes)  # type: ignore[attr-defined]
        block = rng.integers(0, 2, (n, len(classes)))
        block[0], block[1] = 0, 1
        return pd.DataFrame(block, columns=classes).assign(**{key: ids})[[key, *classes]]
    target = grader.target_column if hasattr(grader, "target_column") else None  # type: ignore[attr-defined]
    if kind == "MeanRmsleGrader":
        values = {c: rng.gamma(2.0, 1.0, n) for c in grader.target_columns}  # type: ignore[attr-defined]
        return pd.DataFrame({key: np.arange(1, n + 1), **values})
    if kind in ("SortedRmseGrader",):
        return pd.DataFrame({key: ids, target: rng.normal(10, 3, n)})
    if kind == "QuadraticKappaGrader":
        return pd.DataFrame({key: ids, target: np.arange(n) % 5})
    if kind == "AccuracyGrader":
        return pd.DataFrame({key: ids, target: np.arange(n) % 3})
    return pd.DataFrame({key: ids, target: np.arange(n) % 2})  # AUC / binary log loss


def _all_specs() -> list[str]:
    from aira_eval.datasets.competitions import builtin_competition_ids

    return builtin_competition_ids()


def test_builtins_cover_mlebench_lite() -> None:
    from aira_eval.datasets.competitions import MLEBENCH_LITE_IDS, builtin_competition_ids

    assert len(MLEBENCH_LITE_IDS) == 22
    # the lite split, plus spaceship-titanic (in MLE-bench's dev split)
    assert set(builtin_competition_ids()) - set(MLEBENCH_LITE_IDS) == {"spaceship-titanic"}
    assert set(MLEBENCH_LITE_IDS) <= set(builtin_competition_ids())
    assert get_competition("no-such-competition") is None
    solvable = set(builtin_competition_ids(with_problem=True))
    assert {"spaceship-titanic", "spooky-author-identification", "random-acts-of-pizza"} <= solvable
    assert "aerial-cactus-identification" not in solvable


@pytest.mark.parametrize("competition_id", _all_specs())
def test_spec_is_consistent(competition_id: str) -> None:
    from aira_eval.datasets.grader import Grader
    from aira_eval.datasets.metrics import get_metric

    spec = get_competition(competition_id)
    assert spec is not None and spec.id == competition_id
    assert isinstance(spec.grader, Grader) and spec.grader.name == competition_id
    assert spec.grader.lower_is_better == get_metric(spec.grader.metric).lower_is_better
    assert spec.grader.id_column
    if spec.problem is not None:
        assert spec.problem.metric == spec.grader.metric
        assert spec.problem.sample_submission_file == spec.sample_submission_file
        assert spec.answers_from_train is not None


@pytest.mark.parametrize("competition_id", _all_specs())
def test_toy_perfect_and_shuffled(competition_id: str) -> None:
    spec = get_competition(competition_id)
    assert spec is not None
    answers = _toy_answers(spec.grader)
    perfect = 0.0 if spec.grader.lower_is_better else 1.0
    submission = answers.copy()
    assert spec.grader.grade(submission, answers) == pytest.approx(perfect, abs=1e-9)
    shuffled = submission.sample(frac=1.0, random_state=4).reset_index(drop=True)
    assert spec.grader.grade(shuffled, answers) == pytest.approx(perfect, abs=1e-9)
    with pytest.raises(InvalidSubmission):
        spec.grader.grade(submission.drop(columns=[str(spec.grader.id_column)]), answers)


def test_jigsaw_skips_unlabelled_rows_and_ignores_order_of_columns() -> None:
    grader = get_competition("jigsaw-toxic-comment-classification-challenge").grader  # type: ignore[union-attr]
    answers = _toy_answers(grader, n=60)
    classes = list(answers.columns[1:])
    answers.loc[answers.index[-10:], classes] = -1  # Kaggle's "not scored" rows
    rng = np.random.default_rng(8)
    sub = answers.copy()
    sub[classes] = np.clip(answers[classes].clip(lower=0) * 0.4 + rng.random((60, 6)) * 0.6, 0, 1)
    kept = answers.iloc[:-10]
    expected = skm.roc_auc_score(
        kept[classes].to_numpy(), sub.iloc[:-10][classes].to_numpy(), average="macro"
    )
    assert grader.grade(sub, answers) == pytest.approx(expected, abs=1e-12)
    # unscored rows do not matter; out-of-range scores are accepted (MLE-bench has no check)
    changed = sub.copy()
    changed.loc[changed.index[-10:], classes] = 7.0
    assert grader.grade(changed, answers) == pytest.approx(expected, abs=1e-12)
    reordered = sub[["id", *classes[::-1]]]
    assert grader.grade(reordered, answers) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(InvalidSubmission, match="unexpected column"):
        grader.grade(sub.assign(extra=0.5), answers)


def test_taxi_sorts_by_key_and_compares_by_position() -> None:
    grader = get_competition("new-york-city-taxi-fare-prediction").grader  # type: ignore[union-attr]
    answers = pd.DataFrame(
        {"key": ["2015-01-01 3", "2015-01-01 1", "2015-01-01 2"], "fare_amount": [3.0, 1.0, 2.0]}
    )
    sub = pd.DataFrame(
        {"key": ["2015-01-01 1", "2015-01-01 2", "2015-01-01 3"], "fare_amount": [1.5, 2.0, 3.0]}
    )
    assert grader.grade(sub, answers) == pytest.approx(np.sqrt(0.25 / 3), abs=1e-12)
    # as in MLE-bench, keys are not checked: only their sort order pairs the rows
    other_keys = sub.assign(key=["a", "b", "c"])
    assert grader.grade(other_keys, answers) == pytest.approx(np.sqrt(0.25 / 3), abs=1e-12)
    with pytest.raises(InvalidSubmission, match="row count"):
        grader.grade(sub.iloc[:2], answers)


def test_text_normalization_compares_text() -> None:
    grader = get_competition("text-normalization-challenge-english-language").grader  # type: ignore[union-attr]
    answers = pd.DataFrame({"id": ["0_0", "0_1", "1_0", "1_1"], "after": ["hello", 1, np.nan, "x"]})
    sub = pd.DataFrame({"id": ["1_1", "0_0", "0_1", "1_0"], "after": ["y", "hello", "1", np.nan]})
    # "1" == 1 and NaN == NaN once both are text (MLE-bench's astype(str)); "y" != "x"
    assert grader.grade(sub, answers) == pytest.approx(0.75)


def test_ranzcr_checks_each_class_range() -> None:
    grader = get_competition("ranzcr-clip-catheter-line-classification").grader  # type: ignore[union-attr]
    answers = _toy_answers(grader)
    sub = answers.astype({c: float for c in answers.columns[1:]})
    sub.iloc[0, 3] = 1.2
    with pytest.raises(InvalidSubmission, match=r"\[0, 1\]"):
        grader.grade(sub, answers)


def test_dogs_vs_cats_log_loss_and_range() -> None:
    grader = get_competition("dogs-vs-cats-redux-kernels-edition").grader  # type: ignore[union-attr]
    answers = _toy_answers(grader)
    p = np.linspace(0.05, 0.95, len(answers))
    sub = answers.assign(label=p).sample(frac=1.0, random_state=0)
    assert grader.grade(sub, answers) == pytest.approx(skm.log_loss(answers["label"], p), abs=1e-12)
    with pytest.raises(InvalidSubmission, match="NaN"):
        grader.grade(sub.assign(label=np.nan), answers)


def test_aptos_kappa_matches_sklearn() -> None:
    grader = get_competition("aptos2019-blindness-detection").grader  # type: ignore[union-attr]
    answers = _toy_answers(grader)
    pred = (answers["diagnosis"] + np.arange(len(answers)) % 2).clip(upper=4)
    sub = answers.assign(diagnosis=pred)
    expected = skm.cohen_kappa_score(answers["diagnosis"], pred, weights="quadratic")
    assert grader.grade(sub.iloc[::-1], answers) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(InvalidSubmission):
        grader.grade(sub.assign(id_code="other"), answers)
