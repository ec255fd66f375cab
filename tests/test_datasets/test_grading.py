"""Reading submissions, the generic TableGrader, grade reports (no real data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from aira_eval.datasets.grader import Grader, InvalidSubmission
from aira_eval.datasets.grading import (
    GradeReport,
    TableGrader,
    grade_csv,
    grade_frame,
    read_answers,
    read_submission,
)
from aira_eval.datasets.leaderboard import Thresholds
from aira_eval.errors import DataError, UsageError

RNG = np.random.default_rng(3)


def _binary(n: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.arange(100, 100 + n)
    target = RNG.integers(0, 2, n)
    target[:2] = [0, 1]
    answers = pd.DataFrame({"id": ids, "target": target})
    score = np.clip(target * 0.4 + RNG.random(n) * 0.6, 0, 1)
    return pd.DataFrame({"id": ids, "target": score}), answers


def _multiclass(n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    classes = ["a", "b", "c"]
    labels = RNG.integers(0, 3, n)
    one_hot = np.eye(3, dtype=int)[labels]
    answers = pd.DataFrame(one_hot, columns=classes).assign(id=np.arange(n))
    probas = RNG.dirichlet(np.ones(3), n) * 0.5 + one_hot * 0.5
    return pd.DataFrame(probas, columns=classes).assign(id=np.arange(n)), answers


# -- read_submission ---------------------------------------------------------------------


def test_read_submission_parses_like_mlebench(tmp_path: Path) -> None:
    path = tmp_path / "submission.csv"
    path.write_text(
        "PassengerId,Transported,p\n0001_01,True,0.1\n0002_01,False,0.30000000000000004\n"
    )
    frame = read_submission(path)
    assert pd.api.types.is_bool_dtype(frame["Transported"])
    assert frame["PassengerId"].tolist() == ["0001_01", "0002_01"]
    assert frame["p"].tolist() == [0.1, 0.30000000000000004]  # round-trip float parsing


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n", "empty"),
        ("quote.csv", b'a,b\n"1,2\n', "readable csv"),
        ("binary.csv", b"\xff\xfe\x00\x81\x00\x00\xc3\x28", "readable csv"),
        ("sub.parquet", b"a,b\n1,2\n", ".csv"),
    ],
)
def test_read_submission_rejects_bad_files(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidSubmission) as info:
        read_submission(path)
    assert reason in info.value.reason.lower()


def test_read_submission_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidSubmission, match="no submission file"):
        read_submission(tmp_path / "nope.csv")


def test_header_only_file_reads_as_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,target\n")
    assert read_submission(path).shape == (0, 2)


def test_read_answers_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        read_answers(tmp_path / "missing.csv")


# -- TableGrader ----------------------------------------------------------------------------


def test_table_grader_is_a_grader_with_metric_direction() -> None:
    grader = TableGrader("t", metric="rmse", id_column="id", target_columns=("y",))
    assert isinstance(grader, Grader)
    assert grader.lower_is_better is True
    assert TableGrader("t", "roc_auc", "id", ("y",)).lower_is_better is False


def test_table_grader_auc_matches_sklearn_and_ignores_row_order() -> None:
    sub, ans = _binary()
    grader = TableGrader("t", metric="roc_auc", id_column="id", target_columns=("target",))
    expected = skm.roc_auc_score(ans["target"], sub["target"])
    assert grader.grade(sub, ans) == pytest.approx(expected, abs=1e-12)
    shuffled = sub.sample(frac=1.0, random_state=1)
    assert grader.grade(shuffled, ans) == pytest.approx(expected, abs=1e-12)


def test_table_grader_accepts_ids_read_as_strings_against_int_answers() -> None:
    sub, ans = _binary()
    sub = sub.assign(id=sub["id"].astype(str))
    grader = TableGrader("t", metric="roc_auc", id_column="id", target_columns=("target",))
    assert grader.grade(sub, ans) == pytest.approx(skm.roc_auc_score(ans.target, sub.target))


def test_table_grader_multiclass_one_hot_and_label_answers() -> None:
    sub, ans = _multiclass()
    classes = ("a", "b", "c")
    expected = skm.log_loss(ans[list(classes)].to_numpy(), sub[list(classes)].to_numpy())
    one_hot = TableGrader("t", "multiclass_log_loss", "id", classes)
    assert one_hot.grade(sub, ans) == pytest.approx(expected, abs=1e-12)
    labels = ans[list(classes)].idxmax(axis=1)
    label_answers = pd.DataFrame({"id": ans["id"], "species": labels})
    by_label = TableGrader("t", "multiclass_log_loss", "id", classes, answer_label_column="species")
    assert by_label.grade(sub, label_answers) == pytest.approx(expected, abs=1e-12)


def test_table_grader_positional_without_id_column() -> None:
    y = RNG.normal(size=30)
    ans = pd.DataFrame({"y": y})
    sub = pd.DataFrame({"y": y + 0.5})
    grader = TableGrader("t", "rmse", None, ("y",))
    assert grader.grade(sub, ans) == pytest.approx(0.5)
    with pytest.raises(InvalidSubmission, match="row"):
        grader.grade(sub.iloc[:-1], ans)


def test_table_grader_labels_and_multi_output_regression() -> None:
    ans = pd.DataFrame({"id": range(6), "c": ["x", "y", "x", "y", "x", "x"]})
    sub = ans.assign(c=["x", "y", "y", "y", "x", "x"])
    assert TableGrader("t", "accuracy", "id", ("c",)).grade(sub, ans) == pytest.approx(5 / 6)
    reg = pd.DataFrame({"id": range(5), "u": np.arange(5.0), "v": np.arange(5.0) * 2})
    pred = reg.assign(u=reg.u + 1, v=reg.v)
    expected = skm.mean_absolute_error(reg[["u", "v"]], pred[["u", "v"]])
    assert TableGrader("t", "mae", "id", ("u", "v")).grade(pred, reg) == pytest.approx(expected)


def _auc() -> TableGrader:
    return TableGrader("t", "roc_auc", "id", ("target",))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.drop(columns=["target"]), "missing column"),
        (lambda s: s.drop(columns=["id"]), "missing column"),
        (lambda s: s.iloc[:-1], "row count"),
        (lambda s: s.assign(id=s["id"].where(s.index != 3, 105)), "duplicate"),
        (lambda s: s.assign(id=s["id"].where(s.index != 3, 99999)), "unknown"),
        (lambda s: s.assign(id=s["id"].where(s.index != 3, np.nan)), "nan"),
        (lambda s: s.assign(target=s["target"].where(s.index != 3, np.nan)), "nan"),
        (lambda s: s.assign(target=s["target"].astype(object).where(s.index != 3, "x")), "numeric"),
        (lambda s: s.assign(target=s["target"].where(s.index != 3, 1.5)), "[0, 1]"),
        (lambda s: s.assign(target=s["target"].where(s.index != 3, np.inf)), "infinite"),
    ],
)
def test_table_grader_rejects_malformed(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    sub, ans = _binary()
    with pytest.raises(InvalidSubmission) as info:
        _auc().grade(mutate(sub), ans)
    assert reason in info.value.reason.lower()


def test_table_grader_rejects_rows_not_summing_to_one() -> None:
    sub, ans = _multiclass()
    grader = TableGrader("t", "multiclass_log_loss", "id", ("a", "b", "c"))
    bad = sub.copy()
    bad.loc[2, "a"] += 2e-6  # beyond the absolute 1e-6 tolerance
    with pytest.raises(InvalidSubmission, match="sum to one"):
        grader.grade(bad, ans)
    ok = sub.copy()
    ok.loc[2, "a"] += 5e-7
    assert np.isfinite(grader.grade(ok, ans))


def test_table_grader_rejects_nan_labels() -> None:
    ans = pd.DataFrame({"id": range(4), "c": [1, 2, 1, 2]})
    sub = ans.assign(c=[1.0, np.nan, 1.0, 2.0])
    with pytest.raises(InvalidSubmission, match="NaN"):
        TableGrader("t", "accuracy", "id", ("c",)).grade(sub, ans)


def test_table_grader_labels_of_another_vocabulary_are_invalid_not_crashes() -> None:
    ans = pd.DataFrame({"id": range(4), "c": [True, False, True, False]})
    sub = ans.assign(c=["yes", "no", "yes", "no"])
    with pytest.raises(InvalidSubmission, match=r"4 label\(s\) that are none of the task's"):
        TableGrader("t", "accuracy", "id", ("c",)).grade(sub, ans)


def _species(n: int = 30) -> pd.DataFrame:
    names = np.array(["setosa", "versicolor", "virginica"])
    return pd.DataFrame({"id": np.arange(n), "species": names[np.arange(n) % 3]})


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro", "quadratic_weighted_kappa"])
def test_table_grader_unknown_label_is_invalid_and_named(metric: str) -> None:
    ans = _species()
    sub = ans.copy()
    sub.loc[[2, 5], "species"] = ["martian", "venusian"]
    grader = TableGrader("t", metric, "id", ("species",))
    with pytest.raises(InvalidSubmission) as info:
        grader.grade(sub, ans)
    reason = info.value.reason
    assert "column 'species' has 2 label(s) that are none of the task's classes" in reason
    assert "'martian'" in reason and "'venusian'" in reason
    assert reason.endswith("allowed labels: setosa, versicolor, virginica")


def test_table_grader_f1_macro_averages_known_classes_only() -> None:
    ans = _species()
    sub = ans.copy()
    sub.loc[2, "species"] = "setosa"  # one wrong but known label: scored as sklearn does
    expected = skm.f1_score(ans["species"], sub["species"], average="macro")
    assert TableGrader("t", "f1_macro", "id", ("species",)).grade(sub, ans) == expected


def test_table_grader_train_classes_absent_from_answers_are_allowed(tmp_path: Path) -> None:
    ans = _species().query("species != 'virginica'").reset_index(drop=True)
    train = tmp_path / "train.csv"
    _species(9).assign(x=1.0).to_csv(train, index=False)
    sub = ans.copy()
    sub.loc[0, "species"] = "virginica"
    with_train = TableGrader("t", "accuracy", "id", ("species",), train_file=train)
    assert with_train.grade(sub, ans) == pytest.approx((len(ans) - 1) / len(ans))
    sub.loc[1, "species"] = "martian"
    with pytest.raises(InvalidSubmission, match="allowed labels: setosa, versicolor, virginica"):
        with_train.grade(sub, ans)


def test_table_grader_numeric_labels_compare_as_numbers() -> None:
    ans = pd.DataFrame({"id": range(6), "c": [0, 1, 2, 0, 1, 2]})
    as_float = ans.assign(c=ans["c"].astype(float))
    grader = TableGrader("t", "accuracy", "id", ("c",))
    assert grader.grade(as_float, ans) == 1.0
    out_of_range = ans.assign(c=[0, 1, 2, 0, 1, 7])
    with pytest.raises(InvalidSubmission, match=r"such as \['7'\]; allowed labels: 0, 1, 2"):
        grader.grade(out_of_range, ans)
    text = ans.assign(c=["0", "1", "2", "0", "1", "martian"])
    with pytest.raises(InvalidSubmission, match=r"1 label\(s\).*\['martian'\]"):
        grader.grade(text, ans)


def test_table_grader_answer_problems_are_data_errors() -> None:
    sub, ans = _binary()
    with pytest.raises(DataError):
        _auc().grade(sub, ans.drop(columns=["target"]))
    with pytest.raises(DataError):
        _auc().grade(sub, pd.concat([ans, ans.iloc[:1]]))


@pytest.mark.parametrize(
    ("metric", "targets"),
    [("roc_auc", ("a", "b")), ("multiclass_log_loss", ("a",)), ("rmse", ()), ("nope", ("a",))],
)
def test_table_grader_rejects_bad_configuration(metric: str, targets: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        TableGrader("t", metric, "id", targets)


# -- grade_frame / grade_csv / GradeReport --------------------------------------------------

THRESHOLDS = Thresholds(gold=0.9, silver=0.8, bronze=0.7, median=0.6, lower_is_better=False)


def test_grade_frame_valid_report_rounds_like_mlebench() -> None:
    sub, ans = _binary()
    raw = skm.roc_auc_score(ans.target, sub.target)
    report = grade_frame(sub, ans, _auc(), THRESHOLDS, competition_id="demo")
    assert report.valid_submission and report.submission_exists and report.reason is None
    assert report.raw_score == pytest.approx(raw, abs=1e-12)
    assert report.score == round(raw, 5)
    assert report.competition_id == "demo"
    assert report.gold_threshold == 0.9 and report.median_threshold == 0.6
    flags = THRESHOLDS.medals(report.score)
    assert (report.gold_medal, report.silver_medal, report.bronze_medal) == (
        flags.gold,
        flags.silver,
        flags.bronze,
    )
    assert grade_frame(sub, ans, _auc(), decimals=None).score == report.raw_score


def test_medals_are_decided_on_the_rounded_score() -> None:
    class Fixed:
        name, metric, lower_is_better, id_column = "f", "accuracy", False, None

        def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
            return 0.899996  # rounds to 0.9: gold in MLE-bench

    report = grade_frame(pd.DataFrame(), pd.DataFrame(), Fixed(), THRESHOLDS)
    assert report.score == 0.9 and report.gold_medal and report.any_medal
    raw = grade_frame(pd.DataFrame(), pd.DataFrame(), Fixed(), THRESHOLDS, decimals=None)
    assert raw.silver_medal and not raw.gold_medal


def test_grade_frame_invalid_report() -> None:
    sub, ans = _binary()
    report = grade_frame(sub.drop(columns=["target"]), ans, _auc(), THRESHOLDS)
    assert not report.valid_submission and report.submission_exists
    assert report.score is None and report.raw_score is None
    assert "missing column" in (report.reason or "")
    assert not (report.any_medal or report.above_median)
    assert report.gold_threshold == 0.9


@pytest.mark.parametrize("error", [KeyError("Insult"), ValueError("bad"), ZeroDivisionError()])
def test_unexpected_grader_exceptions_become_invalid(error: Exception) -> None:
    class Crashing:
        name, metric, lower_is_better, id_column = "crash", "accuracy", False, None

        def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
            raise error

    report = grade_frame(pd.DataFrame(), pd.DataFrame(), Crashing())
    assert not report.valid_submission
    assert type(error).__name__ in (report.reason or "")


def test_nan_score_is_invalid() -> None:
    class Undefined:
        name, metric, lower_is_better, id_column = "u", "roc_auc", False, None

        def grade(self, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
            return float("nan")

    report = grade_frame(pd.DataFrame(), pd.DataFrame(), Undefined())
    assert not report.valid_submission and "undefined" in (report.reason or "")


def test_grade_frame_propagates_broken_answers() -> None:
    sub, ans = _binary()
    with pytest.raises(DataError):
        grade_frame(sub, ans.drop(columns=["id"]), _auc())


def test_without_thresholds_direction_comes_from_grader() -> None:
    sub, ans = _binary()
    report = grade_frame(sub, ans, TableGrader("t", "log_loss", "id", ("target",)))
    assert report.is_lower_better and report.gold_threshold is None and not report.any_medal


def test_grade_csv_roundtrip_and_missing_files(tmp_path: Path) -> None:
    sub, ans = _binary()
    path = tmp_path / "submission.csv"
    sub.to_csv(path, index=False)
    report = grade_csv(path, ans, _auc(), THRESHOLDS)
    assert report.valid_submission and report.submission_path == str(path)
    assert report.raw_score == pytest.approx(skm.roc_auc_score(ans.target, sub.target))

    missing = grade_csv(tmp_path / "none.csv", ans, _auc(), THRESHOLDS)
    assert not missing.submission_exists and not missing.valid_submission
    assert "no submission file" in (missing.reason or "")

    other = tmp_path / "submission.txt"
    other.write_text("id,target\n1,0.5\n")
    not_csv = grade_csv(other, ans, _auc())
    assert not not_csv.submission_exists and ".csv" in (not_csv.reason or "")

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    report_empty = grade_csv(empty, ans, _auc())
    assert report_empty.submission_exists and not report_empty.valid_submission
    assert "empty" in (report_empty.reason or "")


def test_report_to_dict_is_json_and_roundtrips() -> None:
    sub, ans = _binary()
    report = grade_frame(sub, ans, _auc(), THRESHOLDS, submission_path="x.csv")
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) >= {
        "competition_id",
        "score",
        "gold_threshold",
        "silver_threshold",
        "bronze_threshold",
        "median_threshold",
        "any_medal",
        "gold_medal",
        "silver_medal",
        "bronze_medal",
        "above_median",
        "submission_exists",
        "valid_submission",
        "is_lower_better",
        "created_at",
        "submission_path",
        "reason",
    }
    assert GradeReport.from_dict(data) == report


def test_table_grader_f1_positive_label_one_against_the_rest() -> None:
    ans = _species()
    sub = ans.copy()
    sub.loc[[0, 1, 4], "species"] = ["versicolor", "setosa", "setosa"]
    grader = TableGrader("t", "f1", "id", ("species",), positive_label="setosa")
    expected = skm.f1_score(ans["species"] == "setosa", sub["species"] == "setosa")
    assert grader.grade(sub, ans) == pytest.approx(expected, abs=1e-12)
    assert grader.grade(ans, ans) == 1.0
    binary = pd.DataFrame({"id": range(6), "c": [0, 1, 1, 0, 1, 0]})
    guess = binary.assign(c=[0, 1, 0, 1, 1, 0])
    default = TableGrader("t", "f1", "id", ("c",))
    assert default.grade(guess, binary) == pytest.approx(skm.f1_score(binary.c, guess.c))


def test_table_grader_f1_positive_label_outside_the_classes_is_a_data_error() -> None:
    ans = _species()
    with pytest.raises(DataError, match=r"positive label 1 of metric f1 is none of the task's"):
        TableGrader("t", "f1", "id", ("species",)).grade(ans, ans)
