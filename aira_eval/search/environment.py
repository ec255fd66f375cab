"""What runs a re-grade: the sandbox's interpreter and package versions, probed inside it.

A study records them (``study.json`` and each regraded search's ``search.json``) so a result
can be tied to its environment, and ``aira-eval import … --regrade`` compares them with the
versions a peer's log names. The probe is a tiny script run through the sandbox itself (the
local interpreter given by ``--sandbox-python``, or the docker image), so it reports what the
scripts really get; it reads package metadata only (no heavy import).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from aira_eval.errors import UsageError
from aira_eval.search.sandbox.base import ExecSpec, Sandbox, SandboxError

PROBED = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "lightgbm", "xgboost",
          "statsmodels")
_MARK = "AIRA_EVAL_ENV:"
PROBE_CODE = f"""
import json, platform, sys
from importlib import metadata
packages = {{}}
for name in {PROBED!r}:
    try:
        packages[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        packages[name] = None
print({_MARK!r} + json.dumps({{"python": platform.python_version(),
      "executable": sys.executable, "packages": packages}}))
"""


def probe_environment(sandbox: Sandbox, python: str | None = None,
                      image: str | None = None) -> dict[str, Any]:
    """``{"backend", "image"?, "python", "executable", "packages": {name: version|None}}``
    of the environment scripts get in ``sandbox`` (with interpreter ``python``, local)."""
    tmp = Path(tempfile.mkdtemp(prefix="aira-eval-probe-"))
    try:
        (tmp / "task" / "public").mkdir(parents=True)
        spec = ExecSpec(code=PROBE_CODE, public_dir=tmp / "task" / "public", timeout_s=120)
        if python:
            spec = replace(spec, python=python)
        result = sandbox.run(spec, tmp / "work", tmp / "keep")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for line in reversed(result.stdout_tail.splitlines()):
        if line.startswith(_MARK):
            env: dict[str, Any] = {"backend": sandbox.name, **json.loads(line[len(_MARK):])}
            if sandbox.name == "docker":
                env["image"] = image or getattr(sandbox, "image", None)
            return env
    raise SandboxError("could not probe the sandbox's Python environment",
                       hint=(result.stderr_tail or result.stdout_tail).strip()[-400:] or None)


def check_python(python: str | None) -> str | None:
    """``--sandbox-python``: an interpreter path or a venv dir (its ``bin/python``)."""
    if python is None:
        return None
    path = Path(python).expanduser()
    if path.is_dir():
        path = path / "bin" / "python"
    if not path.is_file():
        raise UsageError(f"--sandbox-python {python}: no interpreter there",
                         hint="Pass a python executable or a virtualenv directory.")
    return str(path.absolute())
