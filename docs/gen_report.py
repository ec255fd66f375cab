"""Regenerate the report shown on docs/report.md (run by `nox -s docs` before mkdocs).

Runs the README's quick start (a 96-node study: search + select, about 2 minutes on 2 cores)
in a temporary directory, then `aira-eval report` into docs/generated/quickstart/ (ignored by
git: the figures are rebuilt, never committed). `--study DIR` reuses an existing study.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "generated" / "quickstart"
QUICK_START = ["search", "--task", "builtin:breast-cancer", "--task", "builtin:wine",
               "--policy", "greedy", "--policy", "random", "--seeds", "0-2", "--steps", "8",
               "--workers", "2", "--out", "study"]


def aira_eval(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "aira_eval", *args], cwd=cwd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=None, help="reuse this study")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aira-eval-docs-") as tmp:
        work = Path(tmp)
        if args.study is None:
            aira_eval(*QUICK_START, cwd=work)
            aira_eval("select", "study", "--no-mlflow", cwd=work)
        else:
            shutil.copytree(args.study, work / "study")
        aira_eval("report", "study", "--out", "report", "--no-mlflow", cwd=work)
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(work / "report", OUT)
    print(f"report written to {OUT.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
