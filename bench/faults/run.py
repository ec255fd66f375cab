"""Fault campaign: kill -9 + resume, concurrent writers, a full disk, an unwritable MLflow
store, a misbehaving LLM.

Each scenario but ``llm`` drives the real CLI (``python -m aira_eval search``) on builtin:iris
with the procedural operators and counts what the issue's targets count: nodes lost or
duplicated, tables that differ from an uninterrupted run, sandboxed processes and dirs left
behind, and tracebacks on stderr. Targets: all zero. ``kills`` runs with MLflow on (the
study's own sqlite store) and checks, after the last resume, that the store holds every
journaled node exactly once and leaves no run RUNNING. The ``fullfs`` and ``mlflow``
scenarios mount a size-limited tmpfs and need root (they are skipped otherwise); ``mlflow``
fills the store's filesystem mid-study, then frees it and runs ``aira-eval sync`` twice.
``llm`` (:mod:`llm_faults`) runs aide and aira studies in this process against a scripted
litellm provider that injects rate limits, timeouts, prose and malformed review calls.

Writes bench/results/faults.json and prints a table. ``--kills N`` (default 20),
``--only kills,concurrent,fullfs,mlflow,llm``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_faults import llm  # noqa: E402

from aira_eval.search.sandbox.leftovers import scratch_root  # noqa: E402
from aira_eval.search.sandbox.watchdog import alive, descendants, process_table  # noqa: E402
from aira_eval.study.journal import JournalFile  # noqa: E402
from aira_eval.study.table import read_nodes  # noqa: E402

SEARCH = "builtin-iris__greedy__s0"
COLS = ["node_id", "step", "operator", "status", "score_val", "score_test"]


def args_for(out: Path, steps: int, *extra: str) -> list[str]:
    return ["search", "--task", "builtin:iris", "--policy", "greedy", "--seeds", "0",
            "--steps", str(steps), "--workers", "2", "--node-timeout", "60", "--out", str(out),
            *extra]


def again(out: Path, steps: int, *extra: str) -> list[str]:
    """Resume ``out``; a study killed before its manifest was written starts afresh."""
    return args_for(out, steps, *extra, *(["--resume"] if (out / "study.json").exists() else []))


def start(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "MLFLOW_TRACKING_URI": ""}
    return subprocess.Popen([sys.executable, "-m", "aira_eval", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def finish(proc: subprocess.Popen[bytes], timeout: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode(errors="replace")


def journal_steps(out: Path) -> list[int]:
    path = out / "searches" / SEARCH / "journal.jsonl"
    return [n.step for n in JournalFile(path).read()] if path.exists() else []


def comparable(out: Path) -> Any:
    frame = read_nodes(out / "nodes.parquet")
    return frame[COLS].sort_values("node_id").reset_index(drop=True)


def kills(work: Path, n_kills: int, steps: int, seed: int) -> dict[str, Any]:
    """``n_kills`` random ``kill -9`` of the study's process group, each followed by --resume."""
    rng, out = random.Random(seed), work / "killed"
    proc = start(args_for(out, steps, "--mlflow"))
    target, extended, left_behind, tracebacks, killed = steps, 0, 0, 0, 0
    while killed < n_kills:
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is not None:  # finished before the kill: extend it by two steps
            rc, err = finish(proc)
            tracebacks += "Traceback" in err
            target, extended = target + 2, extended + 1
            proc = start(again(out, target, "--mlflow"))
            continue
        tree = descendants(proc.pid, process_table()) - {proc.pid}
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed += 1
        time.sleep(2.0)  # PDEATHSIG acts at once; give the kernel a moment under load
        left_behind += sum(1 for pid in tree if alive(pid))
        proc = start(again(out, target, "--mlflow"))
    rc, err = finish(proc)
    steps_seen = journal_steps(out)
    reference = work / "reference"
    ref_rc, _ = finish(start(args_for(reference, target)))
    equal = ref_rc == 0 and comparable(out).equals(comparable(reference))
    return {
        "kills": killed, "extended_after_finishing": extended, "exit_code": rc,
        "tracebacks": tracebacks + ("Traceback" in err), "nodes": len(steps_seen),
        "lost": len(set(range(target)) - set(steps_seen)),
        "duplicated": len(steps_seen) - len(set(steps_seen)),
        "table_equals_uninterrupted": bool(equal),
        "processes_left_behind": left_behind,
        "scratch_left_behind": scratch_root(out).exists(),
        **mlflow_complete(out / "mlflow.db", {SEARCH: steps_seen}),
    }


