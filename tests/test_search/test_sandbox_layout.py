"""Working-dir layouts for peers' conventions: input aliases, submission path, path maps."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from aira_eval.errors import UsageError
from aira_eval.search.sandbox.base import ExecSpec, check_layout
from aira_eval.search.sandbox.local import LocalSandbox


@pytest.fixture(scope="module")
def public() -> Path:
    root = Path(tempfile.mkdtemp(prefix="layout-task-"))
    path = root / "task" / "public"
    path.mkdir(parents=True)
    (path / "train.csv").write_text("a,b\n1,2\n")
    return path


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    return LocalSandbox()


def _run(sandbox: LocalSandbox, public: Path, code: str, **fields: object) -> tuple[
        object, Path]:
    keep = Path(tempfile.mkdtemp(prefix="layout-keep-"))
    spec = ExecSpec(code=code, public_dir=public, timeout_s=30, **fields)  # type: ignore[arg-type]
    work = Path(tempfile.mkdtemp(prefix="layout-work-")) / "w"
    return sandbox.run(spec, work, keep), keep


@pytest.mark.parametrize("fields, match", [
    ({"input_aliases": ("input",)}, "input alias"),
    ({"input_aliases": ("a/b",)}, "input alias"),
    ({"submission_path": "../x.csv"}, "submission path"),
    ({"submission_path": "/abs.csv"}, "submission path"),
    ({"submission_path": "input/sub.csv"}, "submission path"),
    ({"path_maps": (("relative", "input"),)}, "path map target"),
    ({"path_maps": (("/etc/data", "input"),)}, "path map target"),
    ({"path_maps": (("/home/data", "nope"),)}, "the entry must be"),
])
def test_bad_layouts_are_refused(public: Path, fields: dict[str, object], match: str) -> None:
    spec = ExecSpec(code="", public_dir=public, timeout_s=1, **fields)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=match):
        check_layout(spec)


def test_aide_layout_working_submission(sandbox: LocalSandbox, public: Path) -> None:
    code = "open('./working/submission.csv', 'w').write(open('./input/train.csv').read())\n"
    result, keep = _run(sandbox, public, code, submission_path="working/submission.csv")
    assert result.exit_code == 0, result.stderr_tail  # type: ignore[attr-defined]
    assert (keep / "submission.csv").read_text() == "a,b\n1,2\n"
    default, _ = _run(sandbox, public, code)  # the default contract does not look there
    assert default.submission_path is None  # type: ignore[attr-defined]


def test_dojo_layout_data_alias_and_root_submission(sandbox: LocalSandbox,
                                                   public: Path) -> None:
    code = "open('submission.csv', 'w').write(open('./data/train.csv').read())\n"
    result, keep = _run(sandbox, public, code, input_aliases=("data",),
                        submission_path="submission.csv")
    assert result.exit_code == 0, result.stderr_tail  # type: ignore[attr-defined]
    assert (keep / "submission.csv").read_text() == "a,b\n1,2\n"


def test_mlebench_layout_maps_home_data_read_only(sandbox: LocalSandbox, public: Path) -> None:
    if not sandbox.mode_for(ExecSpec(code="", public_dir=public, timeout_s=1).python).jail:
        pytest.skip("path maps need the jail mode (mount namespace)")
    code = (
        "import os\n"
        "try:\n    open('/home/data/new.csv', 'w')\nexcept OSError as e:\n"
        "    print('read-only', e.errno)\n"
        "open('/home/submission/submission.csv', 'w').write(open('/home/data/train.csv').read())\n"
    )
    maps = (("/home/data", "input"), ("/home/submission", "submission"))
    result, keep = _run(sandbox, public, code, path_maps=maps)
    assert result.exit_code == 0, result.stderr_tail  # type: ignore[attr-defined]
    assert "read-only" in result.stdout_tail  # type: ignore[attr-defined]
    assert (keep / "submission.csv").read_text() == "a,b\n1,2\n"
    assert not Path("/home/submission/submission.csv").exists()  # only inside the jail


def test_symlinked_submission_is_refused(sandbox: LocalSandbox, public: Path) -> None:
    code = "import os\nos.symlink('/etc/hostname', 'submission.csv')\n"
    result, keep = _run(sandbox, public, code, submission_path="submission.csv")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert result.submission_path is None and not (keep / "submission.csv").exists()  # type: ignore[attr-defined]


def test_docker_maps_the_same_layout(public: Path) -> None:
    from aira_eval.errors import AiraEvalError
    from aira_eval.search.sandbox.docker import DockerSandbox

    try:
        docker = DockerSandbox(image=os.environ.get("AIRA_EVAL_DOCKER_IMAGE",
                                                    "aira-eval-sandbox"))
    except AiraEvalError as err:
        pytest.skip(f"docker sandbox unavailable: {err.message}")
    code = ("import os\nassert os.listdir('./data') == ['train.csv']\n"
            "try:\n    open('/home/data/new.csv', 'w')\nexcept OSError:\n    print('read-only')\n"
            "data = open('/home/data/train.csv').read()\n"
            "open('/home/submission/submission.csv', 'w').write(data)\n")
    keep = Path(tempfile.mkdtemp(prefix="layout-keep-"))
    spec = ExecSpec(code=code, public_dir=public, timeout_s=60, input_aliases=("data",),
                    path_maps=(("/home/data", "input"), ("/home/submission", "submission")))
    try:
        result = docker.run(spec, Path(tempfile.mkdtemp(prefix="layout-work-")) / "w", keep)
    finally:
        docker.close()
    assert result.exit_code == 0, result.stderr_tail
    assert "read-only" in result.stdout_tail
    assert (keep / "submission.csv").read_text() == "a,b\n1,2\n"


def test_path_maps_need_a_mount_namespace(public: Path) -> None:
    from aira_eval.search.sandbox.base import SandboxError

    weaker = LocalSandbox(force_mode="pidns")
    try:
        weaker.mode_for(ExecSpec(code="", public_dir=public, timeout_s=1).python)
    except SandboxError:
        pytest.skip("no pidns mode on this machine")
    with pytest.raises(SandboxError, match="needs a mount namespace"):
        _run(weaker, public, "print(1)", path_maps=(("/home/data", "input"),))
