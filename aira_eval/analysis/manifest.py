"""The reproducibility manifest: versions, commit, config hash, data checksums, seeds, models,
node counts and the exact commands that rebuild the study and this report."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.study import Study

PACKAGES = ("aira-eval", "numpy", "pandas", "pyarrow", "scipy", "statsmodels", "scikit-learn",
            "matplotlib", "mlflow", "litellm")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    """The commit of the aira-eval source tree, or why there is none."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if done.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=10, check=False).stdout
    return done.stdout.strip() + (" (with local changes)" if dirty.strip() else "")


def config_hash(config: dict[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def task_checksums(study: Study) -> dict[str, str]:
    """Task id -> one hash of its prepared files' md5s (``—`` where none were recorded)."""
    out = {}
    for task, info in sorted(study.tasks.items()):
        if info.checksums:
            text = json.dumps(info.checksums, sort_keys=True)
            out[task] = hashlib.sha256(text.encode()).hexdigest()[:16] + \
                f" ({len(info.checksums)} files)"
        else:
            out[task] = "—"
    return out


def node_counts(study: Study, groups: dict[str, str]) -> pd.DataFrame:
    """Per group: searches, nodes and nodes by status."""
    nodes = study.nodes
    g = nodes["search_id"].astype(str).map(groups).fillna("all")
    counts = pd.crosstab(g, nodes["status"].astype(str))
    counts.insert(0, "nodes", counts.sum(axis=1))
    counts.insert(0, "searches", nodes.groupby(g)["search_id"].nunique())
    counts.index.name = "agent"
    return counts.reset_index()


def import_commands(record: dict[str, Any], study_dir: Path) -> list[str]:
    """The ``aira-eval import`` commands that rebuild an imported study from its record: one
    per imported search, ``--regrade`` where that search was re-graded."""
    imports = record.get("imports") or [record]
    lines = []
    for item in imports:
        search_id = item.get("search_id")
        parts = ["aira-eval", "import", str(item.get("importer", record.get("importer"))),
                 shlex.quote(str(item.get("source", record.get("source")))),
                 "--task", shlex.quote(str(item.get("task", record.get("task")))),
                 "--out", shlex.quote(study_dir.name)]
        if search_id:
            parts += ["--search-id", shlex.quote(str(search_id))]
            if _regraded(study_dir / "searches" / str(search_id) / "search.json"):
                parts.append("--regrade")
        lines.append(" ".join(parts))
    return lines


def _regraded(search_json: Path) -> bool:
    try:
        return bool(json.loads(search_json.read_text()).get("regrade"))
    except (OSError, ValueError, AttributeError):
        return False


def commands(study: Study, report_argv: list[str] | None, out_dir: Path) -> list[str]:
    """The commands that rebuild each source study (from its recorded config) and the
    report; writes each study's config next to the report (``reproduce/``). Paths are
    relative to the current directory, as the report's own command line is."""
    lines = ["# run from the folder `aira-eval report` ran in: every path is relative to it"]
    repro = out_dir / "reproduce"
    for source in study.sources:
        if source.manifest is None or not source.manifest.config:
            lines.append(f"# {source.study_id}: no recorded config (synthetic or a bare node "
                         "table)")
            continue
        if "importer" in source.manifest.config:  # an import record, not a search config
            lines.extend(import_commands(source.manifest.config, source.study_dir))
            continue
        repro.mkdir(parents=True, exist_ok=True)
        path = repro / f"{source.study_id}-config.json"
        path.write_text(json.dumps(source.manifest.config, indent=2, sort_keys=True) + "\n")
        lines.append(f"aira-eval search --config {shlex.quote(os.path.relpath(path))} "
                     f"--out {shlex.quote(source.study_dir.name)}")
    if report_argv:
        lines.append(" ".join(report_argv))
    return lines


STUDY_DEPENDENT = "best valid test node in the loaded studies (study-dependent)"


def references(study: Study) -> list[dict[str, Any]]:
    """Per task of the loaded nodes: metric, sample score, reference score (what a normalized
    score of 1 means) and the rule that gave it (docs/statistics.md › One normalized score per
    task): study.json's recorded reference, the leaderboard's best, or — flagged as
    study-dependent — the best valid test node in the loaded studies."""
    from aira_eval.study.manifest import leaderboard_best

    recorded: dict[str, float] = {}
    for source in study.sources:
        for task, kept in (source.manifest.tasks if source.manifest else {}).items():
            if kept.reference_score is not None:
                recorded.setdefault(task, float(kept.reference_score))
    rows = []
    for task in sorted({str(t) for t in study.nodes["task"]}):
        info = study.tasks.get(task)
        ref = info.reference_score if info else None
        board = leaderboard_best(info) if info else None
        if ref is None:
            rule = "none (no valid node, no leaderboard)"
        elif task in recorded and recorded[task] == ref:
            rule = "study.json's reference" + (" (the leaderboard's best)" if board == ref
                                               else "")
        elif board is not None and board == ref:
            rule = "the leaderboard's best"
        else:
            rule = STUDY_DEPENDENT
        rows.append({"task": task, "metric": info.metric if info else "unknown",
                     "lower_is_better": bool(info.lower_is_better) if info else False,
                     "sample_score": info.sample_score if info else None,
                     "reference_score": ref, "reference_rule": rule})
    return rows


def completeness(study: Study) -> str | None:
    """One warning line when the loaded searches are fewer than the recorded configs plan
    (tasks × policies × seeds of each source's search config); None when complete."""
    searches = study.searches
    planned_total, present_total, gaps = 0, 0, []
    for source in study.sources:
        config = source.manifest.config if source.manifest else {}
        if not all(isinstance(config.get(k), list) for k in ("tasks", "policies", "seeds")):
            continue  # an import record or no config: nothing planned
        mine = searches[searches["search_id"].isin(source.search_ids)]
        have = {(str(t), str(p), int(x)) for t, p, x in
                zip(mine["task"], mine["policy"], mine["seed"].to_numpy(dtype=int),
                    strict=True)}
        plan = [(str(t), str(p), int(x)) for t in config["tasks"] for p in config["policies"]
                for x in config["seeds"]]
        planned_total += len(plan)
        present_total += sum(key in have for key in plan)
        gaps.extend(_gaps(plan, have))
    if present_total >= planned_total:
        return None
    return (f"study incomplete: {present_total} of {planned_total} planned searches; "
            + "; ".join(dict.fromkeys(gaps)))


def _gaps(plan: list[tuple[str, str, int]], have: set[tuple[str, str, int]]) -> list[str]:
    tasks = {t for t, _, _ in have}
    out = [f"{t} has none" for t in dict.fromkeys(t for t, _, _ in plan) if t not in tasks]
    missing: dict[tuple[str, str], list[int]] = {}
    for task, policy, seed in plan:
        if task in tasks and (task, policy, seed) not in have:
            missing.setdefault((policy, task), []).append(seed)
    out += [f"{p} lacks seed{'s' if len(x) > 1 else ''} {', '.join(map(str, x))} on {t}"
            for (p, t), x in missing.items()]
    return out


def seeds_per_group(study: Study, groups: dict[str, str]) -> dict[str, list[int]]:
    """Group (agent) -> the seeds of its loaded searches."""
    searches = study.searches
    if "seed" not in searches:
        return {}
    label = searches["search_id"].astype(str).map(groups).fillna("all")
    return {str(g): sorted({int(x) for x in block}) for g, block in
            searches["seed"].groupby(label, sort=False)}


def llm_models(study: Study) -> list[str]:
    """The LLMs behind the loaded searches: the searches' ``model`` column, else for an
    imported search the model its import record names, else ``unknown (imported log)``;
    ``none (procedural operators)`` only when no search names a model and none is imported."""
    searches = study.searches
    model = searches["model"] if "model" in searches else pd.Series("", index=searches.index)
    named = dict(zip(searches["search_id"].astype(str), model.fillna("").astype(str),
                     strict=True))
    found = {m for m in named.values() if m and m.lower() not in ("none", "nan")}
    for source in study.sources:
        config = source.manifest.config if source.manifest else {}
        if "importer" not in config:
            continue
        records = {str(r.get("search_id")): r for r in config.get("imports") or []}
        for sid in sorted(source.search_ids):
            if named.get(str(sid)):
                continue
            record = records.get(str(sid).split("/")[-1]) or {}
            found.add(str(record.get("model") or "unknown (imported log)"))
    return sorted(found) or ["none (procedural operators)"]


def build(study: Study, groups: dict[str, str], out_dir: Path,
          report_argv: list[str] | None = None) -> dict[str, Any]:
    """Everything the manifest section shows, JSON-ready."""
    searches = study.searches
    models = llm_models(study)
    caches = sorted({str(s.manifest.config.get("llm_cache")) for s in study.sources
                     if s.manifest and s.manifest.config.get("llm_cache")})
    return {
        "aira_eval_commit": git_commit(),
        "packages": package_versions(),
        "studies": [{"study_id": s.study_id, "path": s.study_dir.name,
                     "config_hash": config_hash(s.manifest.config) if s.manifest else "—",
                     "created_at": s.manifest.created_at if s.manifest else "—",
                     "recorded_versions": s.manifest.versions if s.manifest else {}}
                    for s in study.sources],
        "task_checksums": task_checksums(study),
        "seeds": sorted({int(x) for x in searches["seed"]}) if "seed" in searches else [],
        "seeds_per_agent": seeds_per_group(study, groups),
        "completeness": completeness(study),
        "llm_models": models,
        "references": references(study),
        "llm_caches": caches or ["none"],
        "node_counts": node_counts(study, groups).to_dict(orient="records"),
        "commands": commands(study, report_argv, out_dir),
    }
