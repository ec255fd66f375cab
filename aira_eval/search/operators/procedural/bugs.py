"""A failure model for procedural scripts: the bugs real agents' scripts have.

LLM agents' scripts fail often (every node of the three agent logs in the shared test data,
AIDE and aira-dojo runs, is buggy), and a study measures what happens then: debug chains,
debug-depth limits, buggy ancestors, searches whose every node failed. Procedural scripts never
fail on their own, so with probability ``bug_rate`` a draft or improve gets one realistic bug
injected into its rendered script, recorded in the node's config as ``bug``:

| kind | what the script does | how it shows |
|---|---|---|
| ``import`` | imports a misspelt scikit-learn class | ``ImportError`` before anything runs |
| ``fit`` | drops the first label, so X and y differ in length | ``ValueError`` at fit |
| ``predict`` | predicts on a NumPy array, fitted on named columns | ``ValueError`` at predict |
| ``columns`` | renames the submission's last column ``prediction`` | invalid submission (column) |
| ``rows`` | writes only the first 90 % of the test rows | invalid submission (row count) |
| ``nan`` | shifts the predictions one row, leaving a NaN | invalid submission (NaN) |
| ``timeout`` | waits forever for an input file that never appears | the node's time limit |

``debug`` of a node with an injected bug removes it (the script is rendered clean), except with
probability ``debug_fail_rate``, when the fix brings a different bug instead.
"""

from __future__ import annotations

import numpy as np

BUG_KINDS: dict[str, float] = {
    "import": 0.10,
    "fit": 0.25,
    "predict": 0.15,
    "columns": 0.15,
    "rows": 0.10,
    "nan": 0.15,
    "timeout": 0.10,
}
"""Bug kinds and their relative frequency."""

DEFAULT_BUG_RATE = 0.3
"""Share of drafts and improves that carry a bug: a placeholder below the 100 % of the offline
agent logs, not a published rate (none was found; see docs/search.md, "The failure model")."""
DEFAULT_DEBUG_FAIL_RATE = 0.3
"""Share of debug attempts on an injected bug that bring another bug instead of a fix."""

_SUBMISSION_EDIT = """\
    submission = pd.read_csv(SUBMISSION, dtype=str, keep_default_na=False)
{edit}
    submission.to_csv(SUBMISSION, index=False)
"""
_EDITS = {
    "columns": '    submission.columns = [*submission.columns[:-1], "prediction"]',
    "rows": "    submission = submission.iloc[: len(submission) * 9 // 10]",
    "nan": "    submission[submission.columns[-1]] = submission[submission.columns[-1]].shift(1)",
}
_SUBMISSION = "    write_submission(read_ids(), predictions)\n"
_MAIN = "def main() -> None:\n    start = time.time()\n"
_REPLACEMENTS: dict[str, tuple[str, str]] = {
    "import": ("from threadpoolctl import threadpool_limits\n",
               "from threadpoolctl import threadpool_limits\n"
               "from sklearn.ensemble import GradientBoostingClasifier\n"),
    "fit": ("    y = targets(train)\n", "    y = targets(train)[1:]\n"),
    "predict": ("    predictions = fit_predict(template, X, y, X_test)\n",
                "    predictions = fit_predict(template, X, y, X_test.to_numpy())\n"),
    "timeout": (_MAIN, _MAIN + '    while not (INPUT / "extra_features.csv").exists():\n'
                "        time.sleep(1.0)\n"),
    **{kind: (_SUBMISSION, _SUBMISSION + _SUBMISSION_EDIT.format(edit=edit))
       for kind, edit in _EDITS.items()},
}


def draw_bug(rng: np.random.Generator, rate: float, exclude: str | None = None) -> str | None:
    """A bug kind with probability ``rate`` (never ``exclude``), else None (no draw at all,
    so no random number used, when ``rate`` is 0)."""
    if rate <= 0 or rng.random() >= rate:
        return None
    kinds = [k for k in BUG_KINDS if k != exclude]
    weights = np.array([BUG_KINDS[k] for k in kinds])
    return str(rng.choice(kinds, p=weights / weights.sum()))


def inject(code: str, kind: str) -> str:
    """``code`` with bug ``kind`` in it (raises ``ValueError`` when the script lacks the spot
    the bug goes to: a template change must be caught, never silently give a clean script)."""
    if kind not in _REPLACEMENTS:
        raise ValueError(f"unknown bug kind {kind!r}")
    old, new = _REPLACEMENTS[kind]
    if code.count(old) != 1:
        raise ValueError(f"cannot inject a {kind!r} bug: the script has no single {old!r}")
    return code.replace(old, new)
