"""Where a peer's scripts read their data and write their submission, detected from its log.

Agents differ in the working-dir contract they gave their LLM, and a re-grade must run their
code as it ran for them (never edited):

- ``aide`` (WecoAI/aideml): reads ``./input``, writes ``./working/submission.csv``;
- ``mlebench`` (MLE-bench's agents and its AIDE fork): reads ``/home/data`` (the same files as
  ``./input``), writes ``./submission/submission.csv`` (also seen as ``/home/submission``);
- ``aira-dojo`` (as its operator prompts say): reads ``./data``, writes ``./submission.csv``;
- ``aira-eval`` (aira-eval's own script contract): ``./input``, ``./submission/submission.csv``.

A :class:`Convention` turns into plain sandbox fields (:meth:`Convention.spec_fields`: input
aliases, a submission path, absolute path maps); the sandbox makes the paths exist. Detection
reads the run's config (AIDE's ``config.yaml`` ``data_dir``, aira-dojo's operator prompts) and
the nodes' code (paths it names), and says what decided it (``detected_from``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError

MLEBENCH_MAPS = (("/home/data", "input"), ("/home/submission", "submission"))


@dataclass(frozen=True)
class Convention:
    """One working-dir contract.

    Attributes:
        name: ``aide``, ``mlebench``, ``aira-dojo``, ``aira-eval`` or ``custom``.
        input_dir: the public files' directory as the scripts name it: a name relative to the
            working dir (``input``, ``data``) or an absolute path (``/home/data``).
        submission_path: where the scripts write, relative to the working dir or absolute.
        path_maps: more absolute paths the scripts use, as ``(path, working-dir entry)``.
        detected_from: what decided the convention (config, code, default, override).
    """

    name: str
    input_dir: str = "input"
    submission_path: str = "submission/submission.csv"
    path_maps: tuple[tuple[str, str], ...] = ()
    detected_from: str = "default"

    def spec_fields(self) -> dict[str, Any]:
        """The sandbox fields (``ExecSpec``'s ``input_aliases``, ``submission_path``,
        ``path_maps``) that give the scripts this layout."""
        aliases: tuple[str, ...] = ()
        maps = list(self.path_maps)
        if self.input_dir.startswith("/"):
            maps.insert(0, (self.input_dir, "input"))
        elif self.input_dir != "input":
            aliases = (self.input_dir,)
        sub = self.submission_path
        if sub.startswith("/"):
            parent, _, name = sub.rpartition("/")
            maps.append((parent, "submission"))
            sub = f"submission/{name}"
        unique = tuple(dict.fromkeys(maps))
        return {"input_aliases": aliases, "submission_path": sub, "path_maps": unique}

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["path_maps"] = [list(m) for m in self.path_maps]
        return out

    def with_overrides(self, input_dir: str | None = None,
                       submission_path: str | None = None) -> Convention:
        """This convention with the user's ``--input-dir`` / ``--submission-path``."""
        if input_dir is None and submission_path is None:
            return self
        return replace(
            self, name="custom", detected_from=f"override of {self.name}",
            input_dir=_clean(input_dir, "--input-dir") if input_dir else self.input_dir,
            submission_path=_clean(submission_path, "--submission-path") if submission_path
            else self.submission_path)


def _clean(path: str, option: str) -> str:
    text = path.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    if not text or ".." in text.split("/") or text in (".", "/"):
        raise UsageError(f"{option} {path!r} is not a usable path",
                         hint="e.g. --input-dir ./data or /home/data; "
                              "--submission-path ./working/submission.csv")
    return text


AIDE = Convention("aide", "input", "working/submission.csv")
MLEBENCH = Convention("mlebench", "input", "submission/submission.csv", MLEBENCH_MAPS)
DOJO = Convention("aira-dojo", "data", "submission.csv")
AIRA_EVAL = Convention("aira-eval")

# What a node's code names, per convention (the first that matches votes).
_CODE_MARKERS: tuple[tuple[Convention, re.Pattern[str]], ...] = (
    (MLEBENCH, re.compile(r"/home/(data|submission)\b")),
    (AIDE, re.compile(r"working/submission\.csv")),
    (AIRA_EVAL, re.compile(r"submission/submission\.csv")),  # no /home path: no mapping needed
    (DOJO, re.compile(r"""["'](\./)?data/|["'](\./)?submission\.csv["']""")),
)


def code_votes(codes: Iterable[str]) -> Counter[str]:
    """How many scripts name each convention's paths."""
    votes: Counter[str] = Counter()
    for code in codes:
        for conv, pattern in _CODE_MARKERS:
            if pattern.search(code):
                votes[conv.name] += 1
                break
    return votes


def _by_name(name: str) -> Convention:
    return {c.name: c for c in (AIDE, MLEBENCH, DOJO, AIRA_EVAL)}[name]


def from_code(codes: list[str], candidates: tuple[str, ...]) -> tuple[Convention, str] | None:
    """The candidate most scripts use, with its vote as text; None when none votes."""
    votes = code_votes(codes)
    ranked = [(n, votes[n]) for n in candidates if votes[n]]
    if not ranked:
        return None
    name, count = max(ranked, key=lambda item: item[1])
    return _by_name(name), f"code ({count}/{len(codes)} scripts name its paths)"


def detect_aide(journal: Path, codes: list[str]) -> Convention:
    """AIDE's own (``./working``) or MLE-bench's AIDE fork (``/home/data``,
    ``./submission/``): the run's ``config.yaml`` ``data_dir`` first, then the code."""
    config = read_aide_config(journal.parent / "config.yaml")
    data_dir = str(config.get("data_dir") or "")
    if data_dir.rstrip("/") == "/home/data":
        return replace(MLEBENCH, detected_from="config.yaml data_dir /home/data")
    found = from_code(codes, ("aide", "mlebench", "aira-eval"))
    if found is not None:
        return replace(found[0], detected_from=found[1])
    return replace(AIDE, detected_from="default for AIDE journals")


def detect_dojo(config: dict[str, Any], codes: list[str]) -> Convention:
    """aira-dojo's layout from its operator prompts (``./data``, ``./submission.csv``), then
    the code."""
    prompts = "\n".join(_templates(config.get("solver") or {}))
    if prompts:
        input_dir = "data" if re.search(r"`?\./data`?", prompts) else (
            "/home/data" if "/home/data" in prompts else "input")
        sub = _prompt_submission(prompts, str((config.get("task") or {}).get(
            "submission_fname") or "submission.csv"))
        return Convention("aira-dojo", input_dir, sub, (),
                          "dojo_config.json operator prompts")
    found = from_code(codes, ("aira-dojo", "mlebench", "aide", "aira-eval"))
    if found is not None:
        return replace(found[0], detected_from=found[1])
    return replace(DOJO, detected_from="default for aira-dojo runs")


def _prompt_submission(prompts: str, fname: str) -> str:
    for path in ("submission/" + fname, "working/" + fname):
        if f"./{path}" in prompts:
            return path
    return fname  # "in the current directory (`./submission.csv`)"


def _templates(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "template" and isinstance(value, str):
                yield value
            else:
                yield from _templates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _templates(item)


def read_aide_config(path: Path) -> dict[str, Any]:
    """AIDE's ``config.yaml`` (its ``!!python/object/apply:pathlib.PosixPath`` tags read as
    path strings); ``{}`` when absent or unreadable."""
    if not path.is_file():
        return {}
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def _python(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.SequenceNode):
            parts = [str(p) for p in loader.construct_sequence(node)]
            return "/".join(parts).replace("//", "/") if "Path" in suffix else parts
        return None

    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}
    return raw if isinstance(raw, dict) else {}
