"""The public Python API: load a study, compare final-pick strategies per agent, run searches.

Re-exported from :mod:`aira_eval` (lazily: ``import aira_eval`` stays cheap)::

    import aira_eval as ae
    study = ae.load_study("study")
    res = ae.select(study, strategies=["best-val", "topk"], by="policy", resamples=10_000)
    res.table, res.picks, res.compare, res.generalization, res.draws("test_score")
    ae.run_study(ae.StudyConfig(tasks=["builtin:wine"], policies=["greedy"], seeds=range(3)),
                 out="study")

Results are DataFrames and arrays; JSON is written only by the CLI (``aira-eval select``,
``aira-eval search``), a thin layer over :func:`select` and :func:`run_study`.

Running searches is :func:`run_study`, not ``search``: ``aira_eval.search`` is the subpackage
of search policies and operators, and a function of that name would be shadowed by it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError
from aira_eval.search.config import StudyConfig
from aira_eval.search.study_runner import StudyEvents, StudyResult
from aira_eval.selection.result import SelectionResult
from aira_eval.selection.summary import SelectionConfig
from aira_eval.study import Study, load_study

__all__ = ["SelectionConfig", "SelectionResult", "Study", "StudyConfig", "StudyResult",
           "load_study", "run_study", "select"]

StudyLike = Study | str | Path | Sequence[str | Path]
#: Keyword names of :func:`select` that differ from :class:`SelectionConfig`'s fields.
_ALIASES = {"resamples": "n_resamples"}


def _config(config: SelectionConfig | None, options: dict[str, Any]) -> SelectionConfig:
    base = dataclasses.replace(config) if config is not None else SelectionConfig()
    known = {f.name for f in dataclasses.fields(SelectionConfig)}
    for name, value in options.items():
        field = _ALIASES.get(name, name)
        if field not in known:
            raise UsageError(f"select() got an unknown option {name!r}",
                             hint="Options: " + ", ".join(sorted(known | set(_ALIASES))) + ".")
        if value is not None:
            setattr(base, field, list(value) if field in ("strategies", "by") and
                    isinstance(value, Iterable) and not isinstance(value, str) else value)
    base.check()
    return base


def select(study: StudyLike, config: SelectionConfig | None = None, /, **options: Any
           ) -> SelectionResult:
    """Compare final-pick strategies on ``study``, per group of searches (agent).

    Args:
        study: a :class:`Study` (:func:`load_study`) or what :func:`load_study` takes.
        config: a :class:`SelectionConfig`; keyword ``options`` override its fields.
        **options: any :class:`SelectionConfig` field: ``strategies`` (names; default every
            applicable one), ``by`` (a search attribute or a list: ``"policy"``,
            ``"operators"``, ``"model"``, ``"task"``, ``"agent"``, ``"param.<name>"``;
            default: by agent when the searches' agents differ), ``pool`` (one group),
            ``baseline_group``, ``reference``, ``k``, ``z``, ``resamples`` (alias of
            ``n_resamples``), ``seed``, ``task_bootstrap``, ``ci`` (the interval in ``lo``/``hi``:
            ``"hall"``, the default, ``"t"``, ``"studentized"``, ``"expanded"``, ``"percentile"`` or
            ``"bca"``), ``level``, ``metric``.

    Returns:
        :class:`SelectionResult`: ``.table`` (one row per group, strategy and metric),
        ``.picks``, ``.compare`` (between groups), ``.generalization``, ``.draws(metric)``.

    Raises:
        UsageError: an unknown option, strategy or ``by`` name (with close-name suggestions),
            a strategy that cannot run on the study, or a study with no valid node.
    """
    from aira_eval.selection.summary import run_selection

    opts = _config(config, options)
    loaded = study if isinstance(study, Study) else load_study(study, require_valid=True)
    return run_selection(loaded, opts)


def run_study(config: StudyConfig, out: str | Path, *, resume: bool = False,
           events: StudyEvents | None = None, stop: threading.Event | None = None,
           overrides: dict[str, Any] | None = None) -> StudyResult:
    """Run every search of ``config`` (tasks × policies × seeds) into the study dir ``out``.

    ``config.seeds`` may be any iterable of ints (``range(5)``). With ``resume`` the study in
    ``out`` continues from its journals (its stored config, with ``overrides`` — budgets,
    workers, MLflow settings — applied). ``events`` receives progress callbacks; setting
    ``stop`` ends the searches cleanly. Returns the :class:`StudyResult` (one outcome per
    search); read the study back with :func:`load_study`.
    """
    from aira_eval.search import study_runner
    from aira_eval.search.config import parse_seeds

    seeds: Iterable[int] | str | int = config.seeds
    if not isinstance(seeds, str | int | list):
        seeds = list(seeds)
    config = dataclasses.replace(config, seeds=parse_seeds(seeds))
    return study_runner.run_study(config, Path(out), resume=resume, events=events, stop=stop,
                                  overrides=overrides)
