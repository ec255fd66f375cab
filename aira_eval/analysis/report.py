"""``report(study, out=...)``: every table, figure and model a paper needs, in one directory.

Sections (:mod:`~aira_eval.analysis.builders`, :mod:`~aira_eval.analysis.builders_extra`)
are built one by one and timed; a section that cannot be built (bad input, a bug) says why and
the others still render. Outputs in ``out``: ``report.md``, ``report.html`` (self-contained),
``report.tex`` with ``tables/*.tex``, ``figures/*.pdf|png``, ``data/*.csv|parquet`` (every
number of every table and figure) and ``report.json`` (timings, empty sections).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.analysis import builders, builders_extra
from aira_eval.analysis.context import Context, ReportOptions
from aira_eval.analysis.manifest import completeness
from aira_eval.analysis.scale import study_scale
from aira_eval.analysis.sections import Section
from aira_eval.analysis.selection_view import search_groups, select_grouped
from aira_eval.errors import AiraEvalError, UsageError
from aira_eval.study import Study, load_study

FORMATS = ("md", "html", "tex")
BUILDERS: tuple[Callable[[Context], Section], ...] = (
    builders.main_section, builders.generalization_section, builders.dynamics_section,
    builders.val_test_section, builders.topk_section, builders_extra.models_section,
    builders_extra.seeds_section, builders_extra.trees_section,
    builders_extra.manifest_section,
)


@dataclass
class ReportResult:
    """What :func:`report` wrote: the directory, files by kind, sections, timings."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process
    mlflow: dict[str, Any] | None = None
    replaced: bool = False  # a previous report in ``out`` was removed first

    @property
    def errors(self) -> dict[str, str]:
        return {s.key: s.error for s in self.sections if s.error}


def _selection(ctx: Context) -> None:
    from aira_eval.selection.summary import SelectionOptions

    if ctx.no_test():
        ctx.selection_empty = ctx.no_test()
        return
    o = ctx.options
    options = SelectionOptions(strategies=list(o.strategies), k=o.k, reference=o.reference,
                               n_resamples=o.resamples, seed=o.seed, level=o.level)
    try:
        ctx.selection = select_grouped(ctx.study, o.by, options)
    except UsageError:  # the user's typo or an inapplicable strategy: not a data limit
        raise
    except AiraEvalError as err:
        ctx.selection_empty = f"selection could not run: {err.message}"


def _build(builder: Callable[[Context], Section], ctx: Context) -> Section:
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        section = builder(ctx)
    except AiraEvalError as err:
        section = Section(builder.__name__.removesuffix("_section"), builder.__name__,
                          empty=err.message)
    except Exception as err:  # one broken section never costs the others
        section = Section(builder.__name__.removesuffix("_section"), builder.__name__,
                          empty=f"this section failed ({type(err).__name__}: {err})",
                          error=f"{type(err).__name__}: {err}")
    section.seconds = time.perf_counter() - t0
    section.cpu_seconds = time.process_time() - c0
    return section


def _check(options: ReportOptions) -> None:
    bad = [f for f in options.formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown report format(s) {bad}",
                         hint=f"Choose among {', '.join(FORMATS)} (comma-separated).")
    if options.trees is not None and options.trees < 0:
        raise UsageError(f"--trees must be 'all' or a number ≥ 0, got {options.trees}")
    if options.resamples < 1:
        raise UsageError(f"--resamples must be at least 1, got {options.resamples}")
    from aira_eval.selection.strategies import get_strategy

    for name in [*options.strategies, options.reference]:
        get_strategy(name)  # UsageError naming the known strategies


