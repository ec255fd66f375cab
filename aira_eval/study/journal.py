"""The append-only journal of a search: the source of truth of a study.

One JSONL line per finished node, flushed and fsynced before the node counts as done. A torn
last line (a crash mid-write) is dropped on read; anything else unreadable is an error that
names the line.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from aira_eval.errors import DataError
from aira_eval.study.node import Node


class JournalFile:
    """Append-only JSONL journal at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: set by :meth:`read` when it dropped a torn last line (line number, 1-based)
        self.torn_line: int | None = None

    @staticmethod
    def line(node: Node) -> str:
        """One journal line (with its newline)."""
        return json.dumps(node.to_dict(), sort_keys=True, allow_nan=True, default=str) + "\n"

    def append(self, node: Node) -> None:
        """Append one node durably (write, fsync). A failed write (a full disk) is undone:
        the journal never keeps part of a line it could not finish."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.line(node).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError as err:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                if err.filename is None:  # name the journal in the error
                    raise OSError(err.errno, err.strerror, str(self.path)) from err
                raise
        finally:
            os.close(fd)

    def rewrite(self, nodes: list[Node]) -> None:
        """Replace the journal atomically and durably (temp file, fsync, rename)."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write("".join(self.line(n) for n in nodes))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)

    def read(self) -> list[Node]:
        """Every complete node line; a torn last line (a crash mid-write) is dropped."""
        if not self.path.exists():
            return []
        nodes: list[Node] = []
        self.torn_line = None
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                nodes.append(Node.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as err:
                if i == len(lines) - 1:
                    self.torn_line = i + 1  # torn final write: the node never counted as done
                    break
                raise DataError(
                    f"{self.path}:{i + 1} is not a valid journal line: {err}",
                    hint=f"The journal is the source of truth and every other line is intact: "
                    f"restore line {i + 1} from a backup or delete it (its node then re-runs on "
                    "`aira-eval search --resume`), then run the command again.") from err
        return nodes

    def repair(self) -> list[Node]:
        """Drop a torn last line so later appends start on a clean line; the nodes read."""
        nodes = self.read()
        if not self.path.exists():
            return nodes
        if "".join(self.line(n) for n in nodes) != self.path.read_text(encoding="utf-8"):
            self.rewrite(nodes)
        return nodes
