"""Regenerate the example outputs of the docs by running their commands (run by `nox -s docs`).

A page is run like a notebook, in one scratch directory, top to bottom: every ``bash`` and
``python`` fenced block is executed in order, and every ``text`` block preceded by a marker
line is rewritten with real output:

* ``<!-- output -->`` before a ```` ```text ```` block: the block becomes the output (stdout and
  stderr, as a terminal shows them) of the fenced ``bash``/``python`` block just above it.
* A ```` ```text ```` block whose lines start with ``$ `` (a shell prompt) after an
  ``<!-- output -->`` marker: each ``$ command`` is run and followed by its own output.
* ``<!-- not run -->`` before a ``bash`` block: shown, never executed (a block that starts a
  server, or the environment this script sets itself).
* ``<!-- run OPTIONS -->`` before a ``bash``/``python`` block: run with these options, its
  output not shown.
* ``<!-- file NAME -->`` before any block: its body is written to ``NAME`` (a config file the
  reader is asked to create).

Marker options, space separated after the name: ``head=N tail=N`` keep the first/last lines
of long outputs with a ``…`` line between; ``interrupt=S`` sends Ctrl-C (SIGINT) after S
seconds; ``exit=N`` is the exit status the command must end with (default 0: anything else
stops the generation, so the docs never show an unexpected error); ``needs=DATA_DIR`` or
``needs=AGENT_LOGS`` or ``needs=DOCKER`` (a comma list) keeps the block unchanged when that
input is not available.

The scratch directory has ``AIRA_EVAL_CACHE_DIR`` (``cache``, relative, so table cells that wrap
show no machine path), ``DATA_DIR`` (MLE-bench data, from
``--data-dir``, ``$DATA_DIR`` or ``../shared/data/mlebench``), ``AGENT_LOGS`` (peers' logs)
and ``LITELLM_LOCAL_MODEL_COST_MAP`` set; machine paths in outputs are written back as the
variables. ``--check`` runs everything but writes nothing and exits 1 if an output's shape
(:func:`skeleton`: numbers, times and widths aside) changed.

    python docs/gen_outputs.py docs/tutorial.md [--check] [--data-dir DIR] [--agent-logs DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!--\s*(output|run|not run|file)\b(.*?)-->\s*$")
FENCE = re.compile(r"^```(\w*)")
WIDTH = 80


@dataclass
class Block:
    """One fenced block: its language, body lines, the marker above it and its line span."""

    lang: str
    body: list[str]
    start: int  # index of the opening fence
    end: int  # index of the closing fence
    marker: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_blocks(lines: list[str]) -> list[Block]:
    """Every fenced block of a page, with the marker line directly above it (if any)."""
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        block = Block(fence.group(1), lines[i + 1:j], i, j)
        above = MARKER.match(lines[i - 1]) if i > 0 else None
        if above:
            block.marker = above.group(1)
            pairs = ([*kv.split("=", 1), ""][:2] for kv in above.group(2).split())
            block.options = dict(pairs)
        blocks.append(block)
        i = j + 1
    return blocks


def abridge(text: str, head: int | None, tail: int | None) -> list[str]:
    """The output's lines, the middle replaced by ``…`` when ``head``/``tail`` are given."""
    lines = [line.rstrip() for line in text.rstrip("\n").splitlines()]
    if head is None and tail is None:
        return lines
    h, t = head or 0, tail or 0
    if len(lines) <= h + t + 1:
        return lines
    return [*lines[:h], "…", *(lines[-t:] if t else [])]


