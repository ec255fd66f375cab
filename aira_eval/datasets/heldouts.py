"""Held-out sets ``search`` and ``select``: fixed, seeded, disjoint fractions of the public train.

Their labels become private answers files (in the task's own answer format); their feature
rows are mixed into the agent-facing test file and the sample submission is extended to cover
them, so a solution predicts them without knowing which rows they are. Everything is written
to a derived task directory under the cache, never into the source data:

```
<cache>/heldouts/<source>/<name>/<fingerprint>-search<f>-select<f>-seed<s>/
  prepared/public/    train.csv (minus held-out rows), test.csv (+ held-out rows, shuffled),
                      sample submission (covering every test id), other public files linked
  prepared/private/   test answers (copied), search.csv, select.csv
  checksums.yaml      md5 of the prepared files (MLE-bench format)
  heldouts.json       task id, seed, fractions, sizes, source fingerprint
```
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aira_eval.datasets.prepare import (
    CHECKSUMS_FILE,
    atomic_build,
    fingerprint,
    link_or_copy,
    read_csv_text,
    write_checksums,
    write_csv,
)
from aira_eval.datasets.task import TEST, Task
from aira_eval.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

AnswersFromTrain = Callable[["pd.DataFrame"], "pd.DataFrame | None"]
"""Turns labelled train rows into answers in the task's answer format (None: cannot)."""

HELDOUTS_FORMAT = 1
MIN_TRAIN_ROWS = 10


