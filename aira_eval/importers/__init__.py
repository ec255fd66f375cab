"""Importers: peers' search logs (AIDE, aira-dojo) as aira-eval studies (``aira-eval import``)."""

from aira_eval.importers.aide import parse_aide_journal
from aira_eval.importers.common import ImportedSearch, write_imported_study
from aira_eval.importers.dojo import parse_dojo_run

__all__ = ["ImportedSearch", "parse_aide_journal", "parse_dojo_run", "write_imported_study"]
