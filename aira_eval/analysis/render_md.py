"""``report.md``: the report as Markdown, figures linked as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.analysis.sections import Section, alignments


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; words left-aligned, numbers right."""
    head = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    align = "|" + "|".join(":---" if a == "l" else "---:" for a in alignments(frame)) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, align, *rows])


def section_md(number: int, section: Section, out: Path) -> str:
    parts = [f"## {number}. {section.title}"]
    if section.intro:
        parts.append(section.intro)
    if section.empty:
        parts.append(f"> **Empty:** {section.empty}.")
    for t in section.tables:
        parts += [f"**Table: {t.title}.** {t.caption}", md_table(t.display)]
    for f in section.figures:
        png = f.files.get("png")
        rel = png.relative_to(out).as_posix() if png is not None else ""
        parts += [f"![{f.title}]({rel})", f"*Figure: {f.title}.* {f.caption}"]
    if section.code:
        parts.append("```\n" + "\n".join(section.code) + "\n```")
    parts += [f"- {n}" for n in section.notes]
    return "\n\n".join(parts)


def write(sections: Sequence[Section], meta: dict[str, Any], out: Path) -> Path:
    body = [f"# {meta['title']}", meta["summary"]]
    body += [section_md(i, s, out) for i, s in enumerate(sections, 1)]
    path = out / "report.md"
    path.write_text("\n\n".join(body) + "\n", encoding="utf-8")
    return path