@dataclass(frozen=True)
class HeldoutConfig:
    """Fractions of the public train withheld as ``search`` and ``select``, and the seed.

    A fraction of 0 omits that set. Defaults: 10 % each, seed 0.
    """

    search: float = 0.1
    select: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("search", "select"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise UsageError(f"held-out fraction {name}={value} must lie in [0, 1)")
        if self.search + self.select >= 0.9:
            raise UsageError(
                f"held-out fractions search={self.search} + select={self.select} leave "
                "less than 10% of the train rows"
            )

    def fractions(self) -> dict[str, float]:
        """Non-empty sets only: ``{"search": 0.1, "select": 0.1}``."""
        return {n: f for n, f in (("search", self.search), ("select", self.select)) if f > 0}

    def key(self) -> str:
        return f"search{self.search:g}-select{self.select:g}-seed{self.seed}"


def default_heldouts(source: str) -> bool:
    """Off for ``mlebench`` (comparability with published numbers), on for the others."""
    return source != "mlebench"


def build_heldouts(task: Task, config: HeldoutConfig, cache_dir: Path) -> Task:
    """A derived copy of ``task`` with ``search``/``select`` sets (built once, then cached).

    Raises:
        DataError: the task cannot build them; the message says why.
    """
    if not config.fractions():
        return task
    files = _source_files(task)
    key = f"{fingerprint(files.values(), extra=task.task_id)}-{config.key()}"
    root = cache_dir / "heldouts" / task.source / _safe(task.name) / key
    if not (root / "heldouts.json").is_file():
        atomic_build(root, lambda tmp: _build(task, config, files, tmp))
    return load_derived(task, root)


def cannot_build(task: Task, why: str) -> DataError:
    """The error of a task that cannot build held-out sets, saying why and what to do."""
    return DataError(
        f"task {task.task_id} cannot build held-out sets: {why}",
        hint="Use it without held-out sets (--no-heldouts, or heldouts=False), steering by "
        "the agent's own validation score.",
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _source_files(task: Task) -> dict[str, Path]:
    """The train, test and sample submission files, checking the task can build held-out sets."""
    why = _cannot_build_reason(task)
    if why:
        raise cannot_build(task, why)
    assert task.problem is not None
    files = {
        "train": task.public_dir / task.problem.train_file,
        "test": task.public_dir / task.problem.test_file,
        "sample": task.public_dir / task.problem.sample_submission_file,
        "answers": task.answers_path,
    }
    for what, path in files.items():
        if not path.is_file():
            raise DataError(f"task {task.task_id}: its {what} file {path} is missing")
        if path.suffix.lower() != ".csv":
            raise cannot_build(task, f"its {what} file {path.name} is not a CSV file")
    return files


def _cannot_build_reason(task: Task) -> str | None:
    if task.problem is None:
        return "it has no problem spec naming its train/test files and label columns"
    if task.grader.id_column is None:
        return ("its grader matches submission rows by position or text, not by an id "
                "column, so held-out rows cannot be told apart from test rows")
    if task.answers_from_train is None:
        return "there is no known way to turn its train labels into answers"
    return None


def _split_indices(n: int, config: HeldoutConfig) -> dict[str, np.ndarray]:
    import numpy as np

    perm = np.random.default_rng(config.seed).permutation(n)
    out: dict[str, np.ndarray] = {}
    start = 0
    for name, frac in config.fractions().items():
        size = max(1, round(frac * n))
        out[name] = np.sort(perm[start : start + size])
        start += size
    if n - start < MIN_TRAIN_ROWS:
        raise DataError(f"only {n} train rows: too few to withhold {start} as held-out sets",
                        hint="Use smaller held-out fractions or none (--no-heldouts).")
    out["train"] = np.sort(perm[start:])
    return out


def _build(task: Task, config: HeldoutConfig, files: dict[str, Path], out: Path) -> None:
    from aira_eval.datasets.grading import read_answers

    assert task.problem is not None and task.answers_from_train is not None
    id_col = str(task.grader.id_column)
    train_txt, test_txt = read_csv_text(files["train"]), read_csv_text(files["test"])
    _check_ids(task, train_txt, test_txt, id_col)
    parts = _split_indices(len(train_txt), config)
    train_typed = read_answers(files["train"])
    public, private = out / "prepared" / "public", out / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    sizes: dict[str, int] = {}
    held_rows = []
    for name in config.fractions():
        rows = train_typed.iloc[parts[name]].reset_index(drop=True)
        answers = task.answers_from_train(rows)
        _check_answers(task, name, answers, id_col, len(rows))
        assert answers is not None
        write_csv(answers, private / f"{name}.csv")
        sizes[name] = len(answers)
        held_rows.append(_features(task, train_txt.iloc[parts[name]], test_txt))
    new_test = _mix(test_txt, held_rows, config.seed)
    _write_public(task, files, public, train_txt.iloc[parts["train"]], new_test, id_col)
    link_or_copy(task.answers_path, private / _test_answers_name(task))
    sizes[TEST] = len(test_txt)
    meta = {
        "format": HELDOUTS_FORMAT, "task_id": task.task_id, "seed": config.seed,
        "fractions": config.fractions(), "sizes": sizes, "id_column": id_col,
        "train_rows": len(parts["train"]), "test_answers": _test_answers_name(task),
    }
    write_checksums(out)
    (out / "heldouts.json").write_text(json.dumps(meta, indent=2, sort_keys=True))


def _test_answers_name(task: Task) -> str:
    name = task.answers_path.name
    return "test_answers.csv" if name in ("search.csv", "select.csv") else name


def _check_ids(task: Task, train: pd.DataFrame, test: pd.DataFrame, id_col: str) -> None:
    for what, frame in (("train", train), ("test", test)):
        if id_col not in frame.columns:
            raise cannot_build(task, f"its {what} file has no id column {id_col!r}")
    repeated = int(train[id_col].duplicated().sum())
    if repeated:
        raise cannot_build(
            task, f"{repeated} value(s) of its row key {id_col!r} repeat in the train file, so "
            "a held-out row's prediction could not be matched to its answer"
        )
    shared = set(train[id_col]) & set(test[id_col])
    if shared:
        raise cannot_build(
            task, f"{len(shared)} id(s) in column {id_col!r} appear in both train and test "
            f"(e.g. {sorted(shared)[:3]}), so held-out rows could not be told apart from test rows"
        )


def _check_answers(
    task: Task, name: str, answers: pd.DataFrame | None, id_col: str, n_rows: int
) -> None:
    if answers is None:
        raise cannot_build(task, "its train rows cannot be turned into answers")
    if id_col not in answers.columns or len(answers) != n_rows:
        raise DataError(
            f"task {task.task_id}: the {name} answers built from train rows lack the id "
            f"column {id_col!r} or have {len(answers)} rows instead of {n_rows}"
        )


def _features(task: Task, rows: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in test.columns if c not in rows.columns]
    if missing:
        raise cannot_build(task, f"test column(s) {missing[:5]} are not in the train file")
    return rows[list(test.columns)]


def _mix(test: pd.DataFrame, held: list[pd.DataFrame], seed: int) -> pd.DataFrame:
    """Test rows and held-out feature rows together, in a seeded random order."""
    import numpy as np
    import pandas as pd

    combined = pd.concat([test, *held], ignore_index=True)
    order = np.random.default_rng([seed, 1]).permutation(len(combined))
    return combined.iloc[order].reset_index(drop=True)


def _write_public(
    task: Task,
    files: dict[str, Path],
    public: Path,
    train: pd.DataFrame,
    test: pd.DataFrame,
    id_col: str,
) -> None:
    rewritten = {files["train"].name, files["test"].name, files["sample"].name}
    for entry in sorted(task.public_dir.iterdir()):
        if entry.name not in rewritten:
            link_or_copy(entry, public / entry.name)
    write_csv(train, public / files["train"].name)
    write_csv(test, public / files["test"].name)
    sample = read_csv_text(files["sample"])
    write_csv(_extend_sample(task, sample, test[id_col], id_col), public / files["sample"].name)


def _extend_sample(
    task: Task, sample: pd.DataFrame, test_ids: pd.Series, id_col: str
) -> pd.DataFrame:
    """The sample submission with one row per test id, new rows copying its first row."""
    import pandas as pd

    if id_col not in sample.columns or sample.empty:
        raise DataError(f"task {task.task_id}: the sample submission has no {id_col!r} rows")
    known = sample.set_index(id_col, drop=False)
    new_ids = test_ids[~test_ids.isin(known.index)]
    filler = pd.DataFrame([sample.iloc[0].to_dict()] * len(new_ids))
    if len(new_ids):
        filler[id_col] = new_ids.to_numpy()
    full = pd.concat([sample, filler], ignore_index=True).set_index(id_col, drop=False)
    return full.loc[test_ids.to_numpy()].reset_index(drop=True)


def load_derived(task: Task, root: Path) -> Task:
    """``task`` re-pointed at the derived directory ``root`` built by :func:`build_heldouts`."""
    try:
        meta = json.loads((root / "heldouts.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"held-out sets at {root} are unreadable: {err}",
                        hint=f"Delete {root} to rebuild them.") from err
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    heldouts = {name: private / f"{name}.csv" for name in meta["fractions"]}
    answers = private / meta["test_answers"]
    heldouts[TEST] = answers

    def moved(path: Path | None) -> Path | None:
        return public / path.name if path is not None else None

    return dataclasses.replace(
        task,
        public_dir=public,
        private_dir=private,
        answers_path=answers,
        heldouts=heldouts,
        description_path=moved(task.description_path),
        sample_submission_path=moved(task.sample_submission_path),
        checksums_path=root / CHECKSUMS_FILE,
        location=root,
        heldout_seed=int(meta["seed"]),
        heldout_fractions={k: float(v) for k, v in meta["fractions"].items()},
    )