def skeleton(lines: list[str]) -> list[str]:
    """The shape of an output: numbers, clock times and runs of spaces or box rules folded."""
    out = []
    for line in lines:
        line = re.sub(r"\d+:\d\d(:\d\d)?", "T", line)
        line = re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "N", line)
        line = re.sub(r"[━─═]+", "─", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return out


@dataclass
class Runner:
    """Runs commands in one scratch directory with the docs' environment."""

    cwd: Path
    env: dict[str, str]
    available: set[str]

    def run(self, argv: list[str], options: dict[str, str]) -> str:
        expected = int(options.get("exit", "0"))
        proc = subprocess.Popen(argv, cwd=self.cwd, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        if "interrupt" in options:
            time.sleep(float(options["interrupt"]))
            os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate()
        if proc.returncode != expected:
            raise SystemExit(f"{' '.join(argv)[:200]}: exit {proc.returncode}, expected "
                             f"{expected} (say exit=N in the marker if intended)\n{out[-3000:]}")
        return self.unexpand(out)

    def unexpand(self, text: str) -> str:
        """Machine paths back to the variables the docs use."""
        for name in ("AIRA_EVAL_CACHE_DIR", "DATA_DIR", "AGENT_LOGS"):
            if self.env.get(name) and Path(self.env[name]).is_absolute():
                text = text.replace(self.env[name], f"${name}")
        return text.replace(str(self.cwd) + "/", "").replace(str(self.cwd), ".")

    def shell(self, script: str, options: dict[str, str]) -> str:
        return self.run(["bash", "-c", script], options)


def _prompt_commands(body: list[str]) -> Iterator[str]:
    """The ``$ `` commands of a prompt-style block (continuation lines joined)."""
    command: list[str] = []
    for line in body:
        if line.startswith("$ ") or command:
            command.append(line.removeprefix("$ ").rstrip("\\").rstrip())
            if not line.endswith("\\"):
                yield " ".join(command)
                command = []


def _render_prompts(block: Block, runner: Runner) -> list[str]:
    lines: list[str] = []
    head, tail = _ints(block.options)
    for command in _prompt_commands(block.body):
        lines += [f"$ {command}", *abridge(runner.shell(command, block.options), head, tail)]
    return lines


def _ints(options: dict[str, str]) -> tuple[int | None, int | None]:
    return tuple(int(options[k]) if k in options else None  # type: ignore[return-value]
                 for k in ("head", "tail"))


def _run_code(block: Block, runner: Runner, options: dict[str, str]) -> str:
    if block.lang == "python":
        return runner.run([sys.executable, "-c", "\n".join(block.body)], options)
    return runner.shell("set -e\n" + "\n".join(block.body), options)


def generate(lines: list[str], runner: Runner) -> tuple[list[str], list[str]]:
    """The page with every marked output regenerated, and what was kept (missing inputs)."""
    blocks, new, kept, last = parse_blocks(lines), list(lines), [], ""
    replacements: list[tuple[Block, list[str]]] = []
    for k, block in enumerate(blocks):
        following = blocks[k + 1] if k + 1 < len(blocks) else None
        options = dict(block.options)
        if block.lang != "text" and following is not None and following.marker == "output" \
                and not _is_prompt(following):
            options = {**options, **following.options}
        missing = set(filter(None, options.get("needs", "").split(","))) - runner.available
        if missing:
            kept.append(f"line {block.start + 1}: needs {', '.join(sorted(missing))}")
            continue
        if block.marker == "file":
            (runner.cwd / next(iter(block.options))).write_text("\n".join(block.body) + "\n")
        elif block.lang in ("bash", "python") and block.marker != "not run":
            last = _run_code(block, runner, options)
        elif block.lang == "text" and block.marker == "output":
            if _is_prompt(block):
                replacements.append((block, _render_prompts(block, runner)))
            else:
                replacements.append((block, abridge(last, *_ints(block.options))))
    for block, body in reversed(replacements):
        new[block.start + 1:block.end] = body
    return new, kept


def _is_prompt(block: Block) -> bool:
    return bool(block.body) and block.body[0].startswith("$ ")


def _environment(cwd: Path, data_dir: Path | None, logs: Path | None) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": str(WIDTH),
           "AIRA_EVAL_CACHE_DIR": "cache",  # relative to cwd: wraps in table cells as-is
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "MLFLOW_TRACKING_URI": "",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("DATA_DIR", None)
    env.pop("AGENT_LOGS", None)
    for name, path in (("DATA_DIR", data_dir), ("AGENT_LOGS", logs)):
        if path is not None and path.is_dir():
            env[name] = str(path.resolve())
    return env


def _runner(cwd: Path, data_dir: Path | None, logs: Path | None) -> Runner:
    """A runner in ``cwd`` (the repository's ``examples/`` linked into it)."""
    env = _environment(cwd, data_dir, logs)
    available = {k for k in ("DATA_DIR", "AGENT_LOGS") if k in env}
    docker = subprocess.run(["docker", "info"], capture_output=True, check=False) \
        if shutil.which("docker") else None
    if docker is not None and docker.returncode == 0:
        available.add("DOCKER")
    (cwd / "examples").symlink_to(ROOT / "examples")
    return Runner(cwd, env, available)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="compare shapes, write nothing")
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DATA_DIR", shared / "mlebench")))
    parser.add_argument("--agent-logs", type=Path,
                        default=Path(os.environ.get("AGENT_LOGS", shared / "agent-logs")))
    args = parser.parse_args()
    changed = []
    for page in args.pages:
        with tempfile.TemporaryDirectory(prefix="aira-eval-docs-") as tmp:
            runner = _runner(Path(tmp), args.data_dir, args.agent_logs)
            lines = page.read_text().splitlines()
            new, kept = generate(lines, runner)
        for note in kept:
            print(f"{page}: kept as is ({note})")
        if args.check:
            if skeleton(new) != skeleton(lines):
                changed.append(str(page))
        else:
            page.write_text("\n".join(new) + "\n")
            print(f"{page}: outputs regenerated")
    if changed:
        raise SystemExit(f"outputs changed shape (run python docs/gen_outputs.py): {changed}")


if __name__ == "__main__":
    main()
