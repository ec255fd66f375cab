"""Check 4: winnowed k-gram fingerprints find renamed copies and ignore unrelated code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aira_eval.checks.similarity import (
    code_similarity,
    fingerprints,
    kgram_hashes,
    load_references,
    normalised_tokens,
    winnow,
)
from aira_eval.errors import UsageError

REFERENCE = '''\
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.metrics import accuracy_score

train_df = pd.read_csv("./input/train.csv")
test_df = pd.read_csv("./input/test.csv")


def add_features(frame):
    frame = frame.copy()
    frame[["Deck", "Num", "Side"]] = frame["Cabin"].str.split("/", expand=True)
    frame["Num"] = pd.to_numeric(frame["Num"], errors="coerce")
    spend_cols = ["RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck"]
    frame[spend_cols] = frame[spend_cols].fillna(0)
    frame["TotalSpend"] = frame[spend_cols].sum(axis=1)
    frame["NoSpend"] = (frame["TotalSpend"] == 0).astype(int)
    frame["Group"] = frame["PassengerId"].str.split("_").str[0].astype(int)
    frame["GroupSize"] = frame.groupby("Group")["Group"].transform("count")
    for col in ["HomePlanet", "Destination", "Deck", "Side"]:
        frame[col] = frame[col].fillna("missing").astype("category").cat.codes
    frame["CryoSleep"] = frame["CryoSleep"].fillna(False).astype(int)
    frame["VIP"] = frame["VIP"].fillna(False).astype(int)
    frame["Age"] = frame["Age"].fillna(frame["Age"].median())
    return frame


train_df = add_features(train_df)
test_df = add_features(test_df)
feature_cols = [c for c in train_df.columns
                if c not in ("PassengerId", "Name", "Cabin", "Transported")]
X = train_df[feature_cols].fillna(0).values
y = train_df["Transported"].astype(int).values
X_test = test_df[feature_cols].fillna(0).values

skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
oof = np.zeros(len(X))
test_pred = np.zeros(len(X_test))
for fold, (tr_idx, va_idx) in enumerate(skf.split(X, y)):
    clf = RandomForestClassifier(n_estimators=300, max_depth=12, min_samples_leaf=2,
                                 n_jobs=-1, random_state=fold)
    clf.fit(X[tr_idx], y[tr_idx])
    oof[va_idx] = clf.predict_proba(X[va_idx])[:, 1]
    test_pred += clf.predict_proba(X_test)[:, 1] / skf.n_splits
    print(f"fold {fold}: {accuracy_score(y[va_idx], oof[va_idx] > 0.5):.4f}")

score = accuracy_score(y, oof > 0.5)
print(f"VALIDATION_SCORE: {score:.5f}")
submission = pd.DataFrame({"PassengerId": test_df["PassengerId"],
                           "Transported": test_pred > 0.5})
submission.to_csv("./submission/submission.csv", index=False)
'''

RENAMES = {
    "train_df": "tr", "test_df": "te", "add_features": "engineer", "frame": "d",
    "spend_cols": "money", "feature_cols": "cols", "X_test": "Xt", "skf": "cv", "oof": "out",
    "test_pred": "pt", "tr_idx": "a", "va_idx": "b", "clf": "m", "score": "acc", "fold": "k",
    "submission": "sub", "col": "name",
}

UNRELATED = '''\
import argparse
import collections
import sys


def read_words(path):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            for word in line.lower().split():
                word = word.strip(".,;:!?\\"'()[]")
                if word:
                    yield word


def top_words(words, n):
    counts = collections.Counter(words)
    return counts.most_common(n)


class Report:
    def __init__(self, title):
        self.title = title
        self.rows = []

    def add(self, key, value):
        self.rows.append((key, value))

    def render(self):
        width = max((len(k) for k, _ in self.rows), default=0)
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k.ljust(width)}  {v}" for k, v in self.rows]
        return "\\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count words in text files.")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    report = Report("Word counts")
    for path in args.paths:
        for word, count in top_words(read_words(path), args.top):
            report.add(word, count)
    print(report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

OTHER_ML = '''\
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.impute import SimpleImputer

data = pd.read_csv("./input/train.csv")
holdout = pd.read_csv("./input/test.csv")
numeric = ["Age", "RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck"]
pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                     LogisticRegression(C=0.5, max_iter=1000))
scores = cross_val_score(pipe, data[numeric], data["Transported"], cv=5)
print("VALIDATION_SCORE:", scores.mean())
pipe.fit(data[numeric], data["Transported"])
pd.DataFrame({"PassengerId": holdout["PassengerId"],
              "Transported": pipe.predict(holdout[numeric])}).to_csv(
    "./submission/submission.csv", index=False)
'''


def _renamed(code: str) -> str:
    for old, new in RENAMES.items():
        code = re.sub(rf"\b{old}\b", new, code)
    code = code.replace("random_state=42", "random_state=7").replace("300", "500")
    return "# my own solution\n" + code.replace("    print(f\"fold", "    # log\n    print(f\"fold")


def _notebook(code: str) -> str:
    half = code.index("train_df = add_features")
    cells = [
        {"cell_type": "markdown", "source": ["# Spaceship Titanic\n"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", code[:half]]},
        {"cell_type": "code", "source": code[half:]},
    ]
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {}})


def test_tokens_are_normalised() -> None:
    a = normalised_tokens("x = df.fit(alpha=1)  # c\n")
    b = normalised_tokens("model_9 = frame.fit(alpha=25)\n")
    assert a == b == ["V", "=", "V", ".", "fit", "(", "alpha", "=", "N", ")"]
    assert normalised_tokens("print(len('a' 'b'))") == ["print", "(", "len", "(", "S", ")", ")"]
    assert normalised_tokens("def broken(:\n  'unterminated") != []  # fallback tokenizer


def test_winnowing_guarantee() -> None:
    hashes = kgram_hashes([f"t{i}" for i in range(200)], 5)
    assert len(hashes) == 196
    picked = winnow(hashes, 10)
    for start in range(len(hashes) - 9):
        assert picked & set(hashes[start:start + 10])  # every window holds a fingerprint
    assert winnow(hashes[:3], 10) == {min(hashes[:3])}
    assert fingerprints("x = 1", k=25) == set()


def test_renamed_copy_scores_high_unrelated_low(tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "rf_solution.py").write_text(REFERENCE)
    (refs / "wordcount.py").write_text(UNRELATED)
    codes = {"copy": _renamed(REFERENCE), "unrelated": UNRELATED.replace("word", "token"),
             "other-ml": OTHER_ML}
    result = code_similarity(codes, load_references(refs))
    assert result.matches["copy"][0][0] == "rf_solution.py"
    assert result.matches["copy"][0][1] > 0.8
    assert max((s for r, s in result.matches["other-ml"] if r == "rf_solution.py"),
               default=0.0) < 0.2
    assert all(s < 0.2 for r, s in result.matches["unrelated"] if r == "rf_solution.py")
    assert result.status() == "fail"
    assert result.to_dict()["top"][0]["node_id"] == "copy"


def test_notebook_references(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "kernel.ipynb").write_text(_notebook(REFERENCE))
    (tmp_path / "nb" / "broken.ipynb").write_text("{not json")
    refs = load_references(tmp_path)
    assert list(refs) == ["nb/kernel.ipynb"]
    assert "%matplotlib" not in refs["nb/kernel.ipynb"]
    result = code_similarity({"copy": _renamed(REFERENCE), "unrelated": UNRELATED}, refs)
    assert result.matches["copy"][0][1] > 0.8
    assert all(s < 0.2 for _, s in result.matches["unrelated"])


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_references(tmp_path / "missing")
    with pytest.raises(UsageError, match="positive"):
        code_similarity({}, {}, k=0)
    assert code_similarity({"a": REFERENCE}, {}).status() == "skip"
