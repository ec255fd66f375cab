"""Write peers' search logs as an aira-eval study.

An importer parses a log into an :class:`ImportedSearch` (aira-eval :class:`Node` records);
:func:`write_imported_study` writes it in the study layout every other command reads:

```
STUDY/study.json                                   config {importer, source, checksum, task}
STUDY/searches/<search-id>/search.json             per-search columns (task, policy, seed...)
STUDY/searches/<search-id>/journal.jsonl           one line per node
STUDY/searches/<search-id>/nodes/<node-id>/code.py (and stdout.txt: the terminal output)
STUDY/nodes.parquet                                rebuilt from every search's journal
```

Importing a second log into the same study adds a search (listed under ``config.imports``);
importing one whose search id is already there is refused.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from aira_eval.errors import DataError, UsageError
from aira_eval.importers.conventions import AIRA_EVAL, Convention
from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.manifest import task_info as resolved_task_info
from aira_eval.study.node import Node

OPERATORS = ("draft", "improve", "debug", "crossover")
STDOUT_TAIL = 2000
_VERSIONED = ("aira-eval", "pandas", "pyarrow")


@dataclass
class ImportedSearch:
    """One peer search, parsed.

    Attributes:
        importer: ``aide`` or ``dojo``.
        sources: the files read (their checksum is recorded).
        fitness: ``val``, or ``test`` when the peer steered by test scores (an oracle run).
        stdout: node id -> full terminal output (written to ``stdout.txt``).
        notes: caveats found while parsing (unknown direction, dropped root, ...).
        convention: where the scripts read and write (detected; ``--input-dir`` and
            ``--submission-path`` override it).
        log_versions: package versions the log names (``python``, ``torch``...).
        params: the agent configuration the run's config names (``model``,
            ``model_for.<op>``...), written as ``search.json`` ``params`` like a search's.
        warnings: what the user should check (a run whose config names another task).
    """

    importer: str
    source: Path
    sources: list[Path]
    search_id: str
    task: str
    policy: str
    operators: str
    seed: int
    lower_is_better: bool
    metric: str = "unknown"
    fitness: str = "val"
    nodes: list[Node] = field(default_factory=list)
    stdout: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    convention: Convention = AIRA_EVAL
    log_versions: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def checksum(self) -> str:
        return files_checksum(self.sources)

    def record(self) -> dict[str, Any]:
        """What ``study.json`` keeps about this import."""
        return {"importer": self.importer, "source": str(self.source.resolve()),
                "checksum": self.checksum, "task": self.task, "search_id": self.search_id,
                "n_nodes": len(self.nodes), "notes": list(self.notes),
                "warnings": list(self.warnings),
                "convention": self.convention.name, "log_versions": dict(self.log_versions),
                **self.extra}

    def search_extra(self) -> dict[str, Any]:
        """What ``search.json`` keeps: the import record, the convention and the sandbox
        layout a re-grade uses (plain ``ExecSpec`` fields)."""
        layout = self.convention.spec_fields()
        return {"import": self.record(), "convention": self.convention.record(),
                "params": dict(self.params),
                "exec_layout": {k: [list(v) for v in val] if k == "path_maps" else
                                list(val) if isinstance(val, tuple) else val
                                for k, val in layout.items()}}


def files_checksum(paths: list[Path]) -> str:
    """``sha256:<hex>`` over the files' names and bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


CORRUPT_HINT = ("The log is corrupt or truncated (a run killed while writing it, a partial "
                "copy?): copy it again from the run, or leave that run out of the folder.")


def corrupt_log(path: Path, err: Exception, line: int | None = None) -> DataError:
    """The data error for a log file that does not parse (exit 1, like a corrupt study)."""
    where = f"{path}:{line}" if line is not None else str(path)
    what = "is not valid JSON" if isinstance(err, ValueError) and not isinstance(
        err, UnicodeDecodeError) else "is not UTF-8 text"
    return DataError(f"{where} {what} ({err}): cannot import it", hint=CORRUPT_HINT)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "x"


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, strings, dicts...)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def unscored(status: str, reason: str | None, raw_value: Any, has_val: bool,
             meta: dict[str, Any]) -> tuple[str, str | None]:
    """A node the log calls fine but whose metric gives no validation score is ``buggy`` (as
    :func:`aira_eval.study.status.final_status` rules for a run without one), its reason
    saying why; a value that is not a number is kept in ``meta["log_metric"]``."""
    if status != "ok" or has_val:
        return status, reason
    if raw_value is None:
        return "buggy", "the log has no metric value for this node: no validation score"
    meta["log_metric"] = raw_value if isinstance(raw_value, str | int | float) else repr(raw_value)
    return "buggy", (f"the log's metric value {raw_value!r} is not a finite number: "
                     "no validation score")[:300]


def unreadable_metric_note(nodes: list[Node]) -> list[str]:
    """The search-level note on nodes whose logged metric is not a number."""
    bad = [n for n in nodes if "log_metric" in n.meta]
    if not bad:
        return []
    examples = ", ".join(repr(n.meta["log_metric"]) for n in bad[:3])
    return [f"{len(bad)} node(s) logged a metric value that is not a number ({examples}): "
            "imported as buggy, without a validation score"]


