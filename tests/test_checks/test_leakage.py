"""Check 2: the static leakage scan flags planted cheating and passes honest code."""

from __future__ import annotations

import random

from aira_eval.checks.code_leakage import (
    LeakageContext,
    scan_code,
    scan_nodes,
)

CLEAN = '''\
"""Gradient boosting on the tabular features; see https://scikit-learn.org for details."""
import os

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

train = pd.read_csv("./input/train.csv")
test = pd.read_csv("./input/test.csv")
target = "Transported"
features = ["CryoSleep", "Age", "VIP", "RoomService", "FoodCourt", "Spa", "VRDeck"]
X = train[features].astype(float).fillna(0.0)
y = train[target].astype(int)
model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
folds = cross_val_score(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
print(f"VALIDATION_SCORE: {np.mean(folds):.5f} FOLDS: {','.join(map(str, folds))}")
model.fit(X, y)
test["Transported"] = model.predict(test[features].astype(float).fillna(0.0)).astype(bool)
os.makedirs("./submission", exist_ok=True)
test[["PassengerId", "Transported"]].to_csv("./submission/submission.csv", index=False)
parts = "a/b".split("/")
'''

CTX = LeakageContext(
    label_columns=("Transported",),
    label_vocabulary=frozenset({"True", "False"}),
    n_test=870,
    answer_names=("gold_submission.csv",),
    data_dirs=("/root/.cache/mle-bench/data",),
)


def _rules(code: str, ctx: LeakageContext = CTX) -> set[str]:
    return {f.rule for f in scan_code("n1", code, ctx)}


def test_clean_sklearn_code_passes() -> None:
    assert scan_code("n1", CLEAN, CTX) == []
    assert scan_nodes({"n1": CLEAN, "n2": CLEAN}, CTX).status() == "pass"


def test_absolute_path_read_of_private_file() -> None:
    code = CLEAN + 'y_true = pd.read_csv("/root/.cache/mle-bench/data/spaceship-titanic/' \
        'prepared/private/test.csv")\n'
    findings = scan_code("leaky", code, CTX)
    assert [(f.rule, f.line, f.severity) for f in findings] == [("private-path", 23, "fail")]
    assert "prepared/private/test.csv" in findings[0].snippet
    assert findings[0].node_id == "leaky"


def test_relative_private_path_and_answer_names() -> None:
    assert _rules('import pandas as pd\nans = pd.read_csv("../private/test.csv")\n') == {
        "private-path"}
    assert _rules('g = open("input/../gold_submission.csv").read()\n') == {"private-path"}
    assert _rules('p = "../other/train.csv"\n') == {"parent-dir"}
    # the data dir alone (no 'private' in the literal) is also named
    assert _rules('root = "/root/.cache/mle-bench/data"\n') == {"private-path"}


def test_network_access() -> None:
    code = "import requests\nr = requests.get('https://example.com/data.csv')\n"
    rules = _rules(code)
    assert {"network", "url"} <= rules
    assert _rules("from urllib.request import urlopen\n") == {"network"}
    assert _rules("import os\nos.system('wget http://x.y/z.csv')\n") == {"network"}


NET_CALLS = [
    'import subprocess\nsubprocess.run(["curl", "-s", "https://x.org/a.csv", "-o", "a.csv"])\n',
    'import subprocess\nsubprocess.check_call(["wget", "-q", URL])\n',
    'from subprocess import Popen\nPopen(["/usr/bin/curl", URL]).wait()\n',
    'import shutil, subprocess\nexe = shutil.which("curl")\nsubprocess.Popen([exe, URL])\n',
    'import shutil, subprocess\nsubprocess.Popen([shutil.which("wget"), URL])\n',
    'import os\nos.execvp("curl", ["curl", URL])\n',
    'import os\nos.execl("/usr/bin/wget", "wget", URL)\n',
    'import os\nos.spawnvp(os.P_WAIT, "curl", ["curl", URL])\n',
    'import subprocess\ncmd = ["curl", URL]\ncmd += ["-o", "a.csv"]\nsubprocess.run(cmd)\n',
    'import subprocess, shlex\nsubprocess.run(shlex.split(f"curl -s {URL}"))\n',
    'import subprocess\nsubprocess.run("curl " + URL, shell=True)\n',
    'import subprocess\nsubprocess.run(["bash", "-c", "cd x && wget " + URL])\n',
    'import os\ntool = "wget"\nos.system(f"{tool} {URL}")\n',
    'import asyncio\nasyncio.create_subprocess_exec("curl", URL)\n',
    'import subprocess\nsubprocess.run(["sudo", "curl", URL])\n',
]


def test_network_commands_started_as_processes() -> None:
    """F4: an argv list (or a resolved command) running curl/wget is a network failure, not
    only a URL warning — whichever way the process is started."""
    for code in NET_CALLS:
        found = scan_code("n1", code, CTX)
        network = [f for f in found if f.rule == "network"]
        assert network and all(f.severity == "fail" for f in network), code
        last = len(code.splitlines())
        assert any(f.line == last for f in network), (code, network)