def report(study: Study | str | Path | Sequence[str | Path], out: str | Path,
           options: ReportOptions | None = None, *, mlflow: bool = False,
           mlflow_uri: str | None = None) -> ReportResult:
    """Write the statistical report of ``study`` into ``out``.

    Args:
        study: a loaded :class:`Study`, or the path(s) to load.
        out: output directory (created).
        options: grouping, formats, trees, resamples, seed (:class:`ReportOptions`).
        mlflow: also log the report as an artifact of the study's latest selection run.
        mlflow_uri: tracking URI (default: the study's ``sqlite:///STUDY/mlflow.db``).
    """
    options = options or ReportOptions()
    _check(options)
    if not isinstance(study, Study):
        study = load_study(study)
    out = Path(out)
    check_out(out)
    t0, c0 = time.perf_counter(), time.process_time()
    groups = {sid: g for g, ids in search_groups(study, options.by).items() for sid in ids}
    ctx = Context(study, options, out, groups, study_scale(study))
    _selection(ctx)  # before anything is written: a usage error leaves ``out`` untouched
    replaced = prepare_out(out)
    result = ReportResult(out, replaced=replaced)
    result.timings["selection"] = time.perf_counter() - t0
    result.cpu["selection"] = time.process_time() - c0
    for builder in BUILDERS:
        section = _build(builder, ctx)
        result.sections.append(section)
        result.timings[section.key] = section.seconds
        result.cpu[section.key] = section.cpu_seconds
    t1, c1 = time.perf_counter(), time.process_time()
    result.files.update(_write(result, ctx))
    result.timings["render"] = time.perf_counter() - t1
    result.cpu["render"] = time.process_time() - c1
    result.timings["total"] = time.perf_counter() - t0
    result.cpu["total"] = time.process_time() - c0
    _write_json(result, ctx)
    if mlflow:
        from aira_eval.analysis.tracking import log_report

        result.mlflow = log_report(study, out, mlflow_uri)
    return result


REPORT_FILES = ("report.md", "report.html", "report.tex", "report.json",
                "report.pdf", "report.aux", "report.log", "report.out")  # and its LaTeX build
REPORT_DIRS = ("data", "figures", "tables", "reproduce")
"""What a report writes into its directory: all of it, and only it, is replaced by the next."""


def prepare_out(out: Path) -> bool:
    """Make ``out`` ready for a report; True when a previous report there was removed.

    A previous report (``report.json`` present) is replaced: its files and folders go, so no
    table or figure of another study survives beside the new one; anything else in the folder
    stays. A non-empty folder that holds no report is refused (nothing of the user's is ever
    overwritten), as is a path that is a file.
    """
    if not check_out(out):
        out.mkdir(parents=True, exist_ok=True)
        return False
    for name in REPORT_FILES:
        (out / name).unlink(missing_ok=True)
    for name in REPORT_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    return True


def check_out(out: Path) -> bool:
    """A :class:`UsageError` when ``out`` may not take a report (:func:`prepare_out`); True
    when it holds a previous report, False when it is missing or empty. Writes nothing."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory",
                         "give a new or empty directory for the report")
    if not out.exists() or not any(out.iterdir()):
        return False
    if not (out / "report.json").is_file():
        raise UsageError(f"--out {out} is not empty and holds no aira-eval report",
                         "give a new or empty directory (a previous report's folder, with "
                         "its report.json, is replaced)")
    return True


def _write(result: ReportResult, ctx: Context) -> dict[str, Path]:
    from aira_eval.analysis import render_html, render_md, render_tex
    from aira_eval.analysis.export import export_data

    files = export_data(result.sections, ctx.out / "data")
    meta = _meta(ctx)
    if "md" in ctx.options.formats:
        files["md"] = render_md.write(result.sections, meta, ctx.out)
    if "html" in ctx.options.formats:
        files["html"] = render_html.write(result.sections, meta, ctx.out)
    if "tex" in ctx.options.formats:
        files["tex"] = render_tex.write(result.sections, meta, ctx.out)
    return files


def _meta(ctx: Context) -> dict[str, Any]:
    study = ctx.study
    n_agents = len(set(ctx.groups.values()))
    return {"title": "Study report: " + ", ".join(study.study_ids or ["in-memory study"]),
            "summary": f"{study.nodes['task'].nunique()} task(s), {n_agents} group(s) of "
                       f"searches ({_grouping(ctx)}), "
                       f"{study.nodes['search_id'].nunique()} search(es), "
                       f"{len(study.nodes):,} node(s); scores on the {ctx.scale.label}."
                       + (f" Warning: {warning}." if (warning := completeness(study)) else "")}


def _grouping(ctx: Context) -> str:
    if ctx.options.by:
        return "grouped by " + ", ".join(ctx.options.by)
    return "grouped by agent" if len(set(ctx.groups.values())) > 1 else "pooled: one agent"


def _write_json(result: ReportResult, ctx: Context) -> None:
    payload = {"timings_s": result.timings, "cpu_s": result.cpu,
               "sections": {s.key: {"title": s.title, "empty": s.empty, "error": s.error,
                                    "seconds": s.seconds, "tables": [t.name for t in s.tables],
                                    "figures": [f.name for f in s.figures], "notes": s.notes}
                            for s in result.sections},
               "files": {k: str(v.relative_to(ctx.out)) for k, v in result.files.items()
                         if v.is_relative_to(ctx.out)},
               "manifest": ctx.cache.get("manifest")}
    path = ctx.out / "report.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    result.files["json"] = path
