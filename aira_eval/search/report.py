"""The script contract: how a solution script reports its validation score on stdout.

A solution script reads ``./input/``, writes ``./submission/submission.csv`` and prints

.. code-block:: text

    VALIDATION_SCORE: 0.8731
    FOLD_SCORES: 0.87, 0.88, 0.869, 0.874, 0.872

The harness parses those lines with :func:`parse_report`; everything else the script prints is
kept as log. :class:`ReportScanner` finds the same lines in a stream of output chunks, so the
report survives even when the stored log is truncated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SCORE_KEY = "VALIDATION_SCORE"
FOLDS_KEY = "FOLD_SCORES"

CONTRACT_TEXT = (
    "Your solution is one complete Python script, run as `python code.py` from its working "
    "directory with no network access. Read the competition files from `./input/` (read-only), "
    "use `./working/` for scratch files, and write your predictions for the test set to "
    "`./submission/submission.csv`. Estimate your model's quality on held-out data from the "
    "training set (for example with k-fold cross-validation) using the competition's metric, "
    f"and print it on its own line as `{SCORE_KEY}: <number>`; if you used folds, also print "
    f"`{FOLDS_KEY}: <f1>, <f2>, ...`. If you print several such lines the last one counts. "
    "Anything else you print is kept as a log."
)

# ``KEY: value`` on its own line, surrounding whitespace tolerated.
_LINE = re.compile(rf"^\s*({SCORE_KEY}|{FOLDS_KEY})\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class ValidationReport:
    """What a script reported about its own validation.

    Attributes:
        score: the last ``VALIDATION_SCORE`` value; ``None`` when absent or not a finite number.
        folds: the last ``FOLD_SCORES`` values (empty when absent or malformed).
        problems: human-readable notes about malformed or missing report lines.
    """

    score: float | None
    folds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def format_report_lines(score: float, folds: list[float] | None = None) -> str:
    """The report lines a script should print (newline-terminated), e.g. for generated code."""
    lines = [f"{SCORE_KEY}: {float(score)!r}"]
    if folds:
        lines.append(f"{FOLDS_KEY}: " + ", ".join(repr(float(f)) for f in folds))
    return "\n".join(lines) + "\n"


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parse_score(raw: str, problems: list[str]) -> float | None:
    value = _parse_float(raw)
    if value is None:
        problems.append(f"{SCORE_KEY} is not a number: {raw[:80]!r}")
        return None
    if not math.isfinite(value):
        problems.append(f"{SCORE_KEY} is {raw.strip()[:20]}, not a finite number")
        return None
    return value


def _parse_folds(raw: str, problems: list[str]) -> list[float]:
    body = raw.strip().strip("[]()").strip()
    if not body:
        problems.append(f"{FOLDS_KEY} line is empty")
        return []
    parts = [p for p in re.split(r"[,\s;]+", body) if p]
    values = [_parse_float(p) for p in parts]
    if any(v is None for v in values):
        problems.append(f"{FOLDS_KEY} has a value that is not a number: {raw[:80]!r}")
        return []
    folds = [float(v) for v in values if v is not None]
    if not all(math.isfinite(v) for v in folds):
        problems.append(f"{FOLDS_KEY} has a value that is not finite: {raw[:80]!r}")
        return []
    return folds


def last_report_lines(stdout: str) -> dict[str, str]:
    """The raw value of the last line of each report key found in ``stdout``."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        if SCORE_KEY not in line and FOLDS_KEY not in line:
            continue
        match = _LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def parse_report(stdout: str) -> ValidationReport:
    """Parse a script's stdout: the last matching line of each key wins.

    Scientific notation is accepted; ``nan``/``inf`` or a malformed value give ``score=None``
    with a problem noted. Lines that are not report lines are ignored.
    """
    found = last_report_lines(stdout)
    problems: list[str] = []
    score = None
    if SCORE_KEY in found:
        score = _parse_score(found[SCORE_KEY], problems)
    else:
        problems.append(f"no {SCORE_KEY} line in the output")
    folds = _parse_folds(found[FOLDS_KEY], problems) if FOLDS_KEY in found else []
    return ValidationReport(score=score, folds=folds, problems=problems)


class ReportScanner:
    """Finds report lines in a byte stream fed chunk by chunk, with bounded memory.

    Keeps the last line of each key and the stream offset where it started, so a caller that
    drops the middle of a long output can still put the report back (see ``lines_between``).
    """

    _MAX_PARTIAL = 64 * 1024
    _KEYS = (SCORE_KEY.encode(), FOLDS_KEY.encode())

    def __init__(self) -> None:
        self._partial = b""
        self._partial_start = 0
        self._offset = 0
        self.last: dict[str, tuple[int, str]] = {}

    def feed(self, chunk: bytes) -> None:
        """Consume the next chunk of the stream."""
        data = self._partial + chunk
        start = self._partial_start
        self._offset += len(chunk)
        cut = data.rfind(b"\n") + 1
        if cut and any(k in data[:cut] for k in self._KEYS):
            self._scan(data[:cut], start)
        rest = data[cut:]
        rest_start = start + cut
        if len(rest) > self._MAX_PARTIAL:  # a giant unterminated line is no report line
            rest_start += len(rest) - self._MAX_PARTIAL
            rest = rest[-self._MAX_PARTIAL :]
        self._partial, self._partial_start = rest, rest_start

    def close(self) -> None:
        """Flush an unterminated last line."""
        if self._partial:
            self._scan(self._partial + b"\n", self._partial_start)
            self._partial = b""

    def _scan(self, block: bytes, start: int) -> None:
        pos = 0
        for raw in block.split(b"\n")[:-1]:
            if any(k in raw for k in self._KEYS):
                line = raw.decode("utf-8", errors="replace")
                match = _LINE.match(line)
                if match:
                    self.last[match.group(1)] = (start + pos, line.strip())
            pos += len(raw) + 1

    def lines_between(self, begin: int, end: int) -> list[str]:
        """The last report lines whose start offset lies in ``[begin, end)``."""
        hits = [(off, line) for off, line in self.last.values() if begin <= off < end]
        return [line for _, line in sorted(hits)]

    def report(self) -> ValidationReport:
        """The report built from the last line of each key seen so far."""
        return parse_report("\n".join(line for _, line in sorted(self.last.values())))
