"""Run every contamination check on a study and report: a :class:`CheckReport` with a status
per check (``pass``, ``warn``, ``fail``, ``skip``, ``error``), details, JSON and Markdown.

Checks: ``overlap`` (train/test duplicates per task), ``code-leakage`` (static scan of node
code), ``test-vs-val`` (test beats validation beyond noise), ``similarity`` (to reference
solutions, with ``references``), ``familiarity`` (LLM probe, with ``model``). Each module's
docstring states its statistic and thresholds.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from aira_eval.checks._study import (
    TaskFiles,
    default_data_dir,
    leakage_context,
    load_checked_study,
    locate_task,
)
from aira_eval.checks.code_leakage import scan_nodes
from aira_eval.checks.familiarity import familiarity_probe
from aira_eval.checks.overlap import OverlapResult, overlap_from_dirs
from aira_eval.checks.similarity import code_similarity, load_references
from aira_eval.checks.test_vs_val import check_test_vs_val
from aira_eval.errors import AiraEvalError, UsageError
from aira_eval.study import Study, StudyManifest

STATUS_RANK = {"skip": 0, "pass": 1, "error": 2, "warn": 3, "fail": 4}
CHECK_TITLES = {
    "overlap": "Train/test overlap",
    "code-leakage": "Leakage in node code",
    "test-vs-val": "Test beats validation beyond noise",
    "similarity": "Similarity to reference solutions",
    "familiarity": "LLM familiarity probe",
}


@dataclass
class CheckResult:
    """One check's verdict."""

    name: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return CHECK_TITLES.get(self.name, self.name)


@dataclass
class CheckOptions:
    """Parameters of a check run (all recorded in the report)."""

    references: Path | None = None
    model: str | None = None
    data_dir: Path | None = None
    near_digits: int = 4
    z_threshold: float = 4.0
    k: int = 25
    w: int = 40
    llm_kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> CheckOptions:
        if self.near_digits < 1:
            raise UsageError(f"--near-digits must be at least 1, got {self.near_digits}")
        if not self.z_threshold > 0:
            raise UsageError(f"--z-threshold must be positive, got {self.z_threshold}")
        if self.references is not None and not self.references.is_dir():
            raise UsageError(f"reference folder {self.references} does not exist",
                             hint="Pass --references a folder of .py files and notebooks.")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("llm_kwargs")
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


