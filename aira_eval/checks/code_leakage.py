"""Check 2: leakage in node code — a static scan with ``ast`` (and regexes where code does not
parse).

A solution may only read ``./input/`` (the public files). Rules, each finding carrying the node
id, line, rule and source line:

====================  ========  ===========================================================
rule                  severity  what it matches
====================  ========  ===========================================================
``private-path``      fail      a string naming the private answers: a ``private`` path
                                component, an answers file name, the data dir's path
``network``           fail      a network library import (requests, urllib, socket, ...), a
                                call such as ``urlopen``, a process running ``curl``/``wget``
                                (argv list or shell string: see shell_commands), a shell
                                download command line in a string
``hardcoded-labels``  fail      a literal list/tuple/set of >= ``min_labels`` constants that
                                repeats values: at most 20 distinct ones, or only the test
                                labels' vocabulary, or exactly ``n_test`` items; also such a
                                list in one long delimited string
``test-labels``       fail      reading a label column from a frame loaded from a ``test``
                                file before the script assigned that column itself
``absolute-path``     warn      an absolute path (``/data/x.csv``, ``C:\\``), except ``/tmp``
                                and ``/dev``
``parent-dir``        warn      a ``..`` path component
``home-dir``          warn      ``~`` paths, ``expanduser``, ``Path.home()``, ``$HOME``
``url``               warn      an ``http(s)://`` or ``ftp://`` literal (not a docstring)
====================  ========  ===========================================================

A node's scan fails when it has any ``fail`` finding; the check fails when any node does.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aira_eval.checks.shell_commands import scan_argv_literals, scan_process_calls

FAIL_RULES = frozenset({"private-path", "network", "hardcoded-labels", "test-labels"})
NETWORK_MODULES = frozenset({
    "requests", "urllib", "urllib2", "urllib3", "httpx", "aiohttp", "http", "socket",
    "ftplib", "smtplib", "paramiko", "pycurl", "wget", "gdown", "kaggle", "webbrowser",
})
NETWORK_CALLS = frozenset({"urlopen", "urlretrieve", "create_connection", "hf_hub_download"})
ANSWER_NAMES = ("gold_submission", "answers.csv", "solution.csv", "private_test")
_ABS = re.compile(r"^(/(?!tmp\b|dev\b)[\w.\-]+(/|$)|[A-Za-z]:[\\/])")
_PARENT = re.compile(r"(^|[\\/])\.\.([\\/]|$)")
_URL = re.compile(r"\b(https?|ftp)://", re.IGNORECASE)
#: a shell command line starting a download: ``curl``/``wget`` in command position (start of the
#: string or after ``;``, ``&&``, ``|``, ``$(``) with an option or a URL, or ``kaggle
#: competitions|datasets`` ("install curl first" or "curl is slow" are not commands)
_SHELL_NET = re.compile(
    r"""(?:^|&&|\|\||[;|`(\n'"])\s*(?:sudo\s+)?(?:\S*/)?(?:curl|wget|aria2c)(?:\.exe)?"""
    r"""\s+(?:\S+\s+)*?(?:-\w|\S*://)"""
    r"|\bkaggle\s+(competitions|datasets|kernels)\b"
)
_PRIVATE = re.compile(r"(^|[\\/])private([\\/]|$)", re.IGNORECASE)
_LINE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private-path", re.compile(r"""["'][^"']*\bprivate[\\/][^"']*["']""", re.IGNORECASE)),
    ("network", re.compile(r"^\s*(import|from)\s+(requests|urllib\w*|socket|httpx|aiohttp)\b")),
    ("network", re.compile(r"\b(requests\.(get|post)|urlopen|urlretrieve)\s*\(")),
    ("network", re.compile(  # ["curl", ...], "wget -q ...", a notebook's !curl
        r"""["'](?:\S*/)?(curl|wget)["']|["']\s*(?:\S*/)?(curl|wget)\s+(\S+\s+)*?(-\w|\S*://)"""
        r"|^\s*!\s*(curl|wget)\b")),
    ("parent-dir", re.compile(r"""["'](\.\./|[^"']*/\.\./)""")),
    ("absolute-path", re.compile(r"""["']/(?!tmp\b|dev\b)[\w.\-]+/""")),
    ("home-dir", re.compile(r"""["']~[/\\]|expanduser|Path\.home\(""")),
)


@dataclass(frozen=True)
class Finding:
    """One suspicious spot in one node's code."""

    node_id: str
    line: int
    rule: str
    snippet: str
    detail: str = ""

    @property
    def severity(self) -> str:
        return "fail" if self.rule in FAIL_RULES else "warn"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity}


@dataclass(frozen=True)
class LeakageContext:
    """What the scanner knows about the task (all optional).

    Attributes:
        label_columns: target column names (for ``test-labels``).
        label_vocabulary: the distinct test labels as strings (for ``hardcoded-labels``).
        n_test: number of test rows (a literal list this long is flagged).
        answer_names: private file names that are not also public file names.
        data_dirs: absolute paths of the task data (private/public dirs, the data dir).
        min_labels: the shortest literal list considered a label list.
    """

    label_columns: tuple[str, ...] = ()
    label_vocabulary: frozenset[str] = frozenset()
    n_test: int | None = None
    answer_names: tuple[str, ...] = ()
    data_dirs: tuple[str, ...] = ()
    min_labels: int = 100


@dataclass
class LeakageResult:
    """Findings over all scanned nodes."""

    findings: list[Finding] = field(default_factory=list)
    n_nodes: int = 0
    unparsable: list[str] = field(default_factory=list)

    @property
    def flagged_nodes(self) -> list[str]:
        return sorted({f.node_id for f in self.findings if f.severity == "fail"})

    def status(self) -> str:
        if any(f.severity == "fail" for f in self.findings):
            return "fail"
        return "warn" if self.findings else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_nodes": self.n_nodes,
            "flagged_nodes": self.flagged_nodes,
            "unparsable": self.unparsable,
            "findings": [f.to_dict() for f in self.findings],
        }


def _line(lines: Sequence[str], lineno: int) -> str:
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return text if len(text) <= 200 else text[:199] + "…"


def _docstring_ids(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            out.add(id(node.value))
    return out


def _string_rule(text: str, ctx: LeakageContext) -> tuple[str, str] | None:
    lowered = text.lower()
    if _PRIVATE.search(text) or any(n.lower() in lowered for n in ANSWER_NAMES):
        return "private-path", "names the private answers"
    for name in ctx.answer_names:
        if name.lower() in lowered:
            return "private-path", f"names the answers file {name}"
    for path in ctx.data_dirs:
        if path and path in text:
            return "private-path", f"names the task data dir {path}"
    if _SHELL_NET.search(text):
        return "network", "shell download command"
    if _URL.search(text):
        return "url", "a URL"
    if _PARENT.search(text):
        return "parent-dir", "a path above the working dir"
    if text.startswith("~/") or text == "~":
        return "home-dir", "a home-dir path"
    if _ABS.match(text):
        return "absolute-path", "an absolute path outside ./input"
    return None


def _scan_strings(tree: ast.AST, ctx: LeakageContext) -> Iterator[tuple[int, str, str]]:
    docstrings = _docstring_ids(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in docstrings:
            continue
        hit = _string_rule(node.value, ctx)
        if hit is not None:
            yield node.lineno, hit[0], hit[1]
        labels = _delimited_labels(node.value, ctx)
        if labels:
            yield node.lineno, "hardcoded-labels", labels


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _scan_network(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in NETWORK_MODULES:
                    yield node.lineno, "network", f"imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in NETWORK_MODULES:
                yield node.lineno, "network", f"imports from {node.module}"
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.split(".")[-1] in NETWORK_CALLS:
                yield node.lineno, "network", f"calls {name}"


def _scan_home(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.endswith("expanduser") or name.endswith("Path.home"):
                yield node.lineno, "home-dir", f"calls {name}"
        elif isinstance(node, ast.Constant) and node.value == "HOME":
            yield node.lineno, "home-dir", "reads $HOME"


def _label_like(values: list[str], ctx: LeakageContext) -> str:
    """Why ``values`` looks like a hard-coded label list, or '' if it does not."""
    n = len(values)
    if n < ctx.min_labels and not (ctx.n_test and n == ctx.n_test and n >= 10):
        return ""
    distinct = set(values)
    if len(distinct) > max(1, n // 2):
        return ""  # mostly distinct values: a class list or a lookup table, not labels
    if ctx.n_test and n == ctx.n_test:
        return f"{n} literals, exactly the number of test rows"
    if ctx.label_vocabulary and distinct <= ctx.label_vocabulary:
        return f"{n} literals, all in the test labels' vocabulary"
    if len(distinct) <= 20:
        return f"{n} literals over {len(distinct)} distinct values"
    return ""


def _literal_values(node: ast.List | ast.Tuple | ast.Set) -> list[str] | None:
    out: list[str] = []
    for elt in node.elts:
        if isinstance(elt, ast.Constant) and not isinstance(elt.value, bytes):
            out.append(canonical_literal(elt.value))
        elif (isinstance(elt, ast.UnaryOp) and isinstance(elt.operand, ast.Constant)
              and isinstance(elt.operand.value, int | float)):
            value = elt.operand.value
            out.append(canonical_literal(-value if isinstance(elt.op, ast.USub) else value))
        else:
            return None
    return out


def canonical_literal(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _scan_literals(tree: ast.AST, ctx: LeakageContext) -> Iterator[tuple[int, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            values = _literal_values(node)
            why = _label_like(values, ctx) if values else ""
            if why:
                yield node.lineno, "hardcoded-labels", why


def _delimited_labels(text: str, ctx: LeakageContext) -> str:
    if len(text) < 2 * ctx.min_labels:
        return ""
    parts = [p for p in re.split(r"[,\s;|]+", text.strip()) if p]
    why = _label_like(parts, ctx)
    return f"a delimited string of {why}" if why else ""


def _test_frames(tree: ast.AST) -> dict[str, int]:
    """Names assigned from a call that reads a ``test`` file -> line of that assignment."""
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        args = [*node.value.args, *(k.value for k in node.value.keywords)]
        reads_test = any(
            isinstance(a, ast.Constant) and isinstance(a.value, str)
            and "test" in a.value.lower() and "." in a.value for a in args
        )
        if reads_test:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, node.lineno)
    return out


def _column_access(node: ast.AST) -> tuple[str, str] | None:
    """``(frame, column)`` of ``frame["col"]`` or ``frame.col``."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return node.value.id, key.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def scan_test_label_reads(
    tree: ast.AST, label_columns: Sequence[str]
) -> Iterator[tuple[int, str, str]]:
    """Reads of a label column from a frame loaded from a ``test`` file, before the script
    stored that column itself (writing predictions into the test frame is fine)."""
    if not label_columns:
        return
    frames = _test_frames(tree)
    stored: dict[tuple[str, str], int] = {}
    loads: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        access = _column_access(node)
        if access is None or access[0] not in frames or access[1] not in label_columns:
            continue
        lineno = int(getattr(node, "lineno", 0))
        if isinstance(getattr(node, "ctx", None), ast.Store):
            stored[access] = min(stored.get(access, lineno), lineno)
        else:
            loads.append((lineno, *access))
    for lineno, frame, col in loads:
        if lineno < stored.get((frame, col), 10**9):
            yield lineno, "test-labels", f"reads label {col!r} from test frame {frame!r}"


def scan_code(node_id: str, code: str, ctx: LeakageContext | None = None) -> list[Finding]:
    """Findings of every rule in one script (regex rules only if it does not parse)."""
    ctx = ctx or LeakageContext()
    lines = code.splitlines()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _scan_lines(node_id, lines)
    hits: Iterable[tuple[int, str, str]] = [
        *_scan_strings(tree, ctx), *_scan_network(tree), *scan_process_calls(tree),
        *scan_argv_literals(tree), *_scan_home(tree),
        *_scan_literals(tree, ctx), *scan_test_label_reads(tree, ctx.label_columns),
    ]
    seen: set[tuple[int, str]] = set()
    out: list[Finding] = []
    for lineno, rule, detail in sorted(hits):
        if (lineno, rule) not in seen:
            seen.add((lineno, rule))
            out.append(Finding(node_id, lineno, rule, _line(lines, lineno), detail))
    return out


def _scan_lines(node_id: str, lines: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for i, text in enumerate(lines, start=1):
        for rule, pattern in _LINE_RULES:
            if pattern.search(text):
                out.append(Finding(node_id, i, rule, _line(lines, i),
                                   "regex (code does not parse)"))
                break
    return out


def scan_nodes(codes: dict[str, str], ctx: LeakageContext | None = None) -> LeakageResult:
    """Scan every node's code (``node id -> source``)."""
    result = LeakageResult(n_nodes=len(codes))
    for node_id, code in codes.items():
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            result.unparsable.append(node_id)
        result.findings.extend(scan_code(node_id, code, ctx))
    return result
