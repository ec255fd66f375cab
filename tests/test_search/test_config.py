"""Study configuration parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.config import StudyConfig, parse_seeds


def test_parse_seeds() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3,1,1") == [1, 3]
    assert parse_seeds("0-1,5") == [0, 1, 5]
    for bad in ("4-0", "a", ""):
        with pytest.raises(UsageError):
            parse_seeds(bad)


def test_yaml_config(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("tasks: builtin:wine\npolicies: [greedy, mcts]\nseeds: 0-2\nsteps: 7\n")
    cfg = StudyConfig.from_yaml(path).validate()
    assert cfg.tasks == ["builtin:wine"] and cfg.policies == ["greedy", "mcts"]
    assert cfg.seeds == [0, 1, 2] and cfg.steps == 7


def test_unknown_key_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("taks: [x]\n")
    with pytest.raises(UsageError, match="taks"):
        StudyConfig.from_yaml(path)
    with pytest.raises(UsageError, match="fitness"):
        StudyConfig(fitness="oracle").validate()
    with pytest.raises(UsageError, match="steps"):
        StudyConfig(steps=0).validate()
    assert StudyConfig(fitness="test").oracle_run


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("steps: two", "steps (--steps) must be an integer, got 'two'"),
        ('workers: "2"', "workers (--workers) must be an integer, got '2'"),
        ("node_timeout_s: fast", "node_timeout_s (--node-timeout) must be a number, got 'fast'"),
        ("memory_mb: lots", "memory_mb (--memory-mb) must be an integer or null, got 'lots'"),
        ("tasks: [1]", "tasks (--task) must be a list of strings, got [1]"),
        ("mlflow: maybe", "mlflow (--mlflow) must be true or false, got 'maybe'"),
        ("seeds: [a]", "seeds must be integers"),
    ],
)
def test_wrongly_typed_yaml_values_are_usage_errors(tmp_path: Path, line: str,
                                                    needle: str) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(f"tasks: [builtin:iris]\n{line}\n")
    with pytest.raises(UsageError) as info:
        StudyConfig.from_yaml(path).validate()
    assert needle in info.value.message and info.value.hint


def test_numbers_fit_float_fields_and_null_fits_optional_ones() -> None:
    StudyConfig(node_timeout_s=60, memory_mb=None, time_budget_s=30).validate()
    with pytest.raises(UsageError, match=r"node_timeout_s \(--node-timeout\) must be a number"):
        StudyConfig(node_timeout_s=True).validate()  # type: ignore[arg-type]


def test_a_path_object_for_a_text_field_becomes_its_string(tmp_path: Path) -> None:
    config = StudyConfig(data_dir=tmp_path).validate()  # type: ignore[arg-type]
    assert config.data_dir == str(tmp_path)


def test_a_top_level_operator_parameter_is_pointed_under_operator_params() -> None:
    with pytest.raises(UsageError, match="bug_rate") as info:
        StudyConfig.from_dict({"tasks": ["builtin:iris"], "bug_rate": 0.1})
    assert info.value.hint and "under operator_params" in info.value.hint


@pytest.mark.parametrize("change", [{"steps": 0}, {"workers": 0}, {"node_timeout_s": -5.0}])
def test_bad_limits_carry_a_hint(change: dict[str, object]) -> None:
    with pytest.raises(UsageError) as info:
        StudyConfig(**change).validate()  # type: ignore[arg-type]
    assert info.value.hint