def mlflow_complete(db: Path, journaled: dict[str, list[int]]) -> dict[str, Any]:
    """Whether an MLflow sqlite store holds every journaled node exactly once per search
    (``node/ok`` steps of each search's runs: one per node, at its step), and how many runs
    it leaves RUNNING.
    Read with sqlite alone, read-only: MLflow's client would migrate the store."""
    import sqlite3

    held: dict[str, list[int]] = {search: [] for search in journaled}
    runs: dict[str, int] = {search: 0 for search in journaled}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
        for run_uuid, search in con.execute(
                "SELECT run_uuid, value FROM tags WHERE key = 'aira_eval.search_id'"):
            runs[search] = runs.get(search, 0) + 1
            held.setdefault(search, []).extend(int(step) for (step,) in con.execute(
                "SELECT step FROM metrics WHERE run_uuid = ? AND key = 'node/ok'",
                (run_uuid,)))
        running = con.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING' AND "
                              "lifecycle_stage = 'active'").fetchone()[0]
    return {
        "mlflow_search_runs": sum(runs.values()),
        "mlflow_missing": sum(len(set(steps) - set(held.get(s, [])))
                              for s, steps in journaled.items()),
        "mlflow_duplicated": sum(len(steps) - len(set(steps)) for steps in held.values()),
        "mlflow_runs_left_running": int(running),
    }


def concurrent(work: Path, steps: int) -> dict[str, Any]:
    """Two runs on one study dir at once, then a --resume during a run."""
    out = work / "concurrent"
    first, second = start(args_for(out, steps)), start(args_for(out, steps))
    results = [finish(first), finish(second)]
    codes = sorted(rc for rc, _ in results)
    refused = [err for rc, err in results if rc == 2]
    running = start(args_for(work / "concurrent2", steps))
    time.sleep(3.0)
    resume_rc, resume_err = finish(start(args_for(work / "concurrent2", steps, "--resume")))
    finish(running)
    steps_seen = journal_steps(out)
    return {
        "exit_codes": codes, "second_refused_naming_pid": bool(refused)
        and "in use by pid" in refused[0],
        "resume_during_run_refused": resume_rc == 2 and "in use by pid" in resume_err,
        "duplicated": len(steps_seen) - len(set(steps_seen)),
        "duplicated_with_resume": len(journal_steps(work / "concurrent2"))
        - len(set(journal_steps(work / "concurrent2"))),
        "tracebacks": sum("Traceback" in err for _, err in results) + ("Traceback" in resume_err),
    }


def _mount_tmpfs(path: Path, size_mb: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                         capture_output=True)
    return res.returncode == 0


def _fill(path: Path) -> Path:
    filler = path / "filler"
    try:
        with filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
    except OSError:  # full (perhaps already: then there is nothing to free but the study)
        pass
    return filler


def fullfs(work: Path, steps: int) -> dict[str, Any]:
    """The study dir on a small filesystem that fills up mid-run; resume after freeing it.

    A clear error is what the CLI prints for a full disk (``run_study``'s message and hint),
    exit status 2, no traceback and no "internal error"; no node may be journaled with the
    harness's own "No space left" as its result (it would never re-run)."""
    mnt = work / "small"
    if not _mount_tmpfs(mnt, 256):
        return {"skipped": "needs root to mount a tmpfs"}
    try:
        out = mnt / "study"
        proc = start(args_for(out, steps))
        while len(journal_steps(out)) < 2 and proc.poll() is None:
            time.sleep(0.2)
        filler = _fill(mnt)
        rc, err = finish(proc)
        before, torn, disk_nodes = _journal_state(out)
        filler.unlink(missing_ok=True)
        rc2, err2 = finish(start(args_for(out, steps, "--resume")))
        after = journal_steps(out)
        return {
            "exit_code_when_full": rc, "clear_error": clear_disk_error(rc, err, out),
            "message": _error_lines(err), "warnings": err.lower().count("warning"),
            "journal_intact": before is not None and torn is None,
            "nodes_before_resume": len(before or []),
            "nodes_journaled_with_disk_error": disk_nodes,
            "scratch_left_behind": scratch_root(out).exists(),
            "resume_exit_code": rc2, "nodes_after_resume": len(after),
            "lost": len(set(range(steps)) - set(after)),
            "duplicated": len(after) - len(set(after)),
            "tracebacks": ("Traceback" in err) + ("Traceback" in err2),
        }
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def clear_disk_error(code: int, stderr: str, study: Path) -> bool:
    """What the CLI prints when the study's disk is full: ``error: no space left writing
    <file> (study <dir>): No space left on device`` and a hint to free space and resume."""
    text = " ".join(stderr.split())
    return (code == 2 and "Traceback" not in stderr and "internal error" not in text
            and "error: no space left" in text and f"(study {study})" in text
            and "No space left on device" in text
            and "free some space, then run again with --resume" in text)


def _error_lines(stderr: str) -> str:
    """The CLI's error and hint (what follows its ``error:`` line), as one line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    first = next((i for i, ln in enumerate(lines) if ln.startswith("error:")), 0)
    return " / ".join(lines[first:])[:500]


def _journal_state(out: Path) -> tuple[list[int] | None, int | None, int]:
    """The journal's steps (None: unreadable), its torn line, and how many of its nodes
    record the harness's full disk as their own failure."""
    journal = JournalFile(out / "searches" / SEARCH / "journal.jsonl")
    try:
        nodes = journal.read()
    except Exception:  # the point: a journal must stay readable
        return None, None, 0
    disk = sum("No space left" in (n.reason or "") for n in nodes)
    return [n.step for n in nodes], journal.torn_line, disk


