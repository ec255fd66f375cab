"""The LLM response cache behind ``--llm-cache DIR`` and ``--replay``.

Every response is stored as one JSON file ``DIR/<key[:2]>/<key>.json``. The key is a sha256
of the model, the messages, the tools, the sampling parameters and a per-call nonce (search
id, step, operator, attempt), so identical prompts at different steps or in different
searches never collide, and a re-run of a study meets exactly the keys it wrote.

The messages hashed are the prompt with its *volatile* parts masked: the run logs of earlier
nodes (stdout, errors, analysis summaries) and the installed package versions. Those change
between two runs of the same script (timings in a log) or between machines, while the
search itself does not; masking them lets a replayed study meet the recorded keys.

With ``replay`` the cache is the only source: a miss raises :class:`ReplayMiss`, naming the
call. Entries are written atomically and hold no API key (requests and replies pass through
:func:`~aira_eval.search.operators.llm.redact.redact_obj`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_eval.errors import AiraEvalError

CACHE_FORMAT = 1


@dataclass(frozen=True)
class CallId:
    """Where a call sits in a study: enough to name it in an error and to build its nonce."""

    model: str
    operator: str
    search_id: str
    step: int
    attempt: int

    def describe(self) -> str:
        return (f"model {self.model!r}, operator {self.operator}, search {self.search_id}, "
                f"step {self.step}, attempt {self.attempt}")

    def nonce(self) -> list[Any]:
        return [self.search_id, self.step, self.operator, self.attempt]


class ReplayMiss(AiraEvalError):
    """A replayed search asked for a response the cache does not hold."""


def cache_key(call: CallId, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
              params: dict[str, Any]) -> str:
    """The sha256 key of one call (see the module docstring)."""
    payload = {
        "format": CACHE_FORMAT, "model": call.model, "messages": messages,
        "tools": tools or [], "params": params, "nonce": call.nonce(),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LLMCache:
    """A directory of recorded responses, safe to share between threads and searches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._positions: dict[tuple[Any, ...], str] | None = None

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry of ``key``, or None."""
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError):
            return None  # a torn or foreign file counts as a miss
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, key: str, call: CallId, request: dict[str, Any],
            response: dict[str, Any]) -> None:
        """Store one response atomically (``request``/``response`` must be redacted)."""
        entry = {"format": CACHE_FORMAT, "key": key, "call": call.__dict__,
                 "request": request, "response": response}
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, indent=1, sort_keys=True, ensure_ascii=False),
                       encoding="utf-8")
        tmp.replace(path)
        with self._lock:
            if self._positions is not None:
                self._positions[_position(call.__dict__)] = key

    def miss(self, call: CallId, key: str) -> ReplayMiss:
        """The error of a replay miss, saying whether this call's position was recorded."""
        near = self._recorded_position(call)
        why = (f"a response for this call was recorded (key {near[:12]}...) but with a "
               "different prompt or parameters: the search diverged before this call (a "
               "script whose scores change between runs, another config, other prompts)"
               if near else "no response was recorded for this call")
        return ReplayMiss(
            f"replay miss: {call.describe()}, key {key}: {why}",
            hint=f"Replay only studies recorded into {self.root} with the same config, or run "
                 "without --replay to call the model (and add to the cache).",
        )

    def _recorded_position(self, call: CallId) -> str | None:
        with self._lock:
            if self._positions is None:
                self._positions = self._scan()
            return self._positions.get(_position(call.__dict__))

    def _scan(self) -> dict[tuple[Any, ...], str]:
        found: dict[tuple[Any, ...], str] = {}
        for path in sorted(self.root.glob("*/*.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                found[_position(entry["call"])] = str(entry["key"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found


def _position(call: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("model", "operator", "search_id", "step", "attempt")
    return tuple(call.get(k) for k in keys)