def join_term_out(raw: Any) -> str:
    """A terminal output stored as a string or a list of chunks (with or without newlines)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    parts = [str(p) for p in raw]
    ends = sum(p.endswith("\n") for p in parts)
    return "".join(parts) if ends * 2 >= len(parts) else "\n".join(parts)


def first_line(text: str, limit: int = 300) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def fill_lineage(nodes: list[Node]) -> None:
    """Depth (drafts 0) and debug depth (consecutive debug steps) from first parents."""
    by_id = {n.node_id: n for n in nodes}
    for node in sorted(nodes, key=lambda n: n.step):
        parents = [by_id[p] for p in node.parent_ids if p in by_id]
        node.depth = max((p.depth for p in parents), default=-1) + 1
        node.debug_depth = parents[0].debug_depth + 1 if (
            node.operator == "debug" and parents) else 0


def task_info(search: ImportedSearch, data_dir: Path | None = None) -> TaskInfo:
    """The task's full info when ``aira_eval.datasets`` resolves it, else what the log says."""
    fallback = TaskInfo(task=search.task, lower_is_better=search.lower_is_better,
                        metric=search.metric)
    from aira_eval.datasets.registry import resolve_task

    try:
        info: TaskInfo = resolved_task_info(resolve_task(search.task, data_dir=data_dir))
    except Exception as err:  # unknown or unprepared task: keep the log's own facts
        search.notes.append(f"task {search.task} not resolved ({type(err).__name__}): "
                            "medal thresholds and sizes unknown")
        return fallback
    if info.lower_is_better != search.lower_is_better:
        search.notes.append(f"the log's direction (lower_is_better={search.lower_is_better}) "
                            f"differs from the task's; the task's is kept")
    return info


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _manifest(out: Path, search: ImportedSearch, info: TaskInfo) -> StudyManifest:
    if (out / "study.json").exists():
        manifest = StudyManifest.read(out)
    else:
        manifest = StudyManifest(
            study_id=out.resolve().name, seed=search.seed, versions=_versions(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            config={"importer": search.importer, "source": str(search.source.resolve()),
                    "checksum": search.checksum, "task": search.task, "imports": []},
        )
    manifest.config.setdefault("imports", []).append(search.record())
    manifest.tasks.setdefault(search.task, info)
    return manifest


def _write_node_files(search_dir: Path, study_dir: Path, search: ImportedSearch) -> None:
    for node in search.nodes:
        node.meta.setdefault("log_val", node.scores.get("val"))
        if "test" in node.scores:
            node.meta.setdefault("log_test", node.scores["test"])
        node.meta["convention"] = search.convention.name
        node_dir = search_dir / "nodes" / slug(node.node_id)
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "code.py").write_text(node.code, encoding="utf-8")
        out = search.stdout.get(node.node_id, node.stdout_tail)
        (node_dir / "stdout.txt").write_text(out, encoding="utf-8")
        node.code_path = str((node_dir / "code.py").relative_to(study_dir))


def refuse_search_study(out: Path) -> None:
    """Imports go into a study of imports, never into one ``aira-eval search`` made: its
    study.json is the config ``--resume`` reads, which an ``imports`` key would break."""
    if not (out / "study.json").is_file():
        return
    if "importer" not in StudyManifest.read(out).config:
        raise UsageError(
            f"{out} holds a study made by `aira-eval search`; logs are not imported into it",
            hint="Import into another --out, then pass both studies to select or check "
            "(e.g. `aira-eval select STUDY IMPORTED`) to compare them.")


def write_imported_study(
    search: ImportedSearch, out: Path, data_dir: Path | None = None, rebuild: bool = True
) -> StudyManifest:
    """Write (or extend) study ``out`` with ``search``; returns the manifest written.

    ``rebuild=False`` leaves the node table to the caller (a batch rebuilds it once). The study
    is locked while it is written (:func:`aira_eval.study.lock.study_lock`)."""
    from aira_eval.study.lock import LOCK_NAME, study_lock

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    refuse_search_study(out)
    if out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()) \
            and not (out / "study.json").exists():
        raise UsageError(f"--out {out} is a non-empty directory that holds no study",
                         hint="Choose a new directory for the study.")
    with study_lock(out, "import"):
        return _write_imported(search, out, data_dir, rebuild)


def _write_imported(search: ImportedSearch, out: Path, data_dir: Path | None,
                    rebuild: bool) -> StudyManifest:
    from aira_eval.study.records import SearchMeta, rebuild_node_table, write_search_meta

    search_dir = out / "searches" / search.search_id
    if search_dir.exists():
        raise UsageError(f"{out} already holds search {search.search_id}",
                         hint="Import into another --out, or delete that search directory.")
    info = task_info(search, data_dir)
    meta = SearchMeta(out.resolve().name, search.search_id, search.task, search.policy,
                      search.operators, search.seed, search.fitness, info.lower_is_better)
    manifest = _manifest(out, search, info)
    write_search_meta(search_dir, meta, search.search_extra())
    _write_node_files(search_dir, out, search)
    JournalFile(search_dir / "journal.jsonl").rewrite(sorted(search.nodes, key=lambda n: n.step))
    if rebuild:
        rebuild_node_table(out)
    manifest.write(out)
    return manifest
