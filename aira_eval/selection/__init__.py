"""Final-pick strategies, their evaluation on test, grouping by agent and the bootstrap.

The public names (imported on first use)::

    from aira_eval.selection import run_selection, SelectionConfig, SelectionResult
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "SelectionConfig": "aira_eval.selection.summary",
    "SelectionOptions": "aira_eval.selection.summary",
    "run_selection": "aira_eval.selection.summary",
    "SelectionResult": "aira_eval.selection.result",
    "Grouping": "aira_eval.selection.grouping",
    "resolve_grouping": "aira_eval.selection.grouping",
    "compare_groups": "aira_eval.selection.compare",
    "STRATEGIES": "aira_eval.selection.strategies",
    "Strategy": "aira_eval.selection.strategies",
    "register": "aira_eval.selection.strategies",
    "evaluate_strategies": "aira_eval.selection.evaluate",
    "METRICS": "aira_eval.selection.evaluate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aira_eval.selection' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
