"""Task YAML: schema validation naming the bad field, preparation with MLE-bench's convention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from aira_eval.datasets.prepare import compute_checksums, md5_file, read_checksums
from aira_eval.datasets.registry import resolve_task
from aira_eval.datasets.yaml_prepare import prepare_yaml
from aira_eval.datasets.yaml_task import load_task_yaml
from aira_eval.errors import DataError, UsageError


def _raw(tmp_path: Path, n: int = 200) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "key": [f"r{i:04d}" for i in range(n)],
        "x": rng.normal(size=n).round(4),
        "color": rng.choice(["red", "blue"], size=n),
        "label": rng.choice(["yes", "no"], size=n),
        "kind": rng.choice(["a", "b", "c"], size=n),
        "y": rng.uniform(1, 5, size=n).round(3),
    })
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    frame.to_csv(raw / "train.csv", index=False)
    return raw


def _yaml(raw: Path, **fields: Any) -> Path:
    spec = {"name": "toy", "files": {"train": "train.csv"}, "id_column": "key",
            "target_columns": ["label"], "metric": "roc_auc", "positive_label": "yes"}
    spec.update(fields)
    spec = {k: v for k, v in spec.items() if v is not None}
    path = raw / "task.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_prepare_split_layout_and_checksums(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    out = tmp_path / "out"
    written = prepare_yaml(load_task_yaml(_yaml(raw)), out)
    public, private = out / "prepared" / "public", out / "prepared" / "private"
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    assert (len(train), len(test)) == (180, 20)
    assert "label" not in test.columns
    answers = pd.read_csv(private / "test.csv")
    assert set(answers["label"]) <= {0, 1} and set(answers["key"]) == set(test["key"])
    assert read_checksums(out / "checksums.yaml") == {
        f"{s}/{n}": h for s, f in compute_checksums(out / "prepared").items() for n, h in f.items()}
    task = resolve_task(str(written), heldouts=False, cache_dir=tmp_path / "c")
    assert task.source == "yaml" and task.metric == "roc_auc" and not task.lower_is_better
    assert task.grade(task.sample_submission_path).valid_submission
    assert "probability" in task.description() and "`label` is `yes`" in task.description()


def test_checksums_cover_extra_files(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    (raw / "notes.txt").write_text("extra public file\n")
    out = tmp_path / "out"
    prepare_yaml(load_task_yaml(_yaml(raw, files={"train": "train.csv",
                                                  "extra": ["notes.txt"]})), out)
    stored = read_checksums(out / "checksums.yaml")
    assert stored["public/notes.txt"] == md5_file(raw / "notes.txt")
    assert set(stored) == {"public/train.csv", "public/test.csv", "public/sample_submission.csv",
                           "public/description.md", "public/notes.txt", "private/test.csv"}


def test_split_matches_sklearn_convention(tmp_path: Path) -> None:
    from sklearn.model_selection import train_test_split

    raw = _raw(tmp_path)
    prepare_yaml(load_task_yaml(_yaml(raw)), tmp_path / "out")
    frame = pd.read_csv(raw / "train.csv")
    new_train, _ = train_test_split(frame, test_size=0.1, random_state=0)
    train = pd.read_csv(tmp_path / "out" / "prepared" / "public" / "train.csv")
    assert train["key"].tolist() == new_train["key"].tolist()


def test_spaceship_raw_reproduces_mlebench_prepared_files(
    tmp_path: Path, mlebench_data: Path
) -> None:
    raw = mlebench_data / "spaceship-titanic" / "raw"
    path = tmp_path / "spaceship.yaml"
    path.write_text(yaml.safe_dump({
        "name": "spaceship", "files": {"train": str(raw / "train.csv")},
        "id_column": "PassengerId", "target_columns": "Transported", "metric": "accuracy"}))
    prepare_yaml(load_task_yaml(path), tmp_path / "out")
    ours = compute_checksums(tmp_path / "out" / "prepared")["public"]
    theirs = read_checksums(mlebench_data / "spaceship-titanic" / "checksums.yaml")
    assert ours["train.csv"] == theirs["public/train.csv"]
    assert ours["test.csv"] == theirs["public/test.csv"]


def test_given_test_and_answers(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    frame = pd.read_csv(raw / "train.csv")
    frame.iloc[:150].to_csv(raw / "tr.csv", index=False)
    frame.iloc[150:].drop(columns=["y"]).to_csv(raw / "te.csv", index=False)
    frame.iloc[150:][["key", "y"]].to_csv(raw / "ans.csv", index=False)
    path = _yaml(raw, files={"train": "tr.csv", "test": "te.csv", "answers": "ans.csv"},
                 target_columns="y", metric="rmse", positive_label=None, direction="lower")
    task = resolve_task(str(path), cache_dir=tmp_path / "c", heldouts=False)
    assert task.lower_is_better and task.problem.prediction == "regression"
    assert len(task.answers()) == 50
    perfect = task.answers()
    assert task.grader.grade(perfect, perfect) == 0.0


def test_class_probabilities_infer_classes_and_no_id_column(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    path = _yaml(raw, id_column=None, target_columns=["kind"], metric="multiclass_log_loss",
                 positive_label=None)
    task = resolve_task(str(path), cache_dir=tmp_path / "c", heldouts=False)
    assert task.problem.submission_columns == ("a", "b", "c")
    assert task.problem.id_columns == ("id",)
    train = pd.read_csv(task.public_dir / "train.csv")
    assert train.columns[0] == "id" and train["id"].is_unique
    assert task.grade(task.sample_submission_path).valid_submission


def test_raw_yaml_is_prepared_once_into_the_cache(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    path = _yaml(raw)
    first = resolve_task(str(path), cache_dir=tmp_path / "c")
    second = resolve_task(str(path), cache_dir=tmp_path / "c")
    assert first.location == second.location
    assert first.heldout_names == ["search", "select", "test"]
    assert first.location is not None and first.location.is_relative_to(tmp_path / "c")
    assert not (raw / "prepared").exists()


def test_out_dir_not_empty(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    spec = load_task_yaml(_yaml(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        prepare_yaml(spec, out)
    prepare_yaml(spec, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "task.yaml").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"name": None}, "name"),
        ({"name": "bad name!"}, "name"),
        ({"metric": "aucc"}, "metric"),
        ({"metric": None}, "metric"),
        ({"direction": "lower"}, "direction"),
        ({"direction": "up"}, "direction"),
        ({"prediction": "regression"}, "prediction"),
        ({"target_columns": ["label", "y"]}, "target_columns"),
        ({"target_columns": None}, "target_columns"),
        ({"files": {"train": "missing.csv"}}, "files.train"),
        ({"files": {"train": "train.csv", "test": "train.csv"}}, "files.answers"),
        ({"files": {"train": "train.csv", "bogus": "x"}}, "files.bogus"),
        ({"files": None}, "files"),
        ({"metrics": "roc_auc"}, "metrics"),
        ({"split": {"test_size": 2}}, "split.test_size"),
        ({"class_columns": ["a"]}, "class_columns"),
    ],
)
def test_validation_names_the_bad_field(tmp_path: Path, fields: dict, field_name: str) -> None:
    raw = _raw(tmp_path)
    with pytest.raises(UsageError) as err:
        load_task_yaml(_yaml(raw, **fields))
    assert f"field `{field_name}`" in err.value.message


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="mapping"):
        load_task_yaml(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_task_yaml(path)


def test_data_that_does_not_fit_the_yaml(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    with pytest.raises(DataError, match="lacks column"):
        prepare_yaml(load_task_yaml(_yaml(raw, target_columns="nope")), tmp_path / "o1")
    frame = pd.read_csv(raw / "train.csv")
    pd.concat([frame, frame.head(3)]).to_csv(raw / "train.csv", index=False)
    with pytest.raises(DataError, match="repeat"):
        prepare_yaml(load_task_yaml(_yaml(raw)), tmp_path / "o2")
    assert not (tmp_path / "o2").exists()


# -- f1 and positive_label -------------------------------------------------------------------


def test_f1_with_string_labels_scores_the_positive_label(tmp_path: Path) -> None:
    from sklearn.metrics import f1_score

    raw = _raw(tmp_path)
    written = prepare_yaml(load_task_yaml(_yaml(raw, metric="f1")), tmp_path / "out")
    task = resolve_task(str(written), heldouts=False, cache_dir=tmp_path / "c")
    answers = task.answers()
    assert set(answers["label"]) == {"yes", "no"}
    perfect = tmp_path / "perfect.csv"
    answers.to_csv(perfect, index=False)
    report = task.grade(perfect, heldouts=False)
    assert report.valid_submission and report.score == 1.0
    flipped = answers.assign(label=answers["label"].map({"yes": "no", "no": "yes"}))
    flipped.loc[:9, "label"] = answers.loc[:9, "label"]
    wrong = tmp_path / "wrong.csv"
    flipped.to_csv(wrong, index=False)
    expected = f1_score(answers["label"], flipped["label"], pos_label="yes")
    assert 0 < expected < 1
    assert task.grade(wrong, heldouts=False).raw_score == pytest.approx(expected, abs=1e-12)
    assert "the positive label is `yes`" in task.description()


def test_f1_with_string_labels_needs_positive_label(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    spec = load_task_yaml(_yaml(raw, metric="f1", positive_label=None))
    with pytest.raises(UsageError, match="field `positive_label` is required") as info:
        prepare_yaml(spec, tmp_path / "out")
    assert "(no, yes) are not 0/1" in str(info.value)
    assert info.value.hint is not None and "positive_label: 'yes'" in info.value.hint
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match="positive_label"):  # loading a raw YAML prepares it
        resolve_task(str(raw / "task.yaml"), heldouts=False, cache_dir=tmp_path / "c")
    typo = load_task_yaml(_yaml(raw, metric="f1", positive_label="Yes"))
    with pytest.raises(UsageError, match=r"'Yes' is none of the labels of 'label' \(no, yes\)"):
        prepare_yaml(typo, tmp_path / "out")


def test_probability_with_string_labels_needs_positive_label(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    spec = load_task_yaml(_yaml(raw, positive_label=None))
    with pytest.raises(UsageError, match="field `positive_label` is required"):
        prepare_yaml(spec, tmp_path / "out")


def test_f1_with_0_1_labels_defaults_to_positive_1(tmp_path: Path) -> None:
    from sklearn.metrics import f1_score

    raw = _raw(tmp_path)
    frame = pd.read_csv(raw / "train.csv")
    frame["flag"] = (frame["label"] == "yes").astype(int)
    frame.to_csv(raw / "train.csv", index=False)
    spec = load_task_yaml(_yaml(raw, metric="f1", target_columns=["flag"], positive_label=None))
    assert spec.positive_label == 1
    task = resolve_task(str(prepare_yaml(spec, tmp_path / "out")), heldouts=False,
                        cache_dir=tmp_path / "c")
    answers = task.answers()
    guess = answers.assign(flag=1 - answers["flag"])
    guess.loc[:4, "flag"] = answers.loc[:4, "flag"]
    path = tmp_path / "guess.csv"
    guess.to_csv(path, index=False)
    expected = f1_score(answers["flag"], guess["flag"])
    assert task.grade(path, heldouts=False).raw_score == pytest.approx(expected, abs=1e-12)


def test_prepared_yaml_without_positive_label_fails_to_load(tmp_path: Path) -> None:
    # a task prepared before positive_label applied to f1 (or edited by hand) lacks it
    raw = _raw(tmp_path)
    written = prepare_yaml(load_task_yaml(_yaml(raw, metric="f1")), tmp_path / "out")
    stored = yaml.safe_load(written.read_text())
    del stored["positive_label"]
    written.write_text(yaml.safe_dump(stored))
    with pytest.raises(UsageError, match="field `positive_label` is required"):
        resolve_task(str(written), heldouts=False, cache_dir=tmp_path / "c")
