"""Package versions a peer's log records, and how they differ from the re-grade's sandbox.

Agent code written for one library version can behave differently under another (pandas 3
selects no columns with ``dtype == "object"``): a re-grade warns when the log says which
versions the agent ran and the sandbox has others. Logs rarely state them outright; what is
read: aira-dojo's ``metadata.*_version`` (e.g. ``torch_version``), the Python version in the
tracebacks' ``.../pythonX.Y/site-packages/...`` paths, and ``name==version`` lines a script
printed. Versions are compared on major.minor (a patch release rarely changes behaviour).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

_SITE = re.compile(r"python(\d+\.\d+)/(?:site|dist)-packages")
_PINNED = re.compile(r"^\s*([A-Za-z][\w.-]*)\s*==\s*(\d+(?:\.\d+)+)", re.MULTILINE)
ALIASES = {"sklearn": "scikit-learn", "lightGBM": "lightgbm"}


def _norm(name: str) -> str:
    name = ALIASES.get(name, name)
    return name.lower().replace("_", "-")


def versions_from_text(texts: Iterable[str]) -> dict[str, str]:
    """Versions named in terminal outputs: the most common ``pythonX.Y/site-packages`` and
    ``package==version`` lines."""
    pythons: Counter[str] = Counter()
    pinned: dict[str, str] = {}
    for text in texts:
        pythons.update(_SITE.findall(text))
        for name, version in _PINNED.findall(text):
            pinned[_norm(name)] = version
    out = dict(pinned)
    if pythons:
        out["python"] = pythons.most_common(1)[0][0]
    return out


def versions_from_dojo(config: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.<name>_version`` entries of a dojo config (e.g. ``torch_version``)."""
    meta = config.get("metadata") or {}
    return {_norm(key[: -len("_version")]): str(value) for key, value in meta.items()
            if key.endswith("_version") and value}


def _minor(version: str) -> tuple[int, ...]:
    base = re.split(r"[+\-a-zA-Z]", version.strip(), maxsplit=1)[0]
    return tuple(int(p) for p in base.split(".")[:2] if p.isdigit())


def version_warnings(logged: Mapping[str, str], sandbox: Mapping[str, Any]) -> list[str]:
    """One line per package whose logged version differs from the sandbox's (major.minor), or
    that the sandbox lacks. ``sandbox`` is a probe's result (``python`` and ``packages``)."""
    have = {_norm(k): str(v) for k, v in (sandbox.get("packages") or {}).items() if v}
    if sandbox.get("python"):
        have["python"] = str(sandbox["python"])
    out = []
    for name, version in sorted(logged.items()):
        name = _norm(name)
        mine = have.get(name)
        if mine is None:
            out.append(f"{name} {version} in the log is not installed in the sandbox")
        elif _minor(mine) != _minor(version):
            out.append(f"{name} {version} in the log, {mine} in the sandbox")
    return out
