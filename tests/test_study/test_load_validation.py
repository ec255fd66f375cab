"""Bad node tables are refused on load with what is wrong and how to rebuild them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from aira_eval.errors import DataError
from aira_eval.study.load import load_study
from aira_eval.study.table import read_nodes, records_to_table, write_nodes

BASE = {"search_id": "s", "task": "builtin:wine", "policy": "greedy", "seed": 0,
        "operator": "draft", "status": "ok", "valid": True, "lower_is_better": True}


def _rows(n: int = 3, **change: Any) -> list[dict[str, Any]]:
    rows = [{**BASE, "node_id": f"n{i}", "step": i, "score_val": 0.1 * i,
             "score_test": 0.2 * i} for i in range(n)]
    rows[-1].update(change)
    return rows


def _write(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "nodes.parquet"
    write_nodes(records_to_table(rows), path)
    return path


def test_a_good_table_loads(tmp_path: Path) -> None:
    assert len(read_nodes(_write(tmp_path, _rows()))) == 3


def test_corrupt_data_pages_with_a_good_footer(tmp_path: Path) -> None:
    rows = [{**r, "reason": "x" * 200 + str(i)} for i, r in enumerate(_rows(2000))]
    path = _write(tmp_path, rows)
    raw = bytearray(path.read_bytes())
    for i in range(64, len(raw) // 2):  # the data pages: the footer (end) stays intact
        raw[i] = (raw[i] * 7 + 13) % 256
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        load_study(path)
    assert "corrupt" in err.value.message
    assert err.value.hint and "journal" in err.value.hint


def test_duplicated_node_ids_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(node_id="n0"))
    with pytest.raises(DataError, match="1 duplicated node id"):
        load_study(path)


def test_duplicated_journal_lines_are_refused(tmp_path: Path) -> None:
    from aira_eval.study.journal import JournalFile
    from aira_eval.study.node import Node
    from aira_eval.study.records import SearchMeta, write_search_meta

    search = tmp_path / "study" / "searches" / "s"
    write_search_meta(search, SearchMeta("study", "s", "builtin:wine", "greedy", "procedural",
                                         0, "val", True), {})
    node = Node(node_id="n0", search_id="s", step=0, batch=0, operator="draft", status="ok")
    journal = JournalFile(search / "journal.jsonl")
    journal.append(node)
    journal.append(node)  # two runs wrote the same step
    with pytest.raises(DataError, match="duplicated node id"):
        load_study(tmp_path / "study")


@pytest.mark.parametrize("column", ["score_val", "score_test", "score_search"])
def test_infinite_scores_are_refused(tmp_path: Path, column: str) -> None:
    path = _write(tmp_path, _rows(**{column: math.inf}))
    with pytest.raises(DataError, match=f"infinite value.*{column}"):
        load_study(path)


def test_valid_node_without_test_score_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(score_test=math.nan))
    with pytest.raises(DataError, match=r"marked valid without a test score.*n2"):
        load_study(path)


def test_missing_scores_of_invalid_nodes_are_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(valid=False, status="buggy", score_test=math.nan,
                                  score_val=math.nan))
    assert len(load_study(path).nodes) == 3


def test_a_torn_last_journal_line_is_dropped_and_reported(tmp_path: Path) -> None:
    """Crash-safety keeps dropping a cut-short last line, but the reader is told (a whole
    search could otherwise vanish from select/check silently)."""
    from tests.test_search.fake_study import write_fake_study

    out = tmp_path / "study"
    write_fake_study(out, policies=("greedy",))
    assert load_study(out).warnings == []
    journal = out / "searches" / "builtin-wine__greedy__s0" / "journal.jsonl"
    with journal.open("a", encoding="utf-8") as fh:
        fh.write('{"node_id": "cut sh')
    study = load_study(out)
    assert len(study.nodes) == 6  # the complete lines all load
    assert len(study.warnings) == 1
    assert str(journal) in study.warnings[0] and "torn last line (7)" in study.warnings[0]


def test_a_cut_short_node_table_hints_at_rebuilding_it(tmp_path: Path) -> None:
    path = _write(tmp_path, _rows(20))
    path.write_bytes(path.read_bytes()[:500])  # no footer left
    with pytest.raises(DataError) as err:
        load_study(path)
    assert "not a readable Parquet file" in err.value.message
    assert err.value.hint and "delete nodes.parquet" in err.value.hint
