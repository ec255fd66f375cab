"""The script contract: parsing VALIDATION_SCORE / FOLD_SCORES lines from stdout."""

from __future__ import annotations

import math

import pytest

from aira_eval.search.report import (
    CONTRACT_TEXT,
    FOLDS_KEY,
    SCORE_KEY,
    ReportScanner,
    format_report_lines,
    parse_report,
)


def test_score_and_folds_parsed() -> None:
    rep = parse_report("training...\nVALIDATION_SCORE: 0.8731\nFOLD_SCORES: 0.87, 0.88, 0.869\n")
    assert rep.score == pytest.approx(0.8731)
    assert rep.folds == pytest.approx([0.87, 0.88, 0.869])
    assert rep.problems == []


def test_last_matching_line_wins() -> None:
    out = (
        "VALIDATION_SCORE: 0.1\nFOLD_SCORES: 1, 2\nnoise\n"
        "VALIDATION_SCORE: 0.7\nFOLD_SCORES: 3,4,5\n"
    )
    rep = parse_report(out)
    assert rep.score == pytest.approx(0.7)
    assert rep.folds == [3.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  VALIDATION_SCORE:   0.5  ", 0.5),
        ("\tVALIDATION_SCORE:0.25\r", 0.25),
        ("VALIDATION_SCORE : -1.5e-3", -1.5e-3),
        ("VALIDATION_SCORE: 2E+2", 200.0),
        ("VALIDATION_SCORE: 7", 7.0),
    ],
)
def test_whitespace_and_scientific_notation(line: str, expected: float) -> None:
    assert parse_report(f"x\n{line}\ny\n").score == pytest.approx(expected)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_score_is_none_with_a_problem(value: str) -> None:
    rep = parse_report(f"VALIDATION_SCORE: {value}\n")
    assert rep.score is None
    assert any("finite" in p for p in rep.problems)


def test_nan_after_a_good_score_still_wins() -> None:
    rep = parse_report("VALIDATION_SCORE: 0.9\nVALIDATION_SCORE: nan\n")
    assert rep.score is None and rep.problems


def test_malformed_score_noted() -> None:
    rep = parse_report("VALIDATION_SCORE: high\n")
    assert rep.score is None
    assert any("not a number" in p for p in rep.problems)


def test_missing_score_noted_and_other_lines_ignored() -> None:
    rep = parse_report("epoch 1 loss 0.3\nscore=0.9\nINFO VALIDATION_SCORE: 0.4\n")
    assert rep.score is None
    assert rep.folds == []
    assert any("no VALIDATION_SCORE" in p for p in rep.problems)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[0.1, 0.2, 0.3]", [0.1, 0.2, 0.3]),
        ("[0.1 0.2 0.3]", [0.1, 0.2, 0.3]),  # a printed numpy array
        ("0.5", [0.5]),
        ("1e-1; 2e-1", [0.1, 0.2]),
    ],
)
def test_fold_formats(raw: str, expected: list[float]) -> None:
    rep = parse_report(f"VALIDATION_SCORE: 1\nFOLD_SCORES: {raw}\n")
    assert rep.folds == pytest.approx(expected)
    assert rep.problems == []


@pytest.mark.parametrize("raw", ["0.1, abc", "0.1, nan", ""])
def test_bad_folds_dropped_with_a_problem(raw: str) -> None:
    rep = parse_report(f"VALIDATION_SCORE: 0.3\nFOLD_SCORES: {raw}\n")
    assert rep.score == pytest.approx(0.3)
    assert rep.folds == []
    assert any(FOLDS_KEY in p for p in rep.problems)


@pytest.mark.parametrize(
    ("score", "folds"),
    [(0.123456789, [0.1, 0.2]), (1e-12, []), (-3.5, [1.0]), (123456.75, [1e300, -1e-300])],
)
def test_format_round_trips(score: float, folds: list[float]) -> None:
    text = format_report_lines(score, folds)
    assert text.endswith("\n")
    rep = parse_report("log line\n" + text)
    assert rep.score == score  # exact: repr round-trips floats
    assert rep.folds == folds


def test_contract_text_names_the_contract() -> None:
    for needle in ("./input/", "./submission/submission.csv", SCORE_KEY, FOLDS_KEY, "./working/"):
        assert needle in CONTRACT_TEXT


def test_scanner_matches_parse_report_whatever_the_chunking() -> None:
    text = ("noise " * 50 + "\n") * 20 + "VALIDATION_SCORE: 0.61\nmore\nFOLD_SCORES: 1,2\n"
    text += "x" * 1000 + "\nVALIDATION_SCORE: 0.62"  # unterminated last line
    data = text.encode()
    for size in (1, 7, 64, len(data)):
        scanner = ReportScanner()
        for i in range(0, len(data), size):
            scanner.feed(data[i : i + size])
        scanner.close()
        rep = scanner.report()
        assert rep.score == pytest.approx(0.62), size
        assert rep.folds == [1.0, 2.0]


def test_scanner_offsets_and_lines_between() -> None:
    scanner = ReportScanner()
    head = b"a" * 100 + b"\n"
    scanner.feed(head + b"VALIDATION_SCORE: 0.5\n" + b"b\n")
    scanner.close()
    offset, line = scanner.last[SCORE_KEY]
    assert offset == len(head) and line == "VALIDATION_SCORE: 0.5"
    assert scanner.lines_between(0, len(head)) == []
    assert scanner.lines_between(len(head), len(head) + 1) == ["VALIDATION_SCORE: 0.5"]


def test_scanner_memory_bounded_on_a_giant_line() -> None:
    scanner = ReportScanner()
    for _ in range(200):
        scanner.feed(b"z" * 100_000)
    assert len(scanner._partial) <= ReportScanner._MAX_PARTIAL
    scanner.feed(b"\nVALIDATION_SCORE: 1.5\n")
    assert scanner.report().score == 1.5
    assert not math.isnan(scanner.report().score or 0.0)
