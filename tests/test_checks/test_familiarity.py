"""Check 5: the LLM familiarity probe, through litellm's real code path with mock_response."""

from __future__ import annotations

import os

import pytest

from aira_eval.checks.familiarity import (
    SKIPPED,
    char_ngram_containment,
    familiarity_probe,
    lcs_length,
    rouge_l_recall,
    run_probe,
    split_description,
    split_rows,
)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DESCRIPTION = (
    "Welcome to the year 2912, where your data science skills are needed to solve a cosmic "
    "mystery. We've received a transmission from four lightyears away and things aren't "
    "looking good. The Spaceship Titanic was an interstellar passenger liner launched a month "
    "ago. With almost 13,000 passengers on board, the vessel set out on its maiden voyage "
    "transporting emigrants from our solar system to three newly habitable exoplanets "
    "orbiting nearby stars. While rounding Alpha Centauri en route to its first destination, "
    "the torrid 55 Cancri E, the unwary Spaceship Titanic collided with a spacetime anomaly "
    "hidden within a dust cloud."
)
CSV = (
    "PassengerId,HomePlanet,CryoSleep,Cabin,Age,Transported\n"
    "0001_01,Europa,False,B/0/P,39.0,False\n"
    "0002_01,Earth,False,F/0/S,24.0,True\n"
    "0003_01,Europa,False,A/0/S,58.0,False\n"
)
WRONG = "Predict house prices in Ames, Iowa from seventy-nine explanatory variables."


def test_overlap_scores() -> None:
    assert lcs_length(list("abcde"), list("axcye")) == 3
    assert rouge_l_recall("the cat sat", "the cat sat") == 1.0
    assert rouge_l_recall("", "the cat sat") == 0.0
    assert char_ngram_containment("hello world", "hello world") == 1.0
    assert char_ngram_containment("zzzzzz", "hello world") == 0.0


def test_splits() -> None:
    prefix, rest = split_description(DESCRIPTION)
    assert DESCRIPTION.startswith(prefix) and DESCRIPTION.endswith(rest)
    assert abs(len(prefix) - len(rest)) < 40
    head, tails = split_rows(CSV, n_rows=2)
    assert head.splitlines()[0] == CSV.splitlines()[0]
    assert len(tails.splitlines()) == 2
    assert head.splitlines()[1] + tails.splitlines()[0] == CSV.splitlines()[1]
    assert split_rows("only_a_header\n") == ("", "")


def test_true_continuation_scores_high_wrong_low() -> None:
    prefix, truth = split_description(DESCRIPTION)
    right = run_probe("t", "description", prefix, truth, "gpt-4o-mini",
                      {"mock_response": truth})
    wrong = run_probe("t", "description", prefix, truth, "gpt-4o-mini",
                      {"mock_response": WRONG})
    assert right.error is None and right.rouge_l == pytest.approx(1.0)
    assert right.char5 == pytest.approx(1.0)
    assert wrong.rouge_l is not None and wrong.rouge_l < 0.2
    assert wrong.char5 is not None and wrong.char5 < 0.2


def test_probe_statuses() -> None:
    _, truth = split_description(DESCRIPTION)
    memorised = familiarity_probe({"t": (DESCRIPTION, None)}, "gpt-4o-mini",
                                  llm_kwargs={"mock_response": truth})
    assert memorised.status() == "fail"
    assert [p.probe for p in memorised.probes] == ["description"]
    fresh = familiarity_probe({"t": (DESCRIPTION, CSV)}, "gpt-4o-mini",
                              llm_kwargs={"mock_response": WRONG})
    assert [p.probe for p in fresh.probes] == ["description", "data"]
    assert fresh.status() == "pass"


def test_data_rows_probe() -> None:
    _, tails = split_rows(CSV)
    result = familiarity_probe({"t": (None, CSV)}, "gpt-4o-mini",
                               llm_kwargs={"mock_response": tails})
    assert result.probes[0].rouge_l == pytest.approx(1.0)


def test_skipped_without_a_model() -> None:
    result = familiarity_probe({"t": (DESCRIPTION, CSV)}, None)
    assert result.skipped == SKIPPED == "skipped: no model configured"
    assert result.status() == "skip" and result.probes == []
    empty = familiarity_probe({"t": (None, None)}, "gpt-4o-mini")
    assert empty.status() == "skip"


def test_llm_errors_are_recorded_not_raised() -> None:
    result = familiarity_probe({"t": (DESCRIPTION, None)}, "gpt-4o-mini",
                               llm_kwargs={"mock_response": "litellm.RateLimitError"})
    assert result.probes[0].rouge_l is None
    assert result.probes[0].error is not None and "RateLimit" in result.probes[0].error
    assert result.status() == "error"