def test_curl_as_a_word_is_not_a_network_command() -> None:
    benign = [
        "# download the data with curl first, then run this\nx = 1\n",
        'print("install curl first")\n',
        'msg = "curl is not needed: the data is in ./input"\n',
        'TOOLS = ["curl", "wget"]\n',
        'import shutil\nhave_curl = shutil.which("curl") is not None\n',
        'import subprocess\nsubprocess.run(["ls", "-l", "curl"])\n',
        'import subprocess\nsubprocess.run(["echo", "curl"])\n',
        'import subprocess\nsubprocess.run("echo curl is fine", shell=True)\n',
        'breeds = ["chow", "curly-coated_retriever"]\n',
    ]
    for code in benign:
        assert scan_code("n1", code, CTX) == [], code


def test_unparsable_code_with_curl_argv_fails_by_regex() -> None:
    code = 'def broken(:\nsubprocess.run(["curl", url])\nprint("curl is slow")\n'
    result = scan_nodes({"bad": code})
    assert [(f.rule, f.line) for f in result.findings] == [("network", 2)]


def test_hardcoded_label_list() -> None:
    rng = random.Random(0)
    labels = [rng.choice([True, False]) for _ in range(800)]
    code = CLEAN + f"preds = {labels!r}\n"
    findings = [f for f in scan_code("n1", code, CTX) if f.rule == "hardcoded-labels"]
    assert len(findings) == 1 and findings[0].severity == "fail"
    assert "800 literals" in findings[0].detail
    # without any task knowledge an 800-item list over two values is still flagged
    assert "hardcoded-labels" in _rules(code, LeakageContext())
    # exactly n_test items, even fewer than min_labels
    short = f"p = {[rng.randint(0, 2) for _ in range(50)]!r}\n"
    assert "hardcoded-labels" in _rules(short, LeakageContext(n_test=50))
    # in one long delimited string
    joined = ",".join("1" if v else "0" for v in labels)
    assert "hardcoded-labels" in _rules(f'p = "{joined}".split(",")\n')


def test_lists_that_are_not_labels() -> None:
    classes = [f"Species_{i}" for i in range(150)]  # a class list: all distinct
    assert _rules(f"classes = {classes!r}\n") == set()
    grid = list(range(100))  # a parameter grid
    assert _rules(f"grid = {grid!r}\n") == set()
    assert _rules(f"small = {[0, 1] * 10!r}\n") == set()


def test_reading_test_labels() -> None:
    code = ("import pandas as pd\ntest = pd.read_csv('./input/test.csv')\n"
            "y_test = test['Transported']\n")
    found = scan_code("n1", code, CTX)
    assert [(f.rule, f.line) for f in found] == [("test-labels", 3)]
    attr = "import pandas as pd\nt = pd.read_csv('x/test.csv')\nprint(t.Transported.mean())\n"
    assert _rules(attr) == {"test-labels"}


def test_warn_level_paths() -> None:
    assert _rules("import pandas as pd\ndf = pd.read_csv('/data/train.csv')\n") == {
        "absolute-path"}
    assert _rules("import os\np = os.path.expanduser('~/kaggle.json')\n") == {"home-dir"}
    assert _rules("cache = '/tmp/model.pt'\n") == set()
    result = scan_nodes({"n1": "x = pd.read_csv('/data/train.csv')\n"})
    assert result.status() == "warn" and result.flagged_nodes == []


def test_unparsable_code_falls_back_to_regexes() -> None:
    code = "def broken(:\n    df = pd.read_csv('../private/test.csv')\nimport requests\n"
    result = scan_nodes({"bad": code})
    assert result.unparsable == ["bad"]
    assert {(f.rule, f.line) for f in result.findings} == {("private-path", 2), ("network", 3)}
    assert result.status() == "fail"
    assert result.flagged_nodes == ["bad"]


def test_clean_procedural_template_style_code_passes() -> None:
    """The shape of the procedural operator's scripts: constants for files, columns, classes."""
    classes = [f"Species_{i}" for i in range(99)]
    code = f'''\
"""Logistic regression on 192 numeric features.

Reads only ./input/ and writes ./submission/submission.csv.
"""
from pathlib import Path

import numpy as np
import pandas as pd

INPUT = Path("input")
SUBMISSION = Path("submission") / "submission.csv"
TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
ID_COLUMNS = ["id"]
TARGETS = ["species"]
CLASS_COLUMNS = {classes!r}
NUMERIC = {[f"margin{i}" for i in range(1, 65)]!r}
SUBMISSION_ORDER = ("id", *CLASS_COLUMNS)


def main():
    train = pd.read_csv(INPUT / TRAIN_FILE)
    test = pd.read_csv(INPUT / TEST_FILE)
    probs = np.full((len(test), len(CLASS_COLUMNS)), 1.0 / len(CLASS_COLUMNS))
    sub = pd.DataFrame(probs, columns=CLASS_COLUMNS)
    sub.insert(0, "id", test["id"].to_numpy())
    SUBMISSION.parent.mkdir(parents=True, exist_ok=True)
    sub[list(SUBMISSION_ORDER)].to_csv(SUBMISSION, index=False)
    print("VALIDATION_SCORE: 4.59")


main()
'''
    ctx = LeakageContext(label_columns=tuple(classes), label_vocabulary=frozenset({"0", "1"}),
                         n_test=99, answer_names=(), data_dirs=("/data/mlebench",))
    assert scan_code("proc", code, ctx) == []
