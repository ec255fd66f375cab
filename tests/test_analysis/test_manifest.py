"""The reproducibility manifest: rebuild commands, models, references, completeness."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aira_eval.analysis import manifest
from aira_eval.cli.main import app
from aira_eval.study import load_study
from aira_eval.study.table import read_nodes
from tests.test_cli.test_import_cli import write_aide_journal

runner = CliRunner()


def _aide_journal(path: Path) -> Path:
    """A two-node AIDE journal (no code that needs running: imported without re-grade)."""
    return write_aide_journal(path)


@pytest.fixture()
def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    journal = _aide_journal(tmp_path / "journal.json")
    result = runner.invoke(app, ["import", "aide", str(journal), "--task", "peer:tiny",
                                 "--out", "imp"])
    assert result.exit_code == 0, result.output
    return tmp_path / "imp"


def test_rebuild_command_of_an_import_is_the_import_and_it_runs(imported: Path) -> None:
    study = load_study(imported)
    lines = manifest.commands(study, None, imported.parent / "rep")[1:]
    assert len(lines) == 1 and lines[0].startswith("aira-eval import aide ")
    assert "--task peer:tiny" in lines[0] and "--regrade" not in lines[0]
    assert "search --config" not in lines[0]
    argv = shlex.split(lines[0])[1:]
    (imported.parent / "again").mkdir()
    argv[argv.index("--out") + 1] = "again/imp"
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    before, after = read_nodes(imported / "nodes.parquet"), read_nodes(
        imported.parent / "again" / "imp" / "nodes.parquet")
    assert list(before["search_id"]) == list(after["search_id"])
    assert list(before["status"]) == list(after["status"])


def test_rebuild_command_of_a_regraded_import_says_regrade(imported: Path) -> None:
    search_json = next((imported / "searches").glob("*/search.json"))
    record = json.loads(search_json.read_text())
    search_json.write_text(json.dumps({**record, "regrade": {"done": True}}))
    lines = manifest.commands(load_study(imported), None, imported.parent / "rep")
    assert lines[1].endswith("--regrade")


def test_imported_agents_are_never_procedural(imported: Path) -> None:
    study = load_study(imported)
    info = manifest.build(study, {}, imported.parent / "rep")
    assert info["llm_models"] == ["unknown (imported log)"]
    study_json = imported / "study.json"
    data = json.loads(study_json.read_text())
    data["config"]["imports"][0]["model"] = "gpt-4o-mini"
    study_json.write_text(json.dumps(data))
    assert manifest.llm_models(load_study(imported)) == ["gpt-4o-mini"]


def test_procedural_study_says_no_llm() -> None:
    from tests.test_analysis.helpers import make_study

    study = make_study(n_tasks=1, n_seeds=2, n_nodes=3)
    assert manifest.llm_models(study) == ["none (procedural operators)"]


def test_references_say_the_rule_and_flag_the_study_dependent_one() -> None:
    from dataclasses import replace

    from aira_eval.study import Study
    from tests.test_analysis.helpers import agents_study

    frame, tasks = agents_study(n_tasks=2, n_seeds=2, n_nodes=4)
    first, second = sorted(tasks)
    tasks[first] = replace(tasks[first], reference_score=None, leaderboard_scores=[])
    tasks[second] = replace(tasks[second], reference_score=None,
                            leaderboard_scores=[0.5, 123.0, 7.0])
    study = Study.from_nodes(frame, tasks)
    rows = {r["task"]: r for r in manifest.references(study)}
    valid = frame[frame["valid"] & (frame["task"] == first)]["score_test"]
    best = valid.min() if tasks[first].lower_is_better else valid.max()
    assert rows[first]["reference_score"] == pytest.approx(best)
    assert rows[first]["reference_rule"] == manifest.STUDY_DEPENDENT
    board = 0.5 if tasks[second].lower_is_better else 123.0
    assert rows[second]["reference_score"] == board
    assert rows[second]["reference_rule"] == "the leaderboard's best"
    assert rows[first]["sample_score"] == tasks[first].sample_score


def test_a_recorded_reference_is_study_json_s(tmp_path: Path) -> None:
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

    study_dir = generate_study(SyntheticSpec(n_tasks=1, n_seeds=2, n_nodes=3)).write(
        tmp_path / "s")
    data = json.loads((study_dir / "study.json").read_text())
    task = next(iter(data["tasks"]))
    data["tasks"][task]["reference_score"] = 0.99
    (study_dir / "study.json").write_text(json.dumps(data))
    study = load_study(study_dir)
    (row,) = manifest.references(study)
    assert (row["reference_score"], row["reference_rule"]) == (0.99, "study.json's reference")
    assert manifest.build(study, {}, tmp_path / "rep")["references"] == [row]


def test_an_incomplete_study_is_said_so(tmp_path: Path) -> None:
    from aira_eval.analysis.context import Context, ReportOptions
    from aira_eval.analysis.report import _meta
    from aira_eval.analysis.scale import study_scale
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study
    from aira_eval.study.table import write_nodes

    synth = generate_study(SyntheticSpec(n_tasks=2, n_seeds=3, n_nodes=3, policy="greedy"))
    study_dir = synth.write(tmp_path / "s")
    frame = synth.frame
    tasks = sorted(frame["task"].unique())
    seeds = sorted(int(x) for x in frame["seed"].unique())
    keep = (frame["task"] == tasks[0]) & (frame["seed"] != seeds[-1])
    write_nodes(frame[keep].reset_index(drop=True), study_dir / "nodes.parquet")
    data = json.loads((study_dir / "study.json").read_text())
    data["config"] = {"tasks": tasks, "policies": ["greedy", "random"], "seeds": seeds}
    (study_dir / "study.json").write_text(json.dumps(data))
    study = load_study(study_dir)
    warning = manifest.completeness(study)
    assert warning == (f"study incomplete: {len(seeds) - 1} of {4 * len(seeds)} planned "
                       f"searches; {tasks[1]} has none; greedy lacks seed {seeds[-1]} on "
                       f"{tasks[0]}; random lacks seeds {', '.join(map(str, seeds))} on "
                       f"{tasks[0]}")
    groups = {str(s): "greedy" for s in study.searches["search_id"]}
    ctx = Context(study, ReportOptions(), tmp_path / "rep", groups, study_scale(study))
    assert f"Warning: {warning}." in _meta(ctx)["summary"]
    info = manifest.build(study, groups, tmp_path / "rep")
    assert info["seeds_per_agent"] == {"greedy": seeds[:-1]}
    assert info["completeness"] == warning
    data["config"]["policies"], data["config"]["tasks"] = ["greedy"], tasks[:1]
    data["config"]["seeds"] = seeds[:-1]
    (study_dir / "study.json").write_text(json.dumps(data))
    assert manifest.completeness(load_study(study_dir)) is None


def test_rebuild_commands_share_one_path_base(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from aira_eval.selection.synthetic_study import SyntheticSpec, generate_study

    monkeypatch.chdir(tmp_path)
    study_dir = generate_study(SyntheticSpec(n_tasks=1, n_seeds=2, n_nodes=3,
                                             study_id="st")).write(tmp_path / "work" / "st")
    data = json.loads((study_dir / "study.json").read_text())
    data["config"] = {"tasks": ["builtin:iris"], "policies": ["greedy"], "seeds": [0, 1]}
    (study_dir / "study.json").write_text(json.dumps(data))
    argv = ["aira-eval", "report", "work/st", "--out", "out/rep"]
    lines = manifest.commands(load_study(study_dir), argv, tmp_path / "out" / "rep")
    assert lines[0].startswith("# run from the folder `aira-eval report` ran in")
    assert lines[1] == "aira-eval search --config out/rep/reproduce/st-config.json --out st"
    assert (tmp_path / "out" / "rep" / "reproduce" / "st-config.json").is_file()
    assert lines[2] == " ".join(argv)
