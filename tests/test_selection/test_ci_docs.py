"""docs/api.md and ``ae.select``'s docstring give the real ``ci`` default and every method."""

from __future__ import annotations

from pathlib import Path

import aira_eval as ae
from aira_eval.selection.bootstrap import CI_METHODS
from aira_eval.selection.summary import SelectionOptions

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_doc_options_row_lists_every_method_and_the_default() -> None:
    row = next(line for line in API_DOC.read_text(encoding="utf-8").splitlines()
               if line.startswith("| `ci`"))
    default = row.rstrip(" |").rsplit("|", 1)[1]
    assert f'`"{SelectionOptions().ci}"`' in default
    assert all(f'`"{m}"`' in row for m in CI_METHODS)


def test_select_docstring_lists_every_method_and_the_default() -> None:
    doc = " ".join((ae.select.__doc__ or "").split())
    assert all(f'``"{m}"``' in doc for m in CI_METHODS)
    assert f'``"{SelectionOptions().ci}"``, the default' in doc
