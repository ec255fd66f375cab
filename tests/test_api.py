"""The public API's bad inputs are usage errors with a hint, never a raw traceback, and their
messages name the Python keyword beside the CLI flag (audit-d F8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aira_eval as ae
from aira_eval.errors import UsageError


def test_run_study_into_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("x")
    config = ae.StudyConfig(tasks=["builtin:iris"], steps=1, mlflow=False)
    with pytest.raises(UsageError, match=r"out \(--out\) .*notes.txt is a file") as info:
        ae.run_study(config, out=target)
    assert info.value.hint and target.read_text() == "x"
    with pytest.raises(UsageError, match=r"is below .*notes\.txt, a file"):
        ae.run_study(config, out=target / "study")
    with pytest.raises(UsageError, match="is a file"):
        ae.run_study(config, out=target, resume=True)


@pytest.mark.parametrize(("options", "needle"), [
    ({"resamples": "100"}, "resamples (--resamples) must be an integer, got '100'"),
    ({"n_resamples": 10.5}, "resamples (--resamples) must be an integer, got 10.5"),
    ({"k": "2"}, "k (--k) must be an integer, got '2'"),
    ({"z": "1"}, "z (--z) must be a number, got '1'"),
    ({"level": "0.9"}, "level must be a number, got '0.9'"),
    ({"seed": 1.5}, "seed (--seed) must be an integer, got 1.5"),
    ({"by": 3}, "by (--by) must be a list of strings, got 3"),
    ({"strategies": [1]}, "strategies (--strategy) must be a list of strings, got [1]"),
    ({"pool": "yes"}, "pool (--pool) must be true or false, got 'yes'"),
    ({"ci": 3}, "ci (--ci) must be a string, got 3"),
    ({"baseline_group": 1}, "baseline_group (--baseline-group) must be a string or null"),
    ({"resamples": 0}, "resamples (--resamples) must be at least 1, got 0"),
    ({"k": 0}, "k (--k) must be at least 1, got 0"),
    ({"ci": "wald"}, "ci (--ci) must be one of"),
])
def test_select_options_of_a_wrong_type_or_value(tmp_path: Path, options: dict[str, Any],
                                                 needle: str) -> None:
    """Checked before the study is read: the study path need not even exist."""
    with pytest.raises(UsageError) as info:
        ae.select(tmp_path / "nope", **options)
    assert needle in info.value.message and info.value.hint
    with pytest.raises(UsageError):  # a SelectionConfig given positionally is checked too
        field = "n_resamples" if "resamples" in options else next(iter(options))
        ae.select(tmp_path / "nope", ae.SelectionConfig(**{field: next(iter(options.values()))}))


@pytest.mark.parametrize("paths", [3, [3], ["study", None], 2.5])
def test_load_study_of_a_non_path(paths: Any) -> None:
    with pytest.raises(UsageError, match=r"load_study\(\) takes a study path") as info:
        ae.load_study(paths)
    assert "load_study(" in (info.value.hint or "")
    with pytest.raises(UsageError, match="takes a study path"):
        ae.select(paths)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("steps", 0, "steps (--steps) must be at least 1"),
    ("steps", "3", "steps (--steps) must be an integer, got '3'"),
    ("workers", 0, "workers (--workers) must be at least 1"),
    ("node_timeout_s", 0, "node_timeout_s (--node-timeout) must be positive"),
    ("memory_mb", 1, "memory_mb (--memory-mb) must be at least 64"),
    ("cpus_per_node", 0, "cpus_per_node (--cpus-per-node) must be positive"),
])
def test_study_config_messages_name_keyword_and_flag(tmp_path: Path, field: str, value: Any,
                                                     needle: str) -> None:
    config = ae.StudyConfig(tasks=["builtin:iris"], mlflow=False, **{field: value})
    with pytest.raises(UsageError) as info:
        ae.run_study(config, out=tmp_path / "study")
    assert needle in info.value.message
    assert not (tmp_path / "study").exists()


def test_api_doc_shows_load_studys_real_signature() -> None:
    """docs/api.md's table shows ``require_valid`` keyword-only, as it is (audit-d F10)."""
    import inspect

    params = inspect.signature(ae.load_study).parameters.values()
    shown, star = [], False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star:
            shown.append("*")
            star = True
        shown.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    doc = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    assert f"`load_study({', '.join(shown)})`" in doc


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("temperature", -1.0, "temperature (--temperature) must be >= 0"),
    ("top_p", 2.0, "top_p (--top-p) must be in (0, 1]"),
    ("max_cost_usd", 0.0, "max_cost_usd (--max-cost) must be positive"),
])
def test_llm_options_name_keyword_and_flag(field: str, value: float, needle: str) -> None:
    config = ae.StudyConfig(tasks=["builtin:iris"], operators="aide", model="gpt-4o",
                            mlflow=False, **{field: value})
    with pytest.raises(UsageError) as info:
        config.validate()
    assert needle in info.value.message
