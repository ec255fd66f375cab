"""Execution sandboxes: run one solution script with only the public files.

``make_sandbox("local")`` (subprocess, Linux namespaces when available) or
``make_sandbox("docker", image=...)`` (a container per script). See :mod:`.base` for the
interface and :mod:`.local` for the isolation modes.
"""

from __future__ import annotations

from typing import Any

from aira_eval.errors import unknown_name
from aira_eval.search.sandbox.base import (
    DEFAULT_IMAGE,
    ExecResult,
    ExecSpec,
    Sandbox,
    SandboxError,
)

SANDBOX_NAMES = ("local", "docker")

__all__ = [
    "DEFAULT_IMAGE",
    "SANDBOX_NAMES",
    "ExecResult",
    "ExecSpec",
    "Sandbox",
    "SandboxError",
    "close_sandbox",
    "make_sandbox",
]


def close_sandbox(sandbox: Sandbox) -> None:
    """Release what ``sandbox`` holds between runs (docker: the containers started ahead);
    a backend without a ``close`` holds nothing."""
    close = getattr(sandbox, "close", None)
    if callable(close):
        close()


def make_sandbox(name: str, *, image: str = DEFAULT_IMAGE, labels: dict[str, str] | None = None,
                 cpus: float | None = None, **options: Any) -> Sandbox:
    """The sandbox backend called ``name`` (``local`` or ``docker``).

    ``image``, ``labels`` (on every container) and ``cpus`` (each container's CPU cap) are
    docker's (ignored by ``local``); other keyword options go to the
    backend's constructor. Raises :class:`UsageError` for an unknown name, or when docker is
    not reachable or the image is missing.
    """
    if name == "local":
        from aira_eval.search.sandbox.local import LocalSandbox

        return LocalSandbox(**options)
    if name == "docker":
        from aira_eval.search.sandbox.docker import DockerSandbox

        return DockerSandbox(image=image, labels=labels, cpus=cpus, **options)
    raise unknown_name("sandbox", name, SANDBOX_NAMES)
