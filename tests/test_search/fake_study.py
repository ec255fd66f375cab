"""A small study written straight to disk (manifest, search.json, journals): no search runs."""

from __future__ import annotations

from pathlib import Path

from aira_eval.study.journal import JournalFile
from aira_eval.study.manifest import StudyManifest, TaskInfo
from aira_eval.study.node import Node
from aira_eval.study.records import SearchMeta, write_search_meta

VALS = [0.70, 0.65, 0.80, 0.78, 0.90, 0.85]


def write_fake_study(out: Path, policies: tuple[str, ...] = ("greedy", "mcts"),
                     seeds: tuple[int, ...] = (0,), t0: float = 1.7e9) -> StudyManifest:
    """Tasks ``builtin:wine`` × ``policies`` × ``seeds``, six nodes each (one buggy)."""
    info = TaskInfo(task="builtin:wine", lower_is_better=False, metric="accuracy",
                    checksums={"train.csv": "abc"})
    manifest = StudyManifest(out.name, 0, {"tasks": ["builtin:wine"], "policies": list(policies),
                                           "steps": len(VALS)}, {"builtin:wine": info},
                             created_at="2026-01-01T00:00:00+00:00")
    manifest.write(out)
    for p, policy in enumerate(policies):
        for seed in seeds:
            sid = f"builtin-wine__{policy}__s{seed}"
            meta = SearchMeta(out.name, sid, "builtin:wine", policy, "procedural", seed, "val",
                              False)
            search_dir = out / "searches" / sid
            write_search_meta(search_dir, meta, {"params": {"task": "builtin:wine",
                                                            "policy": policy, "seed": seed}})
            journal = JournalFile(search_dir / "journal.jsonl")
            for step, val in enumerate(VALS):
                status = "buggy" if step == 1 else "ok"
                test = val - 0.05 * (step % 2) - 0.02 * seed * (1 + p)  # seeds differ
                scores = {} if status == "buggy" else {"val": val - 0.01 * p, "test": test}
                journal.append(Node(node_id=f"{sid}-n{step:04d}", search_id=sid, step=step,
                                    batch=step, operator="draft", status=status,  # type: ignore[arg-type]
                                    scores=scores, code=f"print({step})",
                                    started_at=t0 + 10 * step, finished_at=t0 + 10 * step + 5))
            write_search_meta(search_dir, meta, {"params": {"task": "builtin:wine",
                                                            "policy": policy, "seed": seed},
                                                 "outcome": {"stopped": None,
                                                             "nodes": len(VALS)}})
    return manifest
