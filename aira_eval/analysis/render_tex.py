"""LaTeX: one booktabs table per file (``tables/<name>.tex``, ``\\input``-ready, numbers
right-aligned with fixed decimals, intervals as ``0.61 [0.55, 0.67]``) and a ``report.tex``
that inputs them and the PDF figures, and compiles with pdflatex (packages of Debian's
``texlive-latex-recommended``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aira_eval.analysis.sections import Section, Table, alignments

SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
           "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$"}
UNICODE = {"Δ": r"$\Delta$", "ρ": r"$\rho$", "τ": r"$\tau$", "−": r"$-$", "≥": r"$\geq$",
           "≤": r"$\leq$", "…": r"\ldots{}", "—": "---", "–": "--", "×": r"$\times$",
           "·": r"$\cdot$", "±": r"$\pm$", "²": r"$^2$", "≫": r"$\gg$", "α": r"$\alpha$",
           "→": r"$\rightarrow$", "’": "'", "“": "``", "”": "''", "↑": r"$\uparrow$",
           "↓": r"$\downarrow$", "√": r"$\surd$"}
PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[utf8]{inputenc}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage{caption}
\usepackage{float}
\usepackage[hidelinks]{hyperref}
\captionsetup{font=small}
"""


def escape(text: Any) -> str:
    """Plain text to LaTeX: specials escaped, known Unicode symbols as math, other
    non-Latin characters transliterated or dropped."""
    out = []
    for ch in str(text):
        if ch in SPECIAL:
            out.append(SPECIAL[ch])
        elif ch in UNICODE:
            out.append(UNICODE[ch])
        elif ord(ch) < 128 or (unicodedata.category(ch).startswith("L") and ord(ch) < 0x250):
            out.append(ch)
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    return "".join(out)


def _label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name)


INTERVAL = re.compile(r"^(\S+) (\[\S+, \S+\])$")


def cell(value: Any) -> str:
    """A table cell; ``est [lo, hi]`` as the estimate over its interval (two lines)."""
    m = INTERVAL.match(str(value))
    if m is None:
        return _minus(escape(value))
    return (rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{_minus(escape(m.group(1)))}\\"
            rf"{{\scriptsize {_minus(escape(m.group(2)))}}}\end{{tabular}}")


NEGATIVE = re.compile(r"(?<![\w.])-(?=\d|\.\d)")


def _minus(text: str) -> str:
    """A number's minus sign as a math minus (a hyphen in text mode is too short)."""
    return NEGATIVE.sub(r"$-$", text)


def _width(value: Any) -> int:
    m = INTERVAL.match(str(value))
    return len(str(value)) if m is None else int(0.75 * len(m.group(2)))


def table_tex(table: Table) -> str:
    """One ``table`` float with a booktabs ``tabular``; wide tables scaled to the line."""
    frame = table.display
    cols = "".join(alignments(frame)) or "l"
    lines = [r"% needs \usepackage{booktabs,float} (and graphicx where \resizebox is used)",
             r"\begin{table}[H]", r"\centering", r"\small",
             rf"\caption{{\textbf{{{escape(table.title)}.}} {escape(table.caption)}}}",
             rf"\label{{tab:{_label(table.name)}}}"]
    rows = list(frame.itertuples(index=False))
    width = max([sum(_width(v) + 2 for v in row) for row in rows] or [0])
    width = max(width, sum(len(str(c)) + 2 for c in frame.columns))
    body = [rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
            " & ".join(escape(c) for c in frame.columns) + r" \\", r"\midrule",
            *(" & ".join(cell(v) for v in row) + r" \\" for row in rows),
            r"\bottomrule", r"\end{tabular}"]
    if width > 110:
        body = [r"\resizebox{\linewidth}{!}{%", *body, "}"]
    return "\n".join([*lines, *body, r"\end{table}"]) + "\n"


def _verbatim_safe(line: str, width: int = 88) -> str:
    """Verbatim lines in ASCII (pdflatex's verbatim has no Unicode), long ones wrapped."""
    line = line.replace("−", "-").replace("·", "*").replace("…", "...")
    line = "".join(c if ord(c) < 128 else "?" for c in line)
    parts = [line[i:i + width] for i in range(0, len(line), width)] or [""]
    return " \\\n    ".join(parts) if len(parts) > 1 else parts[0]


def section_tex(number: int, section: Section, out: Path) -> str:
    parts = [rf"\section{{{escape(section.title)}}}\label{{sec:{_label(section.key)}}}"]
    if section.intro:
        parts.append(escape(section.intro))
    if section.empty:
        parts.append(rf"\emph{{Empty: {escape(section.empty)}.}}")
    for t in section.tables:
        parts.append(rf"\input{{tables/{t.name}.tex}}")
    for f in section.figures:
        pdf = f.files.get("pdf")
        if pdf is None:
            continue
        parts.append("\n".join([
            r"\begin{figure}[H]", r"\centering",
            rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]"
            rf"{{{pdf.relative_to(out).as_posix()}}}",
            rf"\caption{{\textbf{{{escape(f.title)}.}} {escape(f.caption)}}}",
            rf"\label{{fig:{_label(f.name)}}}", r"\end{figure}"]))
    if section.code:
        parts.append("\\begin{verbatim}\n" + "\n".join(_verbatim_safe(c) for c in section.code)
                     + "\n\\end{verbatim}")
    if section.notes:
        parts.append("\\begin{itemize}\n" + "\n".join(rf"\item {escape(n)}" for n in
                                                      section.notes) + "\n\\end{itemize}")
    return "\n\n".join(parts)


def write(sections: Sequence[Section], meta: dict[str, Any], out: Path) -> Path:
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for section in sections:
        for t in section.tables:
            (tables / f"{t.name}.tex").write_text(table_tex(t), encoding="utf-8")
    body = [PREAMBLE, rf"\title{{{escape(meta['title'])}}}", r"\date{}", r"\begin{document}",
            r"\maketitle", escape(meta["summary"]),
            *(section_tex(i, s, out) for i, s in enumerate(sections, 1)), r"\end{document}"]
    path = out / "report.tex"
    path.write_text("\n\n".join(body) + "\n", encoding="utf-8")
    return path
