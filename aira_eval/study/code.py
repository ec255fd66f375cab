"""The code of a study's nodes: each node's ``code.py``, else the script in its journal line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aira_eval.study.journal import JournalFile
from aira_eval.study.node import Node


def read_journals(study_dir: Path) -> dict[Path, list[Node]]:
    """Search dir -> its journal's nodes, for every search of the study."""
    return {journal.parent: JournalFile(journal).read()
            for journal in sorted((study_dir / "searches").glob("*/journal.jsonl"))}


def read_codes(study_dir: Path, nodes: pd.DataFrame) -> dict[str, str]:
    """``node id -> code`` of the nodes in ``nodes`` that have non-blank code.

    Each node's code file (``code_path``, relative to ``study_dir``) is read first; the journals
    are read only when some file is missing (imported logs keep their code in the journal).
    """
    codes: dict[str, str] = {}
    missing: set[str] = set()
    for node_id, rel in zip(nodes["node_id"], nodes["code_path"], strict=True):
        file = study_dir / str(rel) if isinstance(rel, str) and rel else None
        if file is not None and file.is_file():
            codes[str(node_id)] = file.read_text(encoding="utf-8", errors="replace")
        else:
            missing.add(str(node_id))
    if missing:
        for search_nodes in read_journals(study_dir).values():
            for node in search_nodes:
                if node.node_id in missing and node.code:
                    codes[node.node_id] = node.code
    return {k: v for k, v in codes.items() if v.strip()}