def mlflow(work: Path, steps: int) -> dict[str, Any]:
    """The MLflow store fills up mid-study: the study goes on (one warning line, no traceback)
    with every node journaled; once space is freed, ``aira-eval sync`` backfills every node the
    store lacks, and a second sync logs nothing."""
    mnt = work / "mlstore"
    if not _mount_tmpfs(mnt, 48):
        return {"skipped": "needs root to mount a tmpfs"}
    try:
        out, uri = work / "mlflow-study", f"sqlite:///{mnt / 'mlflow.db'}"
        proc = start(args_for(out, steps, "--mlflow", "--mlflow-uri", uri))
        # mid-study: two nodes journaled and at least one logged (the store exists)
        while (len(journal_steps(out)) < 2 or _store_nodes(mnt / "mlflow.db") < 1) \
                and proc.poll() is None:
            time.sleep(0.2)
        filler = _fill(mnt)
        rc, err = finish(proc)
        journaled = journal_steps(out)
        while_full = _store_nodes(mnt / "mlflow.db")  # read-only: MLflow's client would migrate
        filler.unlink(missing_ok=True)
        syncs = [_sync(out, uri) for _ in range(2)]
        after = _mlflow_steps(uri, out)
        return {
            "exit_code_while_full": rc, "nodes_journaled": len(journaled),
            "warning_lines": sum(line.startswith("warning:") for line in err.splitlines()),
            "stderr_lines": len(err.strip().splitlines()),
            "nodes_in_mlflow_while_full": while_full,
            "sync_exit_codes": [code for code, _, _ in syncs],
            "nodes_backfilled_by_sync": syncs[0][1].get("nodes_logged"),
            "nodes_logged_by_second_sync": syncs[1][1].get("nodes_logged"),
            "nodes_in_mlflow_after_sync": len(after),
            "missing_after_sync": len(set(journaled) - set(after)),
            "duplicated_after_sync": len(after) - len(set(after)),
            "tracebacks": ("Traceback" in err) + sum("Traceback" in e for _, _, e in syncs),
            "message": next((line for line in err.splitlines()
                             if line.startswith("warning:")), "")[:300],
        }
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _store_nodes(db: Path) -> int:
    """Nodes an MLflow sqlite store holds (``node/ok`` values: one per node), read with
    sqlite alone."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            row = con.execute("SELECT count(*) FROM metrics WHERE key = 'node/ok'").fetchone()
    except sqlite3.Error:  # not created yet, or mid-write
        return 0
    return int(row[0])


def _sync(out: Path, uri: str) -> tuple[int, dict[str, Any], str]:
    """``aira-eval sync OUT --tracking-uri URI --json``: exit code, report, stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "MLFLOW_TRACKING_URI": ""}
    res = subprocess.run([sys.executable, "-m", "aira_eval", "sync", str(out),
                          "--tracking-uri", uri, "--json"], env=env, capture_output=True,
                         text=True, timeout=600)
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        report = {}
    return res.returncode, report, res.stderr


def _mlflow_steps(uri: str, out: Path) -> list[int]:
    """The steps of the nodes the store holds (``node/ok`` of every search run)."""
    import mlflow

    from aira_eval.study.manifest import mlflow_experiment

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(mlflow_experiment(out.resolve().name))
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], "tags.`aira_eval.kind` = 'search'",
                              max_results=10_000)
    return sorted(int(m.step) for r in runs
                  for m in client.get_metric_history(r.info.run_id, "node/ok"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--only", default="kills,concurrent,fullfs,mlflow,llm")
    parser.add_argument("--llm-steps", type=int, default=8, help="steps per LLM study")
    parser.add_argument("--llm-share", type=float, default=0.4,
                        help="share of prompts the scripted model faults")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "faults.json"))
    opts = parser.parse_args()
    chosen = opts.only.split(",")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aira-faults-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        if "kills" in chosen:
            result["kills"] = kills(work, opts.kills, opts.steps, opts.seed)
        if "concurrent" in chosen:
            result["concurrent"] = concurrent(work, 4)
        if "fullfs" in chosen:
            result["fullfs"] = fullfs(work, opts.steps)
        if "mlflow" in chosen:
            result["mlflow"] = mlflow(work, 6)
        if "llm" in chosen:
            result["llm"] = llm(work, opts.llm_steps, opts.llm_share)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"{'scenario':<12} {'figure':<34} value")
    for scenario, figures in result.items():
        for key, value in figures.items():
            print(f"{scenario:<12} {key:<34} {value}")


if __name__ == "__main__":
    main()
