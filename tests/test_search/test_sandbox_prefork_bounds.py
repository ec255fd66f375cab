"""The boundary and layout suites (submission size, sparse files, disk use; peers'
working-dir layouts) again on the pre-forked path (``LocalSandbox(prefork=True)``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from aira_eval.search.sandbox import prefork
from aira_eval.search.sandbox.local import LocalSandbox
from tests.test_search.test_sandbox_bounds import *  # noqa: F403 (the suite, re-collected)
from tests.test_search.test_sandbox_layout import *  # noqa: F403

if LocalSandbox().mode_for(sys.executable).name != "jail":
    pytest.skip("prefork runs only in the jail mode", allow_module_level=True)

# tests that need no sandbox run, or build their own, add nothing here
del test_disk_usage_counts_written_blocks_not_inputs  # noqa: F821 (star-imported)
del test_rejected_submission_makes_an_invalid_node_not_a_buggy_one  # noqa: F821
del test_bad_layouts_are_refused, test_docker_maps_the_same_layout  # noqa: F821
del test_path_maps_need_a_mount_namespace  # noqa: F821


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalSandbox]:
    yield LocalSandbox(prefork=True, preload=("numpy",))
    prefork.shutdown()