@dataclass
class CheckReport:
    """Every check of one study."""

    study: str
    study_id: str
    created_at: str
    params: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)
    #: what reading the study reported (e.g. a torn last journal line dropped)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=STATUS_RANK.__getitem__, default="skip")

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        return _finite({
            "study": self.study, "study_id": self.study_id, "created_at": self.created_at,
            "status": self.status, "params": self.params,
            "checks": [{"name": c.name, "title": c.title, "status": c.status,
                        "summary": c.summary, "details": c.details} for c in self.checks],
        })

    def to_markdown(self) -> str:
        lines = [f"# Contamination checks: {self.study_id}", "",
                 f"Study `{self.study}`, checked {self.created_at}: **{self.status}**.", "",
                 "| check | status | summary |", "|---|---|---|"]
        lines += [f"| {c.title} | {c.status} | {c.summary.replace('|', '/')} |"
                  for c in self.checks]
        for check in self.checks:
            items = _detail_lines(check)
            if items:
                lines += ["", f"## {check.title}", "", *items]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> None:
        """Write the JSON report (NaN-free) atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        tmp.replace(path)


def _finite(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _detail_lines(check: CheckResult) -> list[str]:
    d = check.details
    if check.name == "overlap":
        return [f"- `{t}`: {r.get('note') or _overlap_line(r)}" for t, r in d.get("tasks",
                                                                                     {}).items()]
    if check.name == "code-leakage":
        return [f"- `{f['node_id']}` line {f['line']} **{f['rule']}** ({f['severity']}): "
                f"`{f['snippet']}`" for f in d.get("findings", [])[:30]]
    if check.name == "test-vs-val":
        return [f"- `{r['node_id']}` ({r['task']}): val {r['score_val']:.4g}, test "
                f"{r['score_test']:.4g}, z = {r['z']:.2f} ({r['method']})"
                for r in d.get("flagged", [])[:30]]
    if check.name == "similarity":
        return [f"- `{r['node_id']}` ~ `{r['reference']}`: {r['similarity']:.2f}"
                for r in d.get("top", [])[:20]]
    if check.name == "familiarity":
        return [f"- `{p['task']}` {p['probe']}: " + (
            f"ROUGE-L {p['rouge_l']:.2f}, char-5gram {p['char5']:.2f}"
            if p["rouge_l"] is not None else f"error: {p['error']}") for p in d.get("probes", [])]
    return []


def _overlap_line(r: dict[str, Any]) -> str:
    text = (f"{r['exact']} exact / {r['near']} near duplicates of {r['n_test']} test rows "
            f"({r['exact_fraction']:.1%} / {r['near_fraction']:.1%})")
    if r.get("text_duplicates"):
        text += ", text: " + ", ".join(f"{c} {n}" for c, n in r["text_duplicates"].items())
    if r.get("label_agreement") is not None:
        text += f", same label in {r['label_agreement']:.0%}"
    return text


def _overlap_short(r: dict[str, Any]) -> str:
    if "note" in r:
        return str(r["note"])
    text = f"{r['exact']} exact, {r['near']} near"
    if r.get("text_duplicates"):
        text += f", {sum(r['text_duplicates'].values())} text"
    return f"{text} duplicates of {r['n_test']} test rows"


def check_overlap(
    tasks: dict[str, TaskFiles], digits: int, cache: dict[tuple[str, int], OverlapResult]
) -> CheckResult:
    per_task: dict[str, dict[str, Any]] = {}
    statuses: list[str] = []
    for task_id, files in tasks.items():
        if not files.found or files.public_dir is None:
            per_task[task_id] = {"status": "skip", "note": files.note or "no public files"}
            continue
        key = (f"{task_id}@{files.public_dir}", digits)
        if key not in cache:
            try:
                cache[key] = overlap_from_dirs(files.public_dir, task=task_id, spec=files.spec,
                                               answers_path=files.answers_path, digits=digits)
            except AiraEvalError as err:
                per_task[task_id] = {"status": "error", "note": f"error: {err.message}"}
                statuses.append("error")
                continue
        result = cache[key]
        per_task[task_id] = {"status": result.status(), **result.to_dict()}
        statuses.append(result.status())
    status = max(statuses, key=STATUS_RANK.__getitem__, default="skip")
    parts = [f"{t}: {_overlap_short(r)}" for t, r in per_task.items()]
    return CheckResult("overlap", status, "; ".join(parts) or "no tasks",
                       {"digits": digits, "tasks": per_task})


def check_leakage(study: Study, tasks: dict[str, TaskFiles],
                  data_dir: Path | None) -> CheckResult:
    findings: list[dict[str, Any]] = []
    unparsable: list[str] = []
    by_task = study.nodes.groupby("task")["node_id"].apply(list).to_dict() \
        if len(study.nodes) else {}
    for task_id, node_ids in sorted(by_task.items()):
        codes = {str(n): study.codes[str(n)] for n in node_ids if str(n) in study.codes}
        files = tasks.get(str(task_id)) or TaskFiles(str(task_id))
        result = scan_nodes(codes, leakage_context(files, data_dir))
        findings += [f.to_dict() for f in result.findings]
        unparsable += result.unparsable
    fail_nodes = sorted({f["node_id"] for f in findings if f["severity"] == "fail"})
    status = "fail" if fail_nodes else "warn" if findings else "pass"
    if not study.codes:
        status = "skip"
    flagged = len({f["node_id"] for f in findings})
    summary = (f"scanned the code of {len(study.codes)} nodes: "
               + (f"{len(findings)} findings in {flagged} nodes, {len(fail_nodes)} fail-level"
                  if findings else "no finding"))
    return CheckResult("code-leakage", status, summary, {
        "n_nodes": len(study.codes), "flagged_nodes": fail_nodes, "unparsable": unparsable,
        "findings": findings})


def check_gaps(study: Study, threshold: float) -> CheckResult:
    result = check_test_vs_val(study.nodes, study.metrics, threshold, study.val_rows)
    details = result.to_dict()
    if not result.rows:
        summary = "skipped: no ok node has both a validation and a test score"
    else:
        top = max((r.z for r in result.rows if r.z is not None), default=None)
        summary = (f"{len(result.flagged)} of {len(result.rows)} nodes have z > {threshold:g}"
                   + (f" (max z = {top:.2f})" if top is not None else ""))
    return CheckResult("test-vs-val", result.status(), summary, details)


def check_similarity(study: Study, options: CheckOptions) -> CheckResult:
    if options.references is None:
        return CheckResult("similarity", "skip", "skipped: no reference folder given")
    refs = load_references(options.references)
    if not refs:
        return CheckResult("similarity", "skip",
                           f"skipped: no .py or .ipynb files in {options.references}")
    result = code_similarity(study.codes, refs, k=options.k, w=options.w)
    best = result.best()
    summary = (f"best match {best[0][0]} ~ {best[0][1]}: {best[0][2]:.2f} "
               f"({len(refs)} references)" if best else
               f"no node shares a fingerprint with the {len(refs)} references")
    return CheckResult("similarity", result.status(), summary, result.to_dict())


def check_familiarity(tasks: dict[str, TaskFiles], options: CheckOptions) -> CheckResult:
    inputs = {t: (f.description(), f.train_head()) for t, f in tasks.items()}
    result = familiarity_probe(inputs, options.model, llm_kwargs=options.llm_kwargs)
    scored = [p for p in result.probes if p.rouge_l is not None]
    if result.skipped:
        summary = result.skipped
    elif not scored:
        summary = f"every probe failed: {result.probes[0].error}"
    else:
        top = max(scored, key=lambda p: p.rouge_l or 0.0)
        summary = f"max ROUGE-L {top.rouge_l:.2f} ({top.task}, {top.probe}) with {result.model}"
    return CheckResult("familiarity", result.status(), summary, result.to_dict())


def run_checks(
    study_dir: Path,
    options: CheckOptions | None = None,
    overlap_cache: dict[tuple[str, int], OverlapResult] | None = None,
) -> CheckReport:
    """Every check on one study (``overlap_cache`` shares overlap results across studies)."""
    options = (options or CheckOptions()).validate()
    study = load_checked_study(study_dir)
    manifest = study.sources[0].manifest or StudyManifest(study_id=study_dir.name, seed=0)
    data_dir = options.data_dir or default_data_dir(manifest)
    heldouts = manifest.config.get("heldouts")
    heldouts = heldouts if isinstance(heldouts, bool) else None
    tasks = {t: locate_task(t, data_dir, heldouts) for t in study.task_ids}
    cache = overlap_cache if overlap_cache is not None else {}
    report = CheckReport(
        study=str(study_dir), study_id=manifest.study_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        params={**options.to_dict(), "data_dir": str(data_dir)}, warnings=list(study.warnings),
    )
    report.checks = [
        check_overlap(tasks, options.near_digits, cache),
        check_leakage(study, tasks, data_dir),
        check_gaps(study, options.z_threshold),
        check_similarity(study, options),
        check_familiarity(tasks, options),
    ]
    return report
