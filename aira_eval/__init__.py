"""aira-eval: reproducible research on AI research agents for machine learning.

The public API (:mod:`aira_eval.api`), imported on first use so that ``import aira_eval`` and
``aira-eval --help`` stay fast::

    import aira_eval as ae
    study = ae.load_study("study")
    res = ae.select(study, by="policy")
    res.table  # one row per (group, strategy, metric)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("aira-eval")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from aira_eval.analysis.report import report
    from aira_eval.api import (
        SelectionConfig,
        SelectionResult,
        Study,
        StudyConfig,
        StudyResult,
        load_study,
        run_study,
        select,
    )

#: Public name -> the module that defines it (imported on first access, PEP 562).
_LAZY = {
    "load_study": "aira_eval.api", "Study": "aira_eval.api", "select": "aira_eval.api",
    "SelectionConfig": "aira_eval.api", "SelectionResult": "aira_eval.api",
    "run_study": "aira_eval.api", "StudyConfig": "aira_eval.api", "StudyResult": "aira_eval.api",
    "report": "aira_eval.analysis.report",
}

__all__ = ["SelectionConfig", "SelectionResult", "Study", "StudyConfig", "StudyResult",
           "__version__", "load_study", "report", "run_study", "select"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aira_eval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
