"""Contamination checks of a study (``aira-eval check``).

1. :mod:`.overlap` — train/test exact and near-duplicate rows per task;
2. :mod:`.code_leakage` — static scan of node code (paths outside ``./input``, private answers,
   network access, hard-coded labels, test-label reads);
3. :mod:`.test_vs_val` — nodes whose test score beats their validation far beyond noise;
4. :mod:`.similarity` — winnowed k-gram fingerprints against reference solutions;
5. :mod:`.familiarity` — an optional LLM memorisation probe through litellm.

:func:`.report.run_checks` runs them all into a :class:`.report.CheckReport`.
"""

from aira_eval.checks.code_leakage import (
    Finding,
    LeakageContext,
    LeakageResult,
    scan_code,
    scan_nodes,
)
from aira_eval.checks.familiarity import (
    FamiliarityResult,
    familiarity_probe,
)
from aira_eval.checks.overlap import (
    OverlapResult,
    overlap_from_dirs,
    train_test_overlap,
)
from aira_eval.checks.report import (
    CheckOptions,
    CheckReport,
    CheckResult,
    run_checks,
)
from aira_eval.checks.similarity import (
    SimilarityResult,
    code_similarity,
    fingerprints,
    load_references,
)
from aira_eval.checks.test_vs_val import GapResult, check_test_vs_val

__all__ = [
    "CheckOptions",
    "CheckReport",
    "CheckResult",
    "FamiliarityResult",
    "Finding",
    "GapResult",
    "LeakageContext",
    "LeakageResult",
    "OverlapResult",
    "SimilarityResult",
    "check_test_vs_val",
    "code_similarity",
    "familiarity_probe",
    "fingerprints",
    "load_references",
    "overlap_from_dirs",
    "run_checks",
    "scan_code",
    "scan_nodes",
    "train_test_overlap",
]
