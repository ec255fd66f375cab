"""Check 1: train/test overlap — planted duplicates, normalisation, and the real competitions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aira_eval.checks.overlap import (
    infer_columns,
    normalise_text,
    overlap_from_dirs,
    round_sig,
    train_test_overlap,
)
from aira_eval.errors import DataError


def _train() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3, 4, 5],
        "text": ["The quick brown fox!", "Hello, World", "stay calm", "ﬁne print", "alpha"],
        "x": [0.1234561, 2.5, 3.0, 4.0, 5.0],
        "cat": ["a", "b", "c", "d", "e"],
        "label": [1, 0, 1, 0, 1],
    })


def _test() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [101, 102, 103, 104, 105, 106],
        "text": [
            "The quick brown fox!",     # exact copy of train row 0 (id differs)
            "  hello   world ",         # near: case, punctuation, whitespace of train row 1
            "stay calm",                # same text but x differs at the 2nd digit: not a dup
            "fine print",               # near: NFKC folds the ligature of train row 3
            "alpha beta",               # a different text: not a dup
            "Hello, World",             # text dup of row 1 but category differs
        ],
        "x": [0.1234561, 2.5, 3.3, 4.0, 5.0, 2.5],
        "cat": ["a", "b", "c", "d", "e", "z"],
    })


def test_normalisation_primitives() -> None:
    assert normalise_text("  Hello,   WORLD! ") == "helloworld"
    assert normalise_text("ﬁne") == "fine"
    assert normalise_text("１２３") == "123"  # full-width digits
    assert round_sig(0.12345678, 4) == round_sig(0.1234999, 4) == "0.1235"
    assert round_sig(1234567.0, 3) == round_sig(1230000.0, 3)
    assert round_sig(0.0, 4) == "0"


def test_planted_exact_and_near_duplicates_are_found() -> None:
    result = train_test_overlap(_train(), _test(), text_columns=["text"], digits=4)
    assert result.columns == ["text", "x", "cat"]  # id inferred and excluded, label not shared
    assert result.exact == 1
    assert result.near == 3  # exact row 0 + rows 1 and 3
    exact = [e for e in result.examples if e["kind"] == "exact"]
    near = [e for e in result.examples if e["kind"] == "near"]
    assert [(e["test_row"], e["train_row"]) for e in exact] == [(0, 0)]
    assert sorted((e["test_row"], e["train_row"]) for e in near) == [(1, 1), (3, 3)]
    # the text column alone also matches test row 5 (another category) and row 2 ("stay calm")
    assert result.text_duplicates == {"text": 5}
    assert result.exact_fraction == pytest.approx(1 / 6)
    assert result.status() == "fail"  # 1/6 exact >= 5%, no labels to say it is harmless


def test_no_false_duplicates_and_digits_matter() -> None:
    train = pd.DataFrame({"a": [1.0001, 2.0, 3.0], "b": ["x", "y", "z"]})
    test = pd.DataFrame({"a": [1.0002, 2.01, 4.0], "b": ["x", "y", "z"]})
    loose = train_test_overlap(train, test, digits=4)
    assert (loose.exact, loose.near) == (0, 1)  # 1.0001 ~ 1.0002 at 4 digits; 2.0 != 2.01
    strict = train_test_overlap(train, test, digits=6)
    assert (strict.exact, strict.near) == (0, 0)
    assert strict.status() == "pass"


def test_label_agreement_and_missing_values() -> None:
    train = pd.DataFrame({"f": ["a", None, "c"], "y": [1, 0, 1]})
    test = pd.DataFrame({"f": ["a", None, "q"]})
    labels = pd.DataFrame({"y": [1, 1, 0]})
    result = train_test_overlap(train, test, label_columns=["y"], test_labels=labels)
    assert result.exact == 2  # missing equals missing
    assert result.label_agreement == pytest.approx(0.5)


def test_infer_columns_and_bad_input() -> None:
    train = pd.DataFrame({"PassengerId": ["a", "b"], "Age": [1, 2], "y": [0, 1]})
    test = pd.DataFrame({"PassengerId": ["c", "d"], "Age": [1, 3]})
    assert infer_columns(train, test) == ["Age"]
    with pytest.raises(DataError, match="digits"):
        train_test_overlap(train, test, digits=0)
    with pytest.raises(DataError, match="not in both"):
        train_test_overlap(train, test, columns=["y"])


def test_overlap_from_dirs(tmp_path: Path) -> None:
    public, private = tmp_path / "public", tmp_path / "private"
    public.mkdir()
    private.mkdir()
    pd.DataFrame({"id": [1, 2, 3], "v": [1.5, 2.5, 3.5], "y": ["p", "q", "p"]}).to_csv(
        public / "train.csv", index=False)
    pd.DataFrame({"id": [7, 8], "v": [2.5, 9.0]}).to_csv(public / "test.csv", index=False)
    pd.DataFrame({"id": [7, 8], "y": ["q", "p"]}).to_csv(private / "test.csv", index=False)
    result = overlap_from_dirs(public, task="toy", answers_path=private / "test.csv")
    assert (result.exact, result.n_test, result.columns) == (1, 2, ["v"])
    assert result.label_agreement == 1.0
    with pytest.raises(DataError, match="no file"):
        overlap_from_dirs(tmp_path)


def test_real_competitions(mlebench_data: Path) -> None:
    """What the real prepared splits hold (fixed data: MLE-bench checksums)."""
    found = {}
    for comp in ("spaceship-titanic", "leaf-classification",
                 "nomad2018-predict-transparent-conductors",
                 "detecting-insults-in-social-commentary"):
        prepared = mlebench_data / comp / "prepared"
        found[comp] = overlap_from_dirs(prepared / "public", task=comp,
                                        answers_path=prepared / "private" / "test.csv")
    assert found["spaceship-titanic"].near == 0
    assert found["leaf-classification"].near == 0
    nomad = found["nomad2018-predict-transparent-conductors"]
    # 147 of 240 test rows repeat a train row's tabular features, but the targets differ
    # (the crystal geometry files tell them apart): not exploitable, so a warning.
    assert (nomad.exact, nomad.near, nomad.n_test) == (147, 147, 240)
    assert nomad.label_agreement is not None and nomad.label_agreement < 0.1
    assert nomad.status() == "warn"
    insults = found["detecting-insults-in-social-commentary"]
    assert insults.exact == 0
    assert insults.text_duplicates == {"Comment": 23}  # same comment, another date
    assert insults.label_agreement == 1.0
    assert insults.status() == "warn"
