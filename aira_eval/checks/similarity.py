"""Check 4: code similarity between nodes and reference solutions (e.g. public notebooks).

Winnowed k-gram fingerprints, as MOSS (Schleimer, Wilkerson & Aiken, SIGMOD 2003) and Dolos do:

1. tokenize with :mod:`tokenize`, dropping comments and layout (newlines, indents);
2. normalise: identifiers become ``V`` except keywords, builtins, attribute names (``.fit``)
   and keyword-argument names (``n_estimators=``), which name APIs rather than variables;
   numbers become ``N`` and strings ``S`` — so renaming variables or changing constants
   does not hide a copy;
3. hash every k-gram of normalised tokens (``k = 25`` by default) with a Rabin–Karp rolling
   hash over stable (CRC32) token hashes, modulo the Mersenne prime 2⁶¹−1;
4. winnow: in every window of ``w = 40`` consecutive k-gram hashes keep the minimum
   (rightmost on ties). Any shared run of at least ``w + k − 1 = 64`` tokens is guaranteed
   to share a fingerprint; runs shorter than ``k`` never do.

similarity(node, reference) = |shared fingerprints| / |node fingerprints| — the share of the
node's code found in the reference. References are ``.py`` files and ``.ipynb`` notebooks
(their code cells, IPython ``%``/``!`` lines dropped), searched recursively.

Status: ``fail`` when a node reaches ``fail_at`` (0.8) against some reference, ``warn`` at
``warn_at`` (0.5), else ``pass``; ``skip`` without references.
"""

from __future__ import annotations

import builtins
import io
import json
import keyword
import re
import tokenize
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError

MOD = (1 << 61) - 1
BASE = 1_000_003
_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENCODING, tokenize.ENDMARKER}
_STRINGISH = {tokenize.STRING} | {
    getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
    if hasattr(tokenize, n)
}
_FALLBACK = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"[^\"\n]*\"|'[^'\n]*'|\S")


def _raw_tokens(code: str) -> list[tuple[int, str]]:
    try:
        return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(code).readline)
                if t.type not in _SKIP]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out: list[tuple[int, str]] = []
        for m in _FALLBACK.finditer(re.sub(r"#[^\n]*", "", code)):
            text = m.group()
            kind = (tokenize.NAME if text[0].isalpha() or text[0] == "_"
                    else tokenize.NUMBER if text[0].isdigit()
                    else tokenize.STRING if text[0] in "\"'" else tokenize.OP)
            out.append((kind, text))
        return out


def normalised_tokens(code: str) -> list[str]:
    """The token stream fingerprints are taken over (see the module docstring)."""
    raw = _raw_tokens(code)
    out: list[str] = []
    depth = 0
    for i, (kind, text) in enumerate(raw):
        if kind == tokenize.OP:
            depth += text in "([{"
            depth -= text in ")]}"
            out.append(text)
        elif kind == tokenize.NAME:
            prev = raw[i - 1][1] if i else ""
            nxt = raw[i + 1][1] if i + 1 < len(raw) else ""
            api = prev == "." or (depth > 0 and nxt == "=")
            out.append(text if api or text in _KEEP_NAMES else "V")
        elif kind == tokenize.NUMBER:
            out.append("N")
        elif kind in _STRINGISH:
            if out and out[-1] == "S":
                continue  # implicit concatenation and f-string parts: one string
            out.append("S")
        else:
            out.append(text)
    return out


def kgram_hashes(tokens: list[str], k: int) -> list[int]:
    """Rolling (Rabin–Karp) hashes of every k-gram of ``tokens``."""
    if len(tokens) < k:
        return []
    values = [zlib.crc32(t.encode()) for t in tokens]
    top = pow(BASE, k - 1, MOD)
    h = 0
    for v in values[:k]:
        h = (h * BASE + v) % MOD
    out = [h]
    for i in range(k, len(values)):
        h = ((h - values[i - k] * top) * BASE + values[i]) % MOD
        out.append(h)
    return out


