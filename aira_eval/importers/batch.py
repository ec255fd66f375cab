"""Import a folder of peers' runs into one study, resumably.

``aira-eval import aide DIR/`` finds every ``journal.json`` under ``DIR`` (``import dojo DIR/``
every aira-dojo run dir) and imports each as one search. A search already in the study from
the same files (same checksum) is kept as it is, so re-running the command after an
interruption imports only what is missing and a re-grade resumes; one from other files is
refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError
from aira_eval.importers.common import (
    ImportedSearch,
    refuse_search_study,
    slug,
    write_imported_study,
)
from aira_eval.importers.dojo import node_sources
from aira_eval.study.records import rebuild_node_table, search_meta_path


@dataclass
class ImportOutcome:
    """One search of a batch: ``imported`` now, or ``existing`` (same files, kept)."""

    search: ImportedSearch
    state: str


def find_aide_journals(path: Path) -> list[Path]:
    """``path`` itself (a journal file), ``path/journal.json``, or every ``journal.json``
    below ``path``."""
    if path.is_file() or (path.is_dir() and (path / "journal.json").is_file()):
        return [path if path.is_file() else path / "journal.json"]
    if not path.is_dir():
        raise UsageError(f"AIDE journal {path} does not exist",
                         hint="Pass the journal.json of an AIDE run, or a folder of runs.")
    found = sorted(path.rglob("journal.json"))
    if not found:
        raise UsageError(f"{path} holds no journal.json",
                         hint="Pass an AIDE run's journal.json or a folder holding runs.")
    return found


def find_dojo_runs(path: Path) -> list[Path]:
    """``path`` itself when it is a dojo run dir, else every run dir below it."""
    if not path.is_dir():
        raise UsageError(f"aira-dojo run directory {path} does not exist",
                         hint="Pass the run's output dir (with JOURNAL.jsonl, dojo_config.json).")
    if node_sources(path):
        return [path]
    runs = sorted({p.parent for p in path.rglob("dojo_config.json") if node_sources(p.parent)})
    if not runs:
        raise UsageError(f"{path} holds no aira-dojo journal",
                         hint="Expected *_search_data.json, checkpoint_journal.jsonl or "
                              "JOURNAL.jsonl (in it or in run dirs below it).")
    return runs


def batch_search_id(prefix: str, root: Path, source: Path) -> str:
    """A search id unique within a batch: the run's path below ``root``."""
    rel = source.relative_to(root) if source.is_relative_to(root) else Path(source.name)
    parts = [p for p in rel.parts if p not in ("journal.json",)]
    return f"{prefix}__{slug('__'.join(parts) or root.resolve().name)}"


def _existing(out: Path, search_id: str) -> dict[str, Any] | None:
    path = search_meta_path(out / "searches" / search_id)
    if not path.is_file():
        return None
    raw: dict[str, Any] = json.loads(path.read_text())
    return raw


def _update_layout(out: Path, search: ImportedSearch, raw: dict[str, Any]) -> None:
    """A kept search given another convention (``--input-dir``...): record the new one; nodes
    already regraded keep their earlier run."""
    extra = search.search_extra()
    if raw.get("exec_layout") == extra["exec_layout"]:
        return
    old = (raw.get("convention") or {}).get("name", "none")
    raw.update(convention=extra["convention"], exec_layout=extra["exec_layout"])
    path = search_meta_path(out / "searches" / search.search_id)
    tmp = path.with_suffix(".json.layout.tmp")
    tmp.write_text(json.dumps(raw, indent=2, sort_keys=True))
    tmp.replace(path)
    search.notes.append(f"convention changed from {old} to {search.convention.name}: nodes "
                        "already regraded keep their earlier run (add --redo to re-run them)")


def import_batch(
    parse: Callable[[Path, str | None], ImportedSearch],
    sources: list[tuple[Path, str | None]],
    out: Path,
    data_dir: Path | None = None,
    keep_existing: bool = True,
) -> list[ImportOutcome]:
    """Parse and write every ``(source, search_id)``; the node table is rebuilt once.

    ``parse(source, search_id)`` returns the parsed search. With ``keep_existing`` a search
    already imported from the same files is kept (``existing``); without it, refused.
    """
    refuse_search_study(out)
    outcomes: list[ImportOutcome] = []
    written = False
    for source, search_id in sources:
        search = parse(source, search_id)
        previous = _existing(out, search.search_id)
        if previous is not None:
            if (previous.get("import") or {}).get("checksum") != search.checksum:
                raise UsageError(f"{out} already holds search {search.search_id} from other "
                                 f"files than {source}",
                                 hint="Import into another --out, or pass --search-id.")
            if not keep_existing:
                raise UsageError(f"{out} already holds search {search.search_id}",
                                 hint="Import into another --out, or delete that search "
                                      "directory (or add --regrade to resume re-grading it).")
            _update_layout(out, search, previous)
            outcomes.append(ImportOutcome(search, "existing"))
            continue
        write_imported_study(search, out, data_dir=data_dir, rebuild=False)
        written = True
        outcomes.append(ImportOutcome(search, "imported"))
    if written:
        rebuild_node_table(out)
    return outcomes