def winnow(hashes: list[int], w: int) -> set[int]:
    """Robust winnowing: the rightmost minimum of every window of ``w`` hashes (a monotonic
    deque, linear time)."""
    if not hashes:
        return set()
    if len(hashes) <= w:
        return {min(hashes)}
    picked: set[int] = set()
    queue: deque[int] = deque()
    last = -1
    for i, h in enumerate(hashes):
        while queue and hashes[queue[-1]] >= h:
            queue.pop()
        queue.append(i)
        if queue[0] <= i - w:
            queue.popleft()
        if i >= w - 1 and queue[0] != last:
            last = queue[0]
            picked.add(hashes[last])
    return picked


def fingerprints(code: str, k: int = 25, w: int = 40) -> set[int]:
    """The winnowed fingerprint set of a script."""
    return winnow(kgram_hashes(normalised_tokens(code), k), w)


def notebook_code(text: str) -> str:
    """The code cells of an ``.ipynb`` JSON document, IPython magics and shell lines dropped."""
    doc = json.loads(text)
    cells = doc.get("cells") or [c for ws in doc.get("worksheets", []) for c in ws.get("cells", [])]
    parts: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        src = "".join(src) if isinstance(src, list) else str(src)
        parts.append("\n".join(ln for ln in src.splitlines()
                               if not ln.lstrip().startswith(("%", "!"))))
    return "\n\n".join(parts)


def load_references(folder: Path) -> dict[str, str]:
    """``relative path -> code`` of every ``.py`` and ``.ipynb`` file under ``folder``."""
    if not folder.is_dir():
        raise UsageError(f"reference folder {folder} does not exist or is not a directory",
                         hint="Pass --references a folder of .py files and .ipynb notebooks.")
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".py", ".ipynb") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            try:
                text = notebook_code(text)
            except (json.JSONDecodeError, AttributeError, TypeError):
                continue  # not a notebook after all: skipped, not fatal
        out[str(path.relative_to(folder))] = text
    return out


@dataclass
class SimilarityResult:
    """Top reference matches of every node."""

    k: int
    w: int
    n_references: int
    matches: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    warn_at: float = 0.5
    fail_at: float = 0.8

    def best(self) -> list[tuple[str, str, float]]:
        """``(node, reference, similarity)`` of every node's best match, highest first."""
        rows = [(n, m[0][0], m[0][1]) for n, m in self.matches.items() if m]
        return sorted(rows, key=lambda r: -r[2])

    def status(self) -> str:
        if self.n_references == 0:
            return "skip"
        top = max((s for _, _, s in self.best()), default=0.0)
        return "fail" if top >= self.fail_at else "warn" if top >= self.warn_at else "pass"

    def to_dict(self, max_nodes: int = 20) -> dict[str, Any]:
        return {
            "k": self.k, "w": self.w, "n_references": self.n_references,
            "warn_at": self.warn_at, "fail_at": self.fail_at,
            "n_nodes": len(self.matches),
            "top": [{"node_id": n, "reference": r, "similarity": round(s, 4)}
                    for n, r, s in self.best()[:max_nodes]],
            "matches": {n: [{"reference": r, "similarity": round(s, 4)} for r, s in m]
                        for n, m in self.matches.items() if m},
        }


def code_similarity(
    codes: dict[str, str],
    references: dict[str, str],
    *,
    k: int = 25,
    w: int = 40,
    top: int = 3,
) -> SimilarityResult:
    """Every node's ``top`` most similar references (similarity > 0 only)."""
    if k < 1 or w < 1:
        raise UsageError(f"k and w must be positive, got k={k}, w={w}")
    index: dict[int, set[str]] = {}
    for name, code in references.items():
        for fp in fingerprints(code, k, w):
            index.setdefault(fp, set()).add(name)
    result = SimilarityResult(k=k, w=w, n_references=len(references))
    for node_id, code in codes.items():
        fps = fingerprints(code, k, w)
        shared: dict[str, int] = {}
        for fp in fps:
            for name in index.get(fp, ()):
                shared[name] = shared.get(name, 0) + 1
        scored = sorted(((n, c / len(fps)) for n, c in shared.items()), key=lambda x: -x[1])
        result.matches[node_id] = scored[:top]
    return result
